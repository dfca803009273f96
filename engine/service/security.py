"""Who may use the server: the Host header (DNS rebinding), the Origin header (web pages) and the API key.

A page in the user's browser can send requests to 127.0.0.1; these checks keep it out unless its origin is
allowed (`--allow-origin`), and keep out a page on a rebinding domain that resolves to 127.0.0.1 (its Host is
that domain, not a loopback name). The checks are pure functions of the headers; `Guard` is the ASGI
middleware that applies them to every request before any route runs, and adds CORS headers only for an
allowed origin.
"""

from __future__ import annotations

import contextvars
import hmac
import ipaddress
import json

from .errors import ApiError
from .settings import ServeSettings, is_loopback

_WILDCARDS = ("0.0.0.0", "::", "")
# who is calling (the first word of its User-Agent, e.g. "OpenAI/Python"), set by `Guard` for the request being
# handled: a host that shows requests (the app's queue) names them with it
CLIENT: contextvars.ContextVar[str] = contextvars.ContextVar("dsocr_client", default="")


def split_host(value: str) -> str:
    """The host name of a Host header (`[::1]:8765` -> `::1`, `localhost:8765` -> `localhost`)."""
    value = value.strip().lower()
    if value.startswith("["):
        return value[1:value.find("]")] if "]" in value else value[1:]
    return value.rsplit(":", 1)[0] if value.count(":") == 1 else value


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
        return True
    except ValueError:
        return False


def host_allowed(host_header: str | None, settings: ServeSettings) -> bool:
    """A loopback name, or the address the server is bound to; bound to every address (0.0.0.0), any IP
    literal too (DNS rebinding needs a name, so a literal address cannot be one)."""
    if not host_header:
        return False
    name = split_host(host_header)
    if is_loopback(name):
        return True
    bound = split_host(settings.host)
    if name == bound:
        return True
    return bound in _WILDCARDS and _is_ip(name)


def origin_allowed(origin: str | None, settings: ServeSettings) -> bool:
    """No Origin (a program, not a web page), or one listed in `--allow-origin` (`*` allows every origin)."""
    if origin is None:
        return True
    origin = origin.strip().rstrip("/")
    return origin in settings.allow_origins or "*" in settings.allow_origins


def key_ok(authorization: str | None, settings: ServeSettings) -> bool:
    """No key configured, or `Authorization: Bearer KEY` with the key (compared in constant time)."""
    if not settings.api_key:
        return True
    if not authorization:
        return False
    scheme, _, token = authorization.strip().partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(token.strip().encode(), settings.api_key.encode())


def check(headers: dict[str, str], method: str, settings: ServeSettings) -> None:
    """Raise ApiError (403/401) when a request with these (lower-cased) headers may not be served."""
    if not host_allowed(headers.get("host"), settings):
        raise ApiError(403, f"Host {headers.get('host')!r} is not this server's address; use "
                            f"http://127.0.0.1:{settings.port} (requests through other names are refused, "
                            "against DNS rebinding)", code="host_not_allowed")
    origin = headers.get("origin")
    if not origin_allowed(origin, settings):
        raise ApiError(403, f"requests from web pages of {origin} are refused; start the server with "
                            f"--allow-origin {origin} to allow them", code="origin_not_allowed")
    if method == "OPTIONS" and origin is not None:
        return  # a CORS preflight (allowed origin): browsers send no credentials with it
    if not key_ok(headers.get("authorization"), settings):
        raise ApiError(401, "missing or wrong API key: send 'Authorization: Bearer KEY' with the server's "
                            "--api-key", code="invalid_api_key", headers={"WWW-Authenticate": "Bearer"})


def cors_headers(origin: str) -> list[tuple[bytes, bytes]]:
    return [(b"access-control-allow-origin", origin.encode("latin-1")), (b"vary", b"Origin")]


class Guard:
    """ASGI middleware: every HTTP request passes `check` or gets its 401/403 JSON answer; an allowed
    origin's preflight is answered here and its responses carry CORS headers (none otherwise)."""

    def __init__(self, app, settings: ServeSettings):
        self.app, self.settings = app, settings

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        try:
            check(headers, scope["method"], self.settings)
        except ApiError as e:
            return await _answer(send, e.status, e.body(), e.headers)
        CLIENT.set((headers.get("user-agent") or "").split(" ")[0][:40])
        origin = headers.get("origin")
        if origin is None:
            return await self.app(scope, receive, send)
        if scope["method"] == "OPTIONS":
            return await _answer(send, 204, None, {
                "access-control-allow-origin": origin, "vary": "Origin",
                "access-control-allow-methods": "GET, POST, OPTIONS",
                "access-control-allow-headers": "Authorization, Content-Type",
                "access-control-max-age": "600"})

        async def send_cors(message):
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), *cors_headers(origin)]}
            await send(message)

        return await self.app(scope, receive, send_cors)


async def _answer(send, status: int, body: dict | None, headers: dict[str, str]) -> None:
    data = b"" if body is None else json.dumps(body).encode()
    raw = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]
    if body is not None:
        raw += [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": data})
