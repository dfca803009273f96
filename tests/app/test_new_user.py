"""What a new user hit: crashes and hangs at exit, on bad options, without a display, in scripted modes.

Each of these ran into an abort, a segfault or a hang once; the process-level ones run in a subprocess so a
crash shows as a failed test, not as a dead test run.
"""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from PIL import Image

from dsocr_app.main import main
from dsocr_app.queue_model import State

ROOT = Path(__file__).resolve().parents[2]


def _python(code: str, *args, env=None, timeout=240) -> subprocess.CompletedProcess:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "PYTHONPATH": str(ROOT), **(env or {})}
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code), *map(str, args)], capture_output=True,
                          text=True, timeout=timeout, env=env, cwd=ROOT)


def _app(*args, env=None, timeout=120) -> subprocess.CompletedProcess:
    return _python("import sys; from dsocr_app.main import main; sys.exit(main(sys.argv[1:]))", *args, env=env,
                   timeout=timeout)


STREAM_20K = """
    import sys, time
    import engine
    from PySide6.QtCore import QSettings
    from dsocr_app import engine_bridge as eb
    from dsocr_app.app import DsocrApplication
    from dsocr_app.settings import Settings
    from dsocr_app.window import MainWindow

    model_dir, page, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
    real_stream = eb.stream

    def fast_stream(model, image, options, cancel=None):  # the real model's result, after n scripted tokens
        for i in range(n):
            yield engine.TextDelta(text="word ", generated_tokens=i + 1, elapsed_s=1e-4 * i, tokens_per_s=1e4)
        yield from (e for e in real_stream(model, image, options.replace(max_tokens=2), cancel=cancel)
                    if isinstance(e, engine.Result))

    eb.stream = fast_stream
    app = DsocrApplication(sys.argv[:1])
    w = MainWindow(Settings(QSettings(sys.argv[4], QSettings.Format.IniFormat)))
    w.quiet = True
    w.show()
    w.add_paths([page])
    w.set_plan_options(mode="small")
    streamed = []
    w.textStreamed.connect(lambda text, tokens: streamed.append(tokens))
    w.load_model(model_dir)
    assert w.wait_idle(120), "model load timed out"
    w.run_current()
    assert w.wait_idle(300), "run timed out"
    target = w.queue.items[0].targets[0]
    assert target.result is not None, target.error
    assert len(streamed) == n and streamed[-1] == n, (len(streamed), streamed[-1:])
    w.close()
    print("streamed", len(streamed))
"""


def test_20k_streamed_tokens_then_a_clean_exit(tiny_v1, page, tmp_path):
    """PySide6 6.12.0 dropped a reference per emit: thousands of streamed tokens ended in 'none_dealloc'."""
    r = _python(STREAM_20K, tiny_v1, page, 20_000, tmp_path / "s.ini")
    assert r.returncode == 0, r.stderr[-3000:]
    assert "streamed 20000" in r.stdout


def test_python_clipboard_data_does_not_crash_the_exit():
    """A QMimeData made in Python and left on the clipboard segfaulted at interpreter teardown."""
    r = _python("""
        from PySide6.QtCore import QMimeData, QTimer, QUrl
        from dsocr_app.app import DsocrApplication
        app = DsocrApplication([])
        mime = QMimeData()
        mime.setUrls([QUrl.fromLocalFile("/tmp/page.png")])
        app.clipboard().setMimeData(mime)
        del mime
        QTimer.singleShot(0, app.quit)
        app.exec()
        print("quit")
    """)
    assert r.returncode == 0 and "quit" in r.stdout, (r.returncode, r.stderr[-2000:])


def test_copied_text_survives_until_quit(window):
    """The app's own copies are made by Qt (they stay on the clipboard): nothing to clear at quit."""
    from dsocr_app.app import release_clipboard

    window.results.set_text("# Title\n\nbody")
    window.exports.copy_as("plain")
    assert not release_clipboard()
    from PySide6.QtGui import QGuiApplication

    assert QGuiApplication.clipboard().text() == "Title\n\nbody"


@pytest.fixture(scope="module")
def three_page_pdf(tmp_path_factory):
    path = tmp_path_factory.mktemp("pdf") / "report.pdf"
    pages = [Image.new("RGB", (600, 800), (255, 255, 255)) for _ in range(3)]
    pages[0].save(path, save_all=True, append_images=pages[1:])
    return path


def test_screenshot_of_a_pdf_never_waits_for_a_dialog(three_page_pdf, tmp_path):
    out = tmp_path / "pdf.png"
    r = _app("--screenshot", out, "--open", three_page_pdf, timeout=90)
    assert r.returncode == 0, r.stderr[-2000:]
    assert out.is_file()


def test_scripted_pdf_pages(window, three_page_pdf, monkeypatch):
    from PySide6.QtWidgets import QInputDialog

    monkeypatch.setattr(QInputDialog, "getText", lambda *a, **k: pytest.fail("a scripted window asked"))
    assert window.add_paths([three_page_pdf]) == 3  # quiet: every page
    assert window.add_paths([three_page_pdf], pages="2") == 1
    assert window.queue.items[-1].page == 1
    assert window.add_paths([three_page_pdf], pages="7") == 1  # out of range: a failed item that says so
    assert window.queue.items[-1].state == State.FAILED and "page" in window.queue.items[-1].error


@pytest.mark.parametrize("args, says", [
    (["--mode", "huge"], "unknown mode 'huge'"),
    (["--max-tiles", "12"], "tile limits min=2, max=12 are invalid for v2"),
    (["--version", "v3"], "invalid choice: 'v3'"),
    (["--size", "big"], "WxH"),
    (["--pages", "two"], "two"),
])
def test_bad_options_get_one_line_and_exit_2(args, says, tmp_path):
    r = _app(*args, "--screenshot", tmp_path / "x.png")
    assert r.returncode == 2, r.stderr[-2000:]
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and says in lines[0] and lines[0].startswith("dsocr-app: error:"), r.stderr
    assert "Traceback" not in r.stderr and not (tmp_path / "x.png").exists()


def test_bad_options_without_screenshot_too():
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    for args, says in ((["--mode", "huge"], "unknown mode"), (["--run"], "--run goes with --screenshot")):
        r = subprocess.run([sys.executable, "-c", "import sys; from dsocr_app.main import main; "
                            "sys.exit(main(sys.argv[1:]))", *args], capture_output=True, text=True, timeout=60,
                           env={**env, "PYTHONPATH": str(ROOT)}, cwd=ROOT)
        assert r.returncode == 2 and says in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr


def test_no_display_says_so():
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    r = subprocess.run([sys.executable, "-c", "import sys; from dsocr_app.main import main; sys.exit(main([]))"],
                       capture_output=True, text=True, timeout=60, env={**env, "PYTHONPATH": str(ROOT)}, cwd=ROOT)
    assert r.returncode == 1, r.stderr[-2000:]
    assert "no display" in r.stderr and "--screenshot" in r.stderr
    assert "xcb-cursor0" not in r.stderr and "Aborted" not in r.stderr


def test_missing_qt_libraries_are_named_only_when_missing(monkeypatch):
    from dsocr_app import display_check

    env = {"DISPLAY": ":0"}
    monkeypatch.setattr(display_check, "missing_libraries", lambda: [])
    assert display_check.display_problem(env, "linux") is None
    monkeypatch.setattr(display_check, "missing_libraries", lambda: ["libxcb-cursor.so.0"])
    problem = display_check.display_problem(env, "linux")
    assert "libxcb-cursor.so.0" in problem and "apt install libxcb-cursor0" in problem
    assert display_check.display_problem({}, "darwin") is None
    assert display_check.display_problem({"QT_QPA_PLATFORM": "offscreen"}, "linux") is None


def test_missing_libraries_really_loads_them():
    from dsocr_app import display_check

    assert display_check.missing_libraries(["libc.so.6", "libdoes-not-exist.so.9"]) == ["libdoes-not-exist.so.9"]


def test_screenshot_into_a_missing_folder_is_an_error(page, tmp_path, qapp, capsys):
    out = tmp_path / "no" / "such" / "shot.png"
    assert main(["--screenshot", str(out), "--open", str(page)]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert not (tmp_path / "no").exists()


def test_run_on_a_failed_item_exits_nonzero(tiny_v1, tmp_path, qapp, capsys):
    bad = tmp_path / "notes.txt"
    bad.write_text("not an image")
    code = main(["--screenshot", str(tmp_path / "shot.png"), "--open", str(bad), "--model", str(tiny_v1), "--run"])
    assert code == 1
    assert "text file" in capsys.readouterr().err


# ---- what confused a new user -----------------------------------------------------------------------------

def _broken_inputs(tmp_path, page):
    missing = tmp_path / "missing.png"
    text = tmp_path / "notes.txt"
    text.write_text("hello, not an image")
    data = Path(page).read_bytes()
    jpeg = tmp_path / "cut.jpg"
    Image.open(page).convert("RGB").save(jpeg, quality=90)
    jpeg.write_bytes(jpeg.read_bytes()[: len(jpeg.read_bytes()) // 2])
    assert data
    return {"missing.png": "no such file", "notes.txt": "text file", "cut.jpg": "truncated"}, [missing, text, jpeg]


def test_inputs_are_checked_when_added(window, tmp_path, page, qtbot):
    reasons, paths = _broken_inputs(tmp_path, page)
    window.add_paths([page, *paths])  # the good page is shown; the broken ones are not selected
    qtbot.waitUntil(lambda: window.queue.unchecked() == 0, timeout=10_000)
    rows = [window.queue.data(window.queue.index(r)).split("\n") for r in range(len(window.queue.items))]
    assert rows[0][1] == "planned"
    for (name, state), (want_name, why) in zip(rows[1:], reasons.items()):
        assert name == want_name and state.startswith("failed \u2014") and why in state, (name, state)


def test_a_failed_item_says_why_in_the_panel(window, tmp_path, page, qtbot):
    _, paths = _broken_inputs(tmp_path, page)
    window.add_paths(paths)
    for row in range(3):
        window.show_row(row)
        item = window.queue.items[row]
        assert item.state == State.FAILED
        assert "press Run" not in window.results.stats.text()
        assert item.reason and item.reason in window.results.banner_message()
        assert not window.acts["run"].isEnabled()


def test_a_failed_items_reason_is_said_once_and_its_row_stays_two_lines(window, tmp_path, page, qtbot):
    from PySide6.QtCore import Qt
    from PySide6.QtWidgets import QApplication, QLabel

    window.resize(800, 600)
    qtbot.waitUntil(lambda: window.width() == 800)
    _, paths = _broken_inputs(tmp_path, page)
    window.add_paths([paths[1], page])  # notes.txt: "not an image: it is a text file; choose an image or PDF file"
    window.show_row(0)
    QApplication.processEvents()
    item = window.queue.items[0]
    reason = item.reason
    assert len(reason) > 40 and item.state == State.FAILED
    # said once, in full: the results pane's notice; not again on the page, in the status bar or a second label
    shown = [w for w in window.findChildren(QLabel) if w.isVisible() and reason in w.text()]
    assert shown == [window.results.banner_text]
    assert reason not in window.statusBar().currentMessage() and "notes.txt" in window.statusBar().currentMessage()
    assert window.page.placeholder.text() == "Cannot open notes.txt"
    # the queue row: two lines (name, state), elided to the list's width, the whole text on hover
    view = window.queue_view
    index = window.queue.index(0)
    lines = window.queue.data(index).split("\n")
    assert lines == ["notes.txt", f"failed \u2014 {reason}"]
    spacing = view.fontMetrics().lineSpacing()
    assert view.visualRect(index).height() <= 2 * spacing + 12, "the row wraps"
    assert view.visualRect(index).width() <= view.viewport().width()
    assert not view.horizontalScrollBar().isVisible()
    assert view.fontMetrics().horizontalAdvance(lines[1]) > view.viewport().width()  # so it really is elided
    tip = window.queue.data(index, Qt.ItemDataRole.ToolTipRole)
    assert reason in tip and str(paths[1]) in tip


def test_a_scripted_run_without_a_model_asks_nothing(window, page, monkeypatch):
    from dsocr_app.model_dialog import ModelDialog

    monkeypatch.setattr(ModelDialog, "exec", lambda self: pytest.fail("a scripted window asked for a model"))
    window.add_paths([page])
    window.run_current()
    assert "No model is loaded" in window.last_error and not window.is_busy()


def test_a_failed_runs_reason_is_said_once(window, page):
    from PySide6.QtWidgets import QApplication, QLabel

    from dsocr_app.worker import Job

    window.add_paths([page, page])
    window.show_row(0)
    message = "the model ran out of memory while reading tile 3 of 6; try a smaller mode or a region of the page"
    target = window.queue.items[0].targets[0]
    window.runs.failed.emit(Job(None, None, target), message)
    QApplication.processEvents()
    assert target.state == State.FAILED
    shown = [w for w in window.findChildren(QLabel) if w.isVisible() and message in w.text()]
    assert shown == [window.results.banner_text]
    assert message not in window.statusBar().currentMessage() and "run failed" in window.statusBar().currentMessage()
    other = window.queue.items[1].targets[0]  # a run that fails out of sight is told in the status bar
    window.runs.failed.emit(Job(None, None, other), message)
    assert message in window.statusBar().currentMessage()
