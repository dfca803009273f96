"""The capture history end to end on a real X server: captures answered by a resident DSOCR are listed by
`dsocr-app --history` (newest first, their text, tokens and image), searched, and read while it runs."""

import json
import stat

import numpy as np
from PIL import Image

from .test_capture_x11 import known_image  # noqa: F401 - the fixture


def test_captures_are_kept_listed_and_searched(xserver, known_image, tiny_v2):  # noqa: F811
    xserver.show_image(known_image)
    xserver.start_resident("--model", str(tiny_v2), "--max-tokens", "12")
    regions = [(10, 20, 200, 100), (50, 60, 160, 120), (300, 200, 120, 80)]
    printed = []
    for x, y, w, h in regions:
        run = xserver.dsocr_app("--capture", "--region", f"{x},{y},{w},{h}", "--print")
        assert run.returncode == 0, run.stderr
        printed.append(run.stdout.rstrip("\n"))
    listed = xserver.dsocr_app("--history", "--json", timeout=60)
    assert listed.returncode == 0, listed.stderr
    entries = json.loads(listed.stdout)
    assert [e["text"] for e in entries] == printed[::-1]  # newest first
    assert [e["time"] for e in entries] == sorted((e["time"] for e in entries), reverse=True)
    known = np.asarray(Image.open(known_image).convert("RGB"))
    for entry, (x, y, w, h) in zip(entries, regions[::-1]):
        assert entry["tokens"] > 0 and entry["task"] == "free" and entry["model"] == str(tiny_v2)
        assert entry["image_exists"] and stat.S_IMODE(__import__("os").stat(entry["image"]).st_mode) == 0o600
        assert np.array_equal(np.asarray(Image.open(entry["image"])), known[y:y + h, x:x + w])
        assert entry["plan"]["image_size"] == [w, h]
    limited = json.loads(xserver.dsocr_app("--history", "--json", "--limit", "1", timeout=60).stdout)
    assert [e["text"] for e in limited] == [printed[-1]]
    word = max(printed[0].split(), key=len)  # a word the first capture's text holds
    found = json.loads(xserver.dsocr_app("--history", "--json", "--search", word, timeout=60).stdout)
    assert printed[0] in [e["text"] for e in found] and all(word.lower() in e["text"].lower() for e in found)
    text = xserver.dsocr_app("--history", "--limit", "2", timeout=60)
    assert text.returncode == 0 and text.stdout.count(" tokens  free  ") == 2
    assert xserver.status()["queue"] == [[f"Capture {k}", "done"] for k in (1, 2, 3)]  # the queue keeps them
