"""`dsocr convert`: write an MLX-quantized (4- or 8-bit) copy of a checkpoint that `engine.load` reads."""

from __future__ import annotations


def add_parser(sub) -> None:
    p = sub.add_parser("convert", help="quantize a model's language model to 4 or 8 bits")
    p.add_argument("--model", required=True, help="source model folder or hub id (bf16 original)")
    p.add_argument("--out", required=True, help="folder for the quantized model")
    p.add_argument("--q-bits", type=int, default=4, choices=[4, 8])
    p.add_argument("--q-group-size", type=int, default=64, choices=[32, 64, 128])
    p.set_defaults(func=run)


def run(args) -> int:
    from ..weights.load import read_checkpoint
    from ..weights.quantized_model import quantize_checkpoint

    out = quantize_checkpoint(read_checkpoint(args.model), args.out, args.q_bits, args.q_group_size)
    print(f"wrote a {args.q_bits}-bit model to {out}")
    return 0
