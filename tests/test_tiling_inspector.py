"""The tiling inspector: the candidates the official rule weighs, grid overrides, and the notes on scale."""

import json
import math
import random

import pytest
from PIL import Image

import engine
from engine.cli.main import main
from engine.preprocess.explain import (axis_scales, grid_reason, scale_note, small_text_rule, small_text_scale,
                                       small_text_warning)
from engine.preprocess.modes import MODES, TILE_RANGE, TILING_THRESHOLD
from engine.preprocess.plan import AREA_TIE_BREAK, CLOSEST_RATIO, parse_grid

# spec 1.2, written out: the official candidate order for the default limits
SPEC_ORDER = {
    (2, 9): [(1, 2), (2, 1), (3, 1), (1, 3), (2, 2), (4, 1), (1, 4), (5, 1), (1, 5), (1, 6), (6, 1), (3, 2), (2, 3),
             (7, 1), (1, 7), (4, 2), (2, 4), (1, 8), (8, 1), (1, 9), (3, 3), (9, 1)],
    (2, 6): [(1, 2), (2, 1), (3, 1), (1, 3), (4, 1), (1, 4), (2, 2), (1, 5), (5, 1), (6, 1), (2, 3), (1, 6), (3, 2)],
}


def official_choice(w, h, tile, ratios):
    """find_closest_aspect_ratio of the official processors, transcribed from spec 1.2."""
    best_diff, best = float("inf"), (1, 1)
    for r in ratios:
        d = abs(w / h - r[0] / r[1])
        if d < best_diff:
            best_diff, best = d, r
        elif d == best_diff and w * h > 0.5 * tile * tile * r[0] * r[1]:
            best = r
    return best


def sizes():
    """A wide spread: tiny, huge, extreme aspect ratios, exact grid ratios (ties) and random pages."""
    fixed = [(1, 1), (1, 20000), (20000, 1), (30000, 30000), (641, 1), (1, 769), (640, 640), (768, 768),
             (769, 768), (1000, 1000), (1357, 1357), (1358, 1358), (2000, 2000), (1000, 2000), (2000, 1000),
             (1400, 2800), (2900, 1450), (1240, 1754), (2480, 3508), (800, 600), (429, 806), (12000, 900)]
    rng = random.Random(19)
    spread = [(max(1, round(math.exp(rng.uniform(0, 10)))), max(1, round(math.exp(rng.uniform(0, 10)))))
              for _ in range(150)]
    return fixed + spread


MODE_CASES = [(v, m) for v in MODES for m in MODES[v]]


@pytest.mark.parametrize("version,mode", MODE_CASES)
def test_chosen_candidate_is_the_plans_grid_for_a_wide_spread(version, mode):
    m = MODES[version][mode]
    lo, hi = TILE_RANGE[version]
    limits = [(None, None), (lo, hi), (1, 4), (3, hi)]
    for w, h in sizes():
        for min_tiles, max_tiles in limits:
            p = engine.plan((w, h), version, mode, min_tiles, max_tiles)
            chosen = [c for c in p.candidates if c.chosen]
            assert p.official
            if not m.tiled:
                assert p.candidates == () and p.grid == (0, 0)
                continue
            assert [c.grid for c in p.candidates] == list(engine.preprocess.plan.candidate_grids(p.min_tiles,
                                                                                                    p.max_tiles))
            if max(w, h) <= TILING_THRESHOLD[version]:
                assert chosen == [] and not p.tiled
                continue
            assert len(chosen) == 1 and chosen[0].grid == p.grid, (w, h, min_tiles, max_tiles)
            assert p.grid == official_choice(w, h, m.tile_size, [c.grid for c in p.candidates])
            best = min(c.aspect_error for c in p.candidates)
            assert chosen[0].aspect_error == best
            earlier_ties = [c for c in p.candidates[:p.candidates.index(chosen[0])] if c.aspect_error == best]
            assert chosen[0].won_by == (AREA_TIE_BREAK if earlier_ties else CLOSEST_RATIO)
            assert all(c.won_by == "" for c in p.candidates if not c.chosen)


def test_candidate_order_is_the_official_one():
    assert [c.grid for c in engine.plan((3000, 1000), "v1").candidates] == SPEC_ORDER[(2, 9)]
    assert [c.grid for c in engine.plan((3000, 1000), "v2").candidates] == SPEC_ORDER[(2, 6)]


@pytest.mark.parametrize("size,version,want,won_by", [
    ((2000, 2000), "v1", (3, 3), AREA_TIE_BREAK),   # 4e6 > 0.5 * 640^2 * 9 = 1.84e6: the later 3x3 wins
    ((1000, 1000), "v1", (2, 2), CLOSEST_RATIO),    # 1e6 <= 1.84e6: 2x2 kept
    ((1358, 1358), "v1", (3, 3), AREA_TIE_BREAK),   # just above the half-area line (1358^2 > 1843200)
    ((1357, 1357), "v1", (2, 2), CLOSEST_RATIO),    # just below it (1357^2 < 1843200)
    ((2000, 1000), "v1", (4, 2), AREA_TIE_BREAK),   # (2,1)/(4,2) tie: 2e6 > 0.5 * 640^2 * 8
    ((1400, 2800), "v1", (2, 4), AREA_TIE_BREAK),   # (1,2)/(2,4) tie: 3.92e6 > 0.5 * 640^2 * 8 = 1.64e6
    ((700, 1400), "v1", (1, 2), CLOSEST_RATIO),     # 0.98e6 <= 1.64e6: (1,2) kept
    ((2000, 2000), "v2", (2, 2), CLOSEST_RATIO),    # v2 (max 6 tiles) has no 3x3 to tie with
])
def test_tie_break_follows_the_official_code(size, version, want, won_by):
    p = engine.plan(size, version)
    grids = [c.grid for c in p.candidates]
    assert p.grid == official_choice(*size, p.tile_size, grids)
    assert p.grid == want
    assert next(c for c in p.candidates if c.chosen).won_by == won_by


def test_candidate_figures():
    w, h = 2480, 3508
    p = engine.plan((w, h), "v1")
    for c in p.candidates:
        cols, rows = c.grid
        assert c.aspect_error == pytest.approx(abs(w / h - cols / rows))
        assert c.stretch == pytest.approx((cols / rows) / (w / h) - 1)
        assert c.scale == pytest.approx(math.sqrt(640 * cols * 640 * rows / (w * h)))
        assert c.image_tokens == engine.plan((w, h), "v1", grid=c.grid).image_tokens == 273 + (10 * cols + 1) * 10 * rows
    two_by_three = next(c for c in p.candidates if c.grid == (2, 3))
    assert two_by_three.chosen and two_by_three.stretch == pytest.approx(-0.0570, abs=1e-4)
    assert two_by_three.scale == pytest.approx(0.5315, abs=1e-4)
    v2 = engine.plan((w, h), "v2")
    assert {c.grid: c.image_tokens for c in v2.candidates}[(3, 2)] == 257 + 144 * 6


def test_plan_json_has_candidates_and_the_official_flag():
    d = json.loads(json.dumps(engine.plan((1240, 1754), "v1").to_dict()))
    assert d["official_tiling"] is True
    assert len(d["candidates"]) == 22
    c = next(c for c in d["candidates"] if c["chosen"])
    assert c["grid"] == [2, 3] and c["image_tokens"] == 903 and c["won_by"] == "closest ratio"
    assert set(c) >= {"grid", "aspect_error", "stretch", "scale", "image_tokens", "chosen"}
    assert sum(c["chosen"] for c in d["candidates"]) == 1


# ---- grid override ----------------------------------------------------------------------------------------------

def test_forced_grid_gives_its_tiles_tokens_and_is_marked():
    p = engine.plan((1240, 1754), "v1", grid=(3, 1))
    assert p.grid == (3, 1) and not p.official
    assert [t.box for t in p.tiles] == [(0, 0, 1240 / 3, 1754), (1240 / 3, 0, 2480 / 3, 1754), (2480 / 3, 0, 1240, 1754)]
    assert p.image_tokens == 273 + (10 * 3 + 1) * 10 and p.newline_tokens == 10 + 16
    assert next(c for c in p.candidates if c.chosen).grid == (2, 3)  # what the rule would pick
    assert p.to_dict()["official_tiling"] is False
    assert "forced" in grid_reason(p) and "2x3" in grid_reason(p)
    v2 = engine.plan((1240, 1754), "v2", grid=(1, 1))
    assert len(v2.tiles) == 1 and v2.image_tokens == 257 + 144 and not v2.official
    # forcing the official grid is the official tiling
    assert engine.plan((1240, 1754), "v1", grid=(2, 3)).to_dict() == engine.plan((1240, 1754), "v1").to_dict()
    # a small image (not tiled by the rule) can be tiled on request
    small = engine.plan((500, 400), "v2", grid=(2, 1))
    assert small.tiled and not small.official and "does not tile" in grid_reason(small)


@pytest.mark.parametrize("grid,version,mode,match", [
    ((4, 2), "v2", None, "tiles .8. between 1 and 6"),
    ((5, 2), "v1", None, "between 1 and 9"),
    ((0, 3), "v1", None, "at least 1"),
    ((2, 2), "v1", "base", "does not tile"),
    (("a", 2), "v1", None, "columns, rows"),
])
def test_bad_grids_are_clear(grid, version, mode, match):
    with pytest.raises(ValueError, match=match):
        engine.plan((1000, 1000), version, mode, grid=grid)


def test_parse_grid():
    assert parse_grid("3x2") == parse_grid(" 3X2 ") == parse_grid("3\u00d72") == parse_grid("3,2") == (3, 2)
    for bad in ("3", "3x", "x2", "3x2x1", "threextwo", "0x2", "-1x2"):
        with pytest.raises(ValueError, match="grid"):
            parse_grid(bad)


# ---- scale notes and the small-text warning ----------------------------------------------------------------------

def test_scale_note_and_small_text_warning():
    p = engine.plan((3456, 5184), "v1")  # 300 dpi scan of an 11.5 x 17.3 in page -> 2x3 of 640
    assert scale_note(p) == "page shrunk 2.7x to 1280x1920 tile pixels"
    warn = small_text_warning(p)
    assert warn.startswith("small text at risk") and "Gundam-M" in warn and "region" in warn
    a4 = engine.plan((2480, 3508), "v1")  # A4 at 300 dpi: shrunk 1.9x, body text still ~11 px high
    assert scale_note(a4) == "page shrunk 1.9x to 1280x1920 tile pixels, 6% narrower"
    assert small_text_warning(a4) is None
    assert scale_note(engine.plan((1000, 1000), "v1")) == "page enlarged 1.3x to 1280x1280 tile pixels"
    assert "global-view pixels" in scale_note(engine.plan((2480, 3508), "v1", "base"))
    # v2 has no mode with more pixels per tile: only a region helps
    v2 = small_text_warning(engine.plan((6000, 8000), "v2"))
    assert v2.endswith("; try OCR a region")
    # a forced grid that squeezes the page: the automatic grid is the better suggestion
    assert "automatic grid" in small_text_warning(engine.plan((2480, 3508), "v2", grid=(3, 1)))


def test_small_text_threshold_is_derived_from_letter_heights():
    # 10 pt body text at 300 dpi: x-height 0.5 * 10/72 * 300 = 20.8 px; the floor is 8 px -> 2.6x
    assert 1 / small_text_scale(300) == pytest.approx(20.83 / 8, abs=0.01)
    assert small_text_scale(150) == pytest.approx(2 * small_text_scale(300))
    assert "about 21 px high" in small_text_rule(300) and "more than 2.6x" in small_text_rule(300)
    p = engine.plan((2480, 3508), "v1")  # fine at 300 dpi; a 600 dpi scan of the same page size would not be
    assert small_text_warning(p, dpi=300) is None and small_text_warning(p, dpi=150) is not None
    # the warning uses the worse axis, the note the geometric mean
    sx, sy, canvas, what = axis_scales(p)
    assert (sx * sy) ** 0.5 == pytest.approx(next(c for c in p.candidates if c.chosen).scale)
    assert (canvas, what, sx < sy) == ((1280, 1920), "tile", True)  # 6% narrower


# ---- the command line --------------------------------------------------------------------------------------------

@pytest.fixture
def scan(tmp_path):
    path = tmp_path / "scan.png"
    Image.new("RGB", (1240, 1754), "white").save(path)
    return path


def test_cli_plan_candidates_table(scan, capsys):
    assert main(["plan", str(scan), "--version", "v1", "--candidates"]) == 0
    out = capsys.readouterr().out
    rows = [line.split() for line in out.splitlines() if line.startswith("  ") and "x" in line.split()[0]
            and not line.strip().startswith("tile")]
    assert [r[0] for r in rows] == [f"{c}x{r}" for c, r in SPEC_ORDER[(2, 9)]]
    chosen = [line for line in out.splitlines() if "<- official choice" in line]
    assert len(chosen) == 1 and chosen[0].split()[0] == "2x3" and chosen[0].split()[5] == "903"
    assert "why: 2x3: closest aspect ratio" in out and "page enlarged 1.1x to 1280x1920 tile pixels" in out


def test_cli_plan_grid_and_json(scan, capsys):
    assert main(["plan", str(scan), "--version", "v1", "--grid", "3x1", "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["grid"] == [3, 1] and d["official_tiling"] is False and d["image_tokens"] == 273 + 31 * 10
    assert [t["box"] for t in d["tiles"]] == [[0, 0, 413.333, 1754], [413.333, 0, 826.667, 1754],
                                              [826.667, 0, 1240, 1754]]
    assert next(c for c in d["candidates"] if c["chosen"])["grid"] == [2, 3]
    assert main(["plan", str(scan), "--grid", "3x1", "--candidates"]) == 0
    out = capsys.readouterr().out
    assert "grid 3x1 forced: not the official tiling" in out
    assert next(line for line in out.splitlines() if "<- forced" in line).split()[0] == "3x1"


@pytest.mark.parametrize("args,words", [
    (["--grid", "4x2"], "between 1 and 6"),
    (["--grid", "3by2"], "COLSxROWS"),
    (["--grid", "2x2", "--mode", "base"], "does not tile"),
])
def test_cli_bad_grid_is_one_line_exit_2(scan, capsys, args, words):
    assert main(["plan", str(scan), *args]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and words in err[0] and "Traceback" not in err[0]


# ---- OCR with a forced grid, end to end on tiny checkpoints -------------------------------------------------------

@pytest.fixture(scope="module", params=["v1", "v2"])
def tiny(request, tmp_path_factory):
    folder = engine.write_tiny_checkpoint(tmp_path_factory.mktemp("grid") / request.param, request.param, seed=4)
    return folder, engine.load(folder)


def test_ocr_with_a_forced_grid_runs_end_to_end(tiny, scan):
    _, model = tiny
    official = engine.ocr(model, scan, engine.RunOptions.of(max_tokens=3, ngram_size=0))
    forced = engine.ocr(model, scan, engine.RunOptions.of(max_tokens=3, ngram_size=0, grid=(3, 1)))
    assert official.plan.official and official.plan.grid == (2, 3)
    p = forced.plan
    assert p.grid == (3, 1) and not p.official and len(p.tiles) == 3
    assert p.to_dict() == engine.plan((1240, 1754), model.version, grid=(3, 1)).to_dict()
    # the prompt holds exactly the forced plan's image tokens: same text, fewer tiles
    assert forced.prompt_tokens - official.prompt_tokens == p.image_tokens - official.plan.image_tokens != 0
    assert forced.generated_tokens == 3 and forced.stop_reason == "max_tokens"
    assert forced.to_dict()["official_tiling"] is False and forced.to_dict()["plan"]["grid"] == [3, 1]
    # stream_batch forces the grid on every image
    opts = engine.RunOptions.of(max_tokens=2, ngram_size=0, grid=(1, 2))
    results = [e for _, e in engine.stream_batch(model, [scan, scan], opts)
               if isinstance(e, engine.Result)]
    assert [r.plan.grid for r in results] == [(1, 2), (1, 2)]


def test_cli_ocr_grid(tiny, scan, capsys, tmp_path):
    folder, model = tiny
    out = tmp_path / "out"
    assert main(["ocr", str(scan), "--model", str(folder), "--grid", "1x2", "--max-tokens", "2", "--out", str(out),
                 "--format", "json"]) == 0
    data = json.loads((out / "scan.json").read_text())
    assert data["official_tiling"] is False and data["plan"]["grid"] == [1, 2]
    assert data["tokens"]["image"] == engine.plan((1240, 1754), model.version, grid=(1, 2)).image_tokens
    assert len(data["tokens"]["per_tile"]) == 2
    assert "grid 1x2 forced" in capsys.readouterr().err
    assert main(["ocr", str(scan), "--model", str(folder), "--grid", "9x9"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "grid 9x9" in err[0]


def test_readme_candidates_table_is_real_output(tmp_path, capsys):
    """The README pastes `dsocr plan scan.png --candidates` for a 300 dpi A4 scan: it must stay what the CLI prints."""
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    block = readme.split("$ dsocr plan scan.png --candidates\n", 1)[1].split("```", 1)[0]
    Image.new("RGB", (2480, 3508), "white").save(tmp_path / "scan.png")
    assert main(["plan", str(tmp_path / "scan.png"), "--candidates"]) == 0
    assert capsys.readouterr().out == block
