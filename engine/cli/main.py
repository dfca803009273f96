"""`dsocr` entry point: parse arguments, run a subcommand, turn expected errors into one clear line.

The exit codes are those of `report.EXIT_CODES` (shown by `dsocr --help`); `--debug` adds the traceback
and keeps the code.
"""

from __future__ import annotations

import argparse
import sys
import traceback

from ..runtime.blas import load_fast_blas
from . import report


class Parser(argparse.ArgumentParser):
    """argparse with one-line errors: `dsocr: error: argument --x: ... (see 'dsocr ocr --help')`, exit 2."""

    def error(self, message: str):
        self.exit(report.USAGE, f"dsocr: error: {message} (see '{self.prog} --help')\n")


class _Formatter(argparse.RawDescriptionHelpFormatter):
    """Help as written: the epilog's table kept, option help wrapped at spaces only (never inside a hub id)."""

    def _split_lines(self, text, width):
        import textwrap

        return textwrap.wrap(" ".join(text.split()), width, break_on_hyphens=False, break_long_words=False)


class _Version(argparse.Action):
    """`--version`: printed as is (argparse would wrap a long BLAS path mid-word)."""

    def __init__(self, option_strings, dest=argparse.SUPPRESS, default=argparse.SUPPRESS, help=None):
        super().__init__(option_strings, dest, nargs=0, default=default, help=help)

    def __call__(self, parser, namespace, values, option_string=None):
        print(_version())
        parser.exit()


def _version() -> str:
    import platform

    from .. import __version__

    try:
        from importlib.metadata import version

        mlx = version("mlx")
    except Exception:  # noqa: BLE001
        mlx = "?"
    from ..runtime import allocator, jit_kernels
    from ..runtime.blas import blas_library

    return (f"dsocr {__version__} (mlx {mlx}, BLAS: {blas_library()}, CPU kernels: {jit_kernels.describe()}, "
            f"malloc: {allocator.describe()}, Python {platform.python_version()})")


def build_parser() -> argparse.ArgumentParser:
    from . import convert_cmd, dump_cmd, mcp_cmd, ocr_cmd, plan_cmd, serve_cmd, tiny_cmd

    parser = Parser(prog="dsocr", description="Local DeepSeek-OCR / DeepSeek-OCR-2 / Unlimited-OCR on MLX",
                    epilog=report.EXIT_CODES, formatter_class=_Formatter)
    parser.add_argument("--debug", action="store_true", help="show full tracebacks on errors (same exit codes)")
    parser.add_argument("--version", action=_Version, help="show the version, MLX and the BLAS in use")
    sub = parser.add_subparsers(dest="command", required=True)
    for mod in (plan_cmd, ocr_cmd, dump_cmd, convert_cmd, tiny_cmd, serve_cmd, mcp_cmd):
        mod.add_parser(sub)
    for p in sub.choices.values():  # `dsocr ocr ... --debug` works as well as `dsocr --debug ocr ...`
        p.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help="show full tracebacks")
        p.epilog = p.epilog or report.EXIT_CODES
        p.formatter_class = _Formatter
    return parser


def exit_code(e: BaseException) -> tuple[int, str]:
    """The exit code of an exception that ended a command, and its one-line message."""
    from ..preprocess.images import ImageError

    if isinstance(e, KeyboardInterrupt):
        return report.CANCELLED, "dsocr: cancelled"
    if isinstance(e, ImageError):  # the input (an image or PDF page) is unusable; InputError too
        return report.FAILED, f"dsocr: error: {report.one_line(e)}"
    if isinstance(e, (ValueError, OSError)):  # CheckpointError, ExportError, bad option values
        return report.USAGE, f"dsocr: error: {report.one_line(e)}"
    if isinstance(e, MemoryError):
        return report.USAGE, ("dsocr: error: not enough memory; try fewer tiles (--max-tiles), a smaller --mode "
                              "or --batch 1")
    return report.INTERNAL, (f"dsocr: internal error: {type(e).__name__}: {report.one_line(e)} (run again with "
                             "--debug for the traceback and report it)")


def main(argv: list[str] | None = None) -> int:
    load_fast_blas()
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as e:  # --help, --version, or a usage error (already printed)
        return e.code if isinstance(e.code, int) else report.USAGE
    try:
        return int(args.func(args) or 0)
    except (Exception, KeyboardInterrupt) as e:  # noqa: BLE001 - every failure: one line (+ traceback with --debug)
        code, message = exit_code(e)
        if args.debug:
            traceback.print_exc()
        print(message, file=sys.stderr, flush=True)
        return code


if __name__ == "__main__":
    sys.exit(main())
