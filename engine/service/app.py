"""`create_app(service, settings)`: the HTTP routes, over an `OcrService` that owns the model.

- `GET /health`, `GET /v1/models` (OpenAI list format)
- `POST /v1/chat/completions`: OpenAI chat (one image, the task in the text part; `stream` as server-sent
  events); `choices[0].message.content` is the text `dsocr ocr --format md` prints
- `POST /v1/ocr`: an image or PDF (multipart `file` or JSON `data` base64 / `path` file://), the command
  line's options; the `dsocr ocr --format json` object per page, or `format` md, txt, pdf
- `POST /v1/plan`: the tile plans and token counts (`dsocr plan --json`), no model needed

Every error is an OpenAI-shaped JSON answer (`errors.ApiError`); `security.Guard` checks Host, Origin and the
API key before any route. Request parsing and image decoding run in worker threads, off the event loop.
"""

from __future__ import annotations

import time
import uuid
from functools import partial
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException

from ..outputs.clean_stream import CleanStream
from ..outputs.export import render, to_json
from ..outputs.markdown import clean_markdown
from ..weights.checkpoint import is_repo_id
from . import plans
from . import requests as rq
from .errors import ApiError, error_body
from .feed import Feed
from .scheduler import Busy, OcrService
from .security import Guard
from .settings import ServeSettings


def model_id(model) -> str:
    """What /v1/models lists: the hub repo id, or the folder's name."""
    name = str(model.name)
    return name if is_repo_id(name) and not Path(name).exists() else Path(name).name or name


class ClientGone(Exception):
    """The client closed its connection: its request was cancelled."""


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, 413 as soon as it is known to exceed `limit` bytes."""
    declared = request.headers.get("content-length")
    too_big = ApiError(413, f"the request body is larger than the {limit:,} byte limit; send a smaller image "
                            "(or start the server with a larger --max-body)", code="body_too_large")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise too_big
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise too_big
        chunks.append(chunk)
    return b"".join(chunks)


def _finish_reason(result) -> str:
    return "length" if result.stop_reason == "max_tokens" else "stop"


def _engine_error(e: BaseException) -> ApiError:
    if isinstance(e, ApiError):  # a host's own answer (the app's Local API: cancelled there, model changing)
        return e
    if isinstance(e, MemoryError):
        return ApiError(503, "not enough memory for this request; try fewer tiles (max_tiles) or a smaller mode",
                        headers={"Retry-After": "5"})
    if isinstance(e, ValueError):
        return ApiError(400, str(e))
    return ApiError(500, f"internal error: {type(e).__name__}: {e}")


KEEPALIVE_S = 0.2  # a waiting stream writes a comment this often: a client that left is noticed within ~2x this


def clean_text(image_size: tuple[int, int], output, raw: str) -> str:
    """A run's clean markdown from its raw text, as its Result will have it (for streaming)."""
    return clean_markdown(raw, image_size=image_size, math=output.math, tables=output.tables)[0]


def create_app(service: OcrService, settings: ServeSettings) -> FastAPI:
    from ..pipeline import Result, Rollback, TextDelta, prepare_for

    app = FastAPI(title="DSOCR", version="1", docs_url=None, redoc_url=None, openapi_url=None)
    app.add_middleware(Guard, settings=settings)
    model = service.model
    mid = model_id(model)
    created = int(time.time())

    @app.exception_handler(ApiError)
    async def _api_error(request, e: ApiError):
        return JSONResponse(e.body(), status_code=e.status, headers=e.headers)

    @app.exception_handler(HTTPException)
    async def _http_error(request, e: HTTPException):
        message = {404: f"no such endpoint: {request.method} {request.url.path}",
                   405: f"{request.method} is not allowed on {request.url.path}"}.get(e.status_code, str(e.detail))
        return JSONResponse(error_body(e.status_code, message), status_code=e.status_code)

    @app.exception_handler(Exception)
    async def _internal(request, e: Exception):
        return JSONResponse(error_body(500, f"internal error: {type(e).__name__}: {e}"), status_code=500)

    def check_model(name) -> None:
        if name is not None and name not in (mid, str(model.name)):
            raise ApiError(404, f"model {name!r} is not loaded here; this server serves {mid!r} (GET /v1/models)",
                           param="model", code="model_not_found")

    def prepare(image, options):
        try:
            return prepare_for(model, image, options.tiling)
        except ValueError as e:  # a mode or tile limit of the other version, a bad grid
            raise ApiError(400, f"{e} ({mid} is a {model.version} model)") from None

    def submit(preps, options, feed: Feed):
        try:
            return service.submit_many(preps, options, [feed.sink(k) for k in range(len(preps))])
        except Busy as e:
            raise ApiError(503, str(e), code="server_busy", headers={"Retry-After": str(e.retry_after)}) from None

    async def results(request: Request, images, options) -> list:
        """Run the pages (prepared one by one as they are queued); their Results in order. A request keeps at
        most `max_batch` of its pages in the service at a time, so a long PDF neither fills the queue for others
        nor is refused for being longer than --max-pending (only its first page can get the 503). Cancels its
        pages when the client goes away."""
        feed, tickets, done = Feed(), {}, {}
        window = max(1, service.max_batch)

        async def fill() -> None:
            while len(tickets) < len(images) and len(tickets) - len(done) < window:
                k = len(tickets)
                prep = await run_in_threadpool(prepare, images[k], options)
                try:
                    (tickets[k],) = service.submit_many([prep], options, [feed.sink(k)])
                except Busy as e:
                    if k == 0:
                        raise ApiError(503, str(e), code="server_busy",
                                       headers={"Retry-After": str(e.retry_after)}) from None
                    return  # accepted already: the next pages wait for room instead of failing

        checked = time.monotonic()
        try:
            await fill()
            while len(done) < len(images):
                item = await feed.get()
                if time.monotonic() - checked >= 0.1:  # every 0.1 s, however many events arrive
                    checked = time.monotonic()
                    if await request.is_disconnected():
                        raise ClientGone
                    await fill()
                if item is None:
                    continue
                k, event = item
                if isinstance(event, BaseException):
                    raise _engine_error(event)
                if isinstance(event, Result):
                    done[k] = event
                    await fill()
        finally:
            for k, t in tickets.items():
                if k not in done:
                    t.cancel()
        return [done[k] for k in range(len(images))]

    @app.get("/health")
    async def health():
        return {"status": "ok", "model": mid, "version": model.version, "running": service.running,
                "pending": service.pending, "max_batch": service.max_batch, "max_pending": service.max_pending}

    @app.get("/v1/models")
    async def models():
        return {"object": "list", "data": [{"id": mid, "object": "model", "created": created, "owned_by": "dsocr"}]}

    @app.get("/v1/models/{name:path}")
    async def one_model(name: str):
        check_model(name)
        return {"id": mid, "object": "model", "created": created, "owned_by": "dsocr"}

    @app.post("/v1/chat/completions")
    async def chat(request: Request):
        body = rq.read_json(await read_body(request, settings.max_body_bytes))
        check_model(body.get("model"))
        req = await run_in_threadpool(rq.parse_chat, body, settings)
        prep = await run_in_threadpool(prepare, req.image, req.options)
        cid, now = f"chatcmpl-{uuid.uuid4().hex}", int(time.time())
        if req.stream:
            feed = Feed()
            (ticket,) = submit([prep], req.options, feed)
            text = CleanStream(partial(clean_text, prep.plan.image_size, req.options.output))
            return StreamingResponse(_sse(feed, ticket, text, cid, now, req.include_usage),
                                     media_type="text/event-stream", headers={"Cache-Control": "no-cache"})
        try:
            (result,) = await results(request, [prep], req.options)  # prepared already: kept as it is
        except ClientGone:
            return Response(status_code=499)
        return {"id": cid, "object": "chat.completion", "created": now, "model": mid,
                "choices": [{"index": 0, "finish_reason": _finish_reason(result),
                             "message": {"role": "assistant", "content": render(result, "md")}}],
                "usage": _usage(result), "dsocr": _extra(result)}

    async def _sse(feed: Feed, ticket, text: CleanStream, cid: str, now: int, include_usage: bool):
        """The chunks of a streamed chat answer: the clean markdown as it is decoded (`CleanStream`), so the
        chunks' contents add up to the `content` a non-streamed answer has; the final chunk carries DSOCR's
        extras (`dsocr`: the text again, the raw text, timings, stop reason)."""
        def chunk(delta: dict, finish=None, **more) -> str:
            obj = {"id": cid, "object": "chat.completion.chunk", "created": now, "model": mid,
                   "choices": [{"index": 0, "delta": delta, "finish_reason": finish}], **more}
            return f"data: {to_json(obj, indent=None).strip()}\n\n"

        finished = False
        try:
            yield chunk({"role": "assistant", "content": ""})
            while True:
                item = await feed.get(poll=KEEPALIVE_S)
                if item is None:  # queued, or between pieces: an SSE comment (clients skip it) finds out
                    yield ": waiting\n\n"  # whether the client is still there while nothing else is sent
                    continue
                _, event = item
                if isinstance(event, TextDelta):
                    piece = text.push(event.text)
                    if piece:
                        yield chunk({"content": piece})
                elif isinstance(event, Rollback):  # a loop was dropped: keep `content_length` characters
                    keep = text.rollback(event.text_length)
                    yield chunk({}, dsocr={"rollback": {"content_length": keep, "loop_start": event.loop_start,
                                                        "strategy": event.strategy}})
                elif isinstance(event, Result):
                    finished = True
                    content = render(event, "md")
                    rest = text.finish(content)
                    if rest:
                        yield chunk({"content": rest})
                    final = {**_extra(event), "text": content, "raw_text": event.raw_text}
                    yield chunk({}, _finish_reason(event), dsocr=final)
                    if include_usage:
                        obj = {"id": cid, "object": "chat.completion.chunk", "created": now, "model": mid,
                               "choices": [], "usage": _usage(event)}
                        yield f"data: {to_json(obj, indent=None).strip()}\n\n"
                    break
                elif isinstance(event, BaseException):
                    finished = True
                    e = _engine_error(event)
                    yield f"data: {to_json(e.body(), indent=None).strip()}\n\n"
                    break
            yield "data: [DONE]\n\n"
        finally:
            if not finished:
                ticket.cancel()  # the client went away (or the server stops): free its slot

    async def ocr_input(request: Request) -> tuple[bytes | None, Path | None, str, dict]:
        """(upload bytes, or an allowed file's path; its name; the option fields) of a /v1/ocr or /v1/plan."""
        body = await read_body(request, settings.max_body_bytes)
        kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if kind == "multipart/form-data":
            form_request = Request(request.scope, _replay(body))
            try:
                form = await form_request.form(max_part_size=settings.max_body_bytes)
            except Exception as e:  # noqa: BLE001 - a malformed multipart body
                raise ApiError(400, f"the multipart body cannot be read ({e})") from None
            files = [(k, v) for k, v in form.multi_items() if not isinstance(v, str)]
            if not files:
                raise ApiError(400, "no file: upload the image or PDF as the multipart field 'file'",
                               param="file", code="no_image")
            if len(files) > 1:
                raise ApiError(400, f"{len(files)} files: one file per request", param="file",
                               code="too_many_images")
            upload = files[0][1]
            data = await upload.read()
            fields = {k: v for k, v in form.multi_items() if isinstance(v, str)}
            return data, None, Path(upload.filename or "upload").name or "upload", fields
        if kind not in ("application/json", ""):
            raise ApiError(415, f"Content-Type {kind}: send application/json or multipart/form-data")
        fields = rq.read_json(body)
        data, path = fields.pop("data", None), fields.pop("path", None)
        name = str(fields.pop("name", None) or "upload")
        if (data is None) == (path is None):
            raise ApiError(400, "give the input as 'data' (base64) or 'path' (file://, an --allow-files folder), "
                                "one of them", param="data", code="no_image")
        if data is not None:
            if not isinstance(data, str):
                raise ApiError(400, "data: must be base64 text", param="data")
            raw = rq.decode_data_url(data) if data.startswith("data:") else rq.decode_base64(data, "data")
            return raw, None, Path(name).name, fields
        real = await run_in_threadpool(rq.allowed_file, str(path), settings)
        return None, real, real.name, fields

    @app.post("/v1/ocr")
    async def ocr(request: Request):
        data, path, name, fields = await ocr_input(request)
        check_model(fields.pop("model", None))
        req = await run_in_threadpool(rq.parse_ocr, data, path, name, fields, settings)
        try:
            found = await results(request, [image for _, _, image in req.pages], req.options)
        except ClientGone:
            return Response(status_code=499)
        pages = list(zip(req.pages, found))
        if req.format == "pdf":
            from ..outputs.searchable_pdf import SearchablePdf

            def pdf() -> bytes:
                doc = SearchablePdf()
                for _, result in pages:
                    doc.add(result)
                return doc.to_bytes()

            return Response(await run_in_threadpool(pdf), media_type="application/pdf",
                            headers={"Content-Disposition": f'attachment; filename="{Path(name).stem}.pdf"'})
        if req.format in ("md", "txt"):
            text, several = "", len(pages) > 1
            for k, ((label, page, _), result) in enumerate(pages):
                if several:
                    text += f"{chr(10) if k else ''}==> {label}{f' page {page}' if page else ''} <==\n"
                text += render(result, req.format)
            return Response(text, media_type="text/markdown; charset=utf-8" if req.format == "md"
                            else "text/plain; charset=utf-8")
        body = {"object": "dsocr.ocr", "model": mid,
                "pages": [{"input": label, "page": page, **result.to_dict()} for (label, page, _), result in pages]}
        return Response(to_json(body, indent=None), media_type="application/json")

    @app.post("/v1/plan")
    async def plan_route(request: Request):
        kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if kind in ("application/json", ""):
            body = rq.read_json(await read_body(request, settings.max_body_bytes))
            if "size" in body:
                return {"pages": [plans.plan_size(body.pop("size"), body, settings, model.version)]}
            request = Request(request.scope, _replay(to_json(body).encode()))
        data, path, name, fields = await ocr_input(request)
        return {"pages": await run_in_threadpool(plans.plan_pages, data, path, name, fields, settings,
                                                 model.version)}

    return app


def _usage(result) -> dict:
    return {"prompt_tokens": result.prompt_tokens, "completion_tokens": result.generated_tokens,
            "total_tokens": result.prompt_tokens + result.generated_tokens}


def _extra(result) -> dict:
    """DSOCR's own fields beside the OpenAI ones (clients ignore them): why it stopped, the plan, timings."""
    return {"stop_reason": result.stop_reason, "image_tokens": result.plan.image_tokens,
            "grid": result.plan.grid, "timings": result.timings, "recovery": result.recovery_note()}


def _replay(body: bytes):
    """An ASGI receive that hands out `body` once (the body was already read, with its size limit)."""
    sent = False

    async def receive():
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return receive
