"""`dsocr serve`: DSOCR as a local OCR service over HTTP (OpenAI chat, `/v1/ocr`, `/v1/plan`).

Everything that can be refused is refused before the model loads (one line, exit 2): a non-loopback
`--host` without `--api-key`, an `--allow-files` that is not a folder, a port number out of range. The
server itself lives in `engine/service/`.
"""

from __future__ import annotations

from ..weights.checkpoint import DEFAULT_REPOS
from . import report
from .ocr_cmd import add_vision_dtype
from .options import number

DEFAULT_MODEL = DEFAULT_REPOS["v2"]


def add_parser(sub) -> None:
    from ..service.settings import DEFAULT_MAX_BODY, DEFAULT_PORT

    p = sub.add_parser("serve", help="serve OCR over HTTP (OpenAI-compatible chat, /v1/ocr, /v1/plan)")
    p.add_argument("--model", default=DEFAULT_MODEL, help=f"hub id or local folder (default {DEFAULT_MODEL})")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (default 127.0.0.1; any other needs --api-key)")
    p.add_argument("--port", type=number(int, 0, 65535), default=DEFAULT_PORT,
                   help=f"port (default {DEFAULT_PORT}; 0: a free one)")
    p.add_argument("--api-key", default=None, metavar="KEY",
                   help="require 'Authorization: Bearer KEY' on every request")
    p.add_argument("--allow-origin", action="append", default=[], metavar="ORIGIN",
                   help="a web origin whose pages may call the server (e.g. http://localhost:3000); repeatable; "
                        "default none")
    p.add_argument("--allow-files", action="append", default=[], metavar="DIR",
                   help="a folder whose files requests may name as file:// inputs (read only); repeatable")
    p.add_argument("--max-batch", type=number(int, 1, 64), default=4, metavar="N",
                   help="requests decoded together (default 4)")
    p.add_argument("--max-pending", type=number(int, 1), default=16, metavar="N",
                   help="requests that may wait; more get 503 with Retry-After (default 16)")
    p.add_argument("--max-body", type=number(int, 1), default=DEFAULT_MAX_BODY // 1_000_000, metavar="MB",
                   help=f"largest request body in MB (default {DEFAULT_MAX_BODY // 1_000_000})")
    p.add_argument("--max-tokens", type=number(int, 1), default=8192, metavar="N",
                   help="most tokens one request may ask for (default 8192)")
    p.add_argument("--dtype", default=None, help="compute dtype (default float32 on CPU, bfloat16 on GPU)")
    add_vision_dtype(p)
    p.set_defaults(func=run)


def run(args) -> int:
    from ..service.scheduler import OcrService
    from ..service.server import serve
    from ..service.settings import ServeSettings
    from .ocr_cmd import load_model

    settings = ServeSettings(host=args.host, port=args.port, api_key=args.api_key,
                             allow_origins=tuple(args.allow_origin), allow_files=tuple(args.allow_files),
                             max_body_bytes=args.max_body * 1_000_000, max_tokens=args.max_tokens,
                             max_batch=args.max_batch, max_pending=args.max_pending)
    try:
        import fastapi  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError as e:
        raise ValueError(f"dsocr serve needs {e.name}: pip install fastapi uvicorn python-multipart") from None
    check_address(settings.host, settings.port)
    model = load_model(args.model, args.dtype, args.vision_dtype)
    service = OcrService(model, max_batch=settings.max_batch, max_pending=settings.max_pending)
    report.note(f"serving {args.model} on http://{args.host}:{args.port} (OpenAI base URL "
                f"http://{args.host}:{args.port}/v1); Ctrl+C stops")
    serve(service, settings)
    return report.OK


def check_address(host: str, port: int) -> None:
    """Refuse, before the model loads, an address this machine cannot listen on (in use, not its own)."""
    import socket

    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as e:
        raise ValueError(f"--host {host}: unknown address ({e.strerror})") from None
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
        try:
            sock.bind(address)
        except OSError as e:
            raise ValueError(f"cannot listen on {host}:{port}: {e.strerror or e}; choose another --port "
                             "(or stop the server already using it)") from None
