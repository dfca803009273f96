"""DSOCR as a local OCR service: an HTTP server (`dsocr serve`) that other tools talk to.

The layers, each a small module with one job (none imports Qt, so the tray app can host the service too):

- `settings.py`  - `ServeSettings`: address, API key, allowed origins and folders, limits; the bind-address rule.
- `errors.py`    - `ApiError`: a 4xx/5xx answer in the OpenAI error shape.
- `security.py`  - who may call: Host (DNS rebinding), Origin (web pages), API key; pure checks + ASGI middleware.
- `requests.py`  - request bodies (OpenAI chat, `/v1/ocr`) -> images and a `RunOptions`, or an ApiError.
- `scheduler.py` - `OcrService`: owns the model, one worker thread, a bounded queue, cancel.
- `admission.py` - who joins the decode next, and when: slowdown order, short requests alone, groups (pure).
- `batching.py`  - continuous batching: a request joins the running decode at the next step (KV caches joined).
- `feed.py`      - events from the worker thread to a request's asyncio handler.
- `app.py`       - `create_app(service, settings)`: the FastAPI routes.
- `server.py`    - uvicorn in the foreground (`serve`) or in a thread (`start`, for tests and hosts).
- `discovery.py` - a listening server announces itself to the user's other programs (`dsocr mcp`).
- `plans.py`     - the tile plans of a request's pages (`/v1/plan`, the MCP `plan` tool), no model.
- `mcp_backends.py`, `mcp_tools.py` - `dsocr mcp`: MCP tools over a running server or a model of their own.

    service = OcrService(engine.load(path), max_batch=4, max_pending=16)
    server = start(service, ServeSettings(port=0))   # a free loopback port: server.url
    ...
    server.stop()
"""

from .errors import ApiError
from .scheduler import Busy, OcrService
from .settings import ServeSettings

__all__ = ["ApiError", "Busy", "OcrService", "ServeSettings"]
