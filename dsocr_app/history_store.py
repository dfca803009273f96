"""The capture history on disk: every capture's image, text, task, model, tile plan, tokens and time.

Qt-free (sqlite3 and Pillow), so `dsocr-app --history` reads it without starting Qt or loading a model. One folder
in the app's data folder (`default_folder()`; `DSOCR_DATA_DIR` replaces the data folder), readable by the user
only (folders 0700, files 0600):

    history.sqlite3     one row per capture (full-text search with SQLite's FTS5 where it is built in, else LIKE)
    images/ID.png       the captured image
    thumbs/ID.png       a small copy for lists

A damaged database (truncated, not a database) is set aside as `history.sqlite3.damaged-TIME` and a new one
started; `problems` says so in one line. A capture whose image file is gone is still listed (`Entry.image_ok`).
"""

from __future__ import annotations

import json
import os
import sqlite3
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

DB_NAME = "history.sqlite3"
THUMB_SIZE = (192, 128)
RETENTION_MODES = ("days", "count", "forever", "off")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS captures (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    time REAL NOT NULL,
    text TEXT NOT NULL,
    task TEXT NOT NULL,
    model TEXT NOT NULL,
    tokens INTEGER NOT NULL,
    width INTEGER NOT NULL,
    height INTEGER NOT NULL,
    plan TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS captures_time ON captures(time);
"""
_FTS = """
CREATE VIRTUAL TABLE IF NOT EXISTS captures_fts USING fts5(text, content='captures', content_rowid='id',
                                                           tokenize='trigram');
CREATE TRIGGER IF NOT EXISTS captures_ai AFTER INSERT ON captures BEGIN
    INSERT INTO captures_fts(rowid, text) VALUES (new.id, new.text);
END;
CREATE TRIGGER IF NOT EXISTS captures_ad AFTER DELETE ON captures BEGIN
    INSERT INTO captures_fts(captures_fts, rowid, text) VALUES ('delete', old.id, old.text);
END;
"""


class HistoryError(Exception):
    """The history cannot be read (one line that says why)."""


def data_folder(platform: str = sys.platform) -> Path:
    """The app's data folder, as Qt's AppDataLocation names it for organization DSOCR, application dsocr-app
    (`DSOCR_DATA_DIR` replaces it)."""
    if os.environ.get("DSOCR_DATA_DIR"):
        return Path(os.environ["DSOCR_DATA_DIR"]).expanduser()
    home = Path.home()
    if platform == "darwin":
        base = home / "Library" / "Application Support"
    elif platform == "win32":
        base = Path(os.environ.get("APPDATA") or home / "AppData" / "Roaming")
    else:
        base = Path(os.environ.get("XDG_DATA_HOME") or home / ".local" / "share")
    return base / "DSOCR" / "dsocr-app"


def default_folder() -> Path:
    return data_folder() / "history"


@dataclass(frozen=True)
class Retention:
    """How long captures are kept: `days` (for `days` days), `count` (the last `count`), `forever`, or `off`
    (none is kept)."""

    mode: str = "days"
    days: int = 30
    count: int = 500

    def keeps(self) -> bool:
        return self.mode != "off"


@dataclass(frozen=True)
class Entry:
    id: int
    time: float  # seconds since the epoch
    text: str
    task: str
    model: str
    tokens: int
    size: tuple[int, int]
    plan: dict = field(repr=False)
    image: Path
    thumb: Path

    @property
    def image_ok(self) -> bool:
        return self.image.is_file()

    def iso_time(self) -> str:
        """Local time with its UTC offset, e.g. 2025-05-01T14:03:22+02:00."""
        return time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(self.time)) + _offset(self.time)

    def to_dict(self) -> dict:
        return {"id": self.id, "time": self.iso_time(), "text": self.text, "tokens": self.tokens, "task": self.task,
                "model": self.model, "image": str(self.image), "image_exists": self.image_ok,
                "size": list(self.size), "plan": self.plan}


def _offset(t: float) -> str:
    z = time.strftime("%z", time.localtime(t))
    return f"{z[:3]}:{z[3:]}" if len(z) == 5 else ""


def _private_dir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    if (path.stat().st_mode & 0o777) != 0o700:
        path.chmod(0o700)
    return path


def _save_png(image, path: Path, compress_level: int) -> None:
    """Write a PNG readable by the user only (a temporary name first: never half a file under the real one)."""
    part = path.with_suffix(".part")
    fd = os.open(part, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        image.save(f, format="PNG", compress_level=compress_level)
    os.replace(part, path)


class HistoryStore:
    """The history in `folder` (made on first write; reading an absent one gives nothing). `readonly` never
    writes (the `--history` command): a damaged database then raises HistoryError instead of being set aside."""

    def __init__(self, folder: Path | None = None, readonly: bool = False):
        self.folder = Path(folder) if folder is not None else default_folder()
        self.readonly = readonly
        self.problems: list[str] = []  # one line each: what was found damaged, and what was done
        self._db: sqlite3.Connection | None = None
        self.fts = False

    # ---- the database -----------------------------------------------------------------------------------

    @property
    def db_path(self) -> Path:
        return self.folder / DB_NAME

    def _connect(self) -> sqlite3.Connection | None:
        """The open database; None when read-only and there is none yet."""
        if self._db is not None:
            return self._db
        if self.readonly:
            if not self.db_path.is_file():
                return None
            try:
                db = sqlite3.connect(f"file:{self.db_path}?mode=ro", uri=True)
                self._check(db)
            except sqlite3.OperationalError as e:  # locked, unreadable: not damaged
                raise HistoryError(f"cannot read the history {self.db_path} ({e}); try again") from None
            except sqlite3.DatabaseError as e:
                raise HistoryError(f"the history {self.db_path} is damaged ({e}); DSOCR sets it aside and starts "
                                   "a new one when it next records a capture") from None
            self.fts = _has_table(db, "captures_fts")
            self._db = db
            return db
        _private_dir(self.folder)
        try:
            db = self._open()
        except sqlite3.OperationalError:  # locked or unreadable: said by the caller, never set aside
            raise
        except sqlite3.DatabaseError as e:  # not a database, malformed: damaged
            aside = self.db_path.with_name(f"{DB_NAME}.damaged-{time.strftime('%Y%m%d-%H%M%S')}")
            for suffix in ("", "-journal", "-wal", "-shm"):
                src = Path(str(self.db_path) + suffix)
                if src.exists():
                    os.replace(src, Path(str(aside) + suffix))
            self.problems.append(f"the capture history was damaged ({e}): set aside as {aside.name}, a new one "
                                 "started")
            db = self._open()
        self._db = db
        return db

    def _open(self) -> sqlite3.Connection:
        new = not self.db_path.exists()
        if new:
            os.close(os.open(self.db_path, os.O_WRONLY | os.O_CREAT, 0o600))
        db = sqlite3.connect(self.db_path)
        try:
            self._check(db)
            db.executescript(_SCHEMA)
            try:
                db.executescript(_FTS)
                self.fts = True
            except sqlite3.OperationalError:  # no FTS5 (or no trigram tokenizer) in this SQLite: LIKE
                self.fts = False
            db.commit()
        except sqlite3.DatabaseError:
            db.close()
            raise
        return db

    @staticmethod
    def _check(db: sqlite3.Connection) -> None:
        row = db.execute("PRAGMA quick_check").fetchone()
        if row is None or row[0] != "ok":
            raise sqlite3.DatabaseError(f"integrity check: {row[0] if row else 'no answer'}")

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

    # ---- writing ----------------------------------------------------------------------------------------

    def image_path(self, entry_id: int) -> Path:
        return self.folder / "images" / f"{entry_id}.png"

    def thumb_path(self, entry_id: int) -> Path:
        return self.folder / "thumbs" / f"{entry_id}.png"

    def add(self, image, text: str, task: str, model: str, tokens: int, plan: dict | None = None,
            when: float | None = None) -> Entry:
        """Keep a capture (a PIL image and its OCR); its entry. Raises OSError when the disk refuses."""
        db = self._connect()
        cur = db.execute("INSERT INTO captures (time, text, task, model, tokens, width, height, plan) "
                         "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                         (time.time() if when is None else float(when), text, task, model, int(tokens),
                          image.width, image.height, json.dumps(plan or {})))
        entry_id = int(cur.lastrowid)
        try:
            _save_png(image, _private_dir(self.folder / "images") / f"{entry_id}.png", compress_level=1)
            thumb = image.copy()
            thumb.thumbnail(THUMB_SIZE)
            _save_png(thumb, _private_dir(self.folder / "thumbs") / f"{entry_id}.png", compress_level=6)
        except (OSError, ValueError):
            db.rollback()
            self._unlink(entry_id)
            raise
        db.commit()
        return self.get(entry_id)

    def delete(self, entry_id: int) -> None:
        db = self._connect()
        db.execute("DELETE FROM captures WHERE id = ?", (int(entry_id),))
        db.commit()
        self._unlink(entry_id)

    def clear(self) -> int:
        """Delete every capture; how many there were."""
        return self._delete_where("1", ())

    def prune(self, retention: Retention, now: float | None = None) -> int:
        """Apply `retention`: delete the captures it does not keep; how many were deleted."""
        if retention.mode == "forever" or self._connect() is None:
            return 0
        if retention.mode == "off":
            return self.clear()
        if retention.mode == "count":
            return self._delete_where("id NOT IN (SELECT id FROM captures ORDER BY time DESC, id DESC LIMIT ?)",
                                      (max(0, int(retention.count)),))
        cutoff = (time.time() if now is None else now) - max(0, int(retention.days)) * 86400
        return self._delete_where("time < ?", (cutoff,))

    def _delete_where(self, where: str, args: tuple) -> int:
        db = self._connect()
        if db is None:
            return 0
        ids = [r[0] for r in db.execute(f"SELECT id FROM captures WHERE {where}", args)]
        if ids:
            db.executemany("DELETE FROM captures WHERE id = ?", [(i,) for i in ids])
            db.commit()
            for i in ids:
                self._unlink(i)
        return len(ids)

    def _unlink(self, entry_id: int) -> None:
        for path in (self.image_path(entry_id), self.thumb_path(entry_id)):
            try:
                path.unlink()
            except FileNotFoundError:
                pass

    # ---- reading ----------------------------------------------------------------------------------------

    _COLUMNS = "c.id, c.time, c.text, c.task, c.model, c.tokens, c.width, c.height, c.plan"

    def _entry(self, row) -> Entry:
        entry_id, when, text, task, model, tokens, w, h, plan = row
        try:
            plan = json.loads(plan)
        except ValueError:
            plan = {}
        return Entry(int(entry_id), float(when), text, task, model, int(tokens), (int(w), int(h)), plan,
                     self.image_path(entry_id), self.thumb_path(entry_id))

    def get(self, entry_id: int) -> Entry | None:
        db = self._connect()
        row = db.execute(f"SELECT {self._COLUMNS} FROM captures c WHERE c.id = ?", (int(entry_id),)).fetchone() \
            if db is not None else None
        return self._entry(row) if row else None

    def count(self) -> int:
        db = self._connect()
        return int(db.execute("SELECT count(*) FROM captures").fetchone()[0]) if db is not None else 0

    def entries(self, query: str = "", limit: int | None = None) -> list[Entry]:
        """Captures, newest first; with `query`, those whose text holds every word of it (any case)."""
        db = self._connect()
        if db is None:
            return []
        words = query.split()
        limit_sql, args = (" LIMIT ?", [int(limit)]) if limit is not None else ("", [])
        order = " ORDER BY c.time DESC, c.id DESC"
        if not words:
            sql = f"SELECT {self._COLUMNS} FROM captures c{order}{limit_sql}"
            rows = db.execute(sql, args).fetchall()
        elif self.fts and all(len(w) >= 3 for w in words):  # the trigram index finds words of 3+ characters
            match = " AND ".join('"' + w.replace('"', '""') + '"' for w in words)
            sql = (f"SELECT {self._COLUMNS} FROM captures_fts f JOIN captures c ON c.id = f.rowid "
                   f"WHERE captures_fts MATCH ?{order}{limit_sql}")
            rows = db.execute(sql, [match, *args]).fetchall()
        else:
            like = " AND ".join("c.text LIKE ? ESCAPE '\\'" for _ in words)
            pattern = ["%" + w.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%" for w in words]
            sql = f"SELECT {self._COLUMNS} FROM captures c WHERE {like}{order}{limit_sql}"
            rows = db.execute(sql, [*pattern, *args]).fetchall()
        return [self._entry(r) for r in rows]

    def missing_images(self, entries: list[Entry] | None = None) -> list[Entry]:
        """The captures (of `entries`, else all) whose image file is gone."""
        return [e for e in (self.entries() if entries is None else entries) if not e.image_ok]


def _has_table(db: sqlite3.Connection, name: str) -> bool:
    return db.execute("SELECT 1 FROM sqlite_master WHERE name = ?", (name,)).fetchone() is not None


def missing_note(missing: list[Entry]) -> str:
    """One line about captures whose image is gone ('' when none)."""
    if not missing:
        return ""
    n = len(missing)
    return (f"{n} capture{'s' if n > 1 else ''} of the history lost {'their images' if n > 1 else 'its image'} "
            f"(e.g. {missing[0].image}); the text is kept")
