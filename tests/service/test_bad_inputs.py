"""Bad requests get a 4xx JSON error in the OpenAI shape that says what is wrong, and the server keeps
serving (real HTTP with httpx)."""

import struct
import zlib

from .conftest import chat_body, client, data_url, png_bytes


def _png_header(width: int, height: int) -> bytes:
    """A PNG that declares width x height pixels in a few bytes (a decompression bomb's header)."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


def _error(response, status):
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body["error"]) >= {"message", "type", "param", "code"}
    return body["error"]


def _pdf(tmp_path, pages=2) -> bytes:
    from PIL import Image

    images = [Image.new("RGB", (200, 280), "white") for _ in range(pages)]
    path = tmp_path / "doc.pdf"
    images[0].save(path, save_all=True, append_images=images[1:])
    return path.read_bytes()


CASES = {
    "malformed json": (b"{not json", 400, "not valid JSON"),
    "not an object": (b"[1, 2]", 400, "JSON object"),
    "no messages": ({"model": "tiny-v2"}, 400, "messages"),
    "no image": ({"model": "tiny-v2", "messages": [{"role": "user", "content": "free"}]}, 400, "no image"),
    "two images": ({"model": "tiny-v2", "messages": [{"role": "user", "content": [
        {"type": "image_url", "image_url": {"url": data_url(png_bytes())}},
        {"type": "image_url", "image_url": {"url": data_url(png_bytes())}}]}]}, 400, "one image per chat request"),
    "not an image": (chat_body(data_url(b"hello, I am text", "image/png")), 400, "not a recognised image"),
    "bad base64": (chat_body("data:image/png;base64,@@@@"), 400, "base64"),
    "decompression bomb": (chat_body(data_url(_png_header(30000, 30000))), 400, "decompression bomb"),
    "too many pixels": (chat_body(data_url(_png_header(13000, 12000))), 400, "megapixel limit"),
    "remote url": (chat_body("https://example.com/a.png"), 400, "fetches no URLs"),
    "unknown model": ({**chat_body(data_url(png_bytes())), "model": "gpt-4o"}, 404, "not loaded here"),
    "top_p out of range": (chat_body(data_url(png_bytes()), top_p=1.5), 400, "top_p"),
    "max_tokens 0": (chat_body(data_url(png_bytes()), max_tokens=0), 400, "max_tokens"),
    "max_tokens over the limit": (chat_body(data_url(png_bytes()), max_tokens=10**6), 400, "limit"),
    "temperature": (chat_body(data_url(png_bytes()), temperature=5), 400, "temperature"),
    "bad mode": ({**chat_body(data_url(png_bytes())), "mode": "gundam-m"}, 400, "gundam-m"),
    "bad grid": ({**chat_body(data_url(png_bytes())), "grid": "3by2"}, 400, "grid"),
    "unknown task": ({**chat_body(data_url(png_bytes())), "task": "poem"}, 400, "unknown task"),
    "n": (chat_body(data_url(png_bytes()), n=2), 400, "n=1"),
}


def test_bad_chat_requests_then_the_server_still_serves(server):
    with client(server) as c:
        for name, (body, status, words) in CASES.items():
            r = c.post("/v1/chat/completions", content=body) if isinstance(body, bytes) else \
                c.post("/v1/chat/completions", json=body)
            error = _error(r, status)
            assert words in error["message"], (name, error)
        ok = c.post("/v1/chat/completions", json=chat_body(data_url(png_bytes()), max_tokens=3))
        assert ok.status_code == 200 and ok.json()["choices"][0]["message"]["content"]
        assert c.get("/health").json()["status"] == "ok"


def test_body_over_the_size_limit(start_server):
    server = start_server(max_body_bytes=20_000)
    with client(server) as c:
        big = chat_body(data_url(png_bytes((900, 900), text=False) + b"\0" * 30_000))
        assert "byte limit" in _error(c.post("/v1/chat/completions", json=big), 413)["message"]
        upload = c.post("/v1/ocr", files={"file": ("x.png", b"\0" * 40_000, "image/png")})
        assert _error(upload, 413)["code"] == "body_too_large"
        assert c.post("/v1/chat/completions", json=chat_body(data_url(png_bytes()), max_tokens=2)).status_code == 200


def test_bad_ocr_requests(server, tmp_path):
    pdf = _pdf(tmp_path)
    with client(server) as c:
        e = _error(c.post("/v1/ocr", files={"file": ("doc.pdf", pdf, "application/pdf")}, data={"pages": "5"}), 400)
        assert "page 5 does not exist" in e["message"] and "2 pages" in e["message"]
        e = _error(c.post("/v1/ocr", files={"file": ("doc.pdf", pdf, "application/pdf")}, data={"pages": "3-1"}), 400)
        assert "backwards" in e["message"]
        e = _error(c.post("/v1/ocr", files={"file": ("a.png", png_bytes(), "image/png")}, data={"pages": "1"}), 400)
        assert "not a PDF" in e["message"]
        png = {"file": ("a.png", png_bytes(), "image/png")}
        e = _error(c.post("/v1/ocr", files=png, data={"max_tiles": "abc"}), 400)
        assert e["param"] == "max_tiles"
        e = _error(c.post("/v1/ocr", files={"file": ("a.png", png_bytes(), "image/png")}, data={"colour": "red"}), 400)
        assert "unknown option" in e["message"]
        e = _error(c.post("/v1/ocr", files={"file": ("bad.pdf", b"%PDF-1.4 garbage", "application/pdf")}), 400)
        assert "bad.pdf" in e["message"] and "PDF" in e["message"]
        assert "no file" in _error(c.post("/v1/ocr", files=[("task", (None, "free"))]), 400)["message"]
        assert "Content-Type" in _error(c.post("/v1/ocr", data={"task": "free"}), 415)["message"]
        assert "'data'" in _error(c.post("/v1/ocr", json={"task": "free"}), 400)["message"]
        e = _error(c.post("/v1/ocr", json={"data": "!!", "task": "free"}), 400)
        assert e["message"] == "data: not valid base64"
        two = [("file", ("a.png", png_bytes(), "image/png")), ("file", ("b.png", png_bytes(), "image/png"))]
        assert "one file" in _error(c.post("/v1/ocr", files=two), 400)["message"]
        assert _error(c.get("/v1/nothing"), 404)["type"] == "not_found_error"
        assert _error(c.get("/v1/chat/completions"), 405)
        assert c.get("/health").status_code == 200
