"""Promises kept, part two (issue 44, the command line): a stopped run finishes when run again, skipping is
decided per output file, clashes and bad page ranges stop before any work, special files are refused, plan
reads PDF pages, JSON to stdout is JSON Lines, options that do nothing are said, and each event is one line."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image
from pypdf import PdfReader

import engine
from engine.cli import ocr_cmd
from engine.cli.main import main
from engine.cli.outputs import PAGE_STORE


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    return engine.write_tiny_checkpoint(tmp_path_factory.mktemp("resume") / "v2", "v2", seed=4)


@pytest.fixture
def three(tmp_path):
    pages = [Image.new("RGB", (400, 500), (255, 255, 250 - 20 * i)) for i in range(3)]
    pages[0].save(tmp_path / "three.pdf", save_all=True, append_images=pages[1:])
    Image.new("RGB", (300, 200), "white").save(tmp_path / "scan.png")
    return tmp_path


def lines_of(capsys) -> list[str]:
    return capsys.readouterr().err.strip().splitlines()


def interrupt_after(monkeypatch, pages: int):
    """Ctrl+C once `pages` pages are done (after their files are written), as a user would press it."""
    seen = []
    report_stop = ocr_cmd._report_stop

    def stop(item, result):
        report_stop(item, result)
        seen.append(item)
        if len(seen) == pages:
            raise KeyboardInterrupt

    monkeypatch.setattr(ocr_cmd, "_report_stop", stop)


def pdf_texts(path: Path) -> list[str]:
    return [page.extract_text() for page in PdfReader(path).pages]


def ocr(*args) -> int:
    return main(["ocr", *map(str, args)])


# ---- 1, 2: an interrupted run finishes when run again; a missing output is redone ------------------------

def test_a_stopped_run_is_finished_by_running_it_again(three, model_dir, monkeypatch, capsys):
    out = three / "intr"
    cmd = [three / "three.pdf", "--format", "md,pdf", "--out", out, "--model", model_dir, "--max-tokens", "3"]
    interrupt_after(monkeypatch, 1)
    assert ocr(*cmd) == 130
    assert sorted(os.listdir(out)) == [PAGE_STORE, "three-p001.md"]
    assert os.listdir(out / PAGE_STORE) == ["three-p001.pdf"]  # page 1 kept for the PDF
    page1 = (out / "three-p001.md").read_text()
    monkeypatch.undo()
    capsys.readouterr()

    assert ocr(*cmd) == 0
    lines = lines_of(capsys)
    assert sorted(os.listdir(out)) == ["three-p001.md", "three-p002.md", "three-p003.md", "three.pdf"]
    assert (out / "three-p001.md").read_text() == page1  # kept, not redone
    assert lines[0] == (f"dsocr: skipped {three / 'three.pdf'} page 1: {out / 'three-p001.md'} exists; its page of "
                        f"{out / 'three.pdf'} is kept in {out / PAGE_STORE} (--overwrite redoes it)")
    assert [x.split(" -> ")[0] for x in lines if x.startswith("dsocr: [")] == [
        f"dsocr: [1/2] {three / 'three.pdf'} page 2", f"dsocr: [2/2] {three / 'three.pdf'} page 3"]
    # the PDF line comes after the page line that completed it, and the summary last
    assert lines[-2] == f"dsocr: searchable PDF -> {out / 'three.pdf'}"
    assert lines[-1].startswith(f"dsocr: 2 written to {out}, 1 skipped")
    # the document is whole and equals an uninterrupted run's
    assert ocr(three / "three.pdf", "--format", "pdf", "--out", three / "once", "--model", model_dir,
               "--max-tokens", "3") == 0
    assert pdf_texts(out / "three.pdf") == pdf_texts(three / "once" / "three.pdf")
    assert len(PdfReader(out / "three.pdf").pages) == 3


def test_a_missing_output_is_redone_and_the_others_are_kept(three, model_dir, capsys):
    out = three / "res"
    cmd = [three / "three.pdf", "--format", "md,pdf", "--out", out, "--model", model_dir, "--max-tokens", "2"]
    assert ocr(*cmd) == 0
    pdf_bytes, page3 = (out / "three.pdf").read_bytes(), (out / "three-p003.md").stat().st_mtime_ns
    (out / "three-p002.md").unlink()
    capsys.readouterr()
    assert ocr(*cmd) == 0
    lines = lines_of(capsys)
    assert (out / "three-p002.md").exists()
    assert (out / "three.pdf").read_bytes() == pdf_bytes and (out / "three-p003.md").stat().st_mtime_ns == page3
    assert [x for x in lines if x.startswith("dsocr: [")] and \
        all(" page 2 -> " in x for x in lines if x.startswith("dsocr: ["))
    assert lines[-1] == f"dsocr: 1 written to {out}, 2 skipped (their outputs exist; --overwrite redoes them)"


def test_a_pdf_whose_pages_were_all_kept_is_written_without_the_model(three, model_dir, monkeypatch, capsys):
    out = three / "kept"
    cmd = [three / "three.pdf", "--format", "pdf", "--out", out, "--model", model_dir, "--max-tokens", "2"]
    interrupt_after(monkeypatch, 3)  # stopped after the last page, as if before its PDF was saved
    monkeypatch.setattr(ocr_cmd.PdfCollector, "_write", lambda self, last: [])
    assert ocr(*cmd) == 130
    monkeypatch.undo()
    assert not (out / "three.pdf").exists() and len(os.listdir(out / PAGE_STORE)) == 3
    monkeypatch.setattr(ocr_cmd, "load_model", lambda *a: pytest.fail("a model was loaded"))
    assert ocr(*cmd) == 0
    assert len(PdfReader(out / "three.pdf").pages) == 3 and not (out / PAGE_STORE).exists()
    lines = lines_of(capsys)
    assert f"dsocr: searchable PDF -> {out / 'three.pdf'}" in lines
    assert lines[-1].startswith(f"dsocr: 1 searchable PDF written to {out}, 3 skipped")


# ---- 4, 8: refused before any work -----------------------------------------------------------------------

@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes here")
def test_a_named_pipe_is_refused_in_one_line(tmp_path):
    os.mkfifo(tmp_path / "fifo.png")
    r = subprocess.run([sys.executable, "-m", "engine.cli.main", "ocr", str(tmp_path / "fifo.png"), "--model",
                        "unused/model"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 1
    assert r.stderr.strip().splitlines()[0] == (
        f"dsocr: error: {tmp_path / 'fifo.png'}: is a named pipe, not a regular file; give an image or PDF file "
        "(or a folder of them)")
    with pytest.raises(engine.ImageError, match="named pipe"):  # the app opens images with the same loader
        engine.open_image(tmp_path / "fifo.png")


@pytest.mark.parametrize("pages, message", [
    ("abc", "cannot read 'abc'"), ("0", "page 0 does not exist"), ("3-1", "runs backwards; use 1-3")])
def test_bad_page_ranges_are_refused_when_the_command_line_is_read(three, pages, message, capsys):
    out = three / "never"
    assert ocr(three / "scan.png", three / "three.pdf", "--pages", pages, "--out", out,
               "--model", "unused/model") == 2
    (line,) = lines_of(capsys)
    assert line.startswith("dsocr: error: argument --pages: ") and message in line
    assert not out.exists()


def test_no_output_folder_is_made_when_nothing_could_run(three, capsys):
    (three / "notes.png").write_text("not an image")
    out = three / "nested" / "out"
    assert ocr(three / "notes.png", "--out", out, "--model", "unused/model") == 1
    assert not (three / "nested").exists()
    (line,) = lines_of(capsys)
    assert line == f"dsocr: error: {three / 'notes.png'}: not an image: it is a text file; choose an image or PDF file"


# ---- 9, 10: plan reads PDF pages; JSON to stdout is JSON Lines --------------------------------------------

def test_plan_plans_pdf_pages_like_ocr(three, capsys):
    assert main(["plan", str(three / "three.pdf"), "--pages", "2-3", "--version", "v1"]) == 0
    text = capsys.readouterr().out
    assert [x for x in text.splitlines() if x.startswith("==> ")] == [
        f"==> {three / 'three.pdf'} page 2 <==", f"==> {three / 'three.pdf'} page 3 <=="]
    assert main(["plan", str(three / "three.pdf"), "--json", "--dpi", "72"]) == 0
    rows = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert [r["page"] for r in rows] == [1, 2, 3]
    assert rows[0]["image_size"] == [400, 500]  # rendered at --dpi 72: the page's own pixels
    assert rows[0]["image_tokens"] == engine.plan((400, 500), version="v2").image_tokens
    assert main(["plan", str(three / "scan.png"), "--pages", "2"]) == 2


def test_json_to_stdout_is_json_lines(three, model_dir, monkeypatch, capsys):
    monkeypatch.chdir(three)
    assert ocr("scan.png", "three.pdf", "--pages", "1,3", "--format", "json", "--model", model_dir,
               "--max-tokens", "2", "--batch", "2") == 0
    rows = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert [(r["input"], r["page"]) for r in rows] == [("scan.png", None), ("three.pdf", 1), ("three.pdf", 3)]
    assert all(r["tokens"]["generated"] <= 2 and "plan" in r for r in rows)


# ---- 11: options that do nothing are refused or said once ---------------------------------------------------

@pytest.mark.parametrize("args, message", [
    (["--repetition-penalty", "inf"], "argument --repetition-penalty: must be a finite number (got inf)"),
    (["--locate", "Total", "--task", "free"], "--locate goes with --task locate, not --task free"),
    (["--task", "locate"], "--task locate needs the text to find: add --locate TEXT"),
])
def test_contradicting_options_are_refused(three, args, message, capsys):
    assert ocr(three / "scan.png", "--model", "unused/model", *args) == 2
    (line,) = lines_of(capsys)
    assert message in line


def test_options_without_effect_are_said_once(three, model_dir, capsys):
    assert ocr(three / "scan.png", three / "scan.png", "--pages", "2", "--repetition-penalty", "1.3",
               "--no-recover", "--locate", "Total", "--model", model_dir, "--max-tokens", "1") == 0
    warnings = [x for x in lines_of(capsys) if x.startswith("dsocr: warning: ") and "--max-tokens" not in x]
    assert warnings == [
        "dsocr: warning: --repetition-penalty has no effect with --no-recover (it applies to the retry after a loop)",
        "dsocr: warning: --pages 2 has no effect: none of the inputs is a PDF"]


def test_locate_alone_asks_the_locate_task(three, model_dir, monkeypatch):
    seen = {}
    monkeypatch.setattr(ocr_cmd, "_run_targets", lambda args, options, *a, **k: seen.update(task=options.task) or 1)
    assert ocr(three / "scan.png", "--locate", "Total", "--model", model_dir) == 0
    assert seen["task"] == "locate"


# ---- 12: one line per event, said once --------------------------------------------------------------------

def test_a_loop_with_recovery_off_says_no_retry_was_made():
    from engine.language.recovery import Attempt

    result = engine.Result.__new__(engine.Result)
    result.stop_reason, result.attempts = "repetition", [Attempt("greedy", 0, 600, "repetition", 514, 7)]
    note = result.recovery_note()
    assert note == "stopped at a loop at token 514 without a retry (recovery is off); the text before the loop is kept"
    result.attempts.append(Attempt("loop-ban+penalty", 514, 300, "repetition", 700, 5))
    assert result.recovery_note().endswith("stopped: still looping at token 700 after loop-ban+penalty; "
                                           "the text before the loop is kept")


NO_FAST_BLAS = """
import glob, os, runpy, sys
exists, find = os.path.exists, glob.glob
blas = lambda p: any(k in str(p).lower() for k in ("blas", "mkl"))
os.path.exists = lambda p: False if blas(p) else exists(p)  # as on a machine with no optimized BLAS
glob.glob = lambda p, *a, **k: [] if blas(p) else find(p, *a, **k)
sys.argv = ["dsocr", *sys.argv[1:]]
runpy.run_module("engine.cli.main", run_name="__main__")
"""


def test_commands_without_matrix_work_never_warn_about_the_blas(tmp_path, model_dir):
    env = {k: v for k, v in os.environ.items() if k != "DSOCR_BLAS"}
    Image.new("RGB", (300, 200)).save(tmp_path / "p.png")

    def dsocr(*args):
        return subprocess.run([sys.executable, "-c", NO_FAST_BLAS, *args], capture_output=True, text=True,
                              env=env, timeout=300)

    for args in (["--help"], ["plan", str(tmp_path / "p.png")], ["tiny-checkpoint", str(tmp_path / "t")]):
        r = dsocr(*args)
        assert r.returncode == 0, r.stderr
        assert r.stderr == "", (args, r.stderr)
    r = dsocr("ocr", str(tmp_path / "p.png"), "--model", str(model_dir), "--max-tokens", "1")  # matrix work
    assert r.returncode == 0, r.stderr
    assert [x for x in r.stderr.splitlines() if "BLAS" in x] == [r.stderr.splitlines()[0]]  # said once, first


def test_relative_paths_stay_relative_in_every_line(three, model_dir, monkeypatch, capsys):
    monkeypatch.chdir(three)
    assert ocr("three.pdf", "--pages", "1-2", "--format", "md,pdf", "--out", "rel", "--model", model_dir,
               "--max-tokens", "1") == 0
    lines = [x for x in lines_of(capsys) if "--max-tokens" not in x]
    assert lines == [
        "dsocr: [1/2] three.pdf page 1 -> rel/three-p001.md" + lines[0].split("three-p001.md")[1],
        "dsocr: [2/2] three.pdf page 2 -> rel/three-p002.md" + lines[1].split("three-p002.md")[1],
        "dsocr: searchable PDF -> rel/three.pdf",
        "dsocr: 2 written to rel"]
    assert str(three) not in "\n".join(lines)
