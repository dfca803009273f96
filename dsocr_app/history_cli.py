"""`dsocr-app --history [--json] [--limit N] [--search WORDS]`: the capture history printed, newest first
(with `--search`, the captures whose text holds every word), without starting Qt or loading a model (it
imports only the Qt-free `history_store`).

Text: one header line per capture (local time, tokens, task, model, image path) and its text indented below;
`--json`: a list of `{"id", "time", "text", "tokens", "task", "model", "image", "image_exists", "size",
"plan"}`. A damaged history is said in one line on stderr (exit 1); lost images are said in one line, the rest
is printed (exit 0).
"""

from __future__ import annotations

import json
import sqlite3
import sys
import time

from . import history_store as hs


def add_history_options(p) -> None:
    g = p.add_argument_group("capture history")
    g.add_argument("--history", action="store_true", help="print the capture history, newest first (no window, "
                   "no model)")
    g.add_argument("--json", action="store_true", help="with --history: one JSON list")
    g.add_argument("--limit", type=int, metavar="N", help="with --history: the newest N captures only")
    g.add_argument("--search", metavar="WORDS", help="with --history: the captures whose text holds every word")


def wanted(args) -> bool:
    return bool(args.history or args.json or args.limit is not None or args.search is not None)


def run(args, parser, prog: str = "dsocr-app") -> int:
    """Print the history as `args` ask; the exit status (option errors exit 2 through `parser`)."""
    if not args.history:
        parser.error("--json, --limit and --search go with --history")
    if args.limit is not None and args.limit < 1:
        parser.error(f"--limit {args.limit}: give at least 1")
    store = hs.HistoryStore(readonly=True)
    try:
        entries = store.entries(args.search or "", limit=args.limit)
    except hs.HistoryError as e:
        print(f"{prog}: error: {e}", file=sys.stderr)
        return 1
    except sqlite3.Error as e:  # damaged beyond what the check found
        print(f"{prog}: error: cannot read the history {store.db_path} ({e})", file=sys.stderr)
        return 1
    finally:
        store.close()
    note = hs.missing_note(store.missing_images(entries))
    if note:
        print(f"{prog}: {note}", file=sys.stderr)
    if args.json:
        print(json.dumps([e.to_dict() for e in entries], ensure_ascii=False, indent=2))
        return 0
    if not entries:
        print(f"{prog}: no captures in the history ({store.folder})", file=sys.stderr)
    for k, e in enumerate(entries):
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(e.time))
        lost = " (image lost)" if not e.image_ok else ""
        print(("\n" if k else "") + f"{when}  {e.tokens} tokens  {e.task}  {e.model}  {e.image}{lost}")
        for line in (e.text or "(no text found)").splitlines():
            print(f"    {line}")
    return 0
