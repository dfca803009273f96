"""`dsocr dump`: write the parity arrays of one image, or of a document's pages given in order (keys and
meanings of shared/reference/README.md and shared/reference-unlimited/README.md)."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from .options import add_tile_options, number
from .outputs import refuse_existing


def add_parser(sub) -> None:
    p = sub.add_parser("dump", help="write preprocessing, embeddings, logits and greedy ids to an .npz (parity)")
    p.add_argument("--model", required=True, help="model folder or hub id")
    p.add_argument("--image", required=True, action="append",
                   help="the image; repeat it for a document's pages, in order (one prompt, as Unlimited-OCR reads "
                        "a document)")
    add_tile_options(p)
    p.add_argument("--prompt", default="<image>\n<|grounding|>Convert the document to markdown.")
    p.add_argument("--max-tokens", type=number(int, 1), default=8, metavar="N",
                   help="greedy tokens generated (default 8)")
    p.add_argument("--max-new-tokens", dest="max_tokens", type=number(int, 1), default=argparse.SUPPRESS,
                   help=argparse.SUPPRESS)  # old name
    p.add_argument("--dtype", default="float32", help="compute dtype: float32 (parity), bfloat16, float16")
    p.add_argument("--vision-dtype", default=None, help="the vision encoder's dtype when it differs from --dtype")
    p.add_argument("--intermediates", action="store_true",
                   help="also write sam_global/encoder_global (and sam_tiles/encoder_tiles when tiled)")
    p.add_argument("--forced-ids", default=None, metavar="FILE.npy",
                   help="int ids fed one at a time after the prompt; writes forced_logits (the logits after each)")
    p.add_argument("--no-window", action="store_true",
                   help="decode with full attention instead of Unlimited-OCR's window (forced_logits_full)")
    p.add_argument("--out", required=True, help="output .npz file (.npz is added when missing)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing --out file")
    p.set_defaults(func=run)


def dump_arrays(model, image, prompt: str, *, mode=None, min_tiles=None, max_tiles=None, max_tokens: int = 8,
                intermediates: bool = False, forced_ids=None, window: bool = True) -> dict[str, np.ndarray]:
    """Every dump key for one image (or a list of pages: one document prompt), as float32 / int32 arrays."""
    import mlx.core as mx

    from ..language.generate import GenerationConfig, GenerationStats, generate_tokens
    from ..language.prompt import prompt_ids
    from ..options import Tiling
    from ..pipeline import encode, prepare_for, splice  # noqa: I001

    pages = image if isinstance(image, list) else [image]
    preps = [prepare_for(model, page, Tiling(mode, min_tiles, max_tiles)) for page in pages]
    tok = model.tokenizer
    counts = [p.plan.image_tokens for p in preps]
    ids = prompt_ids(tok, prompt, sum(counts))
    image_embeds = mx.concatenate(encode(model, preps))  # all pages' views in one batched graph
    out = {"input_ids": np.asarray(ids, np.int32), "image_embeds": np.asarray(image_embeds.astype(mx.float32))}
    if len(preps) == 1:
        out.update(grid=np.asarray(preps[0].plan.grid, np.int32), tiles=preps[0].tiles,
                   global_view=preps[0].global_view)
    else:
        start = ids.index(tok.image_id)
        ends = np.cumsum(counts)
        out.update(grids=np.asarray([p.plan.grid for p in preps], np.int32),
                   global_views=np.concatenate([p.global_view for p in preps]),
                   page_spans=np.asarray([[start + e - n, start + e] for n, e in zip(counts, ends)], np.int32))
    embeds = splice(model, ids, image_embeds)
    stats = GenerationStats()
    config = GenerationConfig(max_tokens=max(1, max_tokens), ngram_size=0, loop_guard=False, window=window)
    greedy = [s.token for s in generate_tokens(model.language_model, embeds, tok.eos_id, config, stats=stats)]
    out["logits"] = np.asarray(stats.first_logits.astype(mx.float32))
    out["greedy_ids"] = np.asarray(greedy[:max_tokens], np.int32)
    if forced_ids is not None:
        out["forced_ids"] = np.asarray(forced_ids, np.int32)
        out["forced_logits"] = forced_logits(model.language_model, embeds, forced_ids, window)
    if intermediates:
        out.update(_intermediates(model, preps))
    return out


def forced_logits(lm, embeds, ids, window: bool = True) -> np.ndarray:
    """The logits [K, V] after feeding each of `ids` one at a time after the prompt, through the decode cache
    (Unlimited-OCR's window unless `window` is False)."""
    import mlx.core as mx

    from ..language.generate import prefill

    cache = lm.make_cache(window)
    prefill(lm, embeds, cache, 1024, None)
    rows = []
    for t in np.asarray(ids).tolist():
        logits = lm(lm.embed(mx.array([[t]])), cache=cache, last_only=True).reshape(-1)
        mx.eval(logits)
        rows.append(np.asarray(logits.astype(mx.float32)))
    return np.stack(rows) if rows else np.zeros((0, lm.config.vocab_size), np.float32)


def _intermediates(model, preps) -> dict[str, np.ndarray]:
    """SAM and encoder outputs of each view: `sam_global`/`encoder_global` (+ `_tiles`) for one page, their
    page-stacked `sam_globals`/`encoder_globals` for several."""
    import mlx.core as mx

    from ..vision.encoder import to_nhwc

    vision = model.vision
    encoder = getattr(vision, "vision_model", None) or vision.qwen2_model

    def run(pixels):
        sam_out = vision.sam_model(to_nhwc(pixels, model.encode_dtype))
        enc_out = encoder(sam_out)
        return np.asarray(sam_out.astype(mx.float32)), np.asarray(enc_out.astype(mx.float32))

    out = {}
    if len(preps) > 1:
        sams, encs = zip(*(run(p.global_view) for p in preps))
        return {"sam_globals": np.concatenate(sams), "encoder_globals": np.concatenate(encs)}
    prep = preps[0]
    out["sam_global"], out["encoder_global"] = (a[0] for a in run(prep.global_view))
    if prep.plan.tiled:
        out["sam_tiles"], out["encoder_tiles"] = run(prep.tiles)
    return out


def run(args) -> int:
    import io

    from ..model import load
    from ..outputs.export import atomic_write
    from ..preprocess.images import check_image

    out = Path(args.out if args.out.endswith(".npz") else args.out + ".npz")  # the name np.savez would use
    refuse_existing(out, args.overwrite)
    for image in args.image:
        check_image(image)  # a bad image costs no model load
    forced = _read_ids(args.forced_ids) if args.forced_ids else None
    model = load(args.model, dtype=args.dtype, vision_dtype=args.vision_dtype)
    pages = args.image if len(args.image) > 1 else args.image[0]
    arrays = dump_arrays(model, pages, args.prompt, mode=args.mode, min_tiles=args.min_tiles,
                         max_tiles=args.max_tiles, max_tokens=args.max_tokens, intermediates=args.intermediates,
                         forced_ids=forced, window=not args.no_window)
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    atomic_write(out, buf.getvalue(), overwrite=args.overwrite)
    print(f"wrote {out}: " + ", ".join(f"{k} {list(v.shape)}" for k, v in arrays.items()))
    return 0


def _read_ids(path: str) -> np.ndarray:
    """A 1-D integer .npy file of token ids; anything else is a one-line error."""
    try:
        ids = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as e:
        raise ValueError(f"--forced-ids {path}: not a readable .npy file ({e})") from None
    if ids.ndim != 1 or not np.issubdtype(ids.dtype, np.integer):
        raise ValueError(f"--forced-ids {path}: need a 1-D array of integer token ids, got {ids.dtype} {list(ids.shape)}")
    return ids
