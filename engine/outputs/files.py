"""Atomic file writes and their errors, for every output writer (`export.py`, `searchable_pdf.py`).

`atomic_write` writes to a temporary file in the target folder and moves it into place (a hard link when the
file must not exist yet, so even a file created meanwhile is never replaced; `os.replace` otherwise), so a crash
or a full disk never leaves half a file. Its errors are `ExportError`s (an OSError) whose message names the
path and what to do: `ExportExistsError` (a FileExistsError) and `ExportPermissionError` (a PermissionError).
"""

from __future__ import annotations

import errno
import os
import tempfile
from pathlib import Path


class ExportError(OSError):
    """A result could not be written. The message names the path and what to do."""

    def __init__(self, message: str, code: int | None = None):
        super().__init__(message)
        self.errno = code


class ExportExistsError(ExportError, FileExistsError):
    """The target exists and overwriting was not allowed."""

    def __init__(self, message: str):
        super().__init__(message, errno.EEXIST)


class ExportPermissionError(ExportError, PermissionError):
    """The target folder (or file) cannot be written."""

    def __init__(self, message: str):
        super().__init__(message, errno.EACCES)


_UMASK: int | None = None


def _file_mode() -> int:
    """The mode a new file gets with this process's umask (mkstemp's files are 0600)."""
    global _UMASK
    if _UMASK is None:
        _UMASK = os.umask(0o022)
        os.umask(_UMASK)
    return 0o666 & ~_UMASK


def _folder_error(folder: Path, e: OSError) -> ExportError:
    if isinstance(e, PermissionError):
        return ExportPermissionError(f"{folder}: permission denied (the folder is read-only or not yours); "
                     f"choose a folder you can write to")
    return ExportError(f"{folder}: cannot write here ({e.strerror or e}); choose another folder")


def atomic_write(path: str | os.PathLike, data: bytes | str, overwrite: bool = False) -> Path:
    """Write `data` (str as UTF-8) to `path` via a temporary file in the same folder and a rename.

    Raises ExportExistsError (a FileExistsError) when `path` exists and not `overwrite`,
    ExportPermissionError (a PermissionError) for a folder that cannot be written, ExportError otherwise."""
    path = Path(path)
    if not overwrite and os.path.lexists(path):
        raise ExportExistsError(f"{path}: already exists; choose another name or allow overwriting")
    if path.is_dir():
        raise ExportError(f"{path}: is a folder; choose a file name")
    payload = data.encode("utf-8") if isinstance(data, str) else bytes(data)
    folder = path.parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    except OSError as e:
        raise _folder_error(folder, e) from e
    try:
        try:
            mode = path.stat().st_mode & 0o7777 if overwrite and path.exists() else _file_mode()
            os.fchmod(fd, mode)
        except (OSError, AttributeError):  # fchmod is missing on Windows; the mode is cosmetic
            pass
        with os.fdopen(fd, "wb") as f:
            f.write(payload)
            f.flush()
            os.fsync(f.fileno())
        if overwrite:
            os.replace(tmp, path)
        else:
            _move_new(tmp, path)
    except ExportError:
        Path(tmp).unlink(missing_ok=True)
        raise
    except OSError as e:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(e, PermissionError):
            raise _folder_error(folder, e) from e
        raise ExportError(f"{path}: write failed ({e.strerror or e}); check the disk and try again") from e
    return path


def _move_new(tmp: str, path: Path) -> None:
    """Move `tmp` to `path`, which must not exist (checked atomically where the file system has hard links)."""
    try:
        os.link(tmp, path)
    except FileExistsError:
        raise ExportExistsError(f"{path}: already exists; choose another name or allow overwriting") from None
    except OSError:  # no hard links here (FAT, some network drives): check, then rename
        if os.path.lexists(path):
            raise ExportExistsError(f"{path}: already exists; choose another name or allow overwriting") from None
        os.replace(tmp, path)
        return
    os.unlink(tmp)
