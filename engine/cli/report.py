"""What `dsocr` tells the user: the exit codes, and the one-line messages on stderr.

Every line starts with `dsocr: `; errors continue with `error: ` and then the file (or option) concerned.
"""

from __future__ import annotations

import sys

OK, FAILED, USAGE, INTERNAL, CANCELLED = 0, 1, 2, 3, 130

EXIT_CODES = f"""exit codes:
  {OK}    done: every input was processed (or skipped because its outputs exist)
  {FAILED}    some inputs failed (each named on stderr); the others were done
  {USAGE}    nothing was run: bad command line or option value, unusable model, output exists or cannot be
       written, two inputs would write one file, not enough memory
  {INTERNAL}    internal error (a bug): run again with --debug and report the traceback
  {CANCELLED}  cancelled (Ctrl+C); outputs already written are kept
"""


def _say(text: str) -> None:
    print(f"dsocr: {text}", file=sys.stderr, flush=True)


def error(text: str) -> None:
    """`dsocr: error: TEXT` (TEXT starts with the file or option it is about)."""
    _say(f"error: {text}")


def warning(text: str) -> None:
    """`dsocr: warning: TEXT`: the run goes on, but a result may be incomplete or a setting was ignored."""
    _say(f"warning: {text}")


def note(text: str) -> None:
    """`dsocr: TEXT`: progress and decisions (downloads, skipped inputs, the summary)."""
    _say(text)


def one_line(e: BaseException | str) -> str:
    """An exception's message on one line (at most 1000 characters)."""
    text = " ".join(str(e).split()) or type(e).__name__
    return text if len(text) <= 1000 else text[:997] + "..."
