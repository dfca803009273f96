"""`dsocr convert`: write an MLX-quantized (4- or 8-bit) copy of a checkpoint that `engine.load` reads."""

from __future__ import annotations

import json
from pathlib import Path

from .outputs import replace_checkpoint


def add_parser(sub) -> None:
    p = sub.add_parser("convert", help="quantize a model's language model to 4 or 8 bits")
    p.add_argument("--model", required=True, help="source model folder or hub id (bf16 original)")
    p.add_argument("--out", required=True, help="folder for the quantized model (new or empty)")
    p.add_argument("--q-bits", type=int, default=4, choices=[4, 8], help="bits per weight (default 4)")
    p.add_argument("--q-group-size", type=int, default=64, choices=[32, 64, 128],
                   help="weights sharing one scale (default 64)")
    p.add_argument("--overwrite", action="store_true", help="replace the checkpoint in an existing --out folder")
    p.set_defaults(func=run)


def run(args) -> int:
    from ..weights.load import read_checkpoint
    from ..weights.quantized_model import quantize_checkpoint

    out = Path(args.out)
    if Path(args.model).is_dir() and Path(args.model).resolve() == out.resolve():
        raise ValueError(f"{args.out}: is the source model's folder; choose another --out")
    replace_checkpoint(out, args.overwrite)
    out = quantize_checkpoint(read_checkpoint(args.model), out, args.q_bits, args.q_group_size)
    quant = json.loads((out / "config.json").read_text())["quantization"]  # what was written, not what was asked
    bits = quant["bits"]
    print(f"wrote {'an' if bits == 8 else 'a'} {bits}-bit model (group size {quant['group_size']}) to {out}")
    return 0
