"""`dsocr dump`: write the parity arrays of one image (keys and meanings of shared/reference/README.md)."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from .options import add_tile_options, number
from .outputs import refuse_existing


def add_parser(sub) -> None:
    p = sub.add_parser("dump", help="write preprocessing, embeddings, logits and greedy ids to an .npz (parity)")
    p.add_argument("--model", required=True, help="model folder or hub id")
    p.add_argument("--image", required=True)
    add_tile_options(p)
    p.add_argument("--prompt", default="<image>\n<|grounding|>Convert the document to markdown.")
    p.add_argument("--max-tokens", type=number(int, 1), default=8, metavar="N",
                   help="greedy tokens generated (default 8)")
    p.add_argument("--max-new-tokens", dest="max_tokens", type=number(int, 1), default=argparse.SUPPRESS,
                   help=argparse.SUPPRESS)  # old name
    p.add_argument("--dtype", default="float32", help="compute dtype: float32 (parity), bfloat16, float16")
    p.add_argument("--intermediates", action="store_true",
                   help="also write sam_global/encoder_global (and sam_tiles/encoder_tiles when tiled)")
    p.add_argument("--out", required=True, help="output .npz file (.npz is added when missing)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing --out file")
    p.set_defaults(func=run)


def dump_arrays(model, image, prompt: str, *, mode=None, min_tiles=None, max_tiles=None, max_tokens: int = 8,
                intermediates: bool = False) -> dict[str, np.ndarray]:
    """Every dump key for one image, as float32 / int32 numpy arrays."""
    import mlx.core as mx

    from ..language.generate import GenerationConfig, GenerationStats, generate_tokens
    from ..language.prompt import prompt_ids
    from ..options import Tiling
    from ..pipeline import encode, prepare_for, splice  # noqa: I001
    from ..vision.encoder import to_nhwc

    prep = prepare_for(model, image, Tiling(mode, min_tiles, max_tiles))
    tok = model.tokenizer
    ids = prompt_ids(tok, prompt, prep.plan.image_tokens)
    (image_embeds,) = encode(model, [prep])
    out = {
        "grid": np.asarray(prep.plan.grid, np.int32),
        "tiles": prep.tiles,
        "global_view": prep.global_view,
        "input_ids": np.asarray(ids, np.int32),
        "image_embeds": np.asarray(image_embeds.astype(mx.float32)),
    }
    stats = GenerationStats()
    config = GenerationConfig(max_tokens=max(1, max_tokens), ngram_size=0, loop_guard=False)
    greedy = [s.token for s in generate_tokens(model.language_model, splice(model, ids, image_embeds),
                                               tok.eos_id, config, stats=stats)]
    out["logits"] = np.asarray(stats.first_logits.astype(mx.float32))
    out["greedy_ids"] = np.asarray(greedy[:max_tokens], np.int32)
    if intermediates:
        vision = model.vision
        encoder = getattr(vision, "vision_model", None) or vision.qwen2_model
        for name, pixels in (("global", prep.global_view), ("tiles", prep.tiles if prep.plan.tiled else None)):
            if pixels is None:
                continue
            sam_out = vision.sam_model(to_nhwc(pixels, model.dtype))
            enc_out = encoder(sam_out)
            sam_np, enc_np = np.asarray(sam_out.astype(mx.float32)), np.asarray(enc_out.astype(mx.float32))
            out[f"sam_{name}"] = sam_np[0] if name == "global" else sam_np
            out[f"encoder_{name}"] = enc_np[0] if name == "global" else enc_np
    return out


def run(args) -> int:
    import io

    from ..model import load
    from ..outputs.export import atomic_write
    from ..preprocess.images import check_image

    out = Path(args.out if args.out.endswith(".npz") else args.out + ".npz")  # the name np.savez would use
    refuse_existing(out, args.overwrite)
    check_image(args.image)  # a bad image costs no model load
    model = load(args.model, dtype=args.dtype)
    arrays = dump_arrays(model, args.image, args.prompt, mode=args.mode, min_tiles=args.min_tiles,
                         max_tiles=args.max_tiles, max_tokens=args.max_tokens, intermediates=args.intermediates)
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    atomic_write(out, buf.getvalue(), overwrite=args.overwrite)
    print(f"wrote {out}: " + ", ".join(f"{k} {list(v.shape)}" for k, v in arrays.items()))
    return 0
