"""`LocalApi`: the Local API's server, run as the settings and the model say (GUI thread).

On (Settings > Local API) and a model loaded: the engine's HTTP app (`create_app`, the same routes and the same
Host/Origin/API-key checks as `dsocr serve`) is served on 127.0.0.1:PORT over an `ApiBridge` of that model,
uvicorn in a daemon thread (`engine.service.server.start`, which also announces it to `dsocr mcp`). No model
yet: the remembered one is loaded, and the server starts once it is ready. While a model loads, requests get
503 (Retry-After) and the waiting ones end so; once it is ready the server restarts on it. A failed load
leaves it answering 503. Off, or the app quits: the server stops and its requests end. A port in use is
said in the status bar (and in a box when the user just chose it), never a traceback.
"""

from __future__ import annotations

import errno
import socket
import sys

from PySide6.QtCore import QObject, Signal, Slot

from .. import engine_bridge as eb
from ..messages import Messages
from ..model_control import ModelControl
from ..run_queue import RunQueue
from ..settings import Settings
from .bridge import ApiBridge
from .requests import MODEL_CHANGED, ApiRequests
from .settings import ApiSettings

RESTARTING = "DSOCR's Local API is restarting (new settings or another model); retry in a few seconds"


def port_problem(port: int) -> str:
    """Why 127.0.0.1:`port` cannot be listened on ('' when it can), said for the app's user."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
        try:
            sock.bind(("127.0.0.1", port))
        except OSError as e:
            why = "is in use by another program" if e.errno == errno.EADDRINUSE else f"cannot be used ({e.strerror})"
            return (f"Local API: port {port} {why}; choose another port in Settings \u2192 Local API "
                    "(or stop the program using it)")
    return ""


class LocalApi(QObject):
    servingChanged = Signal(str)  # the base URL now served, '' when the server stopped

    def __init__(self, settings: Settings, runs: RunQueue, models: ModelControl, messages: Messages,
                 requests: ApiRequests):
        super().__init__()
        self.settings, self.runs, self.models, self.messages, self.requests = settings, runs, models, messages, requests
        self.server = None  # the running server (`url`, `stop()`), None when stopped
        self.bridge: ApiBridge | None = None
        self.problem = ""  # the last reason it could not serve
        self._serving = None  # the ServeSettings it serves with
        runs.modelLoading.connect(self._on_loading)
        runs.modelReady.connect(self._on_ready)
        runs.modelFailed.connect(self._on_failed)

    @property
    def url(self) -> str:
        """The base URL served (http://127.0.0.1:PORT), '' when not serving."""
        return self.server.url if self.server is not None else ""

    def apply(self, asked: bool = False) -> None:
        """Serve as the settings say: start, restart (another port, key or model) or stop. `asked`: the user
        just chose these settings (a problem is also said in a box)."""
        s = ApiSettings.of(self.settings)
        if not s.enabled:
            self.stop("DSOCR's Local API was turned off")
            return
        wanted = s.serve_settings()
        model = self.runs.model
        if self.server is not None and self._serving == wanted and self.bridge.model is model:
            return
        self.stop(RESTARTING)
        problem = port_problem(wanted.port)  # said at once, before a model loads for nothing
        if problem:
            self._say(problem, asked)
        elif model is None:
            self._want_model(asked)
        else:
            self._start(model, wanted, asked)

    def stop(self, reason: str = "DSOCR's Local API stopped") -> None:
        """Stop serving: new requests are refused, those in the app end with a 503 saying `reason`."""
        if self.server is None:
            return
        server, bridge = self.server, self.bridge
        self.server = self.bridge = self._serving = None
        bridge.close()
        self.requests.drop_all(reason or "DSOCR's Local API stopped")
        server.stop()  # waits for the server thread (open requests have their answer already)
        self.servingChanged.emit("")

    # ---- start -----------------------------------------------------------------------------------------------

    def _want_model(self, asked: bool) -> None:
        if self.runs.loading:
            return  # it starts when the model is ready
        if self.settings.model:
            self.models.load(self.settings.model)
        else:
            self._say("Local API: choose a model (Model \u2192 Choose model); the API starts once it is loaded", asked)

    def _start(self, model, wanted, asked: bool) -> None:
        bridge = ApiBridge(model, wanted.max_pending)
        self.requests.connect_bridge(bridge)
        try:
            server = eb.start_server(bridge, wanted)
        except ImportError as e:
            self._say(f"Local API: {e.name} is missing: pip install fastapi uvicorn python-multipart", asked)
            return
        except (OSError, TimeoutError) as e:
            self._say(f"Local API: could not listen on 127.0.0.1:{wanted.port} ({e}); choose another port in "
                      "Settings \u2192 Local API", asked)
            return
        self.server, self.bridge, self._serving, self.problem = server, bridge, wanted, ""
        self.messages.notify(f"Local API: serving {model.name} at {server.url}/v1", 10000)
        self.servingChanged.emit(server.url)

    def _say(self, message: str, asked: bool) -> None:
        self.problem = message
        self.messages.report(message, title="Local API", dialog=asked)
        print(f"dsocr-app: {message}", file=sys.stderr)

    # ---- the model -------------------------------------------------------------------------------------------

    @Slot(str)
    def _on_loading(self, source: str) -> None:
        if self.bridge is not None:
            self.bridge.refuse(f"DSOCR is loading the model {source}; retry in a few seconds")
            self.requests.drop_all(MODEL_CHANGED)

    @Slot(object)
    def _on_ready(self, _model) -> None:
        if ApiSettings.of(self.settings).enabled:
            self.apply()

    @Slot(str)
    def _on_failed(self, message: str) -> None:
        if self.bridge is not None:
            self.bridge.refuse(f"DSOCR has no model loaded ({message}); load one in the app")
