"""Local API settings, stored with the app's other settings (same QSettings, keys under `api/`)."""

from __future__ import annotations

from .. import engine_bridge as eb
from ..settings import flag


class ApiSettings:
    """`enabled` (off by default), `port` (`dsocr serve`'s default) and `key` ('' for none)."""

    def __init__(self, q):
        self.q = q

    @classmethod
    def of(cls, settings) -> ApiSettings:
        """The Local API settings kept beside the app's `Settings`."""
        return cls(settings.q)

    @property
    def enabled(self) -> bool:
        return flag(self.q.value("api/enabled"), False)

    @enabled.setter
    def enabled(self, value: bool) -> None:
        self.q.setValue("api/enabled", bool(value))

    @property
    def port(self) -> int:
        try:
            port = int(self.q.value("api/port", eb.API_PORT))
        except (TypeError, ValueError):
            return eb.API_PORT
        return port if 1 <= port <= 65535 else eb.API_PORT

    @port.setter
    def port(self, value: int) -> None:
        if not 1 <= int(value) <= 65535:
            raise ValueError(f"port {value}: give 1-65535")
        self.q.setValue("api/port", int(value))

    @property
    def key(self) -> str:
        """The API key every request must send (`Authorization: Bearer KEY`); '' for none."""
        return str(self.q.value("api/key", "") or "").strip()

    @key.setter
    def key(self, value: str) -> None:
        self.q.setValue("api/key", str(value or "").strip())

    def serve_settings(self):
        """The server's `ServeSettings`: loopback only, this port and key; one run at a time (the app's queue)."""
        return eb.ServeSettings(host="127.0.0.1", port=self.port, api_key=self.key or None, max_batch=1)
