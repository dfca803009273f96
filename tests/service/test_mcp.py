"""`dsocr mcp` through the `mcp` SDK's own stdio client: the MCP server runs as a subprocess (`python -m
engine.cli.main mcp`), with the tiny checkpoint loaded in it, or using a DSOCR server started here (found through
the runtime folder's announcement). Every session is bounded in time."""

import asyncio
import base64
import json
import os
import sys

import pytest

import engine

from .conftest import png_bytes
from .test_ocr_endpoint import _pdf

pytest.importorskip("mcp")

SESSION_TIMEOUT_S = 240  # a session: start Python and the engine, load the tiny model, a few short decodes


def mcp_session(tmp_path, args: list[str], calls):
    """Run `calls(session)` against `dsocr mcp ARGS` over stdio; (what it returned, the server's stderr)."""
    from mcp import ClientSession
    from mcp.client.stdio import StdioServerParameters, stdio_client

    params = StdioServerParameters(command=sys.executable, args=["-m", "engine.cli.main", "mcp", *args],
                                   env=dict(os.environ))  # DSOCR_RUNTIME_DIR: the test run's (tests/conftest.py)
    errlog = tmp_path / "mcp-stderr.txt"

    async def go():
        with errlog.open("w") as err:
            async with stdio_client(params, errlog=err) as (read, write), \
                    ClientSession(read, write, read_timeout_seconds=SESSION_TIMEOUT_S) as session:
                await session.initialize()
                return await calls(session)

    result = asyncio.run(asyncio.wait_for(go(), SESSION_TIMEOUT_S))
    return result, errlog.read_text()


def _text(result) -> str:
    return result.content[0].text


def test_tools_plan_and_errors_without_loading_a_model(tiny_dir, tmp_path):
    image = tmp_path / "scan.png"
    image.write_bytes(png_bytes((2480, 3508), text=False))

    async def calls(s):
        tools = {t.name: t for t in (await s.list_tools()).tools}
        by_path = await s.call_tool("plan", {"path": str(image), "max_tiles": 4})
        by_size = await s.call_tool("plan", {"size": [2480, 3508], "max_tiles": 4, "version": "v1"})
        by_data = await s.call_tool("plan", {"data": base64.b64encode(image.read_bytes()).decode(), "name": "s.png"})
        missing = await s.call_tool("ocr", {"path": str(tmp_path / "nope.png")})
        not_image = await s.call_tool("ocr", {"data": base64.b64encode(b"hello, not an image").decode()})
        bad_base64 = await s.call_tool("ocr", {"data": "***"})
        both = await s.call_tool("ocr", {})
        pages_of_png = await s.call_tool("plan", {"path": str(image), "pages": "2"})
        return tools, by_path, by_size, by_data, missing, not_image, bad_base64, both, pages_of_png

    (tools, by_path, by_size, by_data, missing, not_image, bad_base64, both, pages_of_png), err = \
        mcp_session(tmp_path, ["--model", str(tiny_dir)], calls)
    assert set(tools) == {"ocr", "plan"}
    assert {"path", "data", "name", "task", "pages", "max_tokens"} <= set(tools["ocr"].input_schema["properties"])

    want = engine.plan((2480, 3508), version="v2", max_tiles=4).to_dict()
    (page,) = by_path.structured_content["pages"]
    assert not by_path.is_error and {k: v for k, v in page.items() if k not in ("input", "page")} == want
    assert page["input"] == "scan.png" and f"{want['image_tokens']} image tokens" in _text(by_path)
    assert by_size.structured_content["pages"][0] == engine.plan((2480, 3508), version="v1", max_tiles=4).to_dict()
    assert by_data.structured_content["pages"][0]["input"] == "s.png"
    assert by_data.structured_content["pages"][0]["image_tokens"] == engine.plan((2480, 3508), "v2").image_tokens

    assert missing.is_error and "nope.png: no such file" in _text(missing)
    assert not_image.is_error and "upload: not a recognised image format" in _text(not_image), _text(not_image)
    assert bad_base64.is_error and "not valid base64" in _text(bad_base64)
    assert both.is_error and "`path`" in _text(both)
    assert pages_of_png.is_error and "not a PDF" in _text(pages_of_png)
    assert "loading" not in err, err  # neither plans nor refused inputs loaded the model


def test_ocr_image_and_pdf_pages_in_process(tiny_dir, model, tmp_path):
    image = tmp_path / "page.png"
    image.write_bytes(png_bytes((640, 480)))
    pdf = _pdf(tmp_path, pages=3)

    async def calls(s):
        one = await s.call_tool("ocr", {"path": str(image), "task": "free", "max_tokens": 12})
        located = await s.call_tool("ocr", {"data": base64.b64encode(image.read_bytes()).decode(), "name": "p.png",
                                            "task": "locate: Total", "max_tokens": 12})
        pages = await s.call_tool("ocr", {"path": str(pdf), "pages": "2-3", "task": "free", "max_tokens": 8})
        beyond = await s.call_tool("ocr", {"path": str(pdf), "pages": "7", "task": "free"})
        after = await s.call_tool("plan", {"size": [100, 100]})  # the server still serves after the errors
        return one, located, pages, beyond, after

    (one, located, pages, beyond, after), err = mcp_session(tmp_path, ["--model", str(tiny_dir), "--no-resident"],
                                                            calls)
    want = engine.ocr(model, str(image), engine.RunOptions.of(task="free", max_tokens=12))
    assert not one.is_error, _text(one)
    assert _text(one) == want.text
    assert one.structured_content["backend"] == "in-process" and one.structured_content["model"] == "tiny-v2"
    (page,) = one.structured_content["pages"]
    assert page["text"] == want.text and page["generated_tokens"] == want.generated_tokens
    assert page["image_size"] == [640, 480]

    want_located = engine.ocr(model, str(image), engine.RunOptions.of(task="locate", locate="Total", max_tokens=12))
    assert located.structured_content["pages"][0]["text"] == want_located.text
    assert located.structured_content["pages"][0]["input"] == "p.png"
    assert len(located.structured_content["pages"][0]["regions"]) == len(want_located.regions)

    got = pages.structured_content["pages"]
    assert [(p["input"], p["page"]) for p in got] == [("doc.pdf", 2), ("doc.pdf", 3)]
    for p, (_, rendered) in zip(got, engine.render_pdf_pages(pdf, [1, 2])):
        assert p["text"] == engine.ocr(model, rendered, engine.RunOptions.of(task="free", max_tokens=8)).text
    assert _text(pages).startswith("==> doc.pdf page 2 <==\n") and "\n==> doc.pdf page 3 <==\n" in _text(pages)

    assert beyond.is_error and "7" in _text(beyond) and "3 pages" in _text(beyond), _text(beyond)
    assert not after.is_error
    assert err.count("loading") == 1 and "--no-resident: the model is loaded here" in err, err


def test_uses_a_running_server_instead_of_loading_the_model(start_server, tiny_dir, model, tmp_path):
    server = start_server(max_batch=2)
    (entry,) = [json.loads(p.read_text()) for p in engine_runtime_files()]
    assert entry["url"] == server.url and entry["pid"] == os.getpid() and entry["model"] == "tiny-v2"
    image = tmp_path / "page.png"
    image.write_bytes(png_bytes((640, 480)))

    async def calls(s):
        return await s.call_tool("ocr", {"path": str(image), "task": "free", "max_tokens": 12})

    result, err = mcp_session(tmp_path, ["--model", str(tiny_dir)], calls)
    assert not result.is_error, _text(result)
    assert result.structured_content["backend"] == "server" and result.structured_content["server"] == server.url
    assert _text(result) == engine.ocr(model, str(image), engine.RunOptions.of(task="free", max_tokens=12)).text
    assert "loading" not in err and f"using the DSOCR server at {server.url}" in err, err

    server.stop()
    assert engine_runtime_files() == []  # the announcement goes with the server

    async def calls_down(s):
        return (await s.call_tool("ocr", {"path": str(image)}), await s.call_tool("plan", {"path": str(image)}))

    (down, plan), err = mcp_session(tmp_path, ["--server", server.url], calls_down)
    assert down.is_error and f"the DSOCR server at {server.url} does not answer" in _text(down)
    assert not plan.is_error and plan.structured_content["pages"][0]["image_size"] == [640, 480]
    assert "loading" not in err, err


def engine_runtime_files():
    from engine.service.discovery import runtime_dir

    return sorted(runtime_dir().glob("server-*.json"))


def test_announcements_are_private_and_those_of_gone_processes_are_removed(tmp_path, monkeypatch):
    import subprocess

    from engine.service import discovery

    folder = tmp_path / "run"
    monkeypatch.setenv("DSOCR_RUNTIME_DIR", str(folder))
    path = discovery.announce("http://127.0.0.1:1", 1, "m", "v2", api_key="secret")
    assert folder.stat().st_mode & 0o777 == 0o700 and path.stat().st_mode & 0o777 == 0o600
    assert [(e["url"], e["api_key"]) for e in discovery.servers()] == [("http://127.0.0.1:1", "secret")]

    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    stale = folder / f"server-{gone.pid}-2.json"
    stale.write_text(json.dumps({"url": "http://127.0.0.1:2", "pid": gone.pid, "model": "m"}))
    assert [e["url"] for e in discovery.servers()] == ["http://127.0.0.1:1"] and not stale.exists()

    folder.chmod(0o777)  # others may write here: nothing is read from it or written to it
    assert discovery.servers() == [] and discovery.announce("http://127.0.0.1:3", 3, "m") is None
    folder.chmod(0o700)
    discovery.withdraw(path)
    assert discovery.servers() == []
    assert discovery.client_url("0.0.0.0", 5) == "http://127.0.0.1:5" and discovery.client_url("::", 5) == \
        "http://[::1]:5"


def test_dsocr_serve_announces_itself_until_stopped(tiny_dir, tmp_path):
    import signal
    import subprocess
    import time

    import httpx

    proc = subprocess.Popen([sys.executable, "-m", "engine.cli.main", "serve", "--model", str(tiny_dir), "--port",
                             "0"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while not engine_runtime_files() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
        (path,) = engine_runtime_files()
        entry = json.loads(path.read_text())
        assert entry["pid"] == proc.pid and entry["model"] == "tiny-v2" and "api_key" not in entry
        assert path.stat().st_mode & 0o777 == 0o600
        assert httpx.get(f"{entry['url']}/health", timeout=10).json()["model"] == "tiny-v2"
    finally:
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
    assert engine_runtime_files() == [], err
