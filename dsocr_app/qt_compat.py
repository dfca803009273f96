"""Work-arounds for bugs of the Qt binding, detected at run time so a fixed binding needs no change here.

PySide6 6.12.0: `SignalInstance.emit()` returns `True` without taking a reference, so every emit from Python
drops one reference of the `True` singleton; after a few thousand emits (a few thousand streamed tokens) the
interpreter aborts with "bool_dealloc: deallocating True or False". `emit()` below gives the reference back.
"""

from __future__ import annotations

import ctypes
import sys

from PySide6.QtCore import QObject, Signal


class _Probe(QObject):
    fired = Signal()


def _emit_drops_a_reference() -> bool:
    probe = _Probe()
    before = sys.getrefcount(True)
    result = probe.fired.emit()
    compensate = result is True and sys.getrefcount(True) < before + 1  # `result` itself should hold one
    del result
    if compensate:
        ctypes.pythonapi.Py_IncRef(ctypes.py_object(True))  # repair the probe's own emit
    return compensate


EMIT_DROPS_REFERENCE = _emit_drops_a_reference()
_incref = ctypes.pythonapi.Py_IncRef
_incref.argtypes = [ctypes.py_object]
_incref.restype = None


def emit(signal, *args) -> None:
    """`signal.emit(*args)`, keeping the interpreter's reference counts right on bindings with the bug."""
    result = signal.emit(*args)
    if EMIT_DROPS_REFERENCE and (result is True or result is False):
        _incref(result)
