"""Packaging: `--self-test` of the app, and the PyInstaller folder build (build.spec) built, measured and run.

The frozen build is slow (about a minute to build) and marked `slow`; CI runs it. It is built once per
session by packaging/build.sh, which itself runs the frozen self-test and `dsocr --version`.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

import engine
from dsocr_app import self_test

ROOT = Path(__file__).resolve().parents[1]
MAX_MB = 350  # the folder build's budget (docs/packaging.md)


def _env(**extra):
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", **extra}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)
    return env


def _check_lines(stdout: str) -> list[str]:
    return [line for line in stdout.splitlines() if line.startswith(("ok ", "FAIL "))]


# ---- the self-test, not frozen ------------------------------------------------------------------------------

def test_self_test_passes_from_source(tmp_path):
    r = subprocess.run([sys.executable, "-m", "dsocr_app", "--self-test"], cwd=tmp_path, env=_env(),
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    lines = _check_lines(r.stdout)
    assert [line.split(":")[0].split()[-1] for line in lines] == [name for name, _ in self_test.CHECKS]
    assert all(line.startswith("ok ") for line in lines)
    n = len(self_test.CHECKS)
    assert "(not frozen" in r.stdout and f"self-test passed: {n}/{n} checks" in r.stdout


def test_self_test_reports_every_failure_and_exits_nonzero(monkeypatch, capsys):
    def good(state):
        state["x"] = 1
        return "fine"

    def bad(state):
        raise RuntimeError("broken on purpose")

    monkeypatch.setattr(self_test, "CHECKS", [("first", bad), ("second", good), ("third", bad)])
    assert self_test.run() == 1
    out = capsys.readouterr().out
    assert _check_lines(out) == ["FAIL first: RuntimeError: broken on purpose", _check_lines(out)[1],
                                 "FAIL third: RuntimeError: broken on purpose"]
    assert _check_lines(out)[1].startswith("ok   second: fine [")
    assert "self-test failed: 1/3 checks" in out


# ---- the frozen folder build ----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def frozen(tmp_path_factory):
    """Build with packaging/build.sh into a temporary folder; (folder with DSOCR and dsocr, build.sh output)."""
    pytest.importorskip("PyInstaller", reason="PyInstaller is in the test extra: pip install -e '.[test]'")
    if sys.platform == "win32":
        pytest.skip("the folder build is made on Linux and macOS")
    tmp = tmp_path_factory.mktemp("frozen")
    r = subprocess.run(["bash", str(ROOT / "packaging" / "build.sh")], cwd=ROOT, capture_output=True, text=True,
                       timeout=900, env=_env(PYTHON=sys.executable, DSOCR_DIST=str(tmp / "dist"),
                                             DSOCR_WORK=str(tmp / "build")))
    assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-4000:]
    app = tmp / "dist" / ("DSOCR.app" if sys.platform == "darwin" else "DSOCR")
    binaries = app / "Contents" / "MacOS" if sys.platform == "darwin" else app
    return app, binaries, r.stdout


@pytest.mark.slow
def test_frozen_self_test_passes(frozen):
    _, _, out = frozen
    lines = _check_lines(out)
    assert [line.split(":")[0].split()[-1] for line in lines] == [name for name, _ in self_test.CHECKS]
    assert all(line.startswith("ok ") for line in lines), out
    assert "(frozen" in out and "self-test passed" in out
    if sys.platform == "darwin":
        assert "on Device(gpu" in out  # MLX found its metallib in the bundle
    assert "dsocr 0.1.0 (mlx" in out  # the frozen command line's --version


@pytest.mark.slow
def test_frozen_cli_plans_and_reads_like_the_engine(frozen, tmp_path):
    _, binaries, _ = frozen
    dsocr = str(binaries / "dsocr")
    page = tmp_path / "page.png"
    Image.new("RGB", (1240, 1754), "white").save(page)
    r = subprocess.run([dsocr, "plan", str(page), "--version", "v1", "--json"], capture_output=True, text=True,
                       timeout=120, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout) == json.loads(json.dumps(engine.plan((1240, 1754), "v1").to_dict()))

    model_dir = engine.write_tiny_checkpoint(tmp_path / "tiny", "v1", seed=2)
    small = tmp_path / "small.png"
    from dsocr_app.sample import document_page

    document_page(640, 480).save(small)
    pdf = tmp_path / "two.pdf"
    pages = [Image.new("RGB", (400, 500), (255, 255, 250 - i)) for i in range(2)]
    pages[0].save(pdf, save_all=True, append_images=pages[1:])
    args = ["--model", str(model_dir), "--mode", "small", "--max-tokens", "5", "--ngram", "0"]
    r = subprocess.run([dsocr, "ocr", str(small), *args], capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    want = engine.ocr(engine.load(model_dir), small, engine.RunOptions.of(mode="small", max_tokens=5, ngram_size=0))
    assert r.stdout == want.raw_text + "\n"  # same numbers frozen and from source

    out = tmp_path / "out"
    r = subprocess.run([dsocr, "ocr", str(pdf), "--pages", "2", "--dpi", "72", "--out", str(out), "--format", "json",
                        *args], capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    data = json.loads((out / "two-p002.json").read_text())
    assert data["plan"]["image_size"] == [400, 500] and data["tokens"]["generated"] == 5


@pytest.mark.slow
def test_frozen_cli_serves_http(frozen, tmp_path):
    """The frozen build serves (`dsocr serve`; the app's Local API is the same server): FastAPI with pydantic,
    uvicorn and multipart uploads are in it. A free loopback port, a few requests, then the server is stopped."""
    import socket
    import time

    from engine.outputs.export import render

    httpx = pytest.importorskip("httpx")
    _, binaries, _ = frozen
    model_dir = engine.write_tiny_checkpoint(tmp_path / "tiny", "v1", seed=2)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    runtime = tmp_path / "runtime"
    runtime.mkdir(mode=0o700)
    server = subprocess.Popen([str(binaries / "dsocr"), "serve", "--model", str(model_dir), "--port", str(port)],
                              cwd=tmp_path, env=_env(DSOCR_RUNTIME_DIR=str(runtime)), stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while True:
            try:
                health = httpx.get(url + "/health", timeout=5)
                break
            except httpx.TransportError:
                assert server.poll() is None, server.communicate(timeout=10)[1][-3000:]
                assert time.monotonic() < deadline, "the frozen server did not listen in time"
                time.sleep(0.5)
        assert health.status_code == 200 and health.json()["model"] == "tiny"
        page = tmp_path / "page.png"
        Image.new("RGB", (400, 300), "white").save(page)
        r = httpx.post(url + "/v1/ocr", files={"file": ("page.png", page.read_bytes(), "image/png")},
                       data={"mode": "small", "max_tokens": "4", "ngram_size": "0", "format": "txt"}, timeout=120)
        assert r.status_code == 200, r.text
        want = engine.ocr(engine.load(model_dir), page, engine.RunOptions.of(mode="small", max_tokens=4,
                                                                           ngram_size=0))
        assert r.text == render(want, "txt")  # what `dsocr ocr --format txt` prints
        bad = httpx.post(url + "/v1/chat/completions", content=b"{not json", timeout=30,
                         headers={"Content-Type": "application/json"})
        assert bad.status_code == 400 and "error" in bad.json()
    finally:
        server.terminate()
        server.wait(30)


@pytest.mark.slow
def test_frozen_folder_is_small_and_holds_no_weights_or_test_extras(frozen):
    app, _, _ = frozen
    files = [p for p in app.rglob("*") if p.is_file() and not p.is_symlink()]
    size_mb = sum(p.stat().st_size for p in files) / 1e6
    print(f"frozen build: {size_mb:.0f} MB in {len(files)} files")
    assert size_mb < MAX_MB
    rel = [p.relative_to(app).as_posix() for p in files]
    assert not [r for r in rel if r.endswith((".safetensors", ".bin", ".pt", ".gguf", ".npz"))]
    for unwanted in ("torch/", "transformers/", "_pytest/", "pytestqt/", "mlx/include/", "mlx/share/",
                     "PySide6/Qt/translations/", "libQt6Qml", "libQt6Quick", "libQt6WebEngine", "libQt6Pdf",
                     "libQt6Sql", "libQt6Multimedia", "libopenblas"):
        assert not [r for r in rel if unwanted in r], unwanted
    if sys.platform == "darwin":
        assert [r for r in rel if r.endswith("mlx.metallib")]
