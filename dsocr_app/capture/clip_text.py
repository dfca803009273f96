"""The clipboard text of a capture, as the user wants it: lines joined into paragraphs (`join_lines`) and a
capture appended to what the clipboard held (`appended`). Pure text functions, no Qt.

`join_lines` joins the lines a markdown viewer would show as one paragraph and leaves the rest as it is: blank
lines (paragraph breaks), headings, list items, table rows, HTML blocks, fenced code, display math, block
quotes, rules and markdown hard breaks keep their own lines. A hyphen that ends a line after a letter is a word
cut in two: "exam-\\nple" -> "example"; it stays before a capital or a digit and after a digit ("Jean-\\nPaul"
-> "Jean-Paul", "2020-\\n2021" -> "2020-2021"). Chinese, Japanese and Korean lines join without a space.
"""

from __future__ import annotations

import re

APPEND_SEPARATOR = "\n\n"  # between what the clipboard held and an appended capture

_BLOCK_START = re.compile(
    r"^\s*(#{1,6}\s|[-*+]\s|\d{1,9}[.)]\s|\||>|<|```|~~~|\$\$|\\\[|\\\]|(?:[-*_]\s*){3,}$|!\[)")
_CJK = re.compile(r"[\u2e80-\u9fff\uac00-\ud7af\uf900-\ufaff\uff00-\uffef]")
_FENCE = re.compile(r"^\s*(```|~~~)")


def _own_line(line: str) -> bool:
    """A line that starts markdown structure (never joined to the line before it)."""
    return bool(_BLOCK_START.match(line))


def _keeps_break(line: str) -> bool:
    """A line the next one is never joined to: structure that ends at its line end, or a hard break."""
    stripped = line.strip()
    if re.match(r"^\s*(#{1,6}\s|\||<|(?:[-*_]\s*){3,}$|\$\$|\\\[|\\\]|!\[)", line) or stripped.endswith("|"):
        return True
    return line.endswith("  ") or line.endswith("\\") and not line.endswith("\\\\")


def _join_two(left: str, right: str) -> str:
    left, right = left.rstrip(), right.lstrip()
    if left.endswith("\u00ad"):  # a soft hyphen: the word goes on
        return left[:-1] + right
    if len(left) >= 2 and left[-1] == "-" and left[-2].isalnum() and right[:1].isalnum():
        return (left[:-1] if left[-2].isalpha() and right[0].islower() else left) + right
    if _CJK.match(left[-1:]) and _CJK.match(right[:1]):
        return left + right
    return left + " " + right


def join_lines(text: str) -> str:
    """`text` with the line breaks inside its paragraphs removed (see the module's rules)."""
    out: list[str] = []
    fenced = math = False
    joinable = False  # whether the next line may join the last line of `out`
    for line in text.split("\n"):
        if fenced or math:
            out.append(line)
            if fenced and _FENCE.match(line):
                fenced = False
            elif math and ("\\]" in line or line.strip() == "$$"):
                math = False
            continue
        if _FENCE.match(line):
            fenced, joinable = True, False
            out.append(line)
            continue
        if line.strip() in ("\\[", "$$"):  # display math over several lines: kept line by line
            math, joinable = True, False
            out.append(line)
            continue
        if not line.strip():
            out.append(line)
            joinable = False
            continue
        if joinable and not _own_line(line):
            out[-1] = _join_two(out[-1], line)
        else:
            out.append(line)
        joinable = not _keeps_break(out[-1])
    return "\n".join(out)


def appended(previous: str, text: str) -> str:
    """`text` after what the clipboard held, a blank line between them (just `text` when it held none)."""
    if not previous.strip():
        return text
    return previous.rstrip("\n") + APPEND_SEPARATOR + text
