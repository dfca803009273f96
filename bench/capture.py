"""Screen capture speed: release to clipboard with a warm resident instance, and a whole
`dsocr-app --capture --region ...` command handed to it, on a real X server (Xvfb) with a tiny model.

    python bench/capture.py [--runs 10] [--max-tokens 32] [--json]
    python bench/capture.py --memory 200      # resident RSS over 200 captures (goal: +150 MB at most)
    python bench/capture.py --queue 500       # a queue of 500 scans opened in the window (goal: +300 MB)

What matters is the app's own overhead (crop, hand-over, worker, clipboard, queue), not the model: the
engine's share (`model_s`) is reported beside it. Needs Xvfb and xclip (see .ci/run). Progress goes to
stderr, the JSON object to stdout.

Memory (issue 43, "memory that stays flat"): `--memory N` starts a resident `dsocr-app --tray` (tiny model,
`--max-tokens 64`) on a 2560x1600 Xvfb and runs `dsocr-app --capture --region 0,0,2000,1400 --print` N times,
reading the resident's RSS after each (goal: RSS after N <= RSS after the first + 150 MB); `--queue N` opens a
folder of N scans (`--scan-size`, JPEG) in a fresh window process (offscreen), lets the queue check every one,
shows a few, and compares its RSS with the empty window's (goal: <= 300 MB more).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import engine  # noqa: E402

from dsocr_app.sample import document_page  # noqa: E402
from tests.app.capture.xsession import XSession, missing_tools  # noqa: E402

REGIONS = {"line": (40, 60, 500, 40), "paragraph": (40, 60, 700, 300), "screen": (0, 0, 800, 600)}


def median(values: list[float]) -> float:
    return round(statistics.median(values), 3)


def rss_mb(pid: int) -> float:
    """Resident memory of a process (Linux /proc; macOS/BSD through ps), MB."""
    try:
        with open(f"/proc/{pid}/status") as f:
            return next(int(line.split()[1]) for line in f if line.startswith("VmRSS")) / 1024
    except OSError:
        out = subprocess.run(["ps", "-o", "rss=", "-p", str(pid)], capture_output=True, text=True, check=False)
        return int(out.stdout.strip() or 0) / 1024


def capture_memory(n: int, max_tokens: int) -> dict:
    """The resident's RSS over `n` captures of a 2000x1400 region of a 2560x1600 screen."""
    tmp = Path(tempfile.mkdtemp(prefix="dsocr-capture-memory-"))
    model = engine.write_tiny_checkpoint(tmp / "tiny-v2", version="v2")
    page = tmp / "page.png"
    document_page().save(page)
    x = XSession(tmp / "config", size="2560x1600")
    rss: list[float] = []
    try:
        if x.qt_problem():
            raise RuntimeError(f"Qt cannot start on X11: {x.qt_problem()}")
        x.show_image(page)
        resident = x.start_resident("--model", str(model), "--max-tokens", str(max_tokens))
        start = rss_mb(resident.pid)
        t0 = time.perf_counter()
        for k in range(n):
            run = x.dsocr_app("--capture", "--region", "0,0,2000,1400", "--print")
            if run.returncode:
                raise RuntimeError(f"capture {k + 1} failed: {run.stderr.strip()}")
            rss.append(round(rss_mb(resident.pid), 1))
            if k in (0, 1, 9) or (k + 1) % 20 == 0:
                print(f"capture {k + 1}: resident RSS {rss[-1]:.0f} MB", file=sys.stderr)
        seconds = time.perf_counter() - t0
        listed = x.dsocr_app("--history", "--json", timeout=60)
        kept = len(json.loads(listed.stdout or "[]"))
    finally:
        x.close()
    growth = rss[-1] - rss[0]
    return {"captures": n, "region": [0, 0, 2000, 1400], "screen": "2560x1600", "max_tokens": max_tokens,
            "rss_start_mb": round(start, 1), "rss_first_mb": rss[0], "rss_last_mb": rss[-1],
            "rss_max_mb": max(rss), "growth_mb": round(growth, 1),
            "per_capture_after_10_mb": round((rss[-1] - rss[min(9, n - 1)]) / max(1, n - 10), 3),
            "rss_every_10_mb": rss[9::10], "seconds_per_capture": round(seconds / n, 2), "history_entries": kept,
            "goal_mb": 150, "meets_goal": growth <= 150}


QUEUE_CHILD = r"""
import json, os, sys, tempfile, time
from pathlib import Path
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, sys.argv[1])
from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QApplication
from dsocr_app.settings import Settings
from dsocr_app.window import MainWindow
from bench.capture import rss_mb
app = QApplication([])
w = MainWindow(Settings(QSettings(str(Path(tempfile.mkdtemp()) / "s.ini"), QSettings.Format.IniFormat)))
w.set_quiet(True)
w.resize(1400, 900)
w.show()
for _ in range(20):
    app.processEvents()
empty = rss_mb(os.getpid())
t0 = time.perf_counter()
w.add_paths([sys.argv[2]])
while w.queue.unchecked():
    app.processEvents()
checked_s = time.perf_counter() - t0
for row in range(0, len(w.queue.items), max(1, len(w.queue.items) // 20)):  # opened one after another
    w.show_row(row)
    app.processEvents()
w.show_row(len(w.queue.items) - 1)
app.processEvents()
print(json.dumps({"rss_empty_mb": round(empty, 1), "rss_queue_mb": round(rss_mb(os.getpid()), 1),
                  "items": len(w.queue.items), "broken": sum(bool(i.error) for i in w.queue.items),
                  "check_s": round(checked_s, 1)}))
w.close()
"""


def queue_memory(n: int, size: str) -> dict:
    """A fresh window process opens a folder of `n` scans (JPEG, `size` WxH pixels)."""
    from PIL import Image

    w, h = (int(v) for v in size.lower().split("x"))
    folder = Path(tempfile.mkdtemp(prefix="dsocr-queue-memory-"))
    scan = folder / "scan-0000.jpg"
    document_page().resize((w, h), Image.Resampling.BILINEAR).save(scan, quality=85)
    for k in range(1, n):
        os.link(scan, folder / f"scan-{k:04d}.jpg")
    env = {**os.environ, "DSOCR_DATA_DIR": str(folder.parent / (folder.name + "-data"))}
    out = subprocess.run([sys.executable, "-c", QUEUE_CHILD, str(ROOT), str(folder)], env=env, check=False,
                         capture_output=True, text=True, timeout=3600)
    if out.returncode:
        raise RuntimeError(out.stderr.strip().splitlines()[-1] if out.stderr.strip() else "the window failed")
    r = json.loads(out.stdout.strip().splitlines()[-1])
    growth = r["rss_queue_mb"] - r["rss_empty_mb"]
    return {"images": n, "scan_size": [w, h], **r, "growth_mb": round(growth, 1), "goal_mb": 300,
            "meets_goal": growth <= 300}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--max-tokens", type=int, help="the token limit of each run (32; 64 with --memory)")
    ap.add_argument("--json", action="store_true", help="one line of JSON")
    ap.add_argument("--memory", type=int, metavar="N", help="measure the resident's RSS over N captures instead")
    ap.add_argument("--queue", type=int, metavar="N", help="measure a window with N scans queued instead")
    ap.add_argument("--scan-size", default="1700x2200", metavar="WxH", help="with --queue: each scan's pixels")
    args = ap.parse_args()
    if args.queue:
        out = {"queue_memory": queue_memory(args.queue, args.scan_size)}
        print(json.dumps(out, indent=None if args.json else 2))
        return 0
    if args.memory and missing_tools():
        print(f"bench/capture.py needs {', '.join(missing_tools())}", file=sys.stderr)
        return 1
    if args.memory:
        out = {"capture_memory": capture_memory(args.memory, args.max_tokens or 64)}
        print(json.dumps(out, indent=None if args.json else 2))
        return 0
    args.max_tokens = args.max_tokens or 32
    if missing_tools():
        print(f"bench/capture.py needs {', '.join(missing_tools())}", file=sys.stderr)
        return 1
    tmp = Path(tempfile.mkdtemp(prefix="dsocr-capture-bench-"))
    model = engine.write_tiny_checkpoint(tmp / "tiny-v2", version="v2")
    page = tmp / "page.png"
    document_page().crop((0, 0, 800, 600)).save(page)
    x = XSession(tmp / "config")
    out: dict = {"runs": args.runs, "max_tokens": args.max_tokens, "model": "tiny v2 (random weights)"}
    try:
        if x.qt_problem():
            print(f"Qt cannot start on X11: {x.qt_problem()}", file=sys.stderr)
            return 1
        x.show_image(page)
        t0 = time.perf_counter()
        x.start_resident("--model", str(model), "--max-tokens", str(args.max_tokens))
        out["resident_start_s"] = round(time.perf_counter() - t0, 3)
        x.ask({"action": "capture", "region": list(REGIONS["line"])})  # warm-up
        for name, region in REGIONS.items():
            answers = [x.ask({"action": "capture", "region": list(region)}) for _ in range(args.runs)]
            bad = [a for a in answers if not (a and a.get("ok"))]
            if bad:
                print(f"capture failed: {bad[0]}", file=sys.stderr)
                return 1
            total, model_s = [a["seconds"] for a in answers], [a["model_s"] for a in answers]
            out[name] = {"region": list(region), "release_to_clipboard_s": median(total),
                         "model_s": median(model_s),
                         "app_overhead_s": median([t - m for t, m in zip(total, model_s)]),
                         "tokens": int(statistics.median(a["tokens"] for a in answers))}
            print(f"{name}: {out[name]}", file=sys.stderr)
        region = ",".join(map(str, REGIONS["paragraph"]))
        walls = []
        for _ in range(args.runs):
            t0 = time.perf_counter()
            run = x.dsocr_app("--capture", "--region", region, "--print")
            walls.append(time.perf_counter() - t0)
            if run.returncode:
                print(run.stderr, file=sys.stderr)
                return 1
        out["command_wall_s"] = median(walls)
        print(f"dsocr-app --capture --region {region} --print: {out['command_wall_s']} s", file=sys.stderr)
        out["goal_s"] = 3.0
        out["meets_goal"] = all(out[n]["release_to_clipboard_s"] < 3.0 for n in REGIONS)
    finally:
        x.close()
    print(json.dumps(out, indent=None if args.json else 2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
