"""Exports (issue item 6): atomic writes (temporary file + rename), no silent overwrite, and a read-only output
folder is one clear message before any model work. tests/test_outputs.py covers `atomic_write` itself; here:
interrupted writes, and the CLI as a user meets it. The app's side is in test_app_robustness.py."""

import errno
import os
import tempfile
from pathlib import Path

import pytest

import engine
from engine.cli import ocr_cmd
from engine.cli.main import main
from engine.outputs.export import ExportError, atomic_write

from .conftest import IS_ROOT
from .corpus import assert_clear


def no_model(*a, **k):
    raise AssertionError("a model was loaded although nothing could be written")


def deny_folder(monkeypatch, folder: Path):
    """Simulate a read-only folder (root ignores permission bits): creating a file in it is refused."""
    real = tempfile.mkstemp

    def mkstemp(*args, dir=None, **kwargs):
        if dir is not None and Path(dir).resolve() == folder.resolve():
            raise PermissionError(errno.EACCES, "Permission denied", str(folder))
        return real(*args, dir=dir, **kwargs)

    monkeypatch.setattr(tempfile, "mkstemp", mkstemp)


def test_cli_read_only_output_folder_simulated(good_png, tmp_path, monkeypatch, capsys):
    out = tmp_path / "ro"
    out.mkdir()
    deny_folder(monkeypatch, out)
    monkeypatch.setattr(ocr_cmd, "load_model", no_model)
    assert main(["ocr", str(good_png), "--out", str(out), "--model", "unused/model"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("dsocr: error: ") and "permission denied" in err
    assert_clear(err, out)
    assert list(out.iterdir()) == []


@pytest.mark.skipif(IS_ROOT, reason="root ignores permission bits; the simulated test covers root")
def test_cli_read_only_output_folder_real(good_png, tmp_path, monkeypatch, capsys):
    out = tmp_path / "ro"
    out.mkdir()
    out.chmod(0o500)
    monkeypatch.setattr(ocr_cmd, "load_model", no_model)
    try:
        assert main(["ocr", str(good_png), "--out", str(out), "--model", "unused/model"]) == 2
        err = capsys.readouterr().err
        assert "permission denied" in err
        assert_clear(err, out)
    finally:
        out.chmod(0o700)


@pytest.mark.parametrize("fail_in, overwrite", [("fsync", True), ("replace", True), ("fsync", False)])
def test_an_interrupted_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path, monkeypatch, fail_in, overwrite):
    path = tmp_path / "scan.md"
    path.write_text("the earlier result")

    def disk_full(*a, **k):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, fail_in, disk_full)
    target = path if overwrite else tmp_path / "new.md"
    with pytest.raises(ExportError) as e:
        atomic_write(target, "x" * 100_000, overwrite=overwrite)
    assert "No space left on device" in str(e.value) and str(target) in str(e.value)
    assert path.read_text() == "the earlier result"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["scan.md"]  # no half file, no temporary


def test_cli_never_replaces_silently_and_leaves_no_temporaries(good_png, tiny_v1_dir, tmp_path, capsys):
    out = tmp_path / "out"
    args = ["ocr", str(good_png), "--out", str(out), "--model", str(tiny_v1_dir), "--mode", "tiny",
            "--max-tokens", "2"]
    assert main(args) == 0
    first = (out / "good.md").read_bytes()
    (out / "good.md").write_text("edited by the user")
    capsys.readouterr()
    assert main(args) == 0  # skipped, and says so (issue 14: a batch re-run finishes what is left)
    err = capsys.readouterr().err
    assert f"skipped {good_png}: " in err and "exists" in err and "--overwrite" in err
    assert (out / "good.md").read_text() == "edited by the user"
    assert main(args + ["--overwrite"]) == 0
    assert (out / "good.md").read_bytes() == first
    assert sorted(p.name for p in out.iterdir()) == ["good.md"]


def test_export_errors_are_oserrors_with_the_path(tmp_path, monkeypatch):
    """Callers (CLI, app) catch OSError; the message names the folder and what to do."""
    folder = tmp_path / "ro"
    folder.mkdir()
    deny_folder(monkeypatch, folder)
    with pytest.raises(OSError) as e:
        engine.atomic_write(folder / "x.md", "x")
    assert isinstance(e.value, ExportError)
    assert_clear(str(e.value), folder)
