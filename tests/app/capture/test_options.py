"""The options of `dsocr-app` and a running instance: bad ones exit 2 with one line before anything is handed
over; the ones handed over reach the instance, and its refusal is printed by the calling process."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from dsocr_app.capture import instance
from dsocr_app.main import main

ROOT = Path(__file__).resolve().parents[3]


@pytest.mark.parametrize("argv, words", [
    (["--region", "1,2,3,4"], "go with --capture"),
    (["--print"], "go with --capture"),
    (["--capture", "--region", "1,2,3"], "four whole numbers"),
    (["--capture", "--region", "0,0,0,10"], "positive"),
    (["--capture", "--screenshot", "x.png"], "do not go with --screenshot"),
])
def test_bad_capture_options_exit_2(argv, words, capsys):
    with pytest.raises(SystemExit) as e:
        main(argv)
    assert e.value.code == 2
    assert words in capsys.readouterr().err


@pytest.fixture
def fake_instance(qtbot):
    """A listening instance in this process that records each request and answers with `answer`."""
    server = instance.InstanceServer()
    assert server.listen()
    server.got, server.answer = [], {"ok": True, "message": "done"}
    server.requested.connect(lambda r: (server.got.append(r.message), r.reply(**server.answer)))
    yield server
    server.close()


def app_call(qtbot, *args) -> subprocess.CompletedProcess:
    """`dsocr-app ARGS` in another process while this one's event loop answers for the instance."""
    p = subprocess.Popen([sys.executable, "-m", "dsocr_app", *map(str, args)], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)}, cwd=ROOT)
    qtbot.waitUntil(lambda: p.poll() is not None, timeout=60000)
    out, err = p.communicate()
    return subprocess.CompletedProcess(p.args, p.returncode, out, err)


@pytest.mark.parametrize("argv, words", [
    (["--mode", "huge"], "unknown mode"),
    (["--max-tokens", "0"], "--max-tokens 0"),
    (["--run"], "--run goes with --screenshot"),
    (["--version", "v2", "--mode", "gundam-m", "x.png"], "gundam-m"),
    (["--capture", "--max-tiles", "999"], "999"),
    (["--pages", "3-1", "x.pdf"], "3-1"),
    (["--model", "/nowhere/model"], "no such folder"),  # would unload the instance's warm model
])
def test_bad_options_are_refused_before_any_hand_over(qtbot, fake_instance, argv, words):
    run = app_call(qtbot, *argv)
    lines = run.stderr.strip().splitlines()
    assert run.returncode == 2 and len(lines) == 1 and words in lines[0], run.stderr
    assert lines[0].startswith("dsocr-app: error:") and run.stdout == ""
    assert fake_instance.got == []  # nothing reached the running instance


def test_handed_options_reach_the_instance(qtbot, fake_instance, tmp_path, tiny_v1):
    page = tmp_path / "page.png"
    page.write_bytes(b"")
    run = app_call(qtbot, "--version", "v1", "--mode", "gundam-m", "--max-tiles", "6", "--max-tokens", "7",
                   "--model", os.path.relpath(tiny_v1, ROOT), page)
    assert run.returncode == 0 and run.stderr == "", run.stderr
    assert fake_instance.got == [{"action": "open", "files": [str(page)], "pages": None, "sample": False,
                                  "options": {"version": "v1", "mode": "gundam-m", "max_tiles": 6, "max_tokens": 7,
                                              "model": str(tiny_v1)}}]  # a local model folder: its full path
    run = app_call(qtbot, "--capture", "--region", "0,0,10,10", "--mode", "base")
    assert run.returncode == 0 and fake_instance.got[-1]["options"] == {"mode": "base"}


def test_the_instances_refusal_is_printed_by_the_caller(qtbot, fake_instance):
    fake_instance.answer = {"ok": False, "error": "--mode tiny: the running DSOCR plans for v2", "refused": True}
    run = app_call(qtbot, "--version", "v1", "--mode", "tiny")
    assert run.returncode == 2 and run.stderr == "dsocr-app: error: --mode tiny: the running DSOCR plans for v2\n"
    fake_instance.answer = {"ok": False, "error": "could not load someone/model"}
    run = app_call(qtbot, "--model", "someone/model")
    assert run.returncode == 1 and run.stderr == "dsocr-app: error: could not load someone/model\n"
