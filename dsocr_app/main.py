"""Entry point of `dsocr-app`: parse the command line, start Qt, show the window or render a screenshot.

`--screenshot FILE.png` renders the window offscreen (after planning, or after the run with `--run`) and
saves it, without touching the user's settings. New commands (e.g. `--self-test`) add an argument in
`build_parser` and a branch in `main`.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

from .capture import cli as capture_cli


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="dsocr-app", description="DSOCR desktop app: local DeepSeek-OCR with the "
                                "tile plan shown before anything runs.")
    p.add_argument("files", nargs="*", help="images, PDFs or folders to queue")
    p.add_argument("--open", action="append", default=[], metavar="IMAGE", help="queue this file (repeatable)")
    p.add_argument("--sample", action="store_true", help="queue a generated sample document page")
    p.add_argument("--model", metavar="MODEL", help="load this model (hub id or local folder) at start")
    p.add_argument("--version", choices=("v1", "v2"), help="model version to plan for")
    p.add_argument("--mode", help="resolution mode to plan for (e.g. gundam, base)")
    p.add_argument("--min-tiles", type=int)
    p.add_argument("--max-tiles", type=int)
    p.add_argument("--max-tokens", type=int, help="the longest text one run may write")
    p.add_argument("--screenshot", metavar="FILE.png", help="render the window offscreen to FILE.png and exit")
    p.add_argument("--run", action="store_true", help="with --screenshot: run the OCR first")
    p.add_argument("--size", default="1440x900", help="with --screenshot: window size WxH (default 1440x900)")
    p.add_argument("--self-test", action="store_true", help="check the install (engine, MLX, a tiny OCR run, "
                   "the window offscreen), one line per check; exit 1 on any failure")
    capture_cli.add_capture_options(p)
    return p


def _settings_for(args):
    """The user's settings, or throwaway ones for a screenshot (reproducible, and the user's stay untouched)."""
    from PySide6.QtCore import QSettings

    from .settings import Settings

    if args.screenshot:
        path = Path(tempfile.mkdtemp(prefix="dsocr-shot-")) / "settings.ini"
        return Settings(QSettings(str(path), QSettings.Format.IniFormat))
    return Settings()


def _apply_options(window, args) -> None:
    window.set_plan_options(version=args.version, mode=args.mode, min_tiles=args.min_tiles, max_tiles=args.max_tiles)
    if args.max_tokens:
        window.max_tokens = args.max_tokens


def take_screenshot(window, app, args) -> int:
    """Plan (and with --run, run) the queued image, then save the window as a PNG."""
    w, _, h = args.size.lower().partition("x")
    window.resize(int(w), int(h))
    window.show()
    app.processEvents()
    if args.model and not window.wait_idle():
        print("dsocr-app: timed out loading the model", file=sys.stderr)
        return 1
    if args.model and window.model is None:
        print(f"dsocr-app: {window.last_error}", file=sys.stderr)
        return 1
    if args.run:
        if window.model is None:
            print("dsocr-app: --run needs --model", file=sys.stderr)
            return 2
        window.run_current()
        if not window.wait_idle():
            print("dsocr-app: timed out running the OCR", file=sys.stderr)
            return 1
    window.view.fit()
    for _ in range(3):
        app.processEvents()
    out = Path(args.screenshot)
    out.parent.mkdir(parents=True, exist_ok=True)
    if not window.grab().save(str(out)):
        print(f"dsocr-app: could not write {out}", file=sys.stderr)
        return 1
    print(out)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    if args.run and not args.screenshot:
        parser.error("--run goes with --screenshot")
    capture_cli.check(args, parser)
    handed = capture_cli.handoff(args)  # a running DSOCR takes the request
    if handed is not None:
        return handed
    if args.self_test:
        from .self_test import run

        return run()
    if args.screenshot:
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

    from PySide6.QtWidgets import QApplication

    from .app import DsocrApplication
    from .window import MainWindow

    app = QApplication.instance() or DsocrApplication(sys.argv[:1])
    window = MainWindow(_settings_for(args))
    window.quiet = bool(args.screenshot)
    if isinstance(app, DsocrApplication):
        app.connect_file_open(window.open_file)
    _apply_options(window, args)
    if args.sample:
        from .sample import document_page

        window.add_image(document_page(), "Sample page")
    paths = [*args.files, *args.open]
    if paths:
        window.add_paths(paths)
    if args.model:
        window.load_model(args.model)
    if args.screenshot:
        code = take_screenshot(window, app, args)
        window.close()
        return code
    if not capture_cli.start(app, window, args):
        window.show()
    return app.exec()


if __name__ == "__main__":
    sys.exit(main())
