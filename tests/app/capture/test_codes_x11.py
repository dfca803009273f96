"""QR codes and the clipboard modes end to end on a real X server: a QR code (made with the qrcode library)
shown on the screen and captured with `dsocr-app --capture --region ... --print`, answered by a resident DSOCR;
the clipboard read back with xclip in each mode (lines kept or joined, plain text or markdown, appended)."""

import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from dsocr_app import engine_bridge as eb
from dsocr_app.capture.clip_text import join_lines

URL = "https://example.com/dsocr-menu"
FIXED = Path(__file__).parent / "fixed_text"  # sitecustomize: every run's text is DSOCR_TEST_TEXT
TEXT = "# Menu\n\nThe exam-\nple dish\nis good.\n\n- soup\n- bread"


@pytest.fixture
def qr_screen(tmp_path):
    """A 640x480 picture: random pixels on the left, a QR code of `URL` on white at (360, 60); its box."""
    qrcode = pytest.importorskip("qrcode")
    shot = Image.new("RGB", (640, 480), "white")
    shot.paste(Image.fromarray((np.random.default_rng(3).random((480, 300, 3)) * 255).astype(np.uint8)), (0, 0))
    code = qrcode.make(URL, box_size=6, border=2).get_image().convert("RGB")
    shot.paste(code, (360, 60))
    path = tmp_path / "qr.png"
    shot.save(path)
    return path, (360, 60, code.width, code.height)


def test_a_qr_code_on_the_screen_is_printed_and_copied(xserver, qr_screen, tiny_v2):
    path, (x, y, w, h) = qr_screen
    xserver.show_image(path)
    xserver.start_resident("--model", str(tiny_v2), "--max-tokens", "8")
    run = xserver.dsocr_app("--capture", "--region", f"{x - 12},{y - 12},{w + 24},{h + 24}", "--print")
    assert run.returncode == 0, run.stderr
    assert run.stdout == f"QR Code: {URL}\n"  # mostly a code: its content, no OCR text
    assert xserver.clipboard() == URL
    assert xserver.status()["queue"] == []  # no OCR run
    run = xserver.dsocr_app("--capture", "--region", "0,0,640,480", "--print")  # text and a code
    assert run.returncode == 0, run.stderr
    *text, last = run.stdout.rstrip("\n").split("\n")
    assert last == f"QR Code: {URL}" and xserver.clipboard() == "\n".join(text)  # the OCR text on the clipboard
    assert xserver.status()["queue"] == [["Capture 1", "done"]]


def _settings(xserver, **capture):
    folder = Path(xserver.env["XDG_CONFIG_HOME"]) / "DSOCR"
    folder.mkdir(parents=True, exist_ok=True)
    lines = ["[capture]", *(f"{k}={v}" for k, v in capture.items())]
    (folder / "dsocr-app.ini").write_text("\n".join(lines) + "\n")


def _resident_with_fixed_text(xserver, known, tiny_v2):
    xserver.show_image(known)
    xserver.env.update({"DSOCR_TEST_TEXT": TEXT,
                        "PYTHONPATH": f"{FIXED}:{xserver.env['PYTHONPATH']}"})
    xserver.start_resident("--model", str(tiny_v2), "--max-tokens", "4")
    del xserver.env["DSOCR_TEST_TEXT"]


def _capture(xserver) -> str:
    run = xserver.dsocr_app("--capture", "--region", "10,10,120,90", "--print")
    assert run.returncode == 0, run.stderr
    return run.stdout


def _markdown_flavour(xserver) -> str:
    return subprocess.run(["xclip", "-o", "-selection", "clipboard", "-t", "text/markdown"], env=xserver.env,
                          capture_output=True, text=True, timeout=10).stdout


@pytest.fixture
def known(tmp_path):
    path = tmp_path / "known.png"
    Image.fromarray((np.random.default_rng(0).random((240, 320, 3)) * 255).astype(np.uint8)).save(path)
    return path


def test_clipboard_joins_lines_into_plain_paragraphs(xserver, known, tiny_v2):
    _settings(xserver, task="markdown", line_breaks="join", clipboard_form="plain")
    _resident_with_fixed_text(xserver, known, tiny_v2)
    assert _capture(xserver) == TEXT + "\n"  # --print gives the model's text as it is
    joined = join_lines(TEXT)
    assert joined == "# Menu\n\nThe example dish is good.\n\n- soup\n- bread"
    assert xserver.clipboard() == eb.text_form("plain", joined) != joined
    assert "The example dish is good." in xserver.clipboard()
    assert _markdown_flavour(xserver) == joined


def test_clipboard_keeps_lines_and_gives_markdown(xserver, known, tiny_v2):
    _settings(xserver, task="markdown", line_breaks="keep", clipboard_form="markdown")
    _resident_with_fixed_text(xserver, known, tiny_v2)
    _capture(xserver)
    assert xserver.clipboard() == TEXT and _markdown_flavour(xserver) == TEXT


def test_clipboard_appends_after_a_blank_line(xserver, known, tiny_v2):
    _settings(xserver, task="free", append="true")
    _resident_with_fixed_text(xserver, known, tiny_v2)
    subprocess.run(["xclip", "-i", "-selection", "clipboard"], input="held before", env=xserver.env, text=True,
                   timeout=10, check=True)
    assert xserver.clipboard() == "held before"
    _capture(xserver)
    assert xserver.clipboard() == "held before\n\n" + TEXT
    _capture(xserver)
    assert xserver.clipboard() == "held before\n\n" + TEXT + "\n\n" + TEXT
