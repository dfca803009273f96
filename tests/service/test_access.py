"""Who may use the server, over real HTTP: API key, Origin (web pages), Host (DNS rebinding), CORS only when
allowed; `dsocr serve` refuses a non-loopback host without a key in one line."""

import subprocess
import sys

from .conftest import client


def test_api_key_required_everywhere(start_server):
    server = start_server(api_key="sekrit")
    with client(server) as c:
        for path in ("/health", "/v1/models"):
            r = c.get(path)
            assert r.status_code == 401 and r.json()["error"]["type"] == "authentication_error"
            assert c.get(path, headers={"Authorization": "Bearer wrong"}).status_code == 401
            assert c.get(path, headers={"Authorization": "Bearer sekrit"}).status_code == 200
        assert c.post("/v1/ocr", json={}).status_code == 401  # before the body is even read


def test_web_pages_are_refused_unless_allowed(start_server):
    server = start_server()
    with client(server) as c:
        r = c.get("/v1/models", headers={"Origin": "https://evil.example"})
        assert r.status_code == 403 and "--allow-origin" in r.json()["error"]["message"]
        assert "access-control-allow-origin" not in r.headers
        plain = c.get("/v1/models")
        assert plain.status_code == 200 and "access-control-allow-origin" not in plain.headers
        pre = c.options("/v1/chat/completions", headers={"Origin": "https://evil.example",
                                                         "Access-Control-Request-Method": "POST"})
        assert pre.status_code == 403


def test_allowed_origin_gets_cors(start_server):
    server = start_server(allow_origins=("http://localhost:3000",))
    with client(server) as c:
        r = c.get("/v1/models", headers={"Origin": "http://localhost:3000"})
        assert r.status_code == 200 and r.headers["access-control-allow-origin"] == "http://localhost:3000"
        pre = c.options("/v1/chat/completions", headers={"Origin": "http://localhost:3000",
                                                         "Access-Control-Request-Method": "POST"})
        assert pre.status_code == 204 and "POST" in pre.headers["access-control-allow-methods"]
        assert c.get("/v1/models", headers={"Origin": "http://localhost:3001"}).status_code == 403


def test_dns_rebinding_host_is_refused(server):
    with client(server) as c:
        r = c.get("/v1/models", headers={"Host": f"rebind.attacker.example:{server.port}"})
        assert r.status_code == 403 and r.json()["error"]["code"] == "host_not_allowed"
        assert c.get("/v1/models", headers={"Host": f"localhost:{server.port}"}).status_code == 200


def test_serve_refuses_a_public_host_without_a_key():
    r = subprocess.run([sys.executable, "-m", "engine.cli.main", "serve", "--host", "0.0.0.0", "--model", "none"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 2
    assert r.stderr.strip().count("\n") == 0 and "--api-key" in r.stderr


def test_serve_refuses_a_busy_port_before_loading():
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        r = subprocess.run([sys.executable, "-m", "engine.cli.main", "serve", "--port", str(port), "--model", "none"],
                           capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and "cannot listen" in r.stderr and r.stderr.count("\n") == 1


def test_dsocr_serve_end_to_end(tiny_dir):
    """The command itself: it serves on the port it was given, and Ctrl+C stops it (exit 130, as every
    command that Ctrl+C stops)."""
    import signal
    import socket
    import time

    import httpx

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "engine.cli.main", "serve", "--model", str(tiny_dir),
                             "--port", str(port)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                health = httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).json()
                break
            except httpx.TransportError:
                assert proc.poll() is None and time.monotonic() < deadline, proc.stderr.read()
                time.sleep(0.2)
        assert health["model"] == "tiny-v2" and health["status"] == "ok"
    finally:
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    assert "serving" in err and "Finished server process" in err
