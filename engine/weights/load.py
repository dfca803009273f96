"""Read and verify a checkpoint: resolve, parse config, read tensors, bring them to the original layout, check.

`read_checkpoint` returns everything needed to build a model, or raises one CheckpointError that lists every
unused, missing and mis-shaped tensor together.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import mlx.core as mx

from .checkpoint import read_tensors, resolve
from .config import CheckpointConfig, read_config
from .errors import CheckpointError
from .expected import expected_tensors
from .layouts import LAYOUTS, check_tensors, detect_layout
from .quantized import dequantized_shapes
from .tokenizer import Tokenizer


@dataclass
class Checkpoint:
    """A verified checkpoint: its folder, parsed config, tokenizer and tensors in original names."""

    folder: Path
    config: CheckpointConfig
    tokenizer: Tokenizer
    weights: dict[str, mx.array]
    source_layout: str


def read_checkpoint(model: str | os.PathLike, progress: Callable | None = None) -> Checkpoint:
    """Resolve `model` (folder or hub id), read and check it. Raises CheckpointError with a clear message."""
    folder = resolve(model, progress)
    cfg = read_config(folder)
    tokenizer = Tokenizer(folder)
    raw = read_tensors(folder)
    layout = detect_layout(raw)
    weights = LAYOUTS[layout](raw)
    expected = expected_tensors(cfg)
    check_tensors(dequantized_shapes(weights, cfg.quantization), expected, str(folder))
    vocab = int(cfg.language["vocab_size"])
    if tokenizer.vocab_size > vocab:
        raise CheckpointError(f"{folder}: tokenizer.json has {tokenizer.vocab_size} tokens but the model only "
                              f"{vocab}; the tokenizer belongs to another model")
    return Checkpoint(folder, cfg, tokenizer, weights, layout)
