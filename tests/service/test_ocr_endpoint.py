"""`POST /v1/ocr` and `POST /v1/plan` against the command line's own JSON (`dsocr ocr --format json`,
`dsocr plan --json`), over real HTTP."""

import base64
import json

from engine.cli.main import main as dsocr

from .conftest import client, png_bytes

VARYING = ("timings", "peak_memory_mb", "input")  # per run, or named differently (an upload has no path)


def _same(a: dict, b: dict):
    strip = lambda d: {k: v for k, v in d.items() if k not in VARYING}  # noqa: E731
    assert strip(a) == strip(b)


def _cli_json(capsys, *args) -> list[dict]:
    capsys.readouterr()
    assert dsocr(["ocr", *args, "--format", "json"]) == 0
    return [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.strip()]


def _pdf(tmp_path, pages=3):
    from PIL import Image, ImageDraw

    images = []
    for k in range(pages):
        img = Image.new("RGB", (200, 280), "white")  # 400x560 px at 144 dpi: not tiled (quick)
        ImageDraw.Draw(img).text((20, 20), f"page {k + 1}", fill="black")
        images.append(img)
    path = tmp_path / "doc.pdf"
    images[0].save(path, save_all=True, append_images=images[1:])
    return path


def test_upload_gives_the_cli_json(server, tiny_dir, tmp_path, capsys):
    image = tmp_path / "page.png"
    image.write_bytes(png_bytes((1400, 900)))
    with client(server) as c:
        r = c.post("/v1/ocr", files={"file": ("page.png", image.read_bytes(), "image/png")},
                   data={"task": "ocr", "max_tokens": "16", "max_tiles": "4", "tables": "pipe"})
    assert r.status_code == 200, r.text
    (page,) = r.json()["pages"]
    assert page["input"] == "page.png" and page["page"] is None
    (cli,) = _cli_json(capsys, str(image), "--model", str(tiny_dir), "--task", "ocr", "--max-tokens", "16",
                       "--max-tiles", "4", "--tables", "pipe")
    _same(page, cli)
    assert page["plan"]["grid"] and page["tokens"]["per_tile"] and page["attempts"]


def test_json_base64_pdf_pages(server, tiny_dir, tmp_path, capsys):
    pdf = _pdf(tmp_path)
    body = {"data": base64.b64encode(pdf.read_bytes()).decode(), "name": "doc.pdf", "pages": "2-3",
            "task": "free", "max_tokens": 8}
    with client(server) as c:
        r = c.post("/v1/ocr", json=body)
    assert r.status_code == 200, r.text
    pages = r.json()["pages"]
    assert [(p["input"], p["page"]) for p in pages] == [("doc.pdf", 2), ("doc.pdf", 3)]
    cli = _cli_json(capsys, str(pdf), "--pages", "2-3", "--model", str(tiny_dir), "--task", "free",
                    "--max-tokens", "8", "--batch", "2")
    for got, want in zip(pages, cli):
        _same(got, want)


def test_markdown_and_searchable_pdf_formats(server, tmp_path):
    pdf = _pdf(tmp_path, pages=2)
    with client(server) as c:
        md = c.post("/v1/ocr", files={"file": ("doc.pdf", pdf.read_bytes(), "application/pdf")},
                    data={"format": "md", "max_tokens": "4", "task": "free"})
        out = c.post("/v1/ocr", files={"file": ("doc.pdf", pdf.read_bytes(), "application/pdf")},
                     data={"format": "pdf", "max_tokens": "4", "task": "free"})
    assert md.status_code == 200 and md.text.startswith("==> doc.pdf page 1 <==\n")
    assert "\n==> doc.pdf page 2 <==\n" in md.text
    assert out.status_code == 200 and out.headers["content-type"] == "application/pdf"
    import io

    import pypdf

    assert len(pypdf.PdfReader(io.BytesIO(out.content)).pages) == 2


def test_file_path_input(start_server, tmp_path):
    (tmp_path / "p.png").write_bytes(png_bytes())
    server = start_server(allow_files=(tmp_path,))
    with client(server) as c:
        r = c.post("/v1/ocr", json={"path": f"file://{tmp_path / 'p.png'}", "max_tokens": 3})
        assert r.status_code == 200 and r.json()["pages"][0]["input"] == "p.png"
        assert c.post("/v1/ocr", json={"path": "/etc/passwd"}).status_code == 403


def test_plan_matches_dsocr_plan(server, tmp_path, capsys):
    image = tmp_path / "scan.png"
    image.write_bytes(png_bytes((2480, 3508), text=False))
    capsys.readouterr()
    assert dsocr(["plan", str(image), "--json", "--max-tiles", "4"]) == 0
    want = json.loads(capsys.readouterr().out)
    with client(server) as c:
        by_size = c.post("/v1/plan", json={"size": [2480, 3508], "max_tiles": 4}).json()["pages"][0]
        by_upload = c.post("/v1/plan", files={"file": ("scan.png", image.read_bytes(), "image/png")},
                           data={"max_tiles": "4"}).json()["pages"][0]
        v1 = c.post("/v1/plan", json={"size": [2480, 3508], "version": "v1"}).json()["pages"][0]
        bad = c.post("/v1/plan", json={"size": [0, 5]})
    assert by_size == want
    assert {k: v for k, v in by_upload.items() if k not in ("input", "page")} == want
    assert v1["version"] == "v1" and bad.status_code == 400
