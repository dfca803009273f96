"""Qt's own messages on stderr, filtered once at app start: known harmless chatter dropped, real warnings kept and
each said once.

Dropped: the font database's per-font complaints (`qt.text.font.db`, dozens per capture on some systems), turned
off as a logging category so `QT_LOGGING_RULES` can still turn them back on, and the offscreen / minimal platform
plugins' "This plugin does not support ..." (e.g. `propagateSizeHints()` on every `--screenshot`). Everything
else is written as one line, `dsocr-app: Qt: [category: ]message`, the first time it is said.
"""

from __future__ import annotations

import sys

from PySide6.QtCore import QLoggingCategory, QtMsgType, qInstallMessageHandler

QUIET_CATEGORIES = ("qt.text.font.db",)
QUIET_PREFIXES = ("This plugin does not support ",)

_installed: list = []  # the filter, once installed (kept alive: Qt holds only the handler)


class MessageFilter:
    """`line(type, category, text)`: the line to write, or None for a harmless or already said message."""

    def __init__(self):
        self.said: set[tuple[str, str]] = set()

    def line(self, kind: QtMsgType, category: str, text: str) -> str | None:
        if category in QUIET_CATEGORIES or text.startswith(QUIET_PREFIXES):
            return None
        if (category, text) in self.said:
            return None
        self.said.add((category, text))
        where = f"{category}: " if category and category != "default" else ""
        return f"dsocr-app: Qt: {where}{text}"

    def __call__(self, kind, context, text) -> None:
        category = getattr(context, "category", None) or "default"
        line = self.line(kind, category if isinstance(category, str) else bytes(category).decode(), str(text))
        if line is not None:
            sys.stderr.write(line + "\n")
            sys.stderr.flush()


def install(handler: bool = True) -> str:
    """Turn the harmless categories off and (with `handler`) filter the rest, once per process; the filter
    rules set."""
    rules = "\n".join(f"{c}.warning=false\n{c}.info=false\n{c}.debug=false" for c in QUIET_CATEGORIES)
    QLoggingCategory.setFilterRules(rules)
    if handler and not _installed:
        f = MessageFilter()
        _installed.append(f)
        qInstallMessageHandler(f)
    return rules
