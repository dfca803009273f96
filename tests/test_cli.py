"""The `dsocr` command line end to end on a tiny checkpoint."""

import json

import numpy as np
import pytest
from PIL import Image

import engine
from engine.cli.main import main


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    return engine.write_tiny_checkpoint(tmp_path_factory.mktemp("cli") / "v1", "v1", seed=2)


@pytest.fixture
def files(tmp_path):
    Image.new("RGB", (1240, 1754), "white").save(tmp_path / "scan.png")
    pages = [Image.new("RGB", (400, 500), (255, 255, 250 - i)) for i in range(3)]
    pages[0].save(tmp_path / "report.pdf", save_all=True, append_images=pages[1:])
    (tmp_path / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0garbage")
    return tmp_path


def test_plan_json_matches_engine_plan(files, capsys):
    assert main(["plan", str(files / "scan.png"), "--version", "v1", "--json"]) == 0
    got = json.loads(capsys.readouterr().out)
    want = engine.plan((1240, 1754), "v1")
    assert got["grid"] == [2, 3] and got["image_tokens"] == want.image_tokens == 903
    assert [t["box"] for t in got["tiles"]][0] == [0, 0, 620, 584.667]
    assert main(["plan", str(files / "scan.png"), "--version", "v2"]) == 0
    assert "image tokens 1121" in capsys.readouterr().out


def test_plan_of_a_broken_file_is_one_line(files, capsys):
    assert main(["plan", str(files / "broken.jpg")]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "broken.jpg" in err[0] and "Traceback" not in err[0]


def test_ocr_single_input_streams_to_stdout(files, model_dir, capsys):
    assert main(["ocr", str(files / "scan.png"), "--model", str(model_dir), "--max-tokens", "5", "--ngram", "0"]) == 0
    out = capsys.readouterr().out
    result = engine.ocr(engine.load(model_dir), files / "scan.png", engine.RunOptions.of(max_tokens=5, ngram_size=0))
    assert out == result.text + "\n"  # not a terminal: the finished markdown, as `--out` would write it


def test_ocr_batch_writes_outputs_and_reports_bad_inputs(files, model_dir, capsys):
    out = files / "out"
    rc = main(["ocr", str(files / "scan.png"), str(files / "report.pdf"), str(files / "broken.jpg"),
               str(files / "missing.png"), "--pages", "1,3", "--model", str(model_dir), "--max-tokens", "4",
               "--out", str(out), "--format", "json", "--batch", "2"])
    err = capsys.readouterr().err
    assert rc == 1
    assert sorted(p.name for p in out.iterdir()) == ["report-p001.json", "report-p003.json", "scan.json"]
    data = json.loads((out / "scan.json").read_text())
    assert data["plan"]["grid"] == [2, 3] and data["tokens"]["per_tile"] == [100] * 6
    assert data["model"] and data["timings"]["elapsed_s"] > 0 and data["tokens"]["generated"] == 4
    assert "broken.jpg" in err and "missing.png: no such file" in err and "Traceback" not in err
    # a second run never overwrites silently: it skips the input, before any model work, and says so
    before = (out / "scan.json").read_text()
    rc = main(["ocr", str(files / "scan.png"), "--model", str(model_dir), "--max-tokens", "2", "--out", str(out),
               "--format", "json"])
    assert rc == 0 and "skipped" in capsys.readouterr().err and (out / "scan.json").read_text() == before


def test_dump_writes_the_reference_keys(files, model_dir, tmp_path):
    out = tmp_path / "d.npz"
    assert main(["dump", "--model", str(model_dir), "--image", str(files / "scan.png"), "--out", str(out),
                 "--max-new-tokens", "3"]) == 0
    d = np.load(out)
    assert set(d) >= {"grid", "tiles", "global_view", "input_ids", "image_embeds", "logits", "greedy_ids"}
    assert d["tiles"].shape == (6, 3, 640, 640) and d["image_embeds"].shape[0] == 903
    assert (d["input_ids"] == engine.load(model_dir).tokenizer.image_id).sum() == 903


def test_convert_then_ocr(model_dir, files, tmp_path, capsys):
    q = tmp_path / "q4"
    assert main(["convert", "--model", str(model_dir), "--out", str(q), "--q-bits", "4", "--q-group-size", "32"]) == 0
    assert json.loads((q / "config.json").read_text())["quantization"] == {"bits": 4, "group_size": 32}
    assert main(["ocr", str(files / "scan.png"), "--model", str(q), "--max-tokens", "3"]) == 0


def test_unknown_model_offline_is_one_line(files, capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    assert main(["ocr", str(files / "scan.png"), "--model", "someone/not-a-model"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("dsocr: error: someone/not-a-model: ") and len(err) <= 2
