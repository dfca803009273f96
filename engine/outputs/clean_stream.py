"""The clean markdown of a run while it is decoded, for streams that cannot take text back (OpenAI chat chunks).

A run's final text is `clean_markdown(raw)` stripped (grounding tags removed, figures linked, math and
tables in the chosen style). `CleanStream` turns the raw pieces of a decode into pieces of that clean text,
so that the pieces of a stream add up to the text a non-streamed answer gives:

- complete lines are cleaned together (a grounding tag, a table row and inline math close on their line);
- the line being written is sent, cleaned, up to its first `\\` or `<`: a grounding tag, an HTML cell or a
  math bracket may still change how the rest of the line reads once it closes (the line then comes whole);
- after an opening `\\[`, `\\(` or `<table` that has not closed, nothing more is sent until it closes (display
  math and tables may span lines, and their style conversion rewrites all of it);
- whitespace at either end is held until text follows it (the final text is stripped).

A piece is only ever added: when the clean text no longer starts with what was sent (which none of the rules
above lets happen on the model's output, but a rollback does), nothing more is sent until it does again, and
`rollback` says how much of the sent text is still valid. `finish(final)` gives the rest of the final text.
"""

from __future__ import annotations

import os
import re
from typing import Callable

_HOLD_IN_LINE = re.compile(r"[\\<]")
_OPENERS = ((re.compile(r"(?<!\\)\\\["), re.compile(r"(?<!\\)\\\]")),
            (re.compile(r"(?<!\\)\\\("), re.compile(r"(?<!\\)\\\)")),
            (re.compile(r"<table\b", re.I), re.compile(r"</table\s*>", re.I)))


def _unclosed(raw: str, start: int = 0, end: int | None = None) -> int | None:
    """Where the earliest construct that is still open in `raw[start:end]` begins (None: all are closed)."""
    end = len(raw) if end is None else end
    starts = []
    for opener, closer in _OPENERS:
        last = None
        for last in opener.finditer(raw, start, end):
            pass
        if last is not None and not closer.search(raw, last.end(), end):
            starts.append(last.start())
    return min(starts, default=None)


class CleanStream:
    """Raw pieces in, clean pieces out (see the module docstring). `clean(raw) -> str` is the run's cleaner."""

    def __init__(self, clean: Callable[[str], str]):
        self.clean = clean
        self.raw = ""
        self.sent = ""
        self._lines_at, self._lines = 0, ""  # the clean text of raw[:_lines_at] (complete lines)
        self._closed_at = 0  # raw[:_closed_at] holds no open construct

    def _candidate(self) -> str:
        raw = self.raw
        hold = _unclosed(raw, self._closed_at)
        stop = len(raw) if hold is None else hold
        cut = raw.rfind("\n", 0, stop) + 1
        while (inner := _unclosed(raw, self._closed_at, cut)) is not None:  # complete lines end no construct
            cut = raw.rfind("\n", 0, inner) + 1
        self._closed_at = cut  # every construct opened before `cut` closes before it: later scans start there
        if cut != self._lines_at:
            self._lines_at, self._lines = cut, self.clean(raw[:cut])
        tail = ""
        if hold is None:
            m = _HOLD_IN_LINE.search(raw, cut)
            tail = self.clean(raw[cut:m.start() if m else len(raw)])
        return (self._lines + tail).strip()

    def _send(self, candidate: str) -> str:
        if not candidate.startswith(self.sent):
            return ""
        piece, self.sent = candidate[len(self.sent):], candidate
        return piece

    def push(self, piece: str) -> str:
        """Add a raw piece; the clean text to send now ('' when nothing is ready)."""
        self.raw += piece
        return self._send(self._candidate())

    def rollback(self, raw_length: int) -> int:
        """The raw text was cut back to `raw_length` characters (a loop dropped): how many characters of the
        clean text sent so far are still valid (the client should keep only those)."""
        self.raw = self.raw[:raw_length]
        self._lines_at, self._lines, self._closed_at = -1, "", 0
        keep = len(os.path.commonprefix([self.sent, self._candidate()]))
        self.sent = self.sent[:keep]
        return keep

    def finish(self, final: str) -> str:
        """The rest of the final text ('' when what was sent is not its beginning: a client then has the exact
        text only from the final chunk's `dsocr.text`)."""
        return self._send(final)
