"""Signals emitted many times (one per streamed token) must not corrupt the interpreter's reference counts."""

import sys

from PySide6.QtCore import QObject, Signal

from dsocr_app.qt_compat import emit


class _Source(QObject):
    delta = Signal(int, str, int, float, float)


def test_many_emits_keep_refcounts():
    src = _Source()
    got = []
    src.delta.connect(lambda *a: got.append(a[0]))
    before = sys.getrefcount(True)
    for i in range(20_000):  # more than the True singleton's reference count in a fresh interpreter
        emit(src.delta, i, "x", i, 0.5, 1.5)
    assert len(got) == 20_000
    assert abs(sys.getrefcount(True) - before) < 100
