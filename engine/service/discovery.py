"""Running DSOCR servers announce themselves to other programs of the same user (`dsocr mcp` finds the resident
instance this way, so no second model is loaded).

A server that listens writes `{url, pid, model, version, api_key?}` to its own file, `server-PID-PORT.json`, in
a per-user runtime folder, and removes it when it stops. Readers (`servers()`) skip and delete the files of
processes that are gone. The folder: `$DSOCR_RUNTIME_DIR`, else `$XDG_RUNTIME_DIR/dsocr`, else
`/run/user/UID/dsocr`, else `dsocr-UID` in the temporary folder (`/tmp` on Unix, whatever the environment says:
an MCP client starts `dsocr mcp` with few environment variables, and both sides must find the same folder).
The folder is 0700 and the files 0600 (they may hold the API key); a folder that is not this user's, or that
others may write to, is neither written nor read.
"""

from __future__ import annotations

import json
import os
import stat
import sys
import tempfile
from pathlib import Path

PREFIX = "server-"


def runtime_dir() -> Path:
    """The per-user folder of the announcements (not created here)."""
    explicit = os.environ.get("DSOCR_RUNTIME_DIR")
    if explicit:
        return Path(explicit)
    xdg = os.environ.get("XDG_RUNTIME_DIR")
    if xdg and Path(xdg).is_dir():
        return Path(xdg) / "dsocr"
    uid = os.getuid() if hasattr(os, "getuid") else None
    if uid is not None and Path(f"/run/user/{uid}").is_dir():
        return Path(f"/run/user/{uid}/dsocr")
    base = Path("/tmp") if sys.platform != "win32" and Path("/tmp").is_dir() else Path(tempfile.gettempdir())
    return base / f"dsocr-{uid if uid is not None else os.environ.get('USERNAME', 'user')}"


def _private(folder: Path) -> bool:
    """True when `folder` is a real folder (not a link) of this user that nobody else may write to."""
    try:
        st = folder.lstat()
    except OSError:
        return False
    if not stat.S_ISDIR(st.st_mode):
        return False
    return not (hasattr(os, "getuid") and (st.st_uid != os.getuid() or st.st_mode & 0o022))


def _folder(create: bool) -> Path | None:
    folder = runtime_dir()
    if create and not folder.exists():
        try:
            folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        except OSError:
            return None
    return folder if _private(folder) else None


def client_url(host: str, port: int) -> str:
    """The URL a local client uses for a server bound to `host` (a wildcard address: the loopback one)."""
    name = host.strip("[]")
    name = {"0.0.0.0": "127.0.0.1", "": "127.0.0.1", "::": "::1"}.get(name, name)
    return f"http://{'[' + name + ']' if ':' in name else name}:{port}"


def announce(url: str, port: int, model: str, version: str | None = None, api_key: str | None = None) -> Path | None:
    """Write this process's announcement for the server at `url`; its path (for `withdraw`), or None when the
    runtime folder cannot be used (the server serves all the same; `dsocr mcp` just will not find it)."""
    folder = _folder(create=True)
    if folder is None:
        return None
    entry = {"url": url, "pid": os.getpid(), "model": model, "version": version}
    if api_key:
        entry["api_key"] = api_key
    path = folder / f"{PREFIX}{os.getpid()}-{port}.json"
    tmp = path.with_suffix(".tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_NOFOLLOW", 0), 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(entry, f)
        os.replace(tmp, path)
    except OSError:
        return None
    return path


def withdraw(path: Path | None) -> None:
    """Remove an announcement (nothing when it is gone already)."""
    if path is not None:
        try:
            path.unlink()
        except OSError:
            pass


def pid_alive(pid: int) -> bool:
    if pid == os.getpid() or sys.platform == "win32":  # Windows: os.kill(pid, 0) would end the process
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process now holds the number: not our server
        return False
    except (OSError, ValueError):
        return False
    return True


def servers() -> list[dict]:
    """The announcements of live servers, newest first; those of processes that are gone are deleted."""
    folder = _folder(create=False)
    if folder is None:
        return []
    found = []
    for path in folder.glob(f"{PREFIX}*.json"):
        try:
            entry = json.loads(path.read_text(encoding="utf-8"))
            mtime = path.stat().st_mtime
            pid = int(entry["pid"])
            url = str(entry["url"])
        except (OSError, ValueError, KeyError, TypeError):
            continue  # being written, or not ours to judge
        if not pid_alive(pid):
            withdraw(path)
            continue
        found.append((mtime, {**entry, "url": url, "pid": pid}))
    return [entry for _, entry in sorted(found, key=lambda t: -t[0])]
