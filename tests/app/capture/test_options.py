"""The capture options of `dsocr-app`: bad combinations exit 2 with a clear message."""

import pytest

from dsocr_app.main import main


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
