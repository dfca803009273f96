"""`ServeSettings`: where the server listens, who may call it and its limits, checked when made.

A non-loopback address without an API key is refused (ValueError: `dsocr serve` says it in one line, exit 2):
anyone on the network could otherwise use the model and read the files it is allowed to read.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from pathlib import Path

from ..options import Decoding

LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")
DEFAULT_PORT = 8765
DEFAULT_MAX_BODY = 50_000_000  # bytes of one request body


def is_loopback(host: str) -> bool:
    """True for `localhost` (and `*.localhost`), 127.0.0.0/8 and ::1."""
    name = host.strip().strip("[]").lower().rstrip(".")
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class ServeSettings:
    """What `dsocr serve` was told. `allow_origins`: web origins (`http://localhost:3000`) whose pages may call;
    `allow_files`: folders whose files `file://` inputs may name (read only); `max_tokens`: the most tokens one
    request may ask for; `max_batch`: requests decoded together; `max_pending`: requests waiting beyond those."""

    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    api_key: str | None = None
    allow_origins: tuple[str, ...] = ()
    allow_files: tuple[Path, ...] = ()
    max_body_bytes: int = DEFAULT_MAX_BODY
    max_tokens: int = Decoding().max_tokens
    max_batch: int = 4
    max_pending: int = 16
    extra: dict = field(default_factory=dict, compare=False)  # room for hosts (the tray app) to add their own

    def __post_init__(self):
        object.__setattr__(self, "allow_origins", tuple(o.rstrip("/") for o in self.allow_origins))
        object.__setattr__(self, "allow_files", tuple(Path(p).expanduser().resolve() for p in self.allow_files))
        if not is_loopback(self.host) and not self.api_key:
            raise ValueError(f"--host {self.host} is reachable from other machines: give an --api-key KEY too "
                             "(or keep the default 127.0.0.1)")
        if self.api_key is not None and not self.api_key.strip():
            raise ValueError("--api-key must not be empty")
        for name in ("max_body_bytes", "max_tokens", "max_batch", "max_pending"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1 (got {getattr(self, name)})")
        if not 0 <= self.port <= 65535:
            raise ValueError(f"--port must be 0-65535 (got {self.port})")
        for folder in self.allow_files:
            if not folder.is_dir():
                raise ValueError(f"--allow-files {folder}: not a folder")
