"""The app's parts on their own: the RunQueue without a window, the PlanOptionsBar's one value, the actions table,
file formats and settings sections as data, the TargetBar."""

import json

import pytest
from PIL import Image
from PySide6.QtWidgets import QMenu

from engine.outputs.export import to_json

from dsocr_app import engine_bridge as eb
from dsocr_app import exporting
from dsocr_app.actions import ACTIONS, MENUS, TOOLBAR, bind_actions, build_actions
from dsocr_app.plan_options import PlanOptions, PlanOptionsBar
from dsocr_app.run_queue import CANCELLED, RunQueue
from dsocr_app.settings_dialog import SECTIONS, SettingsDialog
from dsocr_app.target_bar import TargetBar

from .conftest import grounded_result
from .helpers import plan_of


class _Key:
    """A run's key: anything the caller recognises (the window uses its queue Targets)."""

    def __init__(self, name):
        self.name = name


@pytest.fixture
def runs(qapp, page):
    image = Image.open(page).convert("RGB")

    def prepare(key):
        if key.name == "broken":
            raise eb.ImageError("broken.png: not an image")
        return image, eb.RunOptions.of(mode="small", max_tokens=6)

    q = RunQueue(prepare)
    yield q
    assert q.close()


def _record(q):
    events = []
    q.started.connect(lambda job: events.append(("started", job.key.name)))
    q.delta.connect(lambda job, text, tokens, *_: events.append(("delta", job.key.name, tokens)))
    q.finished.connect(lambda job, result: events.append(("finished", job.key.name, result.stop_reason)))
    q.failed.connect(lambda job, message: events.append(("failed", job.key.name, message)))
    return events


def test_run_queue_without_a_window(runs, tiny_v1, qtbot):
    events = _record(runs)
    a, broken, b = _Key("a"), _Key("broken"), _Key("b")
    assert runs.submit([a, broken, b]) == 3 and runs.submit([a]) == 0  # queued once
    assert runs.is_busy() and runs.running is None  # waits for a model
    with qtbot.waitSignal(runs.modelReady, timeout=120_000):
        runs.load(str(tiny_v1))
    assert runs.wait_idle(300)
    order = [(e[0], e[1]) for e in events if e[0] != "delta"]
    assert order == [("started", "a"), ("finished", "a"), ("failed", "broken"), ("started", "b"), ("finished", "b")]
    assert ("failed", "broken", "broken.png: not an image") in events
    deltas = [e[2] for e in events if e[0] == "delta" and e[1] == "a"]
    assert deltas and deltas == sorted(deltas) and deltas[-1] <= 6
    assert runs.model.version == "v1" and not runs.is_busy() and runs.partial == ""


def test_run_queue_cancel_stops_the_run_and_drops_the_rest(runs, tiny_v1, qtbot, page):
    with qtbot.waitSignal(runs.modelReady, timeout=120_000):
        runs.load(str(tiny_v1))
    runs.prepare = lambda key: (Image.open(page).convert("RGB"), eb.RunOptions.of(mode="small", max_tokens=100_000))
    events = _record(runs)
    first, second = _Key("first"), _Key("second")
    runs.delta.connect(lambda job, *_: runs.cancel())  # cancel at the first streamed token
    runs.submit([first, second])
    assert runs.wait_idle(300)
    ends = [e for e in events if e[0] in ("finished", "failed")]
    assert ends in ([("finished", "first", "cancelled")], [("failed", "first", CANCELLED)])
    assert not any(e[1] == "second" for e in events)


def test_plan_options_bar_emits_one_value_per_change(qtbot):
    bar = PlanOptionsBar(PlanOptions("v1", "gundam", 2, 9), tiles_for=lambda v: {"v1": (3, 7), "v2": (2, 6)}[v])
    qtbot.addWidget(bar)
    seen = []
    bar.changed.connect(seen.append)
    bar.min_spin.setValue(8)  # a user's change
    assert seen == [PlanOptions("v1", "gundam", 8, 9)]
    bar.max_spin.setValue(4)  # below the minimum: the one just changed wins
    assert seen[-1] == PlanOptions("v1", "gundam", 4, 4) and len(seen) == 2
    assert (bar.min_spin.value(), bar.max_spin.value()) == (4, 4)
    bar.version_combo.setCurrentIndex(bar.version_combo.findData("v2"))
    assert seen[-1] == PlanOptions("v2", "gundam", 2, 6) and len(seen) == 3  # v2's own limits
    assert [bar.mode_combo.itemData(i) for i in range(bar.mode_combo.count())] == list(eb.MODES["v2"])
    bar.set_options(mode="small")
    assert seen[-1].mode == "small" and not bar.min_spin.isEnabled() and len(seen) == 4
    bar.set_options(mode="small")  # nothing new: no signal
    assert len(seen) == 4
    with pytest.raises(ValueError, match="unknown mode 'tiny' for v2"):
        bar.set_options(mode="tiny")
    with pytest.raises(ValueError, match="tile limits"):
        bar.set_options(max_tiles=12)
    assert bar.options() == seen[-1]


def test_plan_options_check_like_the_command_line():
    assert PlanOptions("v2", "gundam", 2, 6).checked().run_options() == {
        "task": "markdown", "mode": "gundam", "min_tiles": 2, "max_tiles": 6}
    with pytest.raises(ValueError, match="need 1 <= min <= max <= 6"):
        PlanOptions("v2", "gundam", 2, 12).checked()
    assert PlanOptions("v2", "gundam", 2, 12).normalized() == PlanOptions("v2", "gundam", 2, 6)


def test_actions_table_is_complete(window):
    names = {a.name for a in ACTIONS}
    assert len(names) == len(ACTIONS)
    listed = [n for items in MENUS.values() for n in items if n] + [
        n for e in TOOLBAR if e for n in (e if isinstance(e, tuple) else (e,))]
    assert set(listed) <= names
    # the window binds every action to a callable (`bind_actions` refuses a missing one or a name)
    window.acts["run"].setEnabled(True)  # disabled with an empty queue; bound all the same
    window.acts["run"].trigger()  # bound to the run command: with an empty queue it says so
    assert window.last_error == "Nothing to run: add an image first"


def test_actions_are_bound_to_callables_not_names(qtbot):
    from PySide6.QtWidgets import QWidget

    host = QWidget()
    qtbot.addWidget(host)
    calls = []
    slots = {a.name: (lambda *args, name=a.name: calls.append((name, args))) for a in ACTIONS}
    with pytest.raises(ValueError, match="without a callable: \\['about'\\]"):
        bind_actions(build_actions(host), {k: v for k, v in slots.items() if k != "about"})
    with pytest.raises(TypeError, match="not callable"):
        bind_actions(build_actions(host), {**slots, "about": "about"})  # a name is not a binding
    acts = build_actions(host)
    bind_actions(acts, slots)
    acts["copy_tsv"].trigger()
    acts["export_pdf"].trigger()
    acts["tiles"].toggle()
    assert calls == [("copy_tsv", ("tsv",)), ("export_pdf", (("pdf",),)), ("tiles", (False,))]


def test_menus_come_from_the_table(window):
    menus = {m.title(): [a.text() for a in m.actions() if not a.isSeparator()]
             for m in window.menuBar().findChildren(QMenu) if m.title() in MENUS}
    texts = {a.name: a.text for a in ACTIONS}
    assert menus == {title: [texts[n] for n in names if n] for title, names in MENUS.items()}


def test_a_file_format_is_one_entry(window, page, tmp_path, monkeypatch):
    window.add_paths([page])
    window.run_view.apply_result(0, 0, grounded_result(window.queue.image(0), plan_of(window)))

    def write_html(path, item, target, overwrite, image):
        return [eb.atomic_write(path, f"<pre>{target.text}</pre>\n", overwrite=overwrite)]

    formats = {**exporting.FILE_FORMATS, "html": exporting.FileFormat("html", "HTML (*.html)", write_html)}
    monkeypatch.setattr(exporting, "FILE_FORMATS", formats)
    assert window.exports.save_target(tmp_path / "page.html") == [tmp_path / "page.html"]
    assert window.exports.export_all(tmp_path / "all", ("html", "json")) == [tmp_path / "all" / "page.html",
                                                                      tmp_path / "all" / "page.json"]


def test_json_export_uses_the_engines_writer(window, page, tmp_path):
    window.add_paths([page])
    result = grounded_result(window.queue.image(0), plan_of(window))
    window.run_view.apply_result(0, 0, result)
    path = window.exports.save_target(tmp_path / "page.json")[0]
    text = path.read_text()
    assert text == to_json(json.loads(text))  # the engine's indent and escaping
    assert json.loads(text)["stop_reason"] == "eos"


def test_settings_sections_save_on_ok_only(settings, qtbot):
    titles = [s.title for s in SECTIONS]
    assert titles[0] == "Run" and "Files" in titles
    files = titles.index("Files")
    for close, want in (("reject", (8192, 144)), ("accept", (1024, 200))):
        d = SettingsDialog(settings)
        qtbot.addWidget(d)
        d.sections[0].max_tokens.setValue(1024)
        d.sections[files].pdf_dpi.setValue(200)
        getattr(d, close)()
        assert (settings.max_tokens, settings.pdf_dpi) == want, close


def test_target_bar_emits_only_user_choices(window, qtbot):
    bar = TargetBar(window.acts["region"])
    qtbot.addWidget(bar)
    chosen = []
    bar.targetChosen.connect(chosen.append)
    bar.set_targets(["Whole image", "Region a", "Region b"], 2)
    assert chosen == [] and bar.combo.currentIndex() == 2 and bar.remove_button.isVisibleTo(bar)
    bar.combo.setCurrentIndex(0)
    assert chosen == [0] and not bar.remove_button.isVisibleTo(bar)


def test_stale_or_foreign_stored_values_fall_back_to_the_defaults(settings):
    from dsocr_app.capture.settings import CaptureSettings

    q = settings.q
    for key, value in (("plan/version", "v9"), ("run/task", "poem"), ("model/compute_dtype", "fp8"),
                       ("output/math", "latex"), ("output/tables", ""), ("run/recover", "maybe"),
                       ("capture/task", "song"), ("capture/keep_running", "perhaps")):
        q.setValue(key, value)
    capture = CaptureSettings(q)
    assert (settings.version, settings.task, settings.compute_dtype, settings.math, settings.tables) == \
        ("v2", "markdown", "auto", "brackets", "html")
    assert settings.recover is True and capture.task == "free" and capture.keep_running is False
    for stored, want in (("false", False), ("0", False), ("no", False), ("true", True), ("1", True)):
        q.setValue("run/recover", stored)
        q.setValue("capture/keep_running", stored)
        assert settings.recover is want and capture.keep_running is want, stored
