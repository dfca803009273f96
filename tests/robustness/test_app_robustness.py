"""The app's side of the robustness issue (items 4, 5 and 6), offscreen with pytest-qt:

- every bad input becomes a message on its queue item, the good ones in the same batch still run, and the app
  stays usable;
- closing the window during a run (while encoding or decoding) exits cleanly: no "QThread: Destroyed while
  thread is still running", no crash at exit (checked in a separate process, as a user quits);
- an export into a read-only folder fails with a clear message and the result stays in the app.
"""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")

from PySide6.QtCore import QSettings, Qt  # noqa: E402

from .conftest import IS_ROOT  # noqa: E402
from .corpus import ADVICE, page, pdf_pages  # noqa: E402
from .test_export_safety import deny_folder  # noqa: E402

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def qapp_cls():
    from dsocr_app.app import DsocrApplication

    return DsocrApplication


@pytest.fixture
def window(qtbot, tmp_path):
    from dsocr_app.settings import Settings
    from dsocr_app.window import MainWindow

    w = MainWindow(Settings(QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)))
    w.quiet = True  # messages go to the status bar and `last_error`, no modal boxes
    qtbot.addWidget(w)
    w.resize(1200, 800)
    w.show()
    qtbot.waitExposed(w)
    yield w
    w.close()


@pytest.fixture
def loaded(window, tiny_v1_dir, qtbot):
    with qtbot.waitSignal(window.modelReady, timeout=120_000):
        window.load_model(str(tiny_v1_dir))
    window.set_plan_options(version="v1", mode="tiny")
    window.set_max_tokens(2)
    return window


def run_all_and_wait(window, qtbot):
    window.run_all()
    qtbot.waitUntil(lambda: not window.is_busy(), timeout=300_000)


def item_message(window, row) -> str:
    from dsocr_app.queue_model import State

    item = window.queue.items[row]
    assert item.state == State.FAILED, (item.name, item.state)
    tip = window.queue.data(window.queue.index(row), Qt.ItemDataRole.ToolTipRole)
    message = item.error or item.targets[0].error
    path, _, reason = message.partition(": ")
    assert message and reason in tip and path in tip  # shown whole on the item (tooltip), not only in passing
    return message


def test_bad_inputs_are_messages_on_their_items_and_the_good_ones_run(loaded, corpus, good_png, tmp_path, qtbot,
                                                                      monkeypatch):
    from dsocr_app.queue_model import State

    window = loaded
    monkeypatch.setattr(window.intake, "ask_pages", lambda path, count: list(range(count)))
    good_pdf = pdf_pages(tmp_path / "two.pdf", 2)
    bad = {case: p for case, (p, _) in corpus.items() if case != "folder named like an image"}
    window.add_paths([good_png, *bad.values(), good_pdf])
    names = [i.name for i in window.queue.items]
    assert len(names) == 1 + len(bad) + 2
    run_all_and_wait(window, qtbot)
    rows = {i.source: r for r, i in enumerate(window.queue.items) if i.page is None}
    for case, path in bad.items():
        message = item_message(window, rows[path])
        assert path.name in message and "Traceback" not in message, (case, message)
        assert ADVICE.search(message), (case, message)
    done = [i for i in window.queue.items if i.targets[0].state == State.DONE]
    assert [i.name for i in done] == [names[0], names[-2], names[-1]]  # good.png and both PDF pages
    assert all(i.targets[0].result.generated_tokens >= 1 for i in done)
    # still usable: a bad item shows its message, a good one its plan and result
    window.show_row(rows[bad["truncated PNG"]])
    assert not window.acts["run"].isEnabled()
    window.show_row(0)
    assert window.current_plan is not None and window.results.text() == done[0].targets[0].result.text


def test_a_folder_named_like_an_image_a_missing_path_and_no_permission(window, corpus, tmp_path, monkeypatch):
    folder, _ = corpus["folder named like an image"]
    assert window.add_paths([folder]) == 1  # a failed item that says why, as `dsocr ocr` does
    assert "holds no images or PDFs" in item_message(window, 0)
    missing, _ = corpus["path that does not exist"]
    window.add_paths([missing])
    window.show_row(len(window.queue.items) - 1)
    message = item_message(window, len(window.queue.items) - 1)
    assert "no such file" in message and missing.name in message
    secret = tmp_path / "secret.png"
    page().save(secret)
    real = os.access  # root reads everything: the denial is simulated
    monkeypatch.setattr(os, "access", lambda p, m, *a, **k: False if Path(p) == secret else real(p, m, *a, **k))
    window.add_paths([secret])
    message = item_message(window, len(window.queue.items) - 1)
    assert "permission denied" in message and secret.name in message


@pytest.fixture
def with_result(loaded, good_png, qtbot):
    from dsocr_app.queue_model import State

    window = loaded
    window.add_paths([good_png])
    with qtbot.waitSignal(window.runFinished, timeout=300_000):
        window.run_current()
    target = window.queue.items[0].targets[0]
    assert target.state == State.DONE
    return window, target


def _read_only(tmp_path, monkeypatch, real: bool) -> Path:
    ro = tmp_path / "read-only"
    ro.mkdir()
    if real:
        ro.chmod(0o500)
    else:
        deny_folder(monkeypatch, ro)
    return ro


@pytest.mark.parametrize("real", [False, pytest.param(True, marks=pytest.mark.skipif(
    IS_ROOT, reason="root ignores permission bits; the simulated case covers root"))])
def test_saving_into_a_read_only_folder_keeps_the_result(with_result, tmp_path, monkeypatch, real):
    from PySide6.QtWidgets import QFileDialog

    window, target = with_result
    result, text = target.result, window.results.text()
    ro = _read_only(tmp_path, monkeypatch, real)
    try:
        monkeypatch.setattr(QFileDialog, "getSaveFileName",
                            staticmethod(lambda *a, **k: (str(ro / "good.md"), "Markdown (*.md)")))
        window.exports.save_dialog()
        assert "permission denied" in window.last_error.lower() and str(ro) in window.last_error
        assert target.result is result and window.results.text() == text
        assert window.acts["save"].isEnabled() and window.acts["export"].isEnabled()
        assert not (ro / "good.md").exists()
    finally:
        ro.chmod(0o700)
    # the same result saves fine elsewhere
    written = window.exports.save_target(tmp_path / "ok" / "good.md")
    assert written[0].read_text().strip() == text.strip()


@pytest.mark.parametrize("real", [False, pytest.param(True, marks=pytest.mark.skipif(
    IS_ROOT, reason="root ignores permission bits; the simulated case covers root"))])
def test_export_all_into_a_read_only_folder_keeps_the_results(with_result, tmp_path, monkeypatch, real):
    from PySide6.QtWidgets import QFileDialog, QInputDialog

    window, target = with_result
    result = target.result
    ro = _read_only(tmp_path, monkeypatch, real)
    try:
        monkeypatch.setattr(QInputDialog, "getItem", staticmethod(lambda *a, **k: ("Markdown", True)))
        monkeypatch.setattr(QFileDialog, "getExistingDirectory", staticmethod(lambda *a, **k: str(ro)))
        window.exports.export_dialog()
        assert "permission denied" in window.last_error.lower()
        assert target.result is result and window.acts["export"].isEnabled()
        assert list(ro.iterdir()) == []
    finally:
        ro.chmod(0o700)


CLOSE_SCRIPT = textwrap.dedent("""
    import os, sys
    os.environ["QT_QPA_PLATFORM"] = "offscreen"
    from PySide6.QtCore import QSettings, QTimer
    from dsocr_app.app import DsocrApplication
    app = DsocrApplication([])
    from dsocr_app.settings import Settings
    from dsocr_app.window import MainWindow

    model, image, ini, when = sys.argv[1:5]
    w = MainWindow(Settings(QSettings(ini, QSettings.Format.IniFormat)))
    w.quiet = True
    w.show()
    state = {"closed": False}

    def close():
        if not state["closed"]:
            state["closed"] = True
            thread = w.runs.host.thread
            w.close()
            print("THREAD-FINISHED", thread.isFinished(), flush=True)
            app.quit()

    def start():
        w.add_paths([image])
        w.set_max_tokens(100000)
        w.run_current()
        if when == "encoding":
            QTimer.singleShot(0, close)  # the encoder is running now: it cannot be interrupted, close waits

    w.modelReady.connect(start)
    if when == "decoding":
        w.textStreamed.connect(lambda *a: close())
    w.load_model(model)
    QTimer.singleShot(240000, lambda: (print("TIMEOUT", flush=True), app.exit(5)))
    code = app.exec()
    print("EXIT", code, flush=True)
    sys.exit(code)
""")


@pytest.mark.parametrize("when", ["encoding", "decoding"])
def test_closing_the_window_during_a_run_exits_cleanly(tiny_v1_dir, tmp_path, when):
    image = tmp_path / "page.png"
    page(900, 1200).save(image)
    env = {**os.environ, "PYTHONPATH": str(REPO), "QT_QPA_PLATFORM": "offscreen"}
    proc = subprocess.run([sys.executable, "-c", CLOSE_SCRIPT, str(tiny_v1_dir), str(image),
                           str(tmp_path / "settings.ini"), when], capture_output=True, text=True, env=env,
                          timeout=300)
    out, err = proc.stdout, proc.stderr
    assert proc.returncode == 0, (out, err)
    assert "THREAD-FINISHED True" in out and "EXIT 0" in out, (out, err)
    for bad in ("QThread: Destroyed", "Traceback", "Segmentation fault", "Aborted", "core dumped"):
        assert bad not in err, err
