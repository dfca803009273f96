"""`dsocr mcp`: DSOCR's tools (`ocr`, `plan`) for AI agents, as an MCP server over stdio.

An MCP client (Claude Desktop, an IDE, an agent) starts it and talks to it on stdin/stdout; messages for people go
to stderr. OCR runs on the DSOCR server already running for this user (`dsocr serve`, the app's Local API) when
there is one, so the model is not loaded twice; otherwise the model is loaded here on the first `ocr` call.
The tools are in `engine/service/mcp_tools.py`.
"""

from __future__ import annotations

import os

from . import report
from .ocr_cmd import add_vision_dtype
from .serve_cmd import DEFAULT_MODEL


def add_parser(sub) -> None:
    p = sub.add_parser("mcp", help="MCP server over stdio: OCR tools for AI agents (uses a running DSOCR server)")
    p.add_argument("--model", default=None,
                   help="hub id or local folder; a running DSOCR server is used only when it serves this model "
                        f"(default: any running server's, else {DEFAULT_MODEL} loaded here)")
    p.add_argument("--server", default=None, metavar="URL",
                   help="always use the DSOCR server at URL (e.g. http://127.0.0.1:8765)")
    p.add_argument("--api-key", default=os.environ.get("DSOCR_API_KEY"), metavar="KEY",
                   help="the --server's API key (default: $DSOCR_API_KEY; a server running here announces its own)")
    p.add_argument("--no-resident", dest="resident", action="store_false",
                   help="never use a running DSOCR server: load the model here")
    p.add_argument("--dtype", default=None, help="compute dtype when the model is loaded here")
    add_vision_dtype(p)
    p.set_defaults(func=run)


def run(args) -> int:
    try:
        import mcp.server.mcpserver  # noqa: F401 - the SDK's 2.x API
    except ImportError:
        raise ValueError("dsocr mcp needs the MCP SDK 2.x: pip install 'mcp>=2'") from None
    if args.server is not None and not args.resident:
        raise ValueError("--server and --no-resident contradict each other: give one of them")
    if args.server is not None and not args.server.startswith(("http://", "https://")):
        raise ValueError(f"--server {args.server}: give a URL such as http://127.0.0.1:8765")
    from ..service.mcp_backends import Backends
    from ..service.mcp_tools import build_server
    from .ocr_cmd import load_model

    name = args.model or DEFAULT_MODEL

    def loader():
        report.note(f"mcp: loading {name}")
        return load_model(name, args.dtype, args.vision_dtype)

    backends = Backends(args.model, loader, server=args.server, api_key=args.api_key, resident=args.resident)
    try:
        build_server(backends).run("stdio")
    finally:
        backends.local.close()
    return report.OK
