"""The capture options of `dsocr-app` and their two moments: before Qt starts, hand the request to a running
instance (`handoff`); after the window exists, become the running instance (`start`).

    dsocr-app --capture                      # select a region; the text goes to the clipboard
    dsocr-app --capture --region 0,0,800,200 --print --save-capture cap.png
    dsocr-app --tray                         # stay in the tray / menu bar with the model loaded

Without a running instance `--capture` starts one (it stays in the tray, so the clipboard survives), except
with `--print`: then it is a one-shot that exits after printing (on X11 its clipboard goes with it).

`main` checks every option before the hand-over (a bad one: one line, exit 2); the plan and run options given
(`--version`, `--mode`, `--min-tiles`, `--max-tiles`, `--max-tokens`, `--model`) go with the request, and the
running instance applies them or refuses them (its reason printed here, exit 2).
"""

from __future__ import annotations

import argparse
import os
import sys

from . import geometry as geo


def add_capture_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("screen capture")
    g.add_argument("--capture", action="store_true", help="select a region of the screen and copy its text "
                   "(handed to the running DSOCR if there is one)")
    g.add_argument("--tray", action="store_true", help="keep running in the tray / menu bar with the model "
                   "loaded, without a window")
    g.add_argument("--region", metavar="X,Y,W,H", help="with --capture: this region (logical screen pixels) "
                   "instead of selecting one")
    g.add_argument("--print", action="store_true", dest="print_text", help="with --capture: also write the "
                   "text to stdout, then each QR code or barcode found as one line (FORMAT: TEXT)")
    g.add_argument("--save-capture", metavar="FILE.png", help="with --capture: save the captured image")


def check(args, parser: argparse.ArgumentParser) -> None:
    """Option errors exit with status 2 and say what is wrong."""
    if (args.region or args.print_text or args.save_capture) and not args.capture:
        parser.error("--region, --print and --save-capture go with --capture")
    if args.region:
        try:
            args.region = list(geo.parse_region(args.region))
        except ValueError as e:
            parser.error(str(e))
    if args.save_capture:
        args.save_capture = os.path.abspath(args.save_capture)
    if (args.capture or args.tray) and args.screenshot:
        parser.error("--capture and --tray do not go with --screenshot")


def handed_options(args) -> dict:
    """The plan and run options given on the command line, for the running instance to apply (a local model
    folder as a full path: the instance runs elsewhere)."""
    model = args.model
    if model and os.path.exists(os.path.expanduser(model)):
        model = os.path.abspath(os.path.expanduser(model))
    given = {"version": args.version, "mode": args.mode, "min_tiles": args.min_tiles, "max_tiles": args.max_tiles,
             "max_tokens": args.max_tokens, "model": model}
    return {k: v for k, v in given.items() if v is not None}


def _message(args) -> dict:
    if args.tray:
        message = {"action": "tray"}
    elif args.capture:
        message = {"action": "capture", "region": args.region, "save": args.save_capture}
    else:
        files = [os.path.abspath(f) for f in [*args.files, *args.open]]
        message = {"action": "open", "files": files, "pages": args.pages, "sample": bool(args.sample)} \
            if files or args.sample else {"action": "show"}
    options = handed_options(args)
    return {**message, "options": options} if options else message


def code_line(code: dict) -> str:
    """`"QR Code: https://example.com"`: a code of a capture's answer on one line."""
    return f"{code.get('format', '')}: {' '.join(str(code.get('text', '')).split())}"


def report(args, answer: dict) -> int:
    """Print a capture's answer as the command line promises; the exit status."""
    if not answer.get("ok"):
        if answer.get("cancelled"):
            print("dsocr-app: capture cancelled", file=sys.stderr)
            return 1
        print(f"dsocr-app: error: {answer.get('error', 'failed')}", file=sys.stderr)
        return 2 if answer.get("refused") else 1  # refused: an option the running instance cannot take
    if args.capture and args.print_text:
        text = answer.get("text", "") if answer.get("source") != "codes" else ""
        lines = [text.rstrip("\n")] if text or not answer.get("codes") else []
        lines += [code_line(c) for c in answer.get("codes") or []]  # QR codes and barcodes: one line each
        sys.stdout.write("\n".join(lines) + "\n")
        sys.stdout.flush()
    return 0


def handoff(args) -> int | None:
    """Hand the request to the running instance; its exit status, or None when none runs (start normally)."""
    if args.screenshot or args.self_test:
        return None
    from .instance import send

    try:
        answer = send(_message(args))
    except OSError as e:  # the socket folder (instance.InstanceError says why)
        print(f"dsocr-app: error: {e}", file=sys.stderr)
        return 1
    return None if answer is None else report(args, answer)


def start(app, window, args) -> bool:
    """Become the running instance (listen, tray, capture). True when the window should stay hidden."""
    from PySide6.QtCore import QTimer

    from . import link
    from .resident import Resident

    one_shot = args.capture and args.print_text
    resident = Resident(app, window, stay=(args.tray or args.capture) and not one_shot)  # the window's child
    link.start_history(window)  # the history's retention applies when DSOCR starts
    if not args.capture:
        if resident.stay and window.settings.model:
            link.ensure_model(window, lambda _message: None)  # keep the model warm (a failure shows a dialog)
        return args.tray

    def done(answer: dict) -> None:
        code = report(args, answer)
        if one_shot:
            if answer.get("ok") and app.platformName() == "xcb":
                print("dsocr-app: no DSOCR was running, so the clipboard is emptied as this one-shot exits "
                      "(X11 keeps it only while its owner runs): start `dsocr-app --tray` first",
                      file=sys.stderr)
            QTimer.singleShot(0, lambda: resident.quit(code))  # also when the capture ended before app.exec()

    resident.controller.capture(args.region, args.save_capture, done=done)
    return True
