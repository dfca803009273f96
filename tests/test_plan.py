"""The tiling plan: the spec's worked examples, every mode's token count, geometry and speed."""

import json

import pytest

import engine
from engine.preprocess.modes import MODES
from engine.preprocess.plan import candidate_grids, weigh_grids

# spec section 1.2, worked examples: size -> (v1 grid, v1 tokens, v2 grid, v2 tokens)
WORKED = {
    (640, 488): ((0, 0), 273, (0, 0), 257),
    (429, 806): ((1, 2), 493, (1, 2), 545),
    (1000, 1000): ((2, 2), 693, (2, 2), 833),
    (2000, 2000): ((3, 3), 1203, (2, 2), 833),
    (1240, 1754): ((2, 3), 903, (2, 3), 1121),
    (800, 600): ((3, 2), 893, (3, 2), 1121),
}


@pytest.mark.parametrize("size", list(WORKED))
def test_worked_examples(size):
    g1, n1, g2, n2 = WORKED[size]
    p1 = engine.plan(size, version="v1", mode="gundam", min_tiles=2, max_tiles=9)
    p2 = engine.plan(size, version="v2")
    assert (p1.grid, p1.image_tokens) == (g1, n1)
    assert (p2.grid, p2.image_tokens) == (g2, n2)


def test_candidate_order_matches_official():
    # spec 1.2: CPython set order, then a stable sort by product
    assert candidate_grids(2, 9) == ((1, 2), (2, 1), (3, 1), (1, 3), (2, 2), (4, 1), (1, 4), (5, 1), (1, 5),
                                     (1, 6), (6, 1), (3, 2), (2, 3), (7, 1), (1, 7), (4, 2), (2, 4), (1, 8),
                                     (8, 1), (1, 9), (3, 3), (9, 1))
    assert candidate_grids(2, 6) == ((1, 2), (2, 1), (3, 1), (1, 3), (4, 1), (1, 4), (2, 2), (1, 5), (5, 1),
                                     (6, 1), (2, 3), (1, 6), (3, 2))


def choose_grid(width: int, height: int, tile_size: int, min_tiles: int, max_tiles: int) -> tuple[int, int]:
    """The official choice of `weigh_grids`, as (cols, rows)."""
    return candidate_grids(min_tiles, max_tiles)[weigh_grids(width, height, tile_size, min_tiles, max_tiles)[1]]


def test_tie_rule_prefers_larger_grid_only_for_large_images():
    # equal ratios (2,2)/(3,3): the larger grid wins only if the area exceeds half its pixel area
    assert choose_grid(1000, 1000, 640, 2, 9) == (2, 2)   # 1e6 <= 0.5*640^2*9 = 1.84e6
    assert choose_grid(2000, 2000, 640, 2, 9) == (3, 3)   # 4e6 > 1.84e6


# every mode's count: v1 N = g(g+1)+1 + tiled*(t*cols+1)*(t*rows); v2 N = g^2+1 + tiled*t^2*cols*rows
@pytest.mark.parametrize("version,mode", [(v, m) for v in MODES for m in MODES[v]])
@pytest.mark.parametrize("size", [(300, 200), (640, 640), (641, 300), (1240, 1754), (3000, 800), (1, 20000)])
def test_every_mode_token_count(version, mode, size):
    p = engine.plan(size, version=version, mode=mode)
    m = MODES[version][mode]
    g, t = m.global_size // 64, m.tile_size // 64
    cols, rows = p.grid
    if version in ("v1", "unlimited"):  # Unlimited-OCR lays its views out as v1 does
        want = g * (g + 1) + 1 + (t * cols + 1) * (t * rows) * p.tiled
    else:
        want = g * g + 1 + t * t * cols * rows
    assert p.image_tokens == want
    assert p.image_tokens == p.tile_tokens + p.global_tokens + p.newline_tokens + p.separator_tokens
    assert sum(tile.tokens for tile in p.tiles) == p.tile_tokens
    threshold = 768 if version == "v2" else 640
    assert p.tiled == (m.tiled and max(size) > threshold)
    if p.tiled:
        assert 2 <= len(p.tiles) <= {"v1": 9, "v2": 6, "unlimited": 32}[version]


def test_mode_token_counts_of_the_spec_table():
    assert engine.plan((500, 400), "v1", "tiny").image_tokens == 73
    assert engine.plan((500, 400), "v1", "small").image_tokens == 111
    assert engine.plan((500, 400), "v1", "base").image_tokens == 273
    assert engine.plan((500, 400), "v1", "large").image_tokens == 421
    assert engine.plan((1240, 1754), "v1", "gundam-m").image_tokens == 421 + (16 * 2 + 1) * 16 * 3
    assert engine.plan((500, 400), "v2", "base").image_tokens == 257
    assert engine.plan((500, 400), "v2", "small").image_tokens == 145


def test_tile_boxes_cover_the_image_row_major():
    p = engine.plan((1240, 1754), "v1")
    cols, rows = p.grid
    assert [(t.col, t.row) for t in p.tiles] == [(i % cols, i // cols) for i in range(cols * rows)]
    assert p.tiles[0].box == (0, 0, 620, 1754 / 3)
    assert p.tiles[-1].box[2:] == (1240, 1754)
    area = sum((t.box[2] - t.box[0]) * (t.box[3] - t.box[1]) for t in p.tiles)
    assert area == pytest.approx(1240 * 1754)


def test_global_view_geometry_follows_pillow_pad():
    gv = engine.plan((640, 488), "v1", "base").global_view
    assert gv.scaled == (1024, 781) and gv.offset == (0, 122)  # round(121.5) = 122 (banker's rounding)
    assert engine.plan((500, 400), "v1", "tiny").global_view.stretched


def test_bad_arguments_are_clear():
    with pytest.raises(ValueError, match="unknown mode"):
        engine.plan((100, 100), "v2", "gundam-m")
    with pytest.raises(ValueError, match="tile limits"):
        engine.plan((100, 100), "v2", max_tiles=9)
    with pytest.raises(ValueError, match="empty"):
        engine.plan((0, 100), "v1")
    with pytest.raises(ValueError, match="version"):
        engine.plan((100, 100), "v3")


def test_plan_json_fields():
    d = json.loads(json.dumps(engine.plan((1240, 1754), "v1").to_dict()))
    assert d["grid"] == [2, 3] and d["image_tokens"] == 903
    assert d["tiles"][0]["box"] == [0, 0, 620, 584.667] and d["tiles"][0]["tokens"] == 100
    assert (d["global_tokens"], d["newline_tokens"], d["separator_tokens"]) == (256, 46, 1)
