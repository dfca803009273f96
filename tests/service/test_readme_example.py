"""The README's "Use DSOCR from other tools" example runs as printed against a server on a tiny checkpoint
(only its address changes), and its curl lines use endpoints and fields that exist."""

import re
import subprocess
import sys
from pathlib import Path

from .conftest import client, png_bytes

README = Path(__file__).resolve().parents[2] / "README.md"


def _section() -> str:
    text = README.read_text()
    return text.split("## Use DSOCR from other tools", 1)[1].split("\n## ", 1)[0]


def test_openai_example_runs_as_printed(server, tmp_path):
    (code,) = re.findall(r"^```py\n(.*?)^```", _section(), flags=re.S | re.M)
    assert "http://127.0.0.1:8765/v1" in code
    (tmp_path / "page.png").write_bytes(png_bytes())
    code = code.replace("http://127.0.0.1:8765/v1", f"{server.url}/v1").replace("max_tokens=2000", "max_tokens=20")
    r = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    prompt_tokens, completion_tokens = r.stdout.strip().splitlines()[-1].split()
    assert int(prompt_tokens) > 256 and 0 < int(completion_tokens) <= 20


def test_curl_lines_name_real_endpoints(server, tmp_path):
    lines = [ln for ln in _section().splitlines() if ln.startswith("curl ")]
    assert len(lines) == 3
    with client(server) as c:
        r = c.post("/v1/plan", json={"size": [2480, 3508]})
        assert r.status_code == 200 and r.json()["pages"][0]["grid"] == [2, 3]
        r = c.post("/v1/ocr", files={"file": ("scan.png", png_bytes(), "image/png")},
                   data={"format": "pdf", "max_tokens": "3"})
        assert r.status_code == 200 and r.content.startswith(b"%PDF")
