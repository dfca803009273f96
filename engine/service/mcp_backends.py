"""Where `dsocr mcp` runs OCR: a running DSOCR server (`dsocr serve`, or the tray app's Local API), through its
HTTP API, so no second model is loaded; or else a model of its own, loaded on the first OCR call and run through
an in-process `OcrService`.

Both backends take the same input (`Source`: bytes or a file) and the `/v1/ocr` option fields, and give the
`/v1/ocr` page objects (`Result.to_dict()` with `input` and `page`). A failure is a `ToolFailure` with a
one-line message for the agent. `Backends.pick()` looks for a server on every call (one may start or stop
while the MCP server runs).
"""

from __future__ import annotations

import asyncio
import base64
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from . import discovery
from . import requests as rq
from .errors import ApiError
from .scheduler import Busy
from .settings import ServeSettings

HEALTH_TIMEOUT_S = 2.0


class ToolFailure(Exception):
    """A tool call that failed: the message says what is wrong and what to do."""


@dataclass
class Source:
    """What to OCR: `data` (bytes) or `path` (a readable file), and the name it is shown by."""

    data: bytes | None
    path: Path | None
    name: str

    def read(self) -> bytes:
        return self.data if self.data is not None else self.path.read_bytes()


def _log(text: str) -> None:
    print(f"dsocr mcp: {text}", file=sys.stderr, flush=True)


def engine_failure(e: BaseException) -> ToolFailure:
    if isinstance(e, ApiError):
        return ToolFailure(e.message)
    if isinstance(e, MemoryError):
        return ToolFailure("not enough memory for this request; try a smaller mode (mode: small) or fewer pages")
    if isinstance(e, (ValueError, OSError)):
        return ToolFailure(str(e))
    return ToolFailure(f"internal error: {type(e).__name__}: {e}")


class ServerBackend:
    """A DSOCR server's HTTP API (`/v1/ocr`, format json)."""

    kind = "server"

    def __init__(self, url: str, api_key: str | None, model: str, version: str):
        self.url, self.api_key, self.model, self.version = url.rstrip("/"), api_key, model, version

    @staticmethod
    def headers(api_key: str | None) -> dict:
        return {"Authorization": f"Bearer {api_key}"} if api_key else {}

    @classmethod
    async def probe(cls, url: str, api_key: str | None) -> ServerBackend | None:
        """The server at `url` when it answers GET /health as a DSOCR server does; else None."""
        import httpx

        try:
            async with httpx.AsyncClient(timeout=HEALTH_TIMEOUT_S, trust_env=False) as client:
                r = await client.get(f"{url.rstrip('/')}/health", headers=cls.headers(api_key))
            health = r.json() if r.status_code == 200 else None
        except (httpx.HTTPError, ValueError):
            return None
        if not isinstance(health, dict) or "model" not in health:
            return None
        return cls(url, api_key, str(health["model"]), str(health.get("version") or "v2"))

    async def ocr(self, source: Source, fields: dict) -> list[dict]:
        import httpx

        body = {**{k: v for k, v in fields.items() if v is not None}, "format": "json", "name": source.name,
                "data": base64.b64encode(source.read()).decode("ascii")}
        timeout = httpx.Timeout(None, connect=5.0)  # a long PDF takes minutes
        try:
            async with httpx.AsyncClient(timeout=timeout, trust_env=False) as client:
                r = await client.post(f"{self.url}/v1/ocr", json=body, headers=self.headers(self.api_key))
        except httpx.HTTPError as e:
            raise ToolFailure(f"the DSOCR server at {self.url} stopped answering ({type(e).__name__}); "
                              "try again") from None
        try:
            answer = r.json()
        except ValueError:
            answer = None
        if r.status_code != 200 or not isinstance(answer, dict):
            error = answer.get("error") if isinstance(answer, dict) else None
            message = error.get("message") if isinstance(error, dict) else f"HTTP {r.status_code}"
            raise ToolFailure(str(message))
        return answer["pages"]


class LocalBackend:
    """A model of this process's own, loaded by `loader` on the first OCR call, run by an `OcrService`."""

    kind = "in-process"

    def __init__(self, loader: Callable[[], object], settings: ServeSettings | None = None):
        self.loader, self.settings = loader, settings or ServeSettings(max_pending=64)
        self._service = None
        self._lock = threading.Lock()

    @property
    def loaded(self):
        """The model, or None when none was loaded yet."""
        return self._service.model if self._service is not None else None

    @property
    def model(self) -> str | None:
        """The loaded model's repo id or folder name (as a server's /v1/models says it)."""
        from .app import model_id

        return model_id(self.loaded) if self.loaded is not None else None

    def service(self):
        from .scheduler import OcrService

        with self._lock:
            if self._service is None:
                model = self.loader()
                self._service = OcrService(model, self.settings.max_batch, self.settings.max_pending)
            return self._service

    def close(self) -> None:
        if self._service is not None:
            self._service.close()

    async def ocr(self, source: Source, fields: dict) -> list[dict]:
        from ..pipeline import Result, prepare_for
        from .app import model_id
        from .feed import Feed

        try:  # the input is read and checked before a model is loaded
            req = await asyncio.to_thread(rq.parse_ocr, source.data, source.path, source.name, fields, self.settings)
            service = await asyncio.to_thread(self.service)
        except Exception as e:  # noqa: BLE001 - a bad input, a model that cannot load
            raise engine_failure(e) from None
        model, n = service.model, len(req.pages)
        feed, tickets, done = Feed(), {}, {}
        try:
            while len(done) < n:
                while len(tickets) < n and len(tickets) - len(done) < service.max_batch:
                    k = len(tickets)
                    try:
                        prep = await asyncio.to_thread(prepare_for, model, req.pages[k][2], req.options.tiling)
                        (tickets[k],) = service.submit_many([prep], req.options, [feed.sink(k)])
                    except Busy as e:
                        if len(tickets) == len(done):
                            raise ToolFailure(str(e)) from None
                        break  # a page of ours is running: the next one waits for room
                    except ValueError as e:
                        raise ToolFailure(f"{e} ({model_id(model)} is a {model.version} model)") from None
                item = await feed.get(poll=0.5)
                if item is None:
                    continue
                k, event = item
                if isinstance(event, BaseException):
                    raise engine_failure(event)
                if isinstance(event, Result):
                    done[k] = event
        finally:
            for k, ticket in tickets.items():
                if k not in done:
                    ticket.cancel()  # the call was cancelled or failed: free the slots
        return [{"input": label, "page": page, **done[k].to_dict()} for k, (label, page, _) in enumerate(req.pages)]


class Backends:
    """Chooses the backend of each call: the `--server` given, else an announced server serving `model` (any
    model when None), else the in-process one (`--no-resident`: always that one)."""

    def __init__(self, model: str | None, loader: Callable[[], object], server: str | None = None,
                 api_key: str | None = None, resident: bool = True):
        self.model, self.server, self.api_key, self.resident = model, server, api_key, resident
        self.local = LocalBackend(loader)
        self._last = ""  # the server last used (None: none), to say a change once on stderr

    def serves(self, name: str) -> bool:
        """True when a server's model `name` (a repo id or a folder's name) is the model asked for."""
        if self.model is None:
            return True
        return name in (self.model, Path(self.model).expanduser().name)

    async def find_server(self) -> ServerBackend | None:
        if self.server:
            key = self.api_key or next((e.get("api_key") for e in discovery.servers()
                                        if e["url"].rstrip("/") == self.server.rstrip("/")), None)
            found = await ServerBackend.probe(self.server, key)
            if found is None:
                raise ToolFailure(f"the DSOCR server at {self.server} does not answer; start it (dsocr serve, or "
                                  "the app's Local API) or leave out --server")
            return found
        if not self.resident:
            return None
        for entry in discovery.servers():
            if not self.serves(str(entry.get("model"))):
                continue
            found = await ServerBackend.probe(entry["url"], entry.get("api_key") or self.api_key)
            if found is not None and self.serves(found.model):
                return found
        return None

    async def pick(self) -> ServerBackend | LocalBackend:
        found = await self.find_server()
        where = found.url if found is not None else None
        if where != self._last:
            why = "no DSOCR server is running" if self.resident else "--no-resident"
            _log(f"using the DSOCR server at {where} ({found.model}); no model is loaded here" if found is not None
                 else f"{why}: the model is loaded here on the first OCR call")
            self._last = where
        return found if found is not None else self.local

    async def version(self) -> str:
        """The model version plans default to: the server's, the loaded model's, or the one `model` names."""
        try:
            found = await self.find_server()
        except ToolFailure:  # the --server is down: a plan needs no server
            found = None
        if found is not None:
            return found.version
        if self.local.loaded is not None:
            return self.local.loaded.version
        return guess_version(self.model)


def guess_version(model: str | None) -> str:
    """The version of a model, without loading it: its folder's config.json, a known repo id; else v2."""
    from ..weights.checkpoint import DEFAULT_REPOS

    if model is None:
        return "v2"
    folder = Path(model).expanduser()
    if (folder / "config.json").is_file():
        try:
            from ..weights.config import read_config

            return read_config(folder).version
        except (ValueError, OSError):  # CheckpointError too
            return "v2"
    return next((v for v, repo in DEFAULT_REPOS.items() if repo.lower() == model.lower()), "v2")
