"""The app's parts on their own: the RunQueue without a window, the PlanOptionsBar's one value, the actions table
(bound to callables), file formats and settings sections as data, the TargetBar; and the structure pinned: only the
queue model changes items, a `Selection` says what is shown, parts take at most five arguments and no callbacks,
the window builds and connects."""

import ast
import dataclasses
import importlib
import inspect
import json
import re
from pathlib import Path

import pytest
from PIL import Image
from PySide6.QtWidgets import QMenu

from engine.outputs.export import to_json

import dsocr_app
from dsocr_app import engine_bridge as eb
from dsocr_app import exporting
from dsocr_app.actions import ACTIONS, MENUS, TOOLBAR, bind_actions, build_actions
from dsocr_app.plan_options import PlanOptions, PlanOptionsBar
from dsocr_app.queue_model import QueueItem, Target
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

    def prepare(key, model):
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
    runs.prepare = lambda key, model: (Image.open(page).convert("RGB"), eb.RunOptions.of(mode="small", max_tokens=100_000))
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


# ---- one way for state to change: the structure pinned ------------------------------------------------------

APP = Path(dsocr_app.__file__).parent
ITEM_FIELDS = {f.name for f in dataclasses.fields(Target)} | {f.name for f in dataclasses.fields(QueueItem)}
LIST_CHANGES = {"append", "extend", "insert", "remove", "pop", "clear", "sort", "reverse"}


def _item_writes(source: str) -> list[str]:
    """`X.field = ...`, `X.field += ...`, `del X.targets[k]` and `X.targets.append(...)`-like calls on a
    field of a Target or QueueItem, where X is not `self` (a class's own fields are its own)."""
    found = []

    def field_of(node):
        while isinstance(node, ast.Subscript):
            node = node.value
        if isinstance(node, ast.Attribute) and node.attr in ITEM_FIELDS:
            base = node.value
            if not (isinstance(base, ast.Name) and base.id == "self"):
                return node.attr
        return None

    for node in ast.walk(ast.parse(source)):
        targets = []
        if isinstance(node, (ast.Assign, ast.Delete)):
            targets = node.targets
        elif isinstance(node, (ast.AugAssign, ast.AnnAssign)):
            targets = [node.target]
        for t in targets:
            for elt in (t.elts if isinstance(t, ast.Tuple) else [t]):
                name = field_of(elt)
                if name:
                    found.append(f"line {node.lineno}: {name}")
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in LIST_CHANGES:
            name = field_of(node.func.value)
            if name == "targets":
                found.append(f"line {node.lineno}: targets.{node.func.attr}")
    return found


def test_the_scan_finds_item_writes():
    """The scan below is only as good as its detector: these are the writes it must catch."""
    writes = _item_writes("target.state = State.DONE\nt.grid, t.task = None, ''\nitem.error += 'x'\n"
                          "del item.targets[1]\nitem.targets.append(Target())\nself.text = 'own field'\n")
    assert writes == ["line 1: state", "line 2: grid", "line 2: task", "line 3: error", "line 4: targets",
                      "line 5: targets.append"]


def test_only_the_queue_model_changes_items_and_targets():
    offenders = {str(p.relative_to(APP)): w for p in sorted(APP.rglob("*.py")) if p.name != "queue_model.py"
                 for w in [_item_writes(p.read_text())] if w}
    # `CaptureSettings.task` is a stored setting that shares a name with `Target.task`
    assert [w.endswith(": task") for w in offenders.pop("settings_dialog.py", [])] in ([], [True])
    assert offenders == {}


def _classes():
    for path in sorted(APP.rglob("*.py")):
        if path.name == "__main__.py":  # runs the app when imported
            continue
        module = importlib.import_module("dsocr_app." + ".".join(path.relative_to(APP).with_suffix("").parts))
        for cls in vars(module).values():
            if inspect.isclass(cls) and cls.__module__ == module.__name__ and "__init__" in vars(cls) \
                    and not dataclasses.is_dataclass(cls):
                yield cls


def test_parts_take_at_most_five_arguments():
    """Parts are handed what they work on, never the window's widgets and callbacks one by one."""
    wide = {c.__qualname__: list(inspect.signature(c.__init__).parameters)[1:] for c in _classes()
            if len(inspect.signature(c.__init__).parameters) - 1 > 5}
    assert wide == {}
    names = {c.__name__ for c in _classes()}
    assert {"PlanPresenter", "RunPresenter", "RegionCommands", "ShownPresenter", "RunCommands", "ActionStates",
            "Selection", "Messages"} <= names  # the scan saw the parts


def test_parts_are_handed_no_callbacks_into_the_window():
    """No part's constructor takes a plain callable (`current`, `report`, `update_actions`, `show_result`, ...):
    parts call owners' methods and listen to their signals."""
    callbacks = {}
    for cls in _classes():
        hints = getattr(cls.__init__, "__annotations__", {})
        bad = [n for n, h in hints.items() if "Callable" in str(h) and n not in ("tiles_for", "prepare", "planner")]
        if bad:
            callbacks[cls.__qualname__] = bad
    assert callbacks == {}


# methods of MainWindow that build and connect; the rest hand a command to a part in straight-line code
BUILDERS = {"__init__", "_build_ui", "_connect", "_restore_geometry"}
DECISIONS = (ast.If, ast.For, ast.While, ast.Try, ast.With, ast.IfExp, ast.BoolOp, ast.ListComp, ast.DictComp,
             ast.SetComp, ast.GeneratorExp, ast.Match)


def test_main_window_builds_and_connects_nothing_more():
    tree = ast.parse((APP / "window.py").read_text())
    window = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "MainWindow")
    deciding = {}
    for f in window.body:
        if isinstance(f, ast.FunctionDef) and f.name not in BUILDERS:
            kinds = sorted({type(n).__name__ for n in ast.walk(f) if isinstance(n, DECISIONS)})
            if kinds:
                deciding[f.name] = kinds
    assert deciding == {"set_plan_options": ["DictComp"], "about": ["IfExp"]}  # a script's None; the model name


def test_no_part_reaches_into_another():
    """The reach-ins the parts once made: another part's child widget, the window's settings store or its
    queue's list, a field set on the window."""
    pattern = re.compile(r"\.tiling\.|options_bar\.version_combo|\.plan_overlay\b(?!\s*=)|window\.settings\.q\b"
                         r"|window\.resident\b|window\.queue\.items\[|window\.\w+\s*=[^=]")
    hits = [f"{p.relative_to(APP)}:{k}: {line.strip()}" for p in sorted(APP.rglob("*.py"))
            if p.name not in ("results_pane.py", "preview_view.py", "plan_options.py", "page_pane.py")
            for k, line in enumerate(p.read_text().splitlines(), 1) if pattern.search(line)]
    assert hits == []


def test_the_queue_model_signals_every_change(window, page, qtbot):
    """Each change to an item is a method of the queue model that says so; what is shown follows it."""
    from dsocr_app.queue_model import State

    window.add_paths([page])
    queue, seen = window.queue, []
    queue.stateChanged.connect(lambda t: seen.append(("state", t.state.value)))
    queue.targetChanged.connect(lambda t: seen.append(("target", t.grid, t.task)))
    queue.targetsChanged.connect(lambda row: seen.append(("targets", row, len(queue.items[row].targets))))
    queue.streamed.connect(lambda t, text, n, *_: seen.append(("token", text, n)))
    whole = queue.items[0].targets[0]
    queue.set_grid(whole, (2, 3))
    queue.set_task(whole, "free")
    k = queue.add_region(0, (10, 10, 400, 300))
    assert k == 1 and queue.add_region(0, (10, 10, 400, 300)) == 1  # the same region once
    region = queue.items[0].targets[1]
    queue.start(region)
    window.show_target(1)
    queue.token(region, "Hello", 3, 0.5, 6.0)
    assert queue.partial == "Hello"
    result = grounded_result(queue.image(0).crop(region.rect), plan_of(window))
    queue.finish(region, result)
    queue.fail(whole, "boom")
    assert seen == [("target", (2, 3), ""), ("target", (2, 3), "free"), ("targets", 0, 2), ("state", "running"),
                    ("token", "Hello", 3), ("state", "done"), ("state", "failed")]
    assert (region.state, region.text, whole.error) == (State.DONE, result.text, "boom")
    assert window.results.text() == result.text  # the region shown: its result came through the signals
    assert not queue.remove_region(whole) and queue.remove_region(region)
    assert window.current_target == 0 and window.current()[1] is whole  # the selection followed
    assert window.queue.data(window.queue.index(0)).endswith("failed \u2014 boom")


def test_the_selection_owns_what_is_shown(window, page, tmp_path):
    second = tmp_path / "second.png"
    Image.open(page).resize((400, 560)).save(second)
    window.add_paths([page, second])
    sel, seen = window.selection, []
    sel.itemShown.connect(lambda: seen.append(("item", sel.row)))
    sel.targetShown.connect(lambda: seen.append(("target", sel.row, sel.index)))
    window.queue_view.setCurrentIndex(window.queue.index(1))  # a click in the queue list
    assert seen == [("item", 1), ("target", 1, 0)] and window.windowTitle() == "second.png \u2014 DSOCR"
    sel.show_row(0)
    assert window.queue_view.currentIndex().row() == 0 and seen[-2:] == [("item", 0), ("target", 0, 0)]
    assert len(seen) == 4  # the list following the selection did not show the row twice
    window.remove_current()
    assert sel.row == 0 and window.current_item().name == "second.png"
    assert window.windowTitle() == "second.png \u2014 DSOCR"


def test_rules_come_from_the_engine(tmp_path, page):
    """Rules the app once wrote again: a free file name, an input's naming and loading, the option checks and
    their messages, the PDF resolution."""
    import engine

    from dsocr_app.exporting import free_stem

    (tmp_path / "scan.md").write_text("x")
    (tmp_path / "scan (2).json").write_text("x")
    assert free_stem(tmp_path, "scan", ("md",)) == engine.unique_path(tmp_path / "scan.md").stem == "scan (2)"
    assert free_stem(tmp_path, "scan", ("md", "json")) == "scan (3)"  # free in every format
    item = QueueItem(Path(page))
    assert item.stem == engine.InputItem(Path(page)).stem and item.dpi == engine.DEFAULT_DPI
    assert item.read_image().tobytes() == engine.InputItem(Path(page)).load().tobytes()
    for bad, engine_check in ((PlanOptions("v9", "gundam", 2, 6), lambda: engine.get_mode("v9")),
                              (PlanOptions("v2", "tiny", 2, 6), lambda: engine.get_mode("v2", "tiny")),
                              (PlanOptions("v2", "gundam", 2, 6, "poem"), lambda: engine.task_prompt("poem"))):
        with pytest.raises(ValueError) as ours:
            bad.checked()
        with pytest.raises(ValueError) as theirs:
            engine_check()
        assert str(ours.value) == str(theirs.value)
    literals = [f"{p.relative_to(APP)}:{n.lineno}" for p in sorted(APP.rglob("*.py"))
                for n in ast.walk(ast.parse(p.read_text())) if isinstance(n, ast.Constant) and n.value == 144]
    assert literals == []  # the PDF resolution is the engine's DEFAULT_DPI
