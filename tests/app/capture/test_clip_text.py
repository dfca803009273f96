"""The clipboard's text as the user wants it (capture/clip_text.py): lines joined into paragraphs, markdown
structure kept, hyphenated words joined, a capture appended after a blank line."""

import pytest

from dsocr_app.capture.clip_text import APPEND_SEPARATOR, appended, join_lines


@pytest.mark.parametrize("text, joined", [
    ("exam-\nple", "example"),  # a word cut at the line end
    ("The exam-\nple goes\non here.", "The example goes on here."),
    ("Jean-\nPaul", "Jean-Paul"),  # before a capital the hyphen is part of the name
    ("pages 2020-\n2021", "pages 2020-2021"),
    ("a -\nb", "a - b"),  # a dash between words is no cut word
    ("soft\u00ad\nhyphen", "softhyphen"),
    ("one  \ntwo", "one  \ntwo"),  # a markdown hard break
    ("trailing   \n   spaces", "trailing   \n   spaces"),
    ("spaces \n  around", "spaces around"),
    ("中文的\n文本", "中文的文本"),  # Chinese joins without a space
    ("日本語\nand English", "日本語 and English"),
    ("", ""),
    ("single line", "single line"),
])
def test_lines_of_a_paragraph_are_joined(text, joined):
    assert join_lines(text) == joined


def test_blank_lines_keep_paragraphs():
    assert join_lines("First para\ngoes on.\n\nSecond para\ngoes on.\n\n\nThird") == \
        "First para goes on.\n\nSecond para goes on.\n\n\nThird"


def test_markdown_structure_is_not_joined():
    text = ("# A heading\nfirst line\nsecond line\n## Sub\n- item one\n  wraps here\n- item two\n* star\n+ plus\n"
            "1. first\n2) second\n> quote\n> more\n---\nafter rule\n![fig](a.png)\ncaption")
    assert join_lines(text) == ("# A heading\nfirst line second line\n## Sub\n- item one wraps here\n- item two\n"
                                "* star\n+ plus\n1. first\n2) second\n> quote\n> more\n---\nafter rule\n"
                                "![fig](a.png)\ncaption")


def test_tables_html_code_and_math_keep_their_lines():
    pipe = "| a | b |\n|---|---|\n| 1 | 2 |\nText\nafter"
    assert join_lines(pipe) == "| a | b |\n|---|---|\n| 1 | 2 |\nText after"
    html = "<table>\n<tr><td>1</td></tr>\n</table>\nText\nafter"
    assert join_lines(html) == "<table>\n<tr><td>1</td></tr>\n</table>\nText after"
    fenced = "Before\nit\n```\ncode line\nsecond-\nline\n```\nafter\nit"
    assert join_lines(fenced) == "Before it\n```\ncode line\nsecond-\nline\n```\nafter it"
    math = "Then\n\\[\nx = 1 \\\\\ny = 2\n\\]\nso\non\n$$\na\nb\n$$\nend"
    assert join_lines(math) == "Then\n\\[\nx = 1 \\\\\ny = 2\n\\]\nso on\n$$\na\nb\n$$\nend"


def test_joining_twice_changes_nothing_more():
    text = "A para-\ngraph\nhere\n\n- x\n- y\n\n| a |\n| b |"
    once = join_lines(text)
    assert once == "A paragraph here\n\n- x\n- y\n\n| a |\n| b |" and join_lines(once) == once


def test_appended_after_a_blank_line():
    assert APPEND_SEPARATOR == "\n\n"
    assert appended("first capture", "second") == "first capture\n\nsecond"
    assert appended("ends with newline\n", "next") == "ends with newline\n\nnext"
    assert appended("", "only") == appended("  \n", "only") == "only"
