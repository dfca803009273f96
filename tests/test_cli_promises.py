"""What `dsocr` promises (issue 14): checks before any model work, no silent writes, one exit-code table,
range-checked options, one-line messages for bad settings, a Python API that matches the README."""

import inspect
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

import engine
from engine.cli import ocr_cmd
from engine.cli.main import main

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    return engine.write_tiny_checkpoint(tmp_path_factory.mktemp("promises") / "v2", "v2", seed=4)


@pytest.fixture
def files(tmp_path):
    Image.new("RGB", (500, 400), "white").save(tmp_path / "scan.png")
    Image.new("RGB", (300, 300), "gray").save(tmp_path / "other.png")
    pages = [Image.new("RGB", (400, 500), (255, 255, 250 - i)) for i in range(2)]
    pages[0].save(tmp_path / "report.pdf", save_all=True, append_images=pages[1:])
    (tmp_path / "notes.png").write_text("not an image")
    return tmp_path


@pytest.fixture
def no_model(monkeypatch):
    """Fail the test if the CLI loads a model."""
    def refuse(*a, **k):
        raise AssertionError("a model was loaded")

    monkeypatch.setattr(ocr_cmd, "load_model", refuse)


def err_lines(capsys) -> list[str]:
    return capsys.readouterr().err.strip().splitlines()


# ---- outputs decided and checked before any model work --------------------------------------------------

def test_existing_output_is_skipped_before_the_model_loads(files, no_model, capsys):
    out = files / "out"
    out.mkdir()
    (out / "scan.md").write_text("earlier result\n")
    assert main(["ocr", str(files / "scan.png"), "--out", str(out), "--model", "unused/model"]) == 0
    lines = err_lines(capsys)
    assert any(line.startswith("dsocr: skipped ") and "scan.png" in line and "--overwrite" in line for line in lines)
    assert (out / "scan.md").read_text() == "earlier result\n"


def test_batch_skips_done_inputs_and_runs_the_rest(files, model_dir, capsys):
    out = files / "out"
    out.mkdir()
    (out / "scan.json").write_text("{}")
    rc = main(["ocr", str(files / "scan.png"), str(files / "other.png"), "--out", str(out), "--format", "json",
               "--model", str(model_dir), "--max-tokens", "2"])
    lines = err_lines(capsys)
    assert rc == 0
    assert (out / "scan.json").read_text() == "{}"
    assert json.loads((out / "other.json").read_text())["tokens"]["generated"] <= 2
    assert any(line.startswith("dsocr: skipped ") and "scan.png" in line for line in lines)
    assert lines[-1] == f"dsocr: 1 written to {out}, 1 skipped (its output exists; --overwrite redoes it)"
    assert main(["ocr", str(files / "scan.png"), "--out", str(out), "--format", "json", "--model", str(model_dir),
                 "--max-tokens", "1", "--overwrite"]) == 0
    assert json.loads((out / "scan.json").read_text())["tokens"]["generated"] == 1


def test_two_inputs_with_one_output_name_fail_before_any_work(files, no_model, capsys):
    (files / "b").mkdir()
    Image.new("RGB", (50, 50)).save(files / "b" / "scan.png")
    out = files / "out"
    rc = main(["ocr", str(files / "scan.png"), str(files / "b" / "scan.png"), "--out", str(out),
               "--model", "unused/model", "--max-tokens", "1", "--overwrite"])
    lines = err_lines(capsys)
    assert rc == 2
    assert lines[0].startswith(f"dsocr: error: {files / 'b' / 'scan.png'}: ") and "scan.md" in lines[0]
    assert lines[-1] == "dsocr: error: 1 input(s) would overwrite another's output; nothing was run"
    assert not out.exists()  # no folder, no file: nothing ran


def test_broken_inputs_are_found_before_the_model_and_the_summary_says_nothing_was_written(files, no_model, capsys):
    (files / "cut.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")
    rc = main(["ocr", str(files / "notes.png"), str(files / "cut.png"), "--out", str(files / "out"),
               "--model", "unused/model"])
    lines = err_lines(capsys)
    assert rc == 1
    assert lines[0].startswith(f"dsocr: error: {files / 'notes.png'}: ")
    assert lines[1].startswith(f"dsocr: error: {files / 'cut.png'}: ")
    assert lines[-1] == "dsocr: 2 of 2 inputs failed; nothing was written"


def test_several_inputs_without_out_print_under_headers_and_write_nothing(files, model_dir, monkeypatch, capsys):
    monkeypatch.chdir(files)
    before = sorted(os.listdir(files))
    rc = main(["ocr", "scan.png", "report.pdf", "--model", str(model_dir), "--max-tokens", "3", "--batch", "2"])
    out = capsys.readouterr().out
    assert rc == 0
    assert sorted(os.listdir(files)) == before
    headers = [line for line in out.splitlines() if line.startswith("==> ")]
    assert headers == ["==> scan.png <==", "==> report.pdf page 1 <==", "==> report.pdf page 2 <=="]


def test_a_multi_page_pdf_without_out_goes_to_stdout(files, model_dir, monkeypatch, capsys):
    monkeypatch.chdir(files)
    before = sorted(os.listdir(files))
    assert main(["ocr", "report.pdf", "--model", str(model_dir), "--max-tokens", "2", "--format", "json"]) == 0
    out = capsys.readouterr().out
    assert sorted(os.listdir(files)) == before
    rows = [json.loads(line) for line in out.splitlines()]  # JSON Lines: one object per page, no headers
    assert [(r["input"], r["page"]) for r in rows] == [("report.pdf", 1), ("report.pdf", 2)]
    assert all(r["tokens"]["generated"] <= 2 for r in rows)


# ---- convert and dump never overwrite silently --------------------------------------------------------

def test_convert_refuses_an_existing_folder_and_reports_the_written_bits(model_dir, tmp_path, capsys):
    q = tmp_path / "q"
    assert main(["convert", "--model", str(model_dir), "--out", str(q), "--q-bits", "4"]) == 0
    assert "wrote a 4-bit model" in capsys.readouterr().out
    assert main(["convert", "--model", str(model_dir), "--out", str(q), "--q-bits", "8"]) == 2
    (line,) = err_lines(capsys)
    assert line.startswith(f"dsocr: error: {q}: ") and "--overwrite" in line
    assert json.loads((q / "config.json").read_text())["quantization"]["bits"] == 4
    (q / "model-00002-of-00002.safetensors").write_bytes(b"stale shard")  # would be loaded with the new weights
    assert main(["convert", "--model", str(model_dir), "--out", str(q), "--q-bits", "8", "--overwrite"]) == 0
    assert "wrote an 8-bit model" in capsys.readouterr().out
    assert json.loads((q / "config.json").read_text())["quantization"]["bits"] == 8
    assert sorted(p.name for p in q.glob("*.safetensors")) == ["model.safetensors"]
    assert engine.load(q).name
    # never over its own source
    assert main(["convert", "--model", str(q), "--out", str(q), "--overwrite"]) == 2
    assert "source model" in capsys.readouterr().err and engine.load(q).name


def test_dump_refuses_an_existing_file_before_loading_and_takes_max_tokens(model_dir, files, tmp_path, capsys,
                                                                           monkeypatch):
    import numpy as np

    out = tmp_path / "d.npz"
    out.write_bytes(b"keep")
    import engine.model

    monkeypatch.setattr(engine.model, "load", lambda *a, **k: pytest.fail("model loaded"))
    assert main(["dump", "--model", str(model_dir), "--image", str(files / "scan.png"), "--out", str(out)]) == 2
    (line,) = err_lines(capsys)
    assert line.startswith(f"dsocr: error: {out}: ") and "--overwrite" in line and out.read_bytes() == b"keep"
    monkeypatch.undo()
    assert main(["dump", "--model", str(model_dir), "--image", str(files / "scan.png"), "--out", str(out),
                 "--max-tokens", "2", "--overwrite"]) == 0
    assert len(np.load(out)["greedy_ids"]) <= 2
    # the old name still works
    out2 = tmp_path / "e.npz"
    assert main(["dump", "--model", str(model_dir), "--image", str(files / "scan.png"), "--out", str(out2),
                 "--max-new-tokens", "1"]) == 0
    assert len(np.load(out2)["greedy_ids"]) == 1


# ---- every numeric option is range-checked by the parser -------------------------------------------------

@pytest.mark.parametrize("args", [
    ["ocr", "x.png", "--max-tokens", "0"], ["ocr", "x.png", "--max-tokens", "-5"], ["ocr", "x.png", "--batch", "0"],
    ["ocr", "x.png", "--temperature", "-1"], ["ocr", "x.png", "--top-p", "0"], ["ocr", "x.png", "--top-p", "1.5"],
    ["ocr", "x.png", "--dpi", "0"], ["ocr", "x.png", "--ngram", "-1"], ["ocr", "x.png", "--ngram-window", "-1"],
    ["ocr", "x.png", "--min-tiles", "0"], ["ocr", "x.png", "--max-tiles", "33"], ["ocr", "x.png", "--batch", "x"],
    ["plan", "x.png", "--max-tiles", "0"], ["dump", "--model", "m", "--image", "x", "--out", "o",
                                            "--max-tokens", "0"],
    ["convert", "--model", "m", "--out", "o", "--q-bits", "5"],
])
def test_numeric_options_are_range_checked_in_one_line(args, capsys):
    assert main(args) == 2
    (line,) = err_lines(capsys)
    assert line.startswith("dsocr: error: argument --")
    assert args[-2] in line and "--help" in line


def test_max_tiles_below_the_default_min_lowers_min(files, capsys):
    Image.new("RGB", (2000, 1000), "white").save(files / "wide.png")
    assert main(["plan", str(files / "wide.png"), "--max-tiles", "1", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["grid"] == [1, 1]
    assert main(["plan", str(files / "wide.png"), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["grid"] == [2, 1]  # the default minimum is 2
    assert main(["plan", str(files / "wide.png"), "--min-tiles", "3", "--max-tiles", "2"]) == 2
    (line,) = err_lines(capsys)
    assert line.startswith("dsocr: error: ") and "min=3" in line and "max=2" in line


# ---- one exit-code table -----------------------------------------------------------------------------------

def test_help_lists_the_exit_codes(capsys):
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    assert "exit codes:" in out
    for code in ("0", "1", "2", "3", "130"):
        assert f"\n  {code} " in out


def test_bad_inputs_exit_1_with_the_same_message_shape(files, no_model, capsys):
    for name in ("missing.png", "notes.png"):
        for debug in ([], ["--debug"]):
            assert main(["ocr", str(files / name), "--model", "unused/model", *debug]) == 1
            lines = [line for line in err_lines(capsys) if line.startswith("dsocr: ")]
            assert lines[0].startswith(f"dsocr: error: {files / name}: ")
    assert main(["plan", str(files / "notes.png")]) == 1
    with pytest.raises(engine.ImageError) as e:
        engine.open_image(files / "notes.png")
    assert err_lines(capsys) == [f"dsocr: error: {e.value}"] and str(e.value).startswith(f"{files / 'notes.png'}: ")


def test_debug_keeps_the_exit_codes_and_adds_the_traceback(files, monkeypatch, capsys):
    from engine.cli import plan_cmd

    assert main(["--debug", "plan", str(files / "notes.png")]) == 1
    assert "Traceback" in capsys.readouterr().err
    monkeypatch.setattr(plan_cmd, "plan", lambda *a, **k: 1 / 0)
    assert main(["plan", str(files / "scan.png")]) == 3
    assert main(["plan", str(files / "scan.png"), "--debug"]) == 3
    assert "ZeroDivisionError" in capsys.readouterr().err


def test_an_unusable_output_folder_is_exit_2_before_the_model(files, no_model, capsys):
    (files / "afile").write_text("x")
    assert main(["ocr", str(files / "scan.png"), str(files / "other.png"), "--out", str(files / "afile"),
                 "--model", "unused/model"]) == 2
    (line,) = err_lines(capsys)
    assert line.startswith(f"dsocr: error: {files / 'afile'}: ")


# ---- environment settings: one line naming the variable ------------------------------------------------------

def _dsocr(*args, **env):
    full = {**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "80", **env}
    return subprocess.run([sys.executable, "-m", "engine.cli.main", *args], capture_output=True, text=True,
                          env=full, timeout=120)


def test_a_bad_cpu_kernels_setting_is_one_line():
    r = _dsocr("--version", DSOCR_CPU_KERNELS="bogus")
    assert r.returncode == 0, r.stderr
    (line,) = r.stderr.strip().splitlines()
    assert line.startswith("dsocr: warning: DSOCR_CPU_KERNELS=bogus") and "numpy" in line


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="DSOCR_BLAS is read on Linux only")
def test_a_missing_blas_library_is_one_line_and_the_version_is_one_line():
    r = _dsocr("--version", DSOCR_BLAS="/nonexistent/libopenblas.so")
    assert r.returncode == 0, r.stderr
    (line,) = r.stderr.strip().splitlines()
    assert line.startswith("dsocr: warning: DSOCR_BLAS=/nonexistent/libopenblas.so: ")
    assert "warn(" not in r.stderr and "load_fast_blas" not in r.stderr
    (version,) = r.stdout.strip().splitlines()
    assert version.startswith("dsocr ") and "BLAS: " in version and "CPU kernels: " in version
    r = _dsocr("--version", DSOCR_JIT="0")
    assert "CPU kernels: numpy (DSOCR_JIT=0)" in r.stdout
    assert "malloc: one heap, freed memory kept" in version
    r = _dsocr("--version", DSOCR_MALLOC="system")
    assert "malloc: glibc defaults" in r.stdout and not r.stderr.strip()
    r = _dsocr("--version", DSOCR_MALLOC="bogus")  # one line, the default kept
    (line,) = r.stderr.strip().splitlines()
    assert line.startswith("dsocr: warning: DSOCR_MALLOC=bogus") and "malloc: one heap" in r.stdout


def test_env_numbers_and_choices_fall_back_with_one_line(monkeypatch, capsys):
    from engine.runtime import settings

    monkeypatch.setattr(settings, "_said", set())
    monkeypatch.setenv("DSOCR_MLX_CACHE_MB", "lots")
    monkeypatch.setenv("DSOCR_CPU_KERNELS_THREADS", "-2")
    monkeypatch.setenv("DSOCR_CPU_KERNELS", " MLX ")
    assert settings.env_number("DSOCR_MLX_CACHE_MB", None, kind=float) is None
    assert settings.env_number("DSOCR_CPU_KERNELS_THREADS", 0) == 0
    assert settings.env_choice("DSOCR_CPU_KERNELS", ("numpy", "mlx"), "numpy") == "mlx"
    assert err_lines(capsys) == ["dsocr: warning: DSOCR_MLX_CACHE_MB=lots: not a number >= 0; using the default",
                                 "dsocr: warning: DSOCR_CPU_KERNELS_THREADS=-2: not a whole number >= 0; using the "
                                 "default"]


# ---- the Python API -----------------------------------------------------------------------------------------

def test_result_timings_match_to_dict(model_dir):
    result = engine.ocr(engine.load(model_dir), Image.new("RGB", (300, 200), "white"),
                        engine.RunOptions.of(max_tokens=2))
    assert result.timings == result.to_dict()["timings"]
    assert set(result.timings) == {"encode_s", "prefill_s", "decode_tokens_per_s", "elapsed_s"}


@pytest.mark.parametrize("fn", [engine.stream, engine.stream_batch, engine.ocr])
def test_the_entry_takes_model_inputs_and_run_options(fn):
    params = list(inspect.signature(fn).parameters.values())
    positional = [p.name for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    assert positional in (["model", "image", "options"], ["model", "images", "options"])
    assert [p.name for p in params if p.kind == p.KEYWORD_ONLY] == ["cancel"]  # a live Event, not an option
    assert not any(p.kind == p.VAR_KEYWORD for p in params)


def test_tiny_checkpoint_from_the_command_line(tmp_path, files, capsys):
    folder = tmp_path / "tiny"
    assert main(["tiny-checkpoint", str(folder), "--version", "v2"]) == 0
    assert engine.load(folder).version == "v2"
    assert main(["tiny-checkpoint", str(folder)]) == 2  # not over an existing checkpoint
    (line,) = err_lines(capsys)
    assert line.startswith(f"dsocr: error: {folder}: ") and "--overwrite" in line
    assert main(["ocr", str(files / "scan.png"), "--model", str(folder), "--max-tokens", "2"]) == 0
