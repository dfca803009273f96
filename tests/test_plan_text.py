"""What a person reads counts tiles from 1, in `dsocr plan` as in the app; the JSON keeps 0-based indices."""

import json

from PIL import Image

from engine.cli.main import main


def test_plan_text_counts_tiles_from_one(tmp_path, capsys):
    img = tmp_path / "page.png"
    Image.new("RGB", (1031, 1171), "white").save(img)
    assert main(["plan", str(img), "--version", "v1", "--mode", "gundam"]) == 0
    lines = [ln.strip() for ln in capsys.readouterr().out.splitlines() if ln.strip().startswith("tile ")]
    assert lines[0].startswith("tile  1 (col 1, row 1) box [0, 0, 516, 586]")
    assert lines[-1].startswith("tile  4 (col 2, row 2)")
    assert not any(ln.startswith("tile  0") or "col 0" in ln for ln in lines)
    assert main(["plan", str(img), "--version", "v1", "--mode", "gundam", "--json"]) == 0
    tiles = json.loads(capsys.readouterr().out)["tiles"]
    assert [(t["index"], t["col"], t["row"]) for t in tiles] == [(0, 0, 0), (1, 1, 0), (2, 0, 1), (3, 1, 1)]
