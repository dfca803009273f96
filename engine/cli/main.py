"""`dsocr` entry point: parse arguments, run a subcommand, turn expected errors into one clear line."""

from __future__ import annotations

import argparse
import sys

from ..runtime.blas import load_fast_blas


def _version() -> str:
    import platform

    from .. import __version__

    try:
        from importlib.metadata import version

        mlx = version("mlx")
    except Exception:  # noqa: BLE001
        mlx = "?"
    from ..runtime.blas import blas_library

    return f"dsocr {__version__} (mlx {mlx}, BLAS: {blas_library()}, Python {platform.python_version()})"


def build_parser() -> argparse.ArgumentParser:
    from . import convert_cmd, dump_cmd, ocr_cmd, plan_cmd

    parser = argparse.ArgumentParser(prog="dsocr", description="Local DeepSeek-OCR / DeepSeek-OCR-2 on MLX")
    parser.add_argument("--debug", action="store_true", help="show full tracebacks on errors")
    parser.add_argument("--version", action="version", version=_version())
    sub = parser.add_subparsers(dest="command", required=True)
    for mod in (plan_cmd, ocr_cmd, dump_cmd, convert_cmd):
        mod.add_parser(sub)
    for p in sub.choices.values():  # `dsocr ocr ... --debug` works as well as `dsocr --debug ocr ...`
        p.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help="show full tracebacks")
    return parser


def main(argv: list[str] | None = None) -> int:
    load_fast_blas()
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("dsocr: cancelled", file=sys.stderr)
        return 130
    except (ValueError, OSError) as e:  # ImageError, CheckpointError, InputError are ValueErrors
        if args.debug:
            raise
        print(f"dsocr: error: {_one_line(e)}", file=sys.stderr)
        return 2
    except MemoryError:
        if args.debug:
            raise
        print("dsocr: error: not enough memory; try fewer tiles (--max-tiles), a smaller --mode or --batch 1",
              file=sys.stderr)
        return 2
    except Exception as e:  # noqa: BLE001 - an unexpected failure: one line, the traceback with --debug
        if args.debug:
            raise
        print(f"dsocr: internal error: {type(e).__name__}: {_one_line(e)} (run again with --debug for the "
              "traceback and report it)", file=sys.stderr)
        return 3


def _one_line(e: BaseException) -> str:
    text = " ".join(str(e).split()) or type(e).__name__
    return text if len(text) <= 1000 else text[:997] + "..."


if __name__ == "__main__":
    sys.exit(main())
