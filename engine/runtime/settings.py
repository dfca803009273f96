"""The `DSOCR_*` environment settings, read and checked in one place.

A bad value never stops an import with a traceback: it is reported once, as one line on stderr that names
the variable (`dsocr: warning: DSOCR_CPU_KERNELS=bogus: ...`), and the default is used instead.
"""

from __future__ import annotations

import os
import sys

_said: set[str] = set()


def warn_once(text: str) -> None:
    """One line on stderr, once per distinct text (no `warnings.warn` source lines)."""
    if text not in _said:
        _said.add(text)
        print(f"dsocr: warning: {text}", file=sys.stderr, flush=True)


def env_choice(name: str, choices: tuple[str, ...], default: str) -> str:
    """`name`'s value (lower case) when it is one of `choices`, else `default` (a bad value is reported)."""
    raw = os.environ.get(name, "").strip()
    value = raw.lower()
    if not value:
        return default
    if value not in choices:
        warn_once(f"{name}={raw}: not one of {', '.join(choices)}; using {default}")
        return default
    return value


def env_number(name: str, default: float | None, minimum: float = 0, kind: type = int) -> float | None:
    """`name`'s value as `kind` (int or float) when it is a number >= `minimum`, else `default`."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = kind(raw)
    except ValueError:
        value = None
    if value is None or value < minimum:
        what = "a whole number" if kind is int else "a number"
        warn_once(f"{name}={raw}: not {what} >= {minimum}; using the default")
        return default
    return value
