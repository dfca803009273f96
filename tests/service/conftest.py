"""Fixtures of the server tests: one tiny checkpoint per session, servers on free loopback ports, stopped by
the test that started them."""

import base64
import contextlib
import io

import pytest
from PIL import Image

import engine

pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")


@pytest.fixture(scope="session")
def tiny_dir(tmp_path_factory):
    return engine.write_tiny_checkpoint(tmp_path_factory.mktemp("serve") / "tiny-v2", "v2")


@pytest.fixture(scope="session")
def model(tiny_dir):
    return engine.load(str(tiny_dir))


@pytest.fixture
def start_server(model):
    """start_server(**settings, max_batch=, max_pending=) -> a RunningServer on 127.0.0.1, a free port."""
    from engine.service import OcrService, ServeSettings
    from engine.service.server import start

    running = []

    def make(**kw):
        kw.setdefault("port", 0)
        settings = ServeSettings(**kw)
        server = start(OcrService(model, settings.max_batch, settings.max_pending), settings)
        running.append(server)
        return server

    yield make
    for server in running:
        server.stop()


@pytest.fixture
def server(start_server):
    return start_server()


def png_bytes(size=(300, 200), color="white", text=True) -> bytes:
    from PIL import ImageDraw

    img = Image.new("RGB", size, color)
    if text:
        ImageDraw.Draw(img).text((10, 10), "Total 42", fill="black")
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


def data_url(data: bytes, mime="image/png") -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode()}"


def chat_body(url: str, text: str | None = "free", **more) -> dict:
    content = ([{"type": "text", "text": text}] if text is not None else []) + \
        [{"type": "image_url", "image_url": {"url": url}}]
    return {"model": "tiny-v2", "messages": [{"role": "user", "content": content}], **more}


@contextlib.contextmanager
def client(server, **kw):
    import httpx

    with httpx.Client(base_url=server.url, timeout=60, **kw) as c:
        yield c
