"""`CleanStream`: the pieces of a streamed answer add up to the clean text a non-streamed answer gives, for the
model's kinds of output (grounding tags, figures, HTML and pipe tables, inline and display math in both styles,
a truncated tag at the end), cut into pieces anywhere (inside tags and brackets too)."""

import random

import pytest

from engine.outputs.clean_stream import CleanStream
from engine.outputs.markdown import clean_markdown

GROUNDED = (
    "<|ref|>title<|/ref|><|det|>[[62, 40, 938, 90]]<|/det|>\n# Quarterly report\n\n"
    "<|ref|>text<|/ref|><|det|>[[62, 110, 938, 300]]<|/det|>\nRevenue grew by 12% to \\(4.2\\) million, "
    "see table \\[ 3 \\] and figure 2.\n\n"
    "<|ref|>image<|/ref|><|det|>[[100, 320, 500, 600]]<|/det|>\n\n"
    "<|ref|>table<|/ref|><|det|>[[62, 620, 938, 800]]<|/det|>\n"
    "<table><tr><td>Item</td><td>Cost</td></tr><tr><td>Paper</td><td>3.00</td></tr></table>\n\n"
    "<|ref|>equation<|/ref|><|det|>[[62, 820, 938, 880]]<|/det|>\n\\[\nE = m c^{2}\n\\]\n\n"
    "The end \\coloneqq done.<｜end▁of▁sentence｜>"
)
PLAIN = "  Total 42.00 EUR\nDue 10 March  \n\n"
TRUNCATED = "Line one\n<|ref|>text<|/ref|><|det|>[[1, 2, 3, 4]]<|/det|>\nLine two <|ref|>tit"
MULTILINE_TABLE = "Before\n<table>\n<tr><td>a</td><td>b</td></tr>\n<tr><td>1</td><td>2</td></tr>\n</table>\nAfter"


def _pieces(raw: str, seed: int) -> list[str]:
    rng, out, k = random.Random(seed), [], 0
    while k < len(raw):
        n = rng.randint(1, 6)
        out.append(raw[k:k + n])
        k += n
    return out


def _cleaner(math: str, tables: str):
    return lambda raw: clean_markdown(raw, image_size=(1000, 1000), math=math, tables=tables)[0]


@pytest.mark.parametrize("raw", [GROUNDED, PLAIN, TRUNCATED, MULTILINE_TABLE])
@pytest.mark.parametrize("math,tables", [("brackets", "html"), ("dollars", "pipe")])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_pieces_add_up_to_the_final_text(raw, math, tables, seed):
    clean = _cleaner(math, tables)
    final = clean(raw).strip() + "\n"  # what a non-streamed answer's content is (render(result, "md"))
    stream = CleanStream(clean)
    sent = "".join(stream.push(p) for p in _pieces(raw, seed))
    assert final.startswith(sent)
    sent += stream.finish(final)
    assert sent == final


def test_text_is_sent_while_it_is_decoded_not_only_at_the_end():
    stream = CleanStream(_cleaner("brackets", "html"))
    got = [stream.push(p) for p in _pieces(GROUNDED, 3)]
    sent = "".join(got)
    assert "# Quarterly report" in sent and "Revenue grew by 12% to" in sent  # before the end token
    assert sum(1 for g in got if g) >= 15  # many pieces, not one per line
    assert "<|ref|>" not in sent and "[[62" not in sent  # no grounding tag ever reaches the client


def test_a_tag_is_never_sent_half_written():
    stream = CleanStream(_cleaner("brackets", "html"))
    sent = ""
    for p in ["Hello ", "<|ref|>", "text", "<|/ref|>", "<|det|>", "[[1, 2, ", "3, 4]]", "<|/det|>", "\nworld"]:
        sent += stream.push(p)
        assert "<" not in sent and "[[" not in sent
    assert sent == "Hello\nworld" or sent == "Hello \nworld".strip() or "world" in sent


def test_pipe_tables_wait_for_their_end():
    stream = CleanStream(_cleaner("brackets", "pipe"))
    sent = "".join(stream.push(p) for p in ["Before\n", "<table>\n<tr><td>a</td>", "<td>b</td></tr>\n"])
    assert sent == "Before"  # the table would be rewritten as pipes once it closes
    sent += stream.push("</table>\nAfter")
    assert "| a | b |" in sent


def test_rollback_says_how_much_of_the_sent_text_stays():
    clean = _cleaner("brackets", "html")
    stream = CleanStream(clean)
    raw = "First line\nloop loop loop loop "
    sent = "".join(stream.push(p) for p in _pieces(raw, 4))
    assert sent.startswith("First line\nloop loop")
    keep = stream.rollback(len("First line\nloop "))
    assert sent[:keep] == "First line\nloop"  # what the client keeps
    sent = sent[:keep] + stream.push("continues.")
    sent += stream.finish(clean("First line\nloop continues.").strip() + "\n")
    assert sent == "First line\nloop continues.\n"
