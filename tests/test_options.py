"""`engine.RunOptions`: the run defaults written once, checked values with the engine's messages, flat names."""

import dataclasses

import pytest

import engine
from engine.language.generate import GenerationConfig
from engine.options import DEFAULTS


def test_the_defaults_are_written_once():
    o = engine.RunOptions()
    assert o == DEFAULTS and o.task == "markdown" and o.prompt_text().endswith("Convert the document to markdown.")
    assert o.decoding == engine.Decoding(8192, 0.0, 1.0, 30, 90)
    assert (o.recovery, o.output) == (engine.Recovery(True, engine.DEFAULT_PENALTY), engine.Output("brackets", "html"))
    cfg, from_options = GenerationConfig(), GenerationConfig.of(o.decoding, o.recovery)
    assert cfg == from_options  # the generation loop's defaults are the options' defaults
    with pytest.raises(dataclasses.FrozenInstanceError):
        o.task = "free"


def test_flat_names_reach_their_parts():
    o = engine.RunOptions.of(task="free", mode="small", grid=[3, 1], max_tokens=5, ngram_size=0, recover=False,
                             repetition_penalty=1.3, math="dollars", tables="pipe")
    assert o.tiling == engine.Tiling("small", None, None, (3, 1))  # a list (JSON, settings) becomes a tuple
    assert (o.decoding.max_tokens, o.decoding.ngram_size, o.decoding.ngram_window) == (5, 0, 90)
    assert o.recovery == engine.Recovery(False, 1.3) and o.output == engine.Output("dollars", "pipe")
    again = o.replace(temperature=0.2, tiling=engine.Tiling(max_tiles=4))
    assert again.decoding.temperature == 0.2 and again.decoding.max_tokens == 5  # the rest of the part is kept
    assert again.tiling == engine.Tiling(max_tiles=4) and o.decoding.temperature == 0.0  # o itself is unchanged
    assert engine.RunOptions.of(**o.flat()) == o
    with pytest.raises(TypeError, match="unknown run option 'max_token'"):
        o.replace(max_token=3)


@pytest.mark.parametrize("flat, message", [
    ({"max_tokens": 0}, r"max_tokens must be at least 1 \(got 0\)"),
    ({"temperature": -0.5}, "temperature must be at least 0.0"),
    ({"top_p": 0.0}, r"top_p must be in \(0, 1\]"),
    ({"ngram_size": -1}, "ngram_size must be at least 0"),
    ({"repetition_penalty": 0.9}, "repetition penalty must be at least 1.0"),
    ({"math": "latex"}, "math must be one of brackets, dollars"),
    ({"tables": "csv"}, "tables must be one of html, pipe"),
    ({"task": "poem"}, "unknown task 'poem'"),
    ({"task": "locate"}, "the locate task needs the text to find"),
    ({"prompt": "<image> twice <image>"}, "exactly one <image> tag"),
])
def test_a_bad_value_fails_when_the_options_are_made(flat, message):
    with pytest.raises(ValueError, match=message):
        engine.RunOptions.of(**flat)


def test_a_locate_query_and_a_custom_prompt():
    assert "<|ref|>Total<|/ref|>" in engine.RunOptions.of(task="locate", locate="Total").prompt_text()
    assert engine.RunOptions(prompt="Read it.").prompt_text() == "<image>\nRead it."
