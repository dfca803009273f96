"""Runs on a tiny random checkpoint: streaming text and counters, the token table, cancel, load errors,
and `dsocr-app --screenshot --run`. Needs `engine.load` and `engine.stream`."""

import time

import pytest
from PySide6.QtCore import Qt

from dsocr_app.queue_model import State

from .helpers import plan_of, tile_rows


@pytest.fixture
def loaded(window, tiny_v1, qtbot):
    with qtbot.waitSignal(window.modelReady, timeout=120_000):
        window.load_model(str(tiny_v1))
    assert window.model is not None and window.model.version == "v1"
    assert "tiny-v1" in window.status.model_label.text()
    return window


def test_run_streams_text_and_fills_the_table(loaded, page, qtbot):
    window = loaded
    window.set_plan_options(mode="gundam")
    window.add_paths([page])
    window.set_max_tokens(48)
    deltas, stats_seen = [], []

    def seen(text, tokens):  # runs in the GUI thread: the window re-emits what the worker streamed
        deltas.append((text, tokens))
        stats_seen.append(window.results.stats.text())

    window.textStreamed.connect(seen)
    with qtbot.waitSignal(window.runFinished, timeout=300_000):
        window.run_current()
        assert window.queue.items[0].targets[0].state == State.RUNNING
        assert window.acts["cancel"].isEnabled()
    target = window.queue.items[0].targets[0]
    assert target.state == State.DONE, target.error
    result = target.result
    assert result.generated_tokens >= 1 and result.stop_reason in ("eos", "max_tokens", "repetition")
    assert deltas, "no text was streamed"
    assert [d[1] for d in deltas] == sorted(d[1] for d in deltas)  # token counts only go up
    assert "".join(d[0] for d in deltas) == result.raw_text
    assert any("tokens/s" in s for s in stats_seen)
    # the plan the run used is the one that was shown
    assert result.plan.to_dict() == plan_of(window).to_dict()
    rows = tile_rows(window)
    assert len(rows) == len(result.plan.tiles) == 6
    parts = {r[0]: r for r in window.results.table_rows()}
    assert int(parts["Generated tokens"][2]) == result.generated_tokens
    assert window.results.text() == result.text
    assert window.queue.data(window.queue.index(0), Qt.ItemDataRole.DisplayRole).split("\n")[1].startswith("done")


def test_cancel_leaves_the_app_usable(loaded, page, qtbot):
    window = loaded
    window.set_plan_options(mode="small")
    window.add_paths([page])
    window.set_max_tokens(100_000)
    started = []
    window.textStreamed.connect(lambda *a: started.append(a))
    with qtbot.waitSignal(window.runFinished, timeout=300_000):
        window.run_current()
        qtbot.waitUntil(lambda: len(started) >= 3, timeout=300_000)
        t0 = time.perf_counter()
        window.acts["cancel"].trigger()
    assert time.perf_counter() - t0 < 10
    target = window.queue.items[0].targets[0]
    assert target.state == State.CANCELLED
    assert window.runs.running is None and not window.is_busy()
    assert "Cancelled" in window.results.banner_message()
    # usable: plan changes and another run work
    window.set_plan_options(mode="gundam")
    assert plan_of(window).tiled
    window.set_plan_options(mode="tiny")
    window.set_max_tokens(8)
    with qtbot.waitSignal(window.runFinished, timeout=300_000):
        window.run_current()
    assert target.state == State.DONE
    assert target.result.plan.mode == "tiny"


def test_run_all_and_region(loaded, page, tmp_path, qtbot):
    from dsocr_app.sample import document_page

    window = loaded
    window.set_plan_options(mode="small")  # untiled: fast
    small = tmp_path / "small.png"
    document_page(600, 800, seed=5).save(small)
    window.add_paths([page, small])
    window.set_max_tokens(6)
    k = window.regions.add_region((100, 100, 700, 900))
    with qtbot.waitSignal(window.runFinished, timeout=300_000):
        window.run_current()
    region = window.queue.items[0].targets[k]
    assert region.state == State.DONE and region.result.plan.image_size == (600, 800)
    finished = []
    window.runFinished.connect(lambda r, t: finished.append((r, t)))
    window.run_all()
    qtbot.waitUntil(lambda: len(finished) == 2, timeout=300_000)
    assert [i.targets[0].state for i in window.queue.items] == [State.DONE, State.DONE]
    written = window.exports.export_all(tmp_path / "out", ("md", "json"))
    assert {p.name for p in written if p.suffix in (".md", ".json")} == {
        "page.md", "page.json", "page-region1.md", "page-region1.json", "small.md", "small.json"}


def test_load_error_is_a_plain_message(window, tmp_path, qtbot):
    folder = tmp_path / "not-a-model"
    folder.mkdir()
    (folder / "config.json").write_text("{}")
    with qtbot.waitSignal(window.modelError, timeout=60_000) as sig:
        window.load_model(str(folder))
    message = sig.args[0]
    assert "not-a-model" in message and "Traceback" not in message
    assert window.model is None and not window.is_busy()
    assert window.last_error == message


def test_close_during_run_stops_the_thread(make_window, tiny_v1, page, qtbot):
    window = make_window()
    with qtbot.waitSignal(window.modelReady, timeout=120_000):
        window.load_model(str(tiny_v1))
    window.set_plan_options(mode="small")
    window.add_paths([page])
    window.set_max_tokens(100_000)
    got = []
    window.textStreamed.connect(lambda *a: got.append(a))
    window.run_current()
    qtbot.waitUntil(lambda: len(got) >= 1, timeout=300_000)
    thread = window.runs.host.thread
    window.close()
    assert thread.isFinished()


def test_screenshot_after_run(tiny_v1, page, tmp_path, qapp):
    from PySide6.QtGui import QImage

    from dsocr_app.main import main

    out = tmp_path / "shot.png"
    code = main(["--screenshot", str(out), "--open", str(page), "--model", str(tiny_v1), "--run",
                 "--max-tokens", "16", "--size", "1200x800", "--version", "v1", "--mode", "small"])
    assert code == 0
    img = QImage(str(out))
    assert (img.width(), img.height()) == (1200, 800)

