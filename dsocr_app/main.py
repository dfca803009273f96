"""Entry point of `dsocr-app`: check the command line and the display, start Qt, show the window or script it.

Scripted modes never open a dialog: `--screenshot FILE.png` renders the window offscreen (after planning, or
after the run with `--run`) at `--size WxH` and saves it, without touching the user's settings; a PDF
gives every page, or `--pages`. Bad options get one line and exit code 2, as in the `dsocr` command, checked
before a request is handed to a running DSOCR (`capture.cli.handoff`), which applies the options given. New
commands (e.g. `--self-test`) add an argument in `build_parser` and a branch in `main`.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

from . import history_cli
from .capture import cli as capture_cli

PROG = "dsocr-app"


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, exit 2 (argparse prints the whole usage first)
        self.exit(2, f"{PROG}: error: {message} (see {PROG} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog=PROG, description="DSOCR desktop app: local DeepSeek-OCR with the tile plan shown before "
                "anything runs.")
    p.add_argument("files", nargs="*", help="images, PDFs or folders to queue")
    p.add_argument("--open", action="append", default=[], metavar="IMAGE", help="queue this file (repeatable)")
    p.add_argument("--pages", metavar="RANGES", help="PDF pages to queue, e.g. 1-3,5 (default: ask, or every page "
                   "when scripted)")
    p.add_argument("--sample", action="store_true", help="queue a generated sample document page")
    p.add_argument("--model", metavar="MODEL", help="load this model (hub id or local folder) at start")
    p.add_argument("--version", choices=("v1", "v2", "unlimited"),
                   help="model version to plan for (unlimited: a PDF is one document)")
    p.add_argument("--mode", help="resolution mode to plan for (e.g. gundam, base)")
    p.add_argument("--min-tiles", type=int, metavar="N")
    p.add_argument("--max-tiles", type=int, metavar="N")
    p.add_argument("--max-tokens", type=int, metavar="N", help="the longest text one run may write")
    p.add_argument("--screenshot", metavar="FILE.png", help="render the window offscreen to FILE.png and exit "
                   "(no display needed)")
    p.add_argument("--run", action="store_true", help="with --screenshot: run the OCR first; exit 1 if it fails")
    p.add_argument("--size", default="1440x900", metavar="WxH", help="with --screenshot: window size "
                   "(default 1440x900)")
    p.add_argument("--self-test", action="store_true", help="check the install (engine, MLX, a tiny OCR run, "
                   "the window offscreen), one line per check; exit 1 on any failure")
    capture_cli.add_capture_options(p)
    history_cli.add_history_options(p)
    return p


def _settings_for(args):
    """The user's settings, or throwaway ones for a screenshot (reproducible, and the user's stay untouched)."""
    from PySide6.QtCore import QSettings

    from .settings import Settings

    if args.screenshot:
        path = Path(tempfile.mkdtemp(prefix="dsocr-shot-")) / "settings.ini"
        return Settings(QSettings(str(path), QSettings.Format.IniFormat))
    return Settings()


def parse_size(text: str) -> tuple[int, int]:
    w, sep, h = text.lower().partition("x")
    if not sep or not w.isdigit() or not h.isdigit() or not (320 <= int(w) <= 8000 and 240 <= int(h) <= 8000):
        raise ValueError(f"--size {text!r}: give the window size as WxH, e.g. 1440x900 (320x240 to 8000x8000)")
    return int(w), int(h)


def check_args(args, settings):
    """The planning options the command line asks for (ValueError with one clear line when not valid)."""
    from . import engine_bridge as eb
    from .plan_options import PlanOptions

    if args.run and not args.screenshot:  # also with a running DSOCR: it is not handed over
        raise ValueError("--run goes with --screenshot (to OCR files from the command line: dsocr ocr FILE)")
    if args.max_tokens is not None and args.max_tokens < 1:
        raise ValueError(f"--max-tokens {args.max_tokens}: give at least 1")
    if args.pages is not None:
        eb.parse_page_ranges(args.pages, 1_000_000)  # the syntax; each PDF checks its own page count
    if args.model and not Path(args.model).expanduser().is_dir() and not eb.is_repo_id(args.model):
        raise ValueError(f"--model {args.model}: no such folder, and not a Hugging Face repo id (owner/name)")
    if args.screenshot:
        parse_size(args.size)
        folder = Path(args.screenshot).expanduser().resolve().parent
        if not folder.is_dir():
            raise ValueError(f"--screenshot {args.screenshot}: the folder {folder} does not exist; create it first")
    version = args.version or settings.version
    mode = args.mode or settings.mode
    if args.mode is None and mode not in eb.MODES[version]:
        mode = eb.DEFAULT_MODE
    lo, hi = settings.tiles(version)
    return PlanOptions(version, mode, lo if args.min_tiles is None else args.min_tiles,
                       hi if args.max_tiles is None else args.max_tiles, settings.task).checked()


def take_screenshot(window, app, args) -> int:
    """Plan (and with --run, run) the queued image, then save the window as a PNG."""
    window.resize(*parse_size(args.size))
    window.show()
    app.processEvents()
    if args.model and not window.wait_idle():
        print(f"{PROG}: timed out loading the model", file=sys.stderr)
        return 1
    if args.model and window.model is None:
        print(f"{PROG}: error: {window.last_error}", file=sys.stderr)
        return 1
    if args.run:
        if window.model is None:
            print(f"{PROG}: error: --run needs --model", file=sys.stderr)
            return 2
        item, target = window.current()
        window.run_current()
        if not window.wait_idle():
            print(f"{PROG}: timed out running the OCR", file=sys.stderr)
            return 1
        if target is None or target.result is None or target.state.value != "done":
            why = (item.error or target.error) if item is not None else "nothing to run: add an image"
            print(f"{PROG}: error: the run failed: {why or window.last_error}", file=sys.stderr)
            return 1
    window.view.fit()
    for _ in range(3):
        app.processEvents()
    out = Path(args.screenshot)
    if not window.grab().save(str(out)):
        print(f"{PROG}: error: could not write {out}", file=sys.stderr)
        return 1
    print(out)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    if history_cli.wanted(args):  # before Qt and the engine: it only reads the history
        return history_cli.run(args, parser, PROG)
    capture_cli.check(args, parser)
    settings = _settings_for(args)
    try:
        options = check_args(args, settings)  # before any hand-over: a running DSOCR never gets a bad option
    except ValueError as e:
        print(f"{PROG}: error: {e}", file=sys.stderr)
        return 2
    handed = capture_cli.handoff(args)  # a running DSOCR takes the request and applies (or refuses) the options
    if handed is not None:
        return handed
    if args.self_test:
        from . import qt_messages
        from .self_test import run

        qt_messages.install()
        return run()
    if args.screenshot:
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    else:
        from .display_check import display_problem

        problem = display_problem()
        if problem:
            print(f"{PROG}: error: {problem}", file=sys.stderr)
            return 1

    from PySide6.QtWidgets import QApplication

    from . import qt_messages
    from .app import DsocrApplication, release_clipboard
    from .window import MainWindow

    if QApplication.instance() is None:
        qt_messages.install()  # Qt's harmless chatter dropped, real warnings said once
    app = QApplication.instance() or DsocrApplication(sys.argv[:1])
    window = MainWindow(settings)
    window.set_quiet(bool(args.screenshot))
    try:
        window.set_plan_options(version=options.version, mode=options.mode, min_tiles=options.min_tiles,
                                max_tiles=options.max_tiles)
        if args.max_tokens:
            window.set_max_tokens(args.max_tokens)
        if isinstance(app, DsocrApplication):
            app.connect_file_open(window.open_file)
        if args.sample:
            from .sample import document_page

            window.add_image(document_page(), "Sample page")
        paths = [*args.files, *args.open]
        if paths:
            window.add_paths(paths, pages=args.pages)
    except ValueError as e:  # e.g. --pages beyond a PDF's end
        print(f"{PROG}: error: {e}", file=sys.stderr)
        window.close()
        return 2
    if args.model:
        window.load_model(args.model)
    if args.screenshot:
        code = take_screenshot(window, app, args)
        window.close()
        release_clipboard()
        return code
    if not (args.capture and args.print_text):  # not a one-shot capture, which quits once it is done
        window.serve_local_api()  # Settings > Local API: other programs use this model too (tray and window alike)
    if not capture_cli.start(app, window, args):
        window.show()
    return app.exec()


if __name__ == "__main__":
    sys.exit(main())
