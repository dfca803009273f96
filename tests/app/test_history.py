"""The capture history: the store on disk (add, list, search, prune, delete, a damaged database, a lost image),
the History view in the window, `dsocr-app --history` (a subprocess: no Qt, no model), and memory that stays
flat, asserted structurally (a done capture or pasted image holds no pixels; images are read lazily)."""

import json
import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from PySide6.QtGui import QGuiApplication

from dsocr_app import engine_bridge as eb
from dsocr_app import history_store as hs
from dsocr_app.history_settings import HistorySection, HistorySettings
from dsocr_app.queue_model import QueueModel, State

from .conftest import make_result

ROOT = Path(__file__).resolve().parents[2]
DAY = 86400


def picture(seed: int, size=(120, 80)) -> Image.Image:
    return Image.fromarray((np.random.default_rng(seed).random((size[1], size[0], 3)) * 255).astype(np.uint8))


def fill(store, texts, start=1_700_000_000.0, step=60.0):
    """One capture per text, a minute apart (the last is the newest)."""
    return [store.add(picture(k), text, "free", "tiny", 10 + k, {"grid": [1, 1]}, when=start + k * step)
            for k, text in enumerate(texts)]


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


# ---- the store ---------------------------------------------------------------------------------------------

def test_add_list_and_read_back(tmp_path):
    store = hs.HistoryStore(tmp_path / "history")
    added = fill(store, ["first capture", "second capture", "third capture"])
    listed = store.entries()
    assert [e.text for e in listed] == ["third capture", "second capture", "first capture"]  # newest first
    assert [e.text for e in store.entries(limit=2)] == ["third capture", "second capture"]
    e = listed[0]
    assert (e.task, e.model, e.tokens, e.size, e.plan) == ("free", "tiny", 12, (120, 80), {"grid": [1, 1]})
    assert np.array_equal(np.asarray(Image.open(e.image)), np.asarray(picture(2)))  # the captured pixels
    assert max(Image.open(e.thumb).size) <= max(hs.THUMB_SIZE)
    assert store.get(added[0].id).text == "first capture" and store.count() == 3
    d = e.to_dict()
    assert d["text"] == "third capture" and d["tokens"] == 12 and d["image"] == str(e.image)
    assert d["time"].startswith(time.strftime("%Y-%m-%dT", time.localtime(e.time)))
    # readable by the user only
    assert mode(store.folder) == 0o700 and mode(store.folder / "images") == 0o700
    assert mode(store.db_path) == 0o600 and mode(e.image) == 0o600 and mode(e.thumb) == 0o600


@pytest.mark.parametrize("fts", [True, False])
def test_search_finds_every_word_in_any_case(tmp_path, fts):
    store = hs.HistoryStore(tmp_path / "history")
    fill(store, ["Invoice 2024 total 118,40 EUR", "Meeting notes: budget", "Total budget for 2025", "50% off"])
    store.fts = fts and store.fts  # False: the LIKE fallback of a SQLite without FTS5
    assert [e.text for e in store.entries("budget")] == ["Total budget for 2025", "Meeting notes: budget"]
    assert [e.text for e in store.entries("TOTAL budget")] == ["Total budget for 2025"]
    assert [e.text for e in store.entries("voic")] == ["Invoice 2024 total 118,40 EUR"]  # inside a word
    assert [e.text for e in store.entries("50%")] == ["50% off"]  # a LIKE wildcard is a plain character
    assert [e.text for e in store.entries("EU")] == ["Invoice 2024 total 118,40 EUR"]  # shorter than a trigram
    assert store.entries("nowhere") == [] and store.entries('"quoted') == []


def test_prune_by_days_count_forever_and_off(tmp_path):
    store = hs.HistoryStore(tmp_path / "history")
    now = 1_700_000_000.0
    old = store.add(picture(1), "old", "free", "m", 1, when=now - 40 * DAY)
    fill(store, ["a", "b", "c"], start=now - 3 * DAY, step=DAY)
    assert store.prune(hs.Retention("forever"), now) == 0
    assert store.prune(hs.Retention("days", days=30), now) == 1
    assert [e.text for e in store.entries()] == ["c", "b", "a"] and not old.image.exists()
    assert store.prune(hs.Retention("count", count=2), now) == 1
    assert [e.text for e in store.entries()] == ["c", "b"]
    assert store.prune(hs.Retention("off"), now) == 2 and store.entries() == []
    assert list((store.folder / "images").iterdir()) == [] and list((store.folder / "thumbs").iterdir()) == []


def test_delete_and_clear(tmp_path):
    store = hs.HistoryStore(tmp_path / "history")
    a, b, _c = fill(store, ["a", "b", "c"])
    store.delete(b.id)
    assert [e.text for e in store.entries()] == ["c", "a"] and not b.image.exists() and not b.thumb.exists()
    assert store.entries("b") == []  # gone from the search index too
    assert store.clear() == 2 and store.count() == 0 and not a.image.exists()


def test_a_damaged_database_is_set_aside_in_one_line(tmp_path):
    folder = tmp_path / "history"
    store = hs.HistoryStore(folder)
    fill(store, ["kept " * 2000 + str(k) for k in range(30)])  # a database of several pages
    store.close()
    data = store.db_path.read_bytes()
    store.db_path.write_bytes(data[: len(data) // 3])  # truncated
    with pytest.raises(hs.HistoryError, match="is damaged") as e:
        hs.HistoryStore(folder, readonly=True).entries()
    assert "\n" not in str(e.value)
    again = hs.HistoryStore(folder)
    assert again.entries() == []  # a new, empty history; the damaged one kept beside it
    assert len(again.problems) == 1 and "set aside as history.sqlite3.damaged-" in again.problems[0]
    assert [p.name for p in folder.glob("history.sqlite3.damaged-*")] != []
    fill(again, ["after"])
    assert [e.text for e in again.entries()] == ["after"]


def test_not_a_database_and_a_lost_image(tmp_path):
    folder = tmp_path / "history"
    folder.mkdir()
    (folder / hs.DB_NAME).write_bytes(b"this is no database at all, just some text" * 100)
    store = hs.HistoryStore(folder)
    first, _second = fill(store, ["first", "second"])
    assert store.problems and "not a database" in store.problems[0]
    first.image.unlink()
    entries = store.entries()
    assert [e.text for e in entries] == ["second", "first"] and [e.image_ok for e in entries] == [True, False]
    note = hs.missing_note(store.missing_images())
    assert note.startswith("1 capture of the history lost its image") and "\n" not in note


def test_an_absent_history_reads_as_empty(tmp_path):
    store = hs.HistoryStore(tmp_path / "none", readonly=True)
    assert store.entries() == [] and store.count() == 0 and not (tmp_path / "none").exists()


def test_the_data_folder_follows_the_platform(monkeypatch, tmp_path):
    monkeypatch.delenv("DSOCR_DATA_DIR")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "share"))
    assert hs.data_folder("linux") == tmp_path / "share" / "DSOCR" / "dsocr-app"
    assert hs.data_folder("darwin") == Path.home() / "Library" / "Application Support" / "DSOCR" / "dsocr-app"
    monkeypatch.setenv("DSOCR_DATA_DIR", str(tmp_path / "mine"))
    assert hs.default_folder() == tmp_path / "mine" / "history"


# ---- settings ----------------------------------------------------------------------------------------------

def test_history_settings_default_to_30_days_and_round_trip(settings, qtbot):
    h = HistorySettings.of(settings)
    assert h.retention == hs.Retention("days", 30, 500)
    settings.q.setValue("history/keep", "sometimes")  # stale values fall back
    assert h.retention.mode == "days"
    section = HistorySection()
    qtbot.addWidget(section)
    section.load(settings)
    assert section.days.isEnabled() and not section.count.isEnabled()
    section.mode.setCurrentIndex(section.mode.findData("count"))
    section.count.setValue(25)
    assert section.count.isEnabled() and not section.days.isEnabled()
    section.save(settings)
    assert h.retention == hs.Retention("count", 30, 25)


# ---- in the window -----------------------------------------------------------------------------------------

def finish_capture(window, image, text, task="free"):
    """A capture queued and finished as the capture flow does it (the result recorded, then stored)."""
    target = window.intake.add_capture(image, "Capture", task)
    result = make_result(image, eb.plan(image.size, "v2", "small"), raw=text)
    window.history.record(target, result, task)
    window.queue.finish(target, result)
    return target


def test_a_done_capture_lives_on_disk_not_in_memory(window):
    image = picture(5, (300, 200))
    target = finish_capture(window, image, "Hello history")
    row, _ = window.queue.locate(target)
    item = window.queue.items[row]
    assert item.pixels is None and target.result.image is None  # no full-size image held by the item
    entry = window.history.entries()[0]
    assert item.stored == entry.image and entry.text == "Hello history"
    window.queue._cache.clear()
    assert np.array_equal(np.asarray(window.queue.image(row)), np.asarray(image))  # read again when shown or run


def test_pasted_pixels_go_to_disk_once_done(qapp, page):
    queue = QueueModel()
    from dsocr_app.queue_model import QueueItem

    image = picture(7, (90, 60))
    queue.add([QueueItem(None, pixels=image, size=image.size, checked=True)])
    target = queue.items[0].targets[0]
    queue.finish(target, make_result(image, eb.plan(image.size, "v2", "small"), raw="pasted text"))
    item = queue.items[0]
    assert target.state == State.DONE and item.pixels is None and item.stored.is_file()
    assert mode(item.stored.parent) == 0o700
    queue._cache.clear()
    assert np.array_equal(np.asarray(queue.image(0)), np.asarray(image))


def test_a_long_queue_holds_paths_not_images(qapp, tmp_path, page):
    folder = tmp_path / "scans"
    folder.mkdir()
    Image.open(page).save(folder / "scan-000.png")
    for k in range(1, 40):
        os.link(folder / "scan-000.png", folder / f"scan-{k:03d}.png")
    from dsocr_app.inputs import queue_items

    queue = QueueModel()
    queue.add(queue_items([folder], None, 144, lambda p, n: list(range(n))))
    while queue.check_next():
        pass
    assert all(i.checked and i.size == (1240, 1754) and i.pixels is None for i in queue.items)
    one = 1240 * 1754 * 3
    assert len(queue._cache) == max(1, QueueModel.CACHE_BYTES // one) < len(queue.items)  # a few, within budget


def test_history_view_lists_searches_copies_opens_and_deletes(window, qtbot):
    for k, text in enumerate(["alpha report", "beta invoice", "gamma report"]):
        finish_capture(window, picture(k), text)
    assert not window.history_dock.isVisible()
    window.acts["history"].setChecked(True)  # View > Capture history
    view = window.history_view
    assert view.isVisible()
    assert [e.text for e in view.entries()] == ["gamma report", "beta invoice", "alpha report"]  # newest first
    assert not view.list.item(0).icon().isNull()  # a thumbnail
    view.search.setText("report")
    qtbot.waitUntil(lambda: len(view.entries()) == 2)
    assert [e.text for e in view.entries()] == ["gamma report", "alpha report"] and "2 of 3" in view.count.text()
    view.list.setCurrentRow(1)
    view.copy_button.click()
    assert QGuiApplication.clipboard().text() == "alpha report"
    rows = len(window.queue.items)
    view.open_button.click()  # open in the queue: a new item, shown
    assert len(window.queue.items) == rows + 1 and window.current_item().name.startswith("Capture 20")
    assert np.array_equal(np.asarray(window.queue.image(rows)), np.asarray(picture(0)))
    view.delete_button.click()
    qtbot.waitUntil(lambda: len(view.entries()) == 1)
    assert [e.text for e in window.history.entries()] == ["gamma report", "beta invoice"]
    view.search.clear()
    qtbot.waitUntil(lambda: len(view.entries()) == 2)
    view.clear()
    assert view.entries() == [] and window.history.count() == 0


def test_a_capture_prunes_and_a_damaged_history_is_one_line(window, settings):
    HistorySettings.of(settings).retention = hs.Retention("count", count=2)
    for k in range(4):
        finish_capture(window, picture(k), f"capture {k}")
    assert [e.text for e in window.history.entries()] == ["capture 3", "capture 2"]
    window.history.store.close()
    db = window.history.store.db_path
    db.write_bytes(db.read_bytes()[:100])
    window.history.store = hs.HistoryStore(window.history.store.folder)
    finish_capture(window, picture(9), "after the damage")
    assert window.last_error.startswith("History: the capture history was damaged") and "\n" not in window.last_error
    assert [e.text for e in window.history.entries()] == ["after the damage"]


def test_history_off_keeps_nothing_and_the_capture_still_leaves_memory(window, settings):
    HistorySettings.of(settings).retention = hs.Retention("off")
    target = finish_capture(window, picture(3), "not kept")
    assert window.history.entries() == []
    item = window.queue.item_of(target)
    assert item.pixels is None and item.stored is not None and item.stored.is_file()  # the queue's own spool


# ---- dsocr-app --history -------------------------------------------------------------------------------------

def history_command(data: Path, *args):
    code = ("import sys, runpy; from dsocr_app.main import main; rc = main(sys.argv[1:]); "
            "heavy = sorted({m.split('.')[0] for m in sys.modules} & {'PySide6', 'mlx', 'engine', 'PIL'}); "
            "print('HEAVY', heavy, file=sys.stderr); sys.exit(rc)")
    env = {**os.environ, "DSOCR_DATA_DIR": str(data), "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-c", code, *args], env=env, capture_output=True, text=True, timeout=60,
                          check=False)


def test_history_command_prints_newest_first_without_qt_or_a_model(tmp_path):
    store = hs.HistoryStore(tmp_path / "data" / "history")
    entries = fill(store, ["one", "two\nsecond line", "three"], start=time.time() - 300)
    store.close()
    run = history_command(tmp_path / "data", "--history", "--json", "--limit", "2")
    assert run.returncode == 0, run.stderr
    assert "HEAVY []" in run.stderr  # neither Qt nor the engine (nor Pillow) was imported
    listed = json.loads(run.stdout)
    assert [d["text"] for d in listed] == ["three", "two\nsecond line"]
    assert listed[0]["tokens"] == 12 and listed[0]["image"] == str(entries[2].image) and listed[0]["time"]
    run = history_command(tmp_path / "data", "--history")
    header = (f"{time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(entries[2].time))}  12 tokens  free  tiny  "
              f"{entries[2].image}")
    assert run.returncode == 0 and run.stdout.splitlines()[:2] == [header, "    three"]
    assert "    second line" in run.stdout
    run = history_command(tmp_path / "data", "--history", "--json", "--search", "SECOND")
    assert [d["text"] for d in json.loads(run.stdout)] == ["two\nsecond line"]
    entries[0].image.unlink()
    run = history_command(tmp_path / "data", "--history", "--json")
    assert run.returncode == 0 and [d["image_exists"] for d in json.loads(run.stdout)] == [True, True, False]
    assert run.stderr.startswith("dsocr-app: 1 capture of the history lost its image")


def test_history_command_reports_damage_and_bad_options_in_one_line(tmp_path):
    folder = tmp_path / "data" / "history"
    folder.mkdir(parents=True)
    (folder / hs.DB_NAME).write_bytes(b"garbage" * 1000)
    run = history_command(tmp_path / "data", "--history")
    lines = [line for line in run.stderr.splitlines() if not line.startswith("HEAVY")]
    assert run.returncode == 1 and len(lines) == 1 and "is damaged" in lines[0] and run.stdout == ""
    assert (folder / hs.DB_NAME).read_bytes() == b"garbage" * 1000  # reading never changes it
    run = history_command(tmp_path / "data", "--json")
    assert run.returncode == 2 and "--json, --limit and --search go with --history" in run.stderr
    run = history_command(tmp_path / "empty", "--history", "--json")
    assert run.returncode == 0 and json.loads(run.stdout) == []


def test_the_queue_keeps_a_thumbnail_and_shows_it_with_the_state(qapp, tmp_path):
    """Each decoded item keeps a small copy (no full-size pixels once done) that its row shows, with the
    state's icon on its corner; an item not decoded yet shows the state icon alone."""
    from PySide6.QtCore import Qt

    from dsocr_app.queue_model import THUMB_PX, QueueItem

    queue = QueueModel()
    path = tmp_path / "scan.png"
    picture(3, (1700, 2200)).save(path)
    queue.add([QueueItem(path)])
    plain = queue.data(queue.index(0), Qt.ItemDataRole.DecorationRole)
    assert queue.items[0].thumb is None and not plain.isNull()
    while queue.check_next():
        pass
    item = queue.items[0]
    assert max(item.thumb.size) == THUMB_PX and item.thumb.size[0] < THUMB_PX  # portrait, kept in proportion
    assert item.thumb.width * item.thumb.height * 3 < 6_000  # a few KB, not the 11 MB image
    icon = queue.data(queue.index(0), Qt.ItemDataRole.DecorationRole)
    shown = icon.pixmap(THUMB_PX, THUMB_PX).toImage()
    centre = shown.pixelColor(THUMB_PX // 2 - 4, THUMB_PX // 4)
    x0, y0 = (THUMB_PX - item.thumb.width) // 2, (THUMB_PX - item.thumb.height) // 2  # centred on the canvas
    want = item.thumb.getpixel((THUMB_PX // 2 - 4 - x0, THUMB_PX // 4 - y0))
    assert (centre.red(), centre.green(), centre.blue()) == want  # the thumbnail's own pixels
    queue._cache.clear()
    assert item.thumb is not None  # the row keeps it when the image cache lets the image go
