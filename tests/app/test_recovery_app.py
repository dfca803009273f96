"""Loop recovery and the output settings in the app: Run/Output settings reach the engine, a rollback cuts the
streamed text, the banner and the token table say what was recovered, the Rendered view draws real tables."""

from pathlib import Path

import engine
import pytest
from PySide6.QtGui import QTextTable

from dsocr_app.results_pane import ResultsPane
from dsocr_app.settings_dialog import OutputSection, RunSection, SettingsDialog

from .conftest import make_result

SHOW1 = Path(__file__).resolve().parents[2] / ".." / "shared" / "samples" / "show1.jpg"
REAL = Path(__file__).resolve().parents[1] / "data" / "real_outputs"


def test_run_and_output_settings_reach_the_engine_options(settings, qtbot):
    options = settings.run_options()
    assert options == engine.RunOptions()  # the settings start from the engine's run defaults
    assert (options.recovery, options.output) == (engine.Recovery(True, 1.2), engine.Output("brackets", "html"))
    dialog = SettingsDialog(settings)
    qtbot.addWidget(dialog)
    run = next(s for s in dialog.sections if isinstance(s, RunSection))
    out = next(s for s in dialog.sections if isinstance(s, OutputSection))
    run.recover.setChecked(False)
    assert not run.penalty.isEnabled()
    run.penalty.setValue(1.35)
    out.math.setCurrentIndex(out.math.findData("dollars"))
    out.tables.setCurrentIndex(out.tables.findData("pipe"))
    dialog.accept()
    options = settings.run_options(mode="small")
    assert (options.recovery, options.output) == (engine.Recovery(False, 1.35), engine.Output("dollars", "pipe"))
    assert options.tiling.mode == "small" and options.decoding.max_tokens == settings.max_tokens
    settings.q.setValue("output/math", "bogus")  # a damaged settings file falls back to the default
    assert settings.math == "brackets"


def _attempts():
    return [engine.Attempt("greedy", 0, 787, "repetition", 514, 91),
            engine.Attempt("loop-ban+penalty", 605, 245, "recovered")]


def test_rollback_cuts_the_streamed_text_and_the_result_says_what_recovered(qtbot):
    pane = ResultsPane()
    qtbot.addWidget(pane)
    pane.begin_stream()
    pane.append_delta("Kept text. ", 3, 0.1, 10.0)
    pane.append_delta("loop loop loop loop", 9, 0.2, 10.0)
    pane.rewind_stream(len("Kept text. "), 514, "loop-ban+penalty")
    pane.append_delta("the rest", 12, 0.3, 10.0)
    pane.end_stream()
    assert pane.raw.toPlainText() == "Kept text. the rest"
    assert "token 514" in pane.banner_message() and "loop-ban+penalty" in pane.banner_message()

    result = make_result(engine.preprocess.images.open_image(SHOW1), engine.plan((1000, 800), "v2"))
    result.stop_reason, result.attempts = "recovered", _attempts()
    pane.show_result(result)
    assert pane.banner_message() == "A loop at token 514 was recovered by loop-ban+penalty."
    rows = {r[0]: r for r in pane.table_rows()}
    assert rows["Attempt 1"][1] == "greedy from token 0: repetition, loop from token 514 (period 91)"
    assert rows["Attempt 2"][1].startswith("loop-ban+penalty from token 605: recovered") and rows["Attempt 2"][2] == "245"
    result.stop_reason = "repetition"  # the ladder ran out: the warning says so, and what was tried
    result.attempts = _attempts()[:1] + [engine.Attempt("loop-ban+penalty", 605, 200, "repetition", 700, 4)]
    pane.show_result(result)
    assert "repetition guard" in pane.banner_message() and "after loop-ban+penalty" in pane.banner_message()


def test_rendered_view_draws_a_real_truncated_table(qtbot):
    pane = ResultsPane()
    qtbot.addWidget(pane)
    md = engine.clean_markdown((REAL / "v1_table_spans_issue295.txt").read_text(encoding="utf-8"))[0]
    pane.set_text(md)
    tables = [f for f in pane.rendered.document().rootFrame().childFrames() if isinstance(f, QTextTable)]
    assert len(tables) == 1 and tables[0].columns() == 10 and tables[0].rows() == 6
    assert pane.text() == md  # the editor keeps the text as it is


@pytest.fixture(scope="module")
def tiny_v2(tmp_path_factory):
    return engine.write_tiny_checkpoint(tmp_path_factory.mktemp("tiny") / "tiny-v2", "v2", seed=3)


def test_a_looping_run_is_recovered_in_the_app(window, tiny_v2, qtbot):
    with qtbot.waitSignal(window.modelReady, timeout=120_000):
        window.load_model(str(tiny_v2))
    window.add_paths([SHOW1])
    window.set_max_tokens(850)
    rollbacks = []
    window.runs.rolledBack.connect(lambda job, keep, start, strategy: rollbacks.append((keep, start, strategy)))
    with qtbot.waitSignal(window.runFinished, timeout=300_000):
        window.run_current()
    result = window.queue.items[0].targets[0].result
    assert result is not None and result.recoveries and rollbacks
    assert rollbacks[0][1:] == result.recoveries[0]
    assert window.results.text() == result.text and window.results.raw.toPlainText() == result.raw_text
    assert "was recovered by loop-ban+penalty" in window.results.banner_message()
    assert any(r[0] == "Attempt 2" for r in window.results.table_rows())
    # the raw view tints what the retry wrote, from where it took over to the end
    (mark,) = window.results.attempt_marks()[:1]
    assert mark[0] == result.attempts[1].text_start > 0 and "loop-ban+penalty" in mark[2]
    assert result.raw_text[:mark[0]] == result.raw_text[:rollbacks[0][0]]
