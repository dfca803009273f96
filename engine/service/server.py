"""Run the app with uvicorn: in the foreground (`serve`, for `dsocr serve`) or in a thread (`start`, for
tests and for a host such as the tray app, which keeps its own event loop).

uvicorn (with FastAPI/Starlette) is the well-kept ASGI stack chosen: streaming responses that notice a
client's disconnect (a cancelled request frees its slot), multipart uploads, and no event loop of its own
to fight with a Qt one when it runs in a thread.

Both announce the server once it listens (`discovery.announce`: `dsocr mcp` then uses it instead of loading a
second model) and withdraw the announcement when it stops.
"""

from __future__ import annotations

import threading
import time

from . import discovery
from .app import create_app, model_id
from .scheduler import OcrService
from .settings import ServeSettings


def _server(service: OcrService, settings: ServeSettings, log_level: str, announce: bool):
    """A uvicorn server that announces itself while it listens."""
    import uvicorn

    class Server(uvicorn.Server):
        announcement = None

        async def startup(self, sockets=None) -> None:
            await super().startup(sockets=sockets)
            if announce and self.started and not self.should_exit:
                port = self.servers[0].sockets[0].getsockname()[1]
                self.announcement = discovery.announce(discovery.client_url(settings.host, port), port,
                                                       model_id(service.model), service.model.version,
                                                       settings.api_key)

        async def shutdown(self, sockets=None) -> None:
            self.withdraw()
            await super().shutdown(sockets=sockets)

        def withdraw(self) -> None:
            discovery.withdraw(self.announcement)
            self.announcement = None

    return Server(_config(service, settings, log_level))


def _config(service: OcrService, settings: ServeSettings, log_level: str):
    import uvicorn

    return uvicorn.Config(create_app(service, settings), host=settings.host, port=settings.port,
                          log_level=log_level, lifespan="off", server_header=False, timeout_graceful_shutdown=2,
                          h11_max_incomplete_event_size=64 * 1024)


def serve(service: OcrService, settings: ServeSettings, log_level: str = "info", announce: bool = True) -> None:
    """Serve until Ctrl+C (uvicorn's own signal handling), then stop the service."""
    server = _server(service, settings, log_level, announce)
    try:
        server.run()
    finally:
        server.withdraw()
        service.close()


class RunningServer:
    """A server running in a thread: `url`, `port`, and `stop()` (which also closes the service)."""

    def __init__(self, server, thread: threading.Thread, service: OcrService, host: str):
        self.server, self.thread, self.service = server, thread, service
        sock = server.servers[0].sockets[0]
        self.port = sock.getsockname()[1]
        self.url = f"http://{'[' + host + ']' if ':' in host else host}:{self.port}"

    def stop(self, timeout: float = 10.0) -> None:
        self.server.should_exit = True
        self.thread.join(timeout)
        self.server.withdraw()
        self.service.close()


def start(service: OcrService, settings: ServeSettings, log_level: str = "warning",
          timeout: float = 30.0, announce: bool = True) -> RunningServer:
    """Start serving in a daemon thread (port 0: a free port); returns once it listens."""
    server = _server(service, settings, log_level, announce)
    thread = threading.Thread(target=server.run, name="dsocr-http", daemon=True)
    thread.start()
    t0 = time.monotonic()
    while not server.started:
        if not thread.is_alive():
            raise OSError(f"the server could not start on {settings.host}:{settings.port} (see the log above)")
        if time.monotonic() - t0 > timeout:
            server.should_exit = True
            raise TimeoutError("the server did not start in time")
        time.sleep(0.02)
    return RunningServer(server, thread, service, settings.host)
