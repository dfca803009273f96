"""Request bodies -> images and RunOptions: the task in a chat's text part, option values as JSON or form
fields, and the 400s that name the option."""

import pytest

import engine
from engine.service.errors import ApiError
from engine.service.requests import build_options, parse_chat, parse_task
from engine.service.settings import ServeSettings

from .conftest import chat_body, data_url, png_bytes


def test_task_from_the_text_part():
    assert parse_task("") == {"task": "markdown"}
    assert parse_task(" Free ") == {"task": "free"}
    assert parse_task("describe") == {"task": "describe"}
    assert parse_task("locate: Total due") == {"task": "locate", "locate": "Total due"}
    assert parse_task("Locate the logo.") == {"prompt": "Locate the logo."}  # no colon: a prompt
    assert parse_task("Read the numbers.") == {"prompt": "Read the numbers."}


def test_options_from_form_strings_and_json():
    s = ServeSettings()
    o = build_options({"task": "free", "max_tokens": "12", "grid": "3x2", "recover": "false", "top_p": "0.5"}, s)
    assert o == engine.RunOptions.of(task="free", max_tokens=12, grid=(3, 2), recover=False, top_p=0.5)
    assert build_options({"grid": [2, 2], "math": "dollars"}, s).output.math == "dollars"
    locate = build_options({"locate": "Total"}, s)
    assert locate.prompt_text() == engine.RunOptions(task="locate", locate="Total").prompt_text()


@pytest.mark.parametrize("values, param", [
    ({"max_tokens": "many"}, "max_tokens"),
    ({"max_tokens": 1.5}, "max_tokens"),
    ({"top_p": 0}, "top_p"),
    ({"temperature": float("nan")}, "temperature"),
    ({"recover": "maybe"}, "recover"),
    ({"grid": "3by2"}, "grid"),
    ({"max_tokens": 9000}, "max_tokens"),  # over the server's limit
    ({"task": "locate"}, "locate"),
])
def test_bad_option_values_name_the_option(values, param):
    with pytest.raises(ApiError) as e:
        build_options(values, ServeSettings())
    assert e.value.status == 400 and e.value.param == param


def test_chat_body_extra_fields_win_over_the_text():
    req = parse_chat({**chat_body(data_url(png_bytes()), text="free"), "task": "ocr", "mode": "base",
                      "max_completion_tokens": 7, "stream": True, "stream_options": {"include_usage": True}},
                     ServeSettings())
    assert req.options.task == "ocr" and req.options.tiling.mode == "base" and req.options.decoding.max_tokens == 7
    assert req.stream and req.include_usage and req.image.size == (300, 200)
