"""The C allocator on Linux (glibc): memory a page frees is kept and reused for the next buffers, not returned
to the OS and faulted in again.

A page's encode and prefill allocate and free gigabytes of intermediate buffers of many sizes. MLX's buffer
cache hands a freed buffer back only for a request of (nearly) its size; every other request goes to `malloc`.
glibc serves a block over its mmap threshold (at most 32 MB), and every big block of a thread other than the main
one (a thread's arena grows in 64 MB heaps), from a fresh `mmap` that is unmapped again when freed: each page
then faults in gigabytes of new, zero-filled memory (a real-size v2 page here: 1.2 M minor faults, 4.6 s of kernel
time, on every page). `keep_freed_memory` makes every thread allocate from one heap (one arena, no mmap for big
blocks, the heap's top handed back only beyond `TRIM_THRESHOLD`), whose free blocks are split and merged for
requests of any size: from the second page on a page faults in almost nothing (5-8% faster on one machine,
within the noise on a slower one: `docs/benchmarks.md`, seventh pass). The
peak resident memory stays the same (the same buffers are live at once). `memory.release_freed_memory`
(`malloc_trim`) still hands every free page back after a load.

Call it before threads start allocating (threads keep the arena they first allocated from): `engine` does so on
import, first. Elsewhere (macOS, musl) there is no `mallopt` and nothing changes. `DSOCR_MALLOC=system` keeps
glibc's defaults.
"""

from __future__ import annotations

import ctypes
import sys

from .settings import env_choice

# mallopt parameters (glibc malloc.h)
M_TRIM_THRESHOLD, M_MMAP_MAX, M_ARENA_MAX = -1, -4, -8
TRIM_THRESHOLD = 1 << 30  # free bytes at the heap's top beyond which glibc hands them back by itself

_state = "glibc defaults"


def keep_freed_memory() -> str:
    """Set glibc's malloc to keep and reuse freed memory (see the module docstring); return what is in force,
    for `dsocr --version`."""
    global _state
    if not sys.platform.startswith("linux") or env_choice("DSOCR_MALLOC", ("kept", "system"), "kept") == "system":
        return _state
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):  # not glibc
        return _state
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    if mallopt(M_ARENA_MAX, 1) and mallopt(M_MMAP_MAX, 0) and mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD):
        _state = "one heap, freed memory kept"
    return _state


def describe() -> str:
    """The allocator settings in force, in words."""
    return _state
