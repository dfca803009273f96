"""End to end on a real X server: a known image on the screen, a resident DSOCR with a tiny model, and
`dsocr-app --capture --region ... --print --save-capture` answered by it."""

import numpy as np
import pytest
from PIL import Image



@pytest.fixture
def known_image(tmp_path):
    """A 640x480 image of random pixels (every pixel tells where it came from)."""
    path = tmp_path / "known.png"
    Image.fromarray((np.random.default_rng(0).random((480, 640, 3)) * 255).astype(np.uint8)).save(path)
    return path


def test_capture_is_answered_by_the_resident_instance(xserver, known_image, tiny_v2, tmp_path):
    xserver.show_image(known_image)
    xserver.start_resident("--model", str(tiny_v2), "--max-tokens", "12")
    out = tmp_path / "cap.png"
    # no --model: the default hub model cannot load offline, so only the resident instance can answer
    run = xserver.dsocr_app("--capture", "--region", "30,40,200,120", "--print", "--save-capture", str(out))
    assert run.returncode == 0, run.stderr
    saved = np.asarray(Image.open(out).convert("RGB"))
    assert saved.shape == (120, 200, 3)
    assert np.array_equal(saved, np.asarray(Image.open(known_image))[40:160, 30:230])
    text = run.stdout.rstrip("\n")
    assert text.strip(), "the tiny model wrote no text"
    assert xserver.clipboard() == text  # owned by the resident instance, which is still running
    names = xserver.status()["queue"]
    assert names == [["Capture 1", "done"]]


def test_hidpi_capture_takes_the_physical_pixels(xserver, known_image, tiny_v2, tmp_path):
    xserver.show_image(known_image)  # at scale 1: the screen holds the image's own pixels
    xserver.env["QT_SCALE_FACTOR"] = "2"  # DSOCR then sees 800x600 physical as 400x300 logical pixels
    xserver.start_resident("--model", str(tiny_v2), "--max-tokens", "4")
    out = tmp_path / "cap.png"
    run = xserver.dsocr_app("--capture", "--region", "15,20,100,60", "--save-capture", str(out))
    assert run.returncode == 0, run.stderr
    saved = np.asarray(Image.open(out).convert("RGB"))
    assert np.array_equal(saved, np.asarray(Image.open(known_image))[40:160, 30:230])


def test_one_shot_capture_prints_and_warns_about_the_clipboard(xserver, known_image, tiny_v2, tmp_path):
    xserver.show_image(known_image)
    run = xserver.dsocr_app("--capture", "--region", "0,0,64,64", "--print", "--model", str(tiny_v2),
                    "--max-tokens", "4")
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip()
    assert "clipboard" in run.stderr and "--tray" in run.stderr
    assert xserver.status() is None  # nothing stays running


def test_region_off_screen_is_a_clear_error(xserver, tiny_v2):
    xserver.start_resident("--model", str(tiny_v2))
    run = xserver.dsocr_app("--capture", "--region", "5000,5000,10,10")
    assert run.returncode == 1
    assert "on no screen" in run.stderr and "Traceback" not in run.stderr


def test_open_is_handed_to_the_resident_instance(xserver, known_image):
    xserver.start_resident()
    run = xserver.dsocr_app("--open", str(known_image))
    assert run.returncode == 0, run.stderr
    assert xserver.status()["queue"] == [["known.png", "planned"]]


def test_a_second_tray_start_is_handed_over(xserver):
    xserver.start_resident()
    run = xserver.dsocr_app("--tray", timeout=60)
    assert run.returncode == 0 and run.stderr == ""  # answered by the first, which stays the only one
    assert xserver.status()["ok"]


def test_a_running_instance_never_swallows_a_command(xserver, known_image, tiny_v1):
    xserver.start_resident()
    for args, says in ((["--mode", "huge"], "unknown mode 'huge'"), (["--max-tokens", "0"], "--max-tokens 0"),
                       (["--run"], "--run goes with --screenshot")):
        run = xserver.dsocr_app(*args, timeout=60)
        assert run.returncode == 2 and run.stdout == "", (args, run.stderr)
        assert run.stderr.startswith("dsocr-app: error: ") and says in run.stderr and run.stderr.count("\n") == 1
    run = xserver.dsocr_app("--version", "v1", "--mode", "gundam-m", "--max-tokens", "9", "--model", str(tiny_v1),
                            str(known_image), timeout=120)
    assert run.returncode == 0 and run.stderr == "", run.stderr
    status = xserver.status()
    assert status["plan"]["version"] == "v1" and status["plan"]["mode"] == "gundam-m"
    assert status["plan"]["max_tokens"] == 9 and status["model"] == str(tiny_v1)
    assert status["queue"] == [["known.png", "planned"]]
    run = xserver.dsocr_app("--version", "v2", timeout=60)  # the loaded model is a v1: refused, said here
    assert run.returncode == 2 and "v1 model" in run.stderr and xserver.status()["plan"]["version"] == "v1"
