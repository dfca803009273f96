"""Which path the CPU kernels take: numpy (`DSOCR_CPU_KERNELS=numpy`, the default) or MLX's own (`mlx`).

The numpy path is taken only on MLX's CPU device: on a GPU every kernel is MLX's (`uses_numpy()` is False).
`set_mode()` changes the path at run time (the benchmarks compare both in one process): every kernel reads
it on each call and declines (returns None) off the numpy path, where `runtime.ops` uses MLX's own expression.
"""

from __future__ import annotations

import mlx.core as mx

from ..settings import env_choice

MODES = ("numpy", "mlx")
_mode = env_choice("DSOCR_CPU_KERNELS", MODES, "numpy")


def set_mode(mode: str) -> str:
    """Choose the CPU path ('numpy' or 'mlx'); return the previous one."""
    global _mode
    if mode not in MODES:
        raise ValueError(f"unknown CPU kernel mode {mode!r}: use one of {', '.join(MODES)}")
    prev, _mode = _mode, mode
    return prev


def get_mode() -> str:
    return _mode


def uses_numpy() -> bool:
    """True when the kernels take the numpy path (CPU default device and mode 'numpy')."""
    return _mode == "numpy" and mx.default_device().type == mx.DeviceType.cpu
