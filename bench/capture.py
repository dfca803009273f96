"""Screen capture speed: release to clipboard with a warm resident instance, and a whole
`dsocr-app --capture --region ...` command handed to it, on a real X server (Xvfb) with a tiny model.

    python bench/capture.py [--runs 10] [--max-tokens 32] [--json]

What matters is the app's own overhead (crop, hand-over, worker, clipboard, queue), not the model: the
engine's share (`model_s`) is reported beside it. Needs Xvfb and xclip (see .ci/run). Progress goes to
stderr, the JSON object to stdout.
"""

from __future__ import annotations

import argparse
import json
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


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--max-tokens", type=int, default=32)
    ap.add_argument("--json", action="store_true", help="one line of JSON")
    args = ap.parse_args()
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
