"""Bad inputs (issue items 1 and 4): each gets one clear line naming it and what to do, in the engine and in
the CLI (stderr, non-zero exit); the good inputs of the same batch still produce their outputs; no traceback
reaches the user unless --debug asks for it."""

import builtins
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import engine
from engine.cli import ocr_cmd, plan_cmd
from engine.cli.main import main
from engine.preprocess.images import ImageError, open_image
from engine.preprocess.inputs import expand_inputs
from engine.preprocess.pdf import InputError, pdf_page_count

from .conftest import IS_ROOT
from .corpus import BAD_FILES, assert_clear, page, pdf_pages

CASES = [*BAD_FILES, "encrypted PDF", "PDF with zero pages", "folder named like an image", "path that does not exist"]
REPO = Path(__file__).resolve().parents[2]


def first_error(path) -> str:
    """The message the engine gives for `path`: at expansion (PDFs, folders, missing files) or at decoding."""
    items = expand_inputs([path])
    errors = [it.error for it in items if it.error]
    if errors:
        assert len(errors) == 1
        return errors[0]
    assert len(items) == 1
    with pytest.raises(ImageError) as e:
        items[0].load()
    return str(e.value)


@pytest.mark.parametrize("case", CASES)
def test_engine_gives_one_clear_message(corpus, case):
    path, words = corpus[case]
    message = first_error(path)
    assert words in message, message
    assert_clear(message, path)


@pytest.mark.parametrize("case", CASES)
def test_plan_cli_reports_the_file_before_any_model_work(corpus, case, capsys):
    path, words = corpus[case]
    assert main(["plan", str(path)]) == 1  # a bad input: exit 1, as in `dsocr ocr`
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith("dsocr: error: ")
    assert_clear(err, path)
    if not path.suffix == ".pdf":  # `dsocr plan` takes images: a PDF is told to open as a PDF
        assert words in err
        with pytest.raises(ImageError) as e:  # the loader of the OCR path says the very same
            open_image(path)
        assert err == f"dsocr: error: {e.value}\n"


@pytest.mark.parametrize("case", CASES)
def test_single_input_ocr_fails_before_loading_a_model(corpus, case, capsys, monkeypatch):
    def no_model(*a, **k):
        raise AssertionError("a model was loaded for a bad input")

    monkeypatch.setattr(ocr_cmd, "load_model", no_model)
    path, words = corpus[case]
    rc = main(["ocr", str(path), "--model", "unused/model"])
    out, err = capsys.readouterr()
    assert rc == 1 and out == ""
    assert "a model was loaded" not in err
    assert_clear(err, path)
    assert words in err


def test_batch_with_every_bad_input_still_writes_the_good_ones(corpus, good_png, tiny_v1_dir, tmp_path, capsys):
    mixed = tmp_path / "mixed"
    mixed.mkdir()
    page(400, 500, 1).save(mixed / "first.png")
    page(400, 500, 2).convert("L").save(mixed / "second.jpg")
    pdf_pages(mixed / "two.pdf", 2)
    (mixed / "notes.png").write_text("not an image")
    (mixed / "cut.jpg").write_bytes((mixed / "second.jpg").read_bytes()[:400])
    (mixed / "broken.pdf").write_bytes(b"%PDF-1.7\nnot really")
    (mixed / "readme.txt").write_text("ignored: not an image suffix")
    out = tmp_path / "out"
    unique = tmp_path / "bad"  # one name each: inputs that would write one output file stop the whole command
    unique.mkdir()
    bad = []
    for p, _ in corpus.values():
        if p.is_file() and not p.is_symlink():
            bad.append(unique / f"{p.stem}-{p.suffix.lstrip('.')}{p.suffix}")
            shutil.copy2(p, bad[-1])
        else:  # a folder, a link, a missing path: as it is
            bad.append(p)
    rc = main(["ocr", str(good_png), str(mixed), *map(str, bad), "--model", str(tiny_v1_dir), "--mode", "tiny",
               "--max-tokens", "2", "--out", str(out), "--batch", "2"])
    err = capsys.readouterr().err
    assert rc == 1, err
    assert sorted(p.name for p in out.iterdir()) == ["first.md", "good.md", "second.md", "two-p001.md",
                                                     "two-p002.md"]
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    for path in [*bad, mixed / "notes.png", mixed / "cut.jpg", mixed / "broken.pdf"]:
        named = [line for line in lines if f"{path}:" in line]
        assert len(named) == 1, (path, named)
        assert named[0].startswith("dsocr: ")
        assert_clear(named[0], path)
    assert lines[-1] == f"dsocr: {len(bad) + 3} of {len(bad) + 8} inputs failed; 5 written to {out}"


class TestNoReadPermission:
    """Root reads everything, so the denial is simulated (os.access, open, iterdir) and, when not root,
    also made real with chmod."""

    def test_simulated_by_os_access(self, tmp_path, monkeypatch, capsys):
        img, pdf = tmp_path / "secret.png", pdf_pages(tmp_path / "secret.pdf", 1)
        page().save(img)
        real = os.access
        monkeypatch.setattr(os, "access", lambda p, mode, *a, **k: False if Path(p) in (img, pdf)
                            else real(p, mode, *a, **k))
        with pytest.raises(ImageError, match="permission denied") as e:
            open_image(img)
        assert_clear(str(e.value), img)
        with pytest.raises(InputError, match="permission denied") as e:
            pdf_page_count(pdf)
        assert_clear(str(e.value), pdf)
        (item,) = expand_inputs([pdf])
        assert "permission denied" in item.error
        assert main(["plan", str(img)]) == 1
        assert_clear(capsys.readouterr().err, img)

    def test_simulated_by_open(self, tmp_path, monkeypatch):
        img = tmp_path / "locked.png"
        page().save(img)
        real = builtins.open

        def deny(file, *a, **k):
            if isinstance(file, (str, os.PathLike)) and Path(file) == img:
                raise PermissionError(13, "Permission denied", str(file))
            return real(file, *a, **k)

        monkeypatch.setattr(builtins, "open", deny)
        with pytest.raises(ImageError, match="permission denied") as e:
            open_image(img)
        assert_clear(str(e.value), img)

    def test_unreadable_folder_is_an_item_error(self, tmp_path, monkeypatch, good_png):
        folder = tmp_path / "private"
        folder.mkdir()
        page().save(folder / "a.png")
        real = Path.iterdir

        def deny(self):
            if self == folder:
                raise PermissionError(13, "Permission denied", str(self))
            return real(self)

        monkeypatch.setattr(Path, "iterdir", deny)
        items = expand_inputs([folder, good_png])
        assert [it.path for it in items] == [folder, good_png]
        assert "permission denied" in items[0].error and items[1].error is None
        assert_clear(items[0].error, folder)

    @pytest.mark.skipif(IS_ROOT, reason="root ignores permission bits; the simulated tests above cover root")
    def test_real_chmod(self, tmp_path, capsys):
        img, pdf = tmp_path / "secret.png", pdf_pages(tmp_path / "secret.pdf", 1)
        page().save(img)
        folder = tmp_path / "private"
        folder.mkdir()
        page().save(folder / "a.png")
        for p in (img, pdf, folder):
            p.chmod(0)
        try:
            with pytest.raises(ImageError, match="permission denied"):
                open_image(img)
            with pytest.raises(InputError, match="permission denied"):
                pdf_page_count(pdf)
            items = expand_inputs([folder])
            assert len(items) == 1 and "permission denied" in items[0].error
            assert main(["plan", str(img)]) == 1
            assert_clear(capsys.readouterr().err, img)
        finally:
            for p in (img, pdf, folder):
                p.chmod(0o700)


def test_debug_flag_adds_the_traceback_and_keeps_the_code(corpus, capsys):
    path, _ = corpus["truncated PNG"]
    for argv in (["--debug", "plan", str(path)], ["plan", str(path), "--debug"]):  # after the subcommand too
        assert main(argv) == 1
        err = capsys.readouterr().err
        assert "Traceback" in err and "ImageError" in err
        assert err.strip().splitlines()[-1].startswith(f"dsocr: error: {path}: ")


def test_unexpected_errors_are_one_line_that_points_to_debug(good_png, monkeypatch, capsys):
    def broken(*a, **k):
        raise RuntimeError("something inside\nbroke")

    monkeypatch.setattr(plan_cmd, "plan", broken)
    assert main(["plan", str(good_png)]) == 3
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "--debug" in err and "RuntimeError" in err
    assert main(["plan", str(good_png), "--debug"]) == 3
    assert "Traceback" in capsys.readouterr().err


def test_the_real_command_prints_no_traceback(corpus):
    """As a user runs it: a process, stderr, exit code; --debug shows the traceback and keeps the code."""
    path, _ = corpus["HTML named .jpg"]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    cmd = [sys.executable, "-m", "engine.cli.main", "plan", str(path)]
    plain = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=120)
    assert plain.returncode == 1 and plain.stdout == ""
    assert_clear(plain.stderr, path)
    debug = subprocess.run(cmd + ["--debug"], capture_output=True, text=True, env=env, timeout=120)
    assert debug.returncode == 1 and "Traceback" in debug.stderr and "ImageError" in debug.stderr


def test_engine_api_errors_are_value_errors(corpus):
    """The app and scripts catch one family: ImageError / InputError are ValueErrors with the same message."""
    path, words = corpus["PNG bomb 100000x100000"]
    with pytest.raises(ValueError, match="decompression bomb"):
        engine.open_image(path)
    with pytest.raises(ValueError, match="decompression bomb"):
        engine.image_size(path)
