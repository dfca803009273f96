"""`dsocr tiny-checkpoint FOLDER`: write a tiny random model (a few MB) to try the command line and the API."""

from __future__ import annotations

from pathlib import Path

from ..preprocess.modes import VERSION_NAMES, VERSIONS
from .options import number
from .outputs import replace_checkpoint


def add_parser(sub) -> None:
    p = sub.add_parser("tiny-checkpoint", help="write a tiny random model for trying DSOCR offline (output is noise)",
                       description="Write a complete tiny checkpoint (real config schema, tensor names and "
                                   "tokenizer; random weights) that --model and engine.load accept. Its text is "
                                   "random: it is for trying the commands and for tests, not for OCR.")
    p.add_argument("folder", help="folder to create")
    p.add_argument("--version", default="v2", choices=VERSIONS,
                   help="; ".join(f"{v}: {name}" for v, name in VERSION_NAMES.items()) + " (default v2)")
    p.add_argument("--window", type=number(int, 1), default=None, metavar="W",
                   help="unlimited only: the decode window, in tokens (default 128, the real model's; a small one "
                        "makes the ring wrap in short runs)")
    p.add_argument("--seed", type=number(int, 0), default=0, help="random seed of the weights (default 0)")
    p.add_argument("--overwrite", action="store_true", help="replace the checkpoint in an existing folder")
    p.set_defaults(func=run)


def run(args) -> int:
    from ..testing import write_tiny_checkpoint

    folder = Path(args.folder)
    if args.window is not None and args.version != "unlimited":
        raise ValueError(f"--window: only an Unlimited-OCR checkpoint (--version unlimited) has a decode window, "
                         f"not {args.version}")
    replace_checkpoint(folder, args.overwrite)
    window = {} if args.window is None else {"window": args.window}
    write_tiny_checkpoint(folder, args.version, seed=args.seed, **window)
    print(f"wrote a tiny random {args.version} checkpoint to {folder} (try: dsocr ocr page.png --model {folder})")
    return 0
