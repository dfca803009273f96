"""The MCP tools of `dsocr mcp` (the official `mcp` SDK's `MCPServer`, over stdio):

- `ocr`: an image or a PDF (a file path, or base64 bytes with a name), the task (`markdown`, `ocr`, `free`,
  `describe`, `locate: TEXT`, or a prompt: what the server's chat accepts), `pages` of a PDF (as `--pages`),
  `max_tokens`, `mode`. Returns the text (one block, pages under `==> name page N <==` headers) and, when the
  model placed boxes (grounding tasks), a second block with them; the structured content has both per page,
  with the backend that ran it (`server` or `in-process`) and the model.
- `plan`: the tile plan and token counts of an image or PDF pages (or of a `[width, height]` size): no model.

Every failure (a missing file, bytes that are not an image, a page that does not exist, a bad option) is a
tool error with a one-line message; the server keeps serving. Imports the `mcp` SDK (`dsocr mcp` checks it is
there first).
"""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path
from typing import Annotated

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import CallToolResult, TextContent
from pydantic import Field

from . import plans
from . import requests as rq
from .errors import ApiError
from .mcp_backends import Backends, Source, ToolFailure, engine_failure

INSTRUCTIONS = ("DSOCR reads text from images and PDFs on this computer with DeepSeek-OCR (locally, no upload). "
                "Call `ocr` with a file path (or base64 bytes); `plan` tells what an image will cost in tokens.")

PathArg = Annotated[str | None, Field(description="absolute path of an image (PNG, JPEG, TIFF, WebP, ...) or a PDF "
                                                  "on this computer; or give `data`")]
DataArg = Annotated[str | None, Field(description="the file's bytes in base64 (or a data: URL), instead of `path`")]
NameArg = Annotated[str | None, Field(description="a file name for `data` (e.g. scan.pdf), shown in the results")]
PagesArg = Annotated[str | None, Field(description="PDF pages, e.g. '1-3,5' or '7-' (default: all pages)")]
ModeArg = Annotated[str | None, Field(description="tiling mode: gundam (default), base, small (v2); tiny, small, "
                                                  "base, large, gundam, gundam-m (v1)")]


def source_of(path: str | None, data: str | None, name: str | None) -> Source:
    """The input of a call: a readable file, or decoded base64 bytes; ToolFailure otherwise."""
    if (path is None) == (data is None):
        raise ToolFailure("give the input as `path` (a file on this computer) or `data` (base64), one of them")
    if path is not None:
        file = Path(os.path.expanduser(path))
        if not file.exists():
            raise ToolFailure(f"{path}: no such file; give the absolute path of an image or PDF")
        if file.is_dir():
            raise ToolFailure(f"{path}: is a folder; give one image or PDF file in it")
        if not os.access(file, os.R_OK):
            raise ToolFailure(f"{path}: permission denied (cannot read the file)")
        return Source(None, file.resolve(), file.name)
    if data.startswith("data:"):  # a data: URL
        head, _, data = data.partition(",")
        if not head.endswith(";base64"):
            raise ToolFailure("data: a data: URL must be base64 encoded (data:image/png;base64,...)")
    try:
        raw = rq.decode_base64(data, "data")
    except ApiError as e:
        raise ToolFailure(f"{e.message}: give the file's bytes in base64") from None
    if not raw:
        raise ToolFailure("data: empty; give the bytes of an image or PDF in base64")
    return Source(raw, None, Path(name).name if name else "upload")


def _label(p: dict) -> str:
    return f"{p['input']}{' page ' + str(p['page']) if p.get('page') else ''}"


def _text_of(pages: list[dict]) -> str:
    """The text of the pages: as it is for one, under `==> name page N <==` headers for several."""
    if len(pages) == 1:
        return pages[0]["text"]
    return "\n".join(f"==> {_label(p)} <==\n{p['text']}" for p in pages)


def _page(d: dict) -> dict:
    """A `/v1/ocr` page object, for an agent: the text, why it stopped, the page size and the boxes."""
    return {"input": d.get("input"), "page": d.get("page"), "text": d["text"], "stop_reason": d["stop_reason"],
            "generated_tokens": d["tokens"]["generated"], "image_size": d["plan"]["image_size"],
            "regions": [{"label": r["label"], "boxes": r["boxes"], "text": r["text"]} for r in d["regions"]]}


def build_server(backends: Backends):
    """The MCPServer with the `ocr` and `plan` tools over `backends`."""
    from .. import __version__

    server = MCPServer("dsocr", instructions=INSTRUCTIONS, version=__version__, log_level="WARNING")

    @server.tool(description="OCR an image or PDF pages with DeepSeek-OCR on this computer: the text (markdown by "
                             "default) and, for grounding tasks, the boxes (pixels of the page image).")
    async def ocr(path: PathArg = None, data: DataArg = None, name: NameArg = None,
                  task: Annotated[str, Field(description="markdown (default), ocr, free (plain text, no layout), "
                                                         "describe, figure, 'locate: TEXT' (where TEXT is), or "
                                                         "any prompt")] = "markdown",
                  pages: PagesArg = None,
                  max_tokens: Annotated[int | None, Field(description="most tokens to generate per page", ge=1)]
                  = None,
                  mode: ModeArg = None) -> CallToolResult:
        try:
            source = source_of(path, data, name)
            fields = {**rq.parse_task(task), "pages": pages, "max_tokens": max_tokens, "mode": mode}
            fields = {k: v for k, v in fields.items() if v is not None}
            backend = await backends.pick()
            found = await backend.ocr(source, fields)
        except ToolFailure as e:
            raise ToolError(str(e)) from None
        pages_out = [_page(d) for d in found]
        content = [TextContent(type="text", text=_text_of(pages_out))]
        boxes = [{"input": p["input"], "page": p["page"], "regions": p["regions"]} for p in pages_out if p["regions"]]
        if boxes:
            content.append(TextContent(type="text", text="boxes [x0, y0, x1, y1] in pixels of the page image: "
                                                         + json.dumps(boxes, ensure_ascii=False)))
        structured = {"backend": backend.kind, "server": getattr(backend, "url", None), "model": backend.model,
                      "pages": pages_out}
        return CallToolResult(content=content, structured_content=structured)

    @server.tool(description="The tile plan and image-token cost DeepSeek-OCR would use for an image or PDF pages "
                             "(or a [width, height] size). Loads no model.")
    async def plan(path: PathArg = None, data: DataArg = None, name: NameArg = None, pages: PagesArg = None,
                   size: Annotated[list[int] | None, Field(description="[width, height] in pixels, instead of a "
                                                                      "file", min_length=2, max_length=2)] = None,
                   mode: ModeArg = None,
                   max_tiles: Annotated[int | None, Field(description="most tiles (gundam modes)")] = None,
                   version: Annotated[str | None, Field(description="v1 or v2 (default: the model's)")] = None
                   ) -> CallToolResult:
        try:
            default = version or await backends.version()
            fields = {k: v for k, v in {"mode": mode, "max_tiles": max_tiles}.items() if v is not None}
            if size is not None:
                if path is not None or data is not None:
                    raise ToolFailure("give a file (`path` or `data`) or a `size`, not both")
                found = [plans.plan_size(size, fields, backends.local.settings, default)]
            else:
                source = source_of(path, data, name)
                if pages is not None:
                    fields["pages"] = pages
                found = await asyncio.to_thread(plans.plan_pages, source.data, source.path, source.name, fields,
                                                backends.local.settings, default)
        except ToolFailure as e:
            raise ToolError(str(e)) from None
        except Exception as e:  # noqa: BLE001 - ApiError, ImageError: a bad input
            raise ToolError(str(engine_failure(e))) from None
        lines = [_plan_line(p) for p in found]
        return CallToolResult(content=[TextContent(type="text", text="\n".join(lines))],
                              structured_content={"pages": found})

    return server


def _plan_line(p: dict) -> str:
    head = f"{_label(p)}: " if p.get("input") else ""
    w, h = p["image_size"]
    grid = f"grid {p['grid'][0]}x{p['grid'][1]} ({len(p['tiles'])} tiles)" if p["tiles"] else "not tiled"
    return (f"{head}image {w}x{h}, {p['version']} mode {p['mode']}: {grid}, {p['image_tokens']} image tokens "
            f"(global view {p['global_tokens']}, tiles {p['tile_tokens']})")
