"""`dsocr serve` under concurrent clients (the `serve` section of `bench/run.py`, issue 41): requests per minute,
p50/p99 latency and pages per hour with 1, 4 and 16 clients against the same pages run one after another
in-process (`engine.ocr`, what `dsocr ocr` does), every answer checked against that single run's text, and the
latency of a one-line region sent while 16 clients run (every PROBE_PAUSE_S after its last answer, as a user
capturing regions would) against its time alone.

The model: a real-size-width DeepSeek-OCR v1 checkpoint with random weights written to a temporary folder
(`checkpoint.write_real_checkpoint`, bf16 safetensors) and loaded with `engine.load`, as `dsocr serve` loads
one. Every width is the real one (hidden 1280, 64 routed experts top 6, vocabulary 129280, SAM-B 768, CLIP-L
1024); the depths are cut so that the section fits ~15 minutes on a 2-core CPU: the language model has
LM_LAYERS = 2 of its 12 layers (the dense layer 0 and one MoE layer) and the vision encoder a quarter of its
blocks (SAM 3 of 12, one of them global; CLIP 6 of 24). With the full vision a 512 px view takes ~4.5 s here:
~200 encodes alone would take the whole budget. Cutting both keeps the real model's shares of encode and
decode in a page request roughly as they are on this CPU (real: ~4.5 s encode vs ~10 s for 64 tokens at
6 tok/s; here ~0.9 s vs ~3 s), and those shares decide what continuous batching can win (a newcomer is
encoded alone while the batch waits: only the decode is shared). The tokenizer is widened to the whole
vocabulary (ids past the small trained one decode to words `w123`), so every answer has text to compare, not
an empty string; the LM head is drawn afresh (`unique_head`: the checkpoint's repeats rows, exact ties).

Requests: OpenAI chat completions (httpx, one client per thread, loopback only), each a small PNG: 8 pages
(800x1000, drawn text; task `free`, PAGE_TOKENS = 64 tokens) and 4 one-line regions (600x40; task `ocr`,
LINE_TOKENS = 16), all in v1 `tiny` mode (one 512 px view, 64 image tokens), greedy (temperature 0, the
default recovery on). Random weights never write the end token, so every request decodes exactly its
max_tokens (unless a loop is rolled back). Each setting sends REQUESTS = 64 requests (request k is item
k mod 12: 2 pages to every line) through a shared counter, so each is sent once; it stops by itself
(SETTING_DEADLINE_S, then no more are sent; httpx timeouts). Server: `engine.service.server.start` on
127.0.0.1, port 0, `--max-batch` 4 (the default) for 1 and 4 clients, 16 for 16 clients (a batch of 4 would
leave 12 of them queued). While the 16 clients run, one more thread sends the one-line region again and
again, PROBE_PAUSE_S after each answer (its latency under load; those requests are not among the 64).

Checks: every request answered exactly once, status 200, `choices[0].message.content` equal to
`render(engine.ocr(...), "md")` of the same image bytes and options (the references are also the sequential
baseline: the 12 items' times, summed over the 64 requests' mix).
"""

from __future__ import annotations

import base64
import io
import json
import statistics
import tempfile
import threading
import time
from pathlib import Path

import models
from checkpoint import write_real_checkpoint

LM_LAYERS = 2
SAM_LAYERS, SAM_GLOBAL, CLIP_LAYERS = 3, [2], 6  # of 12 (global at 2, 5, 8, 11) and 24
MODE = "tiny"
PAGE_TOKENS, LINE_TOKENS = 64, 16
PAGES, LINES = 8, 4
REQUESTS = 64
CLIENTS = (1, 4, 16)
MAX_BATCH = {1: 4, 4: 4, 16: 16}
SETTING_DEADLINE_S = 360.0
ALONE_RUNS = 3
PROBE_PAUSE_S = 2.0  # between the one-line probe's requests: a user capturing regions, not a client in a loop


def serve_config() -> dict:
    """The real v1 config with LM_LAYERS language-model layers and a quarter of the vision blocks."""
    cfg = models.config("v1", LM_LAYERS)
    width = cfg["vision_config"]["width"]
    width["sam_vit_b"].update(layers=SAM_LAYERS, global_attn_indexes=SAM_GLOBAL)
    width["clip-l-14-224"].update(layers=CLIP_LAYERS)
    return cfg


def widen_tokenizer(folder: Path, vocab_size: int) -> None:
    """Give every id the tokenizer lacks a word (`w123`, byte-level: a leading space), so all of the model's
    vocabulary decodes to text."""
    path = folder / "tokenizer.json"
    tok = json.loads(path.read_text())
    vocab = tok["model"]["vocab"]
    taken = set(vocab.values()) | {a["id"] for a in tok["added_tokens"]}
    vocab.update({f"\u0120w{i}": i for i in range(vocab_size) if i not in taken})
    path.write_text(json.dumps(tok))


def unique_head(model, seed: int = 7) -> None:
    """Draw the LM head afresh (its dtype kept). The checkpoint's values are cut from one 16M-value pool
    (`models.from_pool`), so its 129280 x 1280 head repeats every 65536 rows: ids r and r + 65536 get exactly
    the same logit, and which of them greedy decoding picks then depends on the summation order of the product
    path (a batch of 9+ rows takes another one than a single row), so batched and single texts would differ
    for no fault of the server."""
    import mlx.core as mx

    head = model.language_model.lm_head
    w = mx.random.normal(head.weight.shape, key=mx.random.key(seed)) * 0.02
    head.weight = w.astype(head.weight.dtype)
    mx.eval(head.weight)


def write_model(folder: Path) -> Path:
    cfg = serve_config()
    write_real_checkpoint(folder, "v1", shards=2, config=cfg)
    widen_tokenizer(folder, cfg["language_config"]["vocab_size"])
    return folder


# ---- the requests ---------------------------------------------------------------------------------------

def _png(image) -> bytes:
    buf = io.BytesIO()
    image.save(buf, "PNG")
    return buf.getvalue()


def items() -> list[dict]:
    """PAGES small pages and LINES one-line regions: name, PNG bytes, task, max_tokens."""
    from PIL import Image, ImageDraw

    out = []
    for p in range(PAGES):
        img = Image.new("RGB", (800, 1000), "white")
        draw = ImageDraw.Draw(img)
        for row, y in enumerate(range(40, 960, 28)):
            draw.text((40 + 10 * (p % 3), y), f"Page {p + 1}, line {row + 1}: invoice item {p * 37 + row} "
                                              f"costs {(p + 1) * (row + 3)}.00 EUR", fill="black")
        out.append({"name": f"page{p + 1}", "png": _png(img), "task": "free", "max_tokens": PAGE_TOKENS})
    for k in range(LINES):
        img = Image.new("RGB", (600, 40), "white")
        ImageDraw.Draw(img).text((10, 12), f"Total {(k + 1) * 42}.{k}0 EUR, due {k + 10} March", fill="black")
        out.append({"name": f"line{k + 1}", "png": _png(img), "task": "ocr", "max_tokens": LINE_TOKENS})
    return out


def mix(all_items: list[dict]) -> list[dict]:
    """The REQUESTS requests of a setting: request k is item k mod len(items)."""
    return [all_items[k % len(all_items)] for k in range(REQUESTS)]


def options(item: dict):
    import engine

    return engine.RunOptions.of(task=item["task"], max_tokens=item["max_tokens"], temperature=0.0, mode=MODE)


def chat_body(item: dict, model_name: str) -> dict:
    url = "data:image/png;base64," + base64.b64encode(item["png"]).decode()
    return {"model": model_name, "max_tokens": item["max_tokens"], "temperature": 0, "mode": MODE,
            "messages": [{"role": "user", "content": [{"type": "text", "text": item["task"]},
                                                      {"type": "image_url", "image_url": {"url": url}}]}]}


def ask(client, item: dict, model_name: str) -> tuple[float, int, str | None]:
    """(latency s, HTTP status, content) of one chat request."""
    t0 = time.perf_counter()
    resp = client.post("/v1/chat/completions", json=chat_body(item, model_name))
    latency = time.perf_counter() - t0
    content = resp.json()["choices"][0]["message"]["content"] if resp.status_code == 200 else None
    return latency, resp.status_code, content


def pct(values: list[float], q: float) -> float | None:
    """The q-th percentile (nearest rank: with few samples, p99 is the largest)."""
    if not values:
        return None
    s = sorted(values)
    return s[min(len(s) - 1, max(0, int(-(-q * len(s) // 100)) - 1))]


# ---- the runs -------------------------------------------------------------------------------------------

def references(model, all_items: list[dict], log) -> tuple[dict, dict]:
    """Each item run alone in-process (`engine.ocr`, one warm-up first): its md text and its seconds."""
    import engine
    from engine.outputs.export import render

    engine.ocr(model, engine.open_image(all_items[0]["png"]), options(all_items[0]))  # warm-up
    texts, secs = {}, {}
    for item in all_items:
        image = engine.open_image(item["png"])
        t0 = time.perf_counter()
        result = engine.ocr(model, image, options(item))
        secs[item["name"]] = time.perf_counter() - t0
        texts[item["name"]] = render(result, "md")
        log(f"serve: {item['name']} alone in-process: {secs[item['name']]:.2f} s, "
            f"{result.generated_tokens} tokens, encode {result.encode_s:.2f} s")
    return texts, secs


def run_clients(url: str, model_name: str, requests: list[dict], clients: int, expected: dict,
                probe: dict | None = None) -> dict:
    """`clients` threads take the requests from one counter (each sent once) until all are answered or the
    deadline passes; `probe`: one more thread sends that item again and again meanwhile."""
    import httpx

    lock, state = threading.Lock(), {"next": 0}
    answers: dict[int, list] = {}
    probe_lat: list[float] = []
    probe_bad: list[str] = []
    stop = threading.Event()
    t_start = time.perf_counter()
    deadline = t_start + SETTING_DEADLINE_S

    def client_thread():
        with httpx.Client(base_url=url, timeout=SETTING_DEADLINE_S) as c:
            while time.perf_counter() < deadline:
                with lock:
                    k = state["next"]
                    if k >= len(requests):
                        return
                    state["next"] += 1
                try:
                    latency, status, content = ask(c, requests[k], model_name)
                except httpx.HTTPError as e:
                    latency, status, content = None, f"{type(e).__name__}", None
                with lock:
                    answers.setdefault(k, []).append((latency, status, content, time.perf_counter()))

    def probe_thread():
        with httpx.Client(base_url=url, timeout=SETTING_DEADLINE_S) as c:
            time.sleep(2.0)  # the clients' first requests are in
            while not stop.wait(PROBE_PAUSE_S) and time.perf_counter() < deadline:
                try:
                    latency, status, content = ask(c, probe, model_name)
                except httpx.HTTPError as e:
                    latency, status, content = None, type(e).__name__, None
                if stop.is_set():
                    return  # finished after the load ended: not a figure under load
                if latency is not None:
                    probe_lat.append(latency)
                if status != 200 or content != expected[probe["name"]]:
                    probe_bad.append(f"status {status}" if status != 200 else "text differs")

    threads = [threading.Thread(target=client_thread, daemon=True) for _ in range(clients)]
    extra = threading.Thread(target=probe_thread, daemon=True) if probe else None
    for t in threads + ([extra] if extra else []):
        t.start()
    for t in threads:
        t.join(SETTING_DEADLINE_S + 30)
    wall = max((a[-1][3] for a in answers.values()), default=time.perf_counter()) - t_start
    stop.set()
    if extra:
        extra.join(SETTING_DEADLINE_S + 30)
    ok = [k for k, a in answers.items() if len(a) == 1 and a[0][1] == 200]
    same = [k for k in ok if answers[k][0][2] == expected[requests[k]["name"]]]
    lat = [answers[k][0][0] for k in ok]
    pages = sum(1 for k in ok if requests[k]["task"] == "free")
    res = {"requests": len(requests), "answered": len(answers), "answered_ok": len(ok),
           "answered_twice": sum(len(a) > 1 for a in answers.values()),
           "not_sent": len(requests) - state["next"], "same_text": len(same),
           "errors": sorted({str(a[0][1]) for a in answers.values() if a[0][1] != 200}),
           "differing": sorted({requests[k]["name"] for k in ok if k not in same}),
           "wall_s": wall, "requests_per_minute": len(ok) * 60 / wall,
           "pages_per_hour": len(ok) * 3600 / wall, "full_pages_per_hour": pages * 3600 / wall,
           "p50_s": pct(lat, 50), "p99_s": pct(lat, 99)}
    if probe:
        res.update(line_under_load_n=len(probe_lat), line_under_load_p50_s=pct(probe_lat, 50),
                   line_under_load_p99_s=pct(probe_lat, 99), line_under_load_bad=probe_bad,
                   line_under_load_s=[round(x, 2) for x in probe_lat])
    return res


def serve(log) -> dict:
    import httpx

    import engine
    from engine.service import OcrService, ServeSettings
    from engine.service.app import model_id
    from engine.service.server import start

    t_section = time.perf_counter()
    all_items = items()
    requests = mix(all_items)
    line = next(i for i in all_items if i["task"] == "ocr")
    res: dict = {"serve_model": f"v1, real widths, {LM_LAYERS} of 12 LM layers, SAM {SAM_LAYERS} of 12 blocks, "
                                f"CLIP {CLIP_LAYERS} of 24; random bf16 weights loaded by engine.load",
                 "serve_mode": MODE, "serve_requests": REQUESTS, "serve_page_tokens": PAGE_TOKENS,
                 "serve_line_tokens": LINE_TOKENS,
                 "serve_mix": f"{PAGES} pages 800x1000 (task free) and {LINES} lines 600x40 (task ocr), "
                              "request k = item k mod 12"}
    with tempfile.TemporaryDirectory(prefix="dsocr-serve-bench-") as tmp:
        log("serve: writing the checkpoint")
        folder = write_model(Path(tmp) / "v1-real-width")
        t0 = time.perf_counter()
        model = engine.load(str(folder))
        res["serve_load_s"] = time.perf_counter() - t0
        unique_head(model)
        name = model_id(model)

        log("serve: references, one after another in-process (engine.ocr)")
        expected, secs = references(model, all_items, log)
        seq_s = sum(secs[r["name"]] for r in requests)
        res.update(serve_sequential_s=seq_s, serve_sequential_requests_per_minute=REQUESTS * 60 / seq_s,
                   serve_sequential_pages_per_hour=REQUESTS * 3600 / seq_s,
                   serve_sequential_page_s=statistics.median(secs[i["name"]] for i in all_items if i["task"] == "free"),
                   serve_sequential_line_s=statistics.median(secs[i["name"]] for i in all_items if i["task"] == "ocr"))

        for clients in CLIENTS:
            batch = MAX_BATCH[clients]
            settings = ServeSettings(host="127.0.0.1", port=0, max_batch=batch, max_pending=16)
            server = start(OcrService(model, batch, settings.max_pending), settings, announce=False)
            try:
                if clients == 1:  # the line alone, through the idle server (also its warm-up)
                    with httpx.Client(base_url=server.url, timeout=120) as c:
                        alone = [ask(c, line, name) for _ in range(ALONE_RUNS)]
                    res["serve_line_alone_s"] = statistics.median(a[0] for a in alone)
                    res["serve_line_alone_same_text"] = all(a[2] == expected[line["name"]] for a in alone)
                log(f"serve: {clients} clients, --max-batch {batch}")
                out = run_clients(server.url, name, requests, clients, expected,
                                  probe=line if clients == max(CLIENTS) else None)
                groups = server.service.decoder.groups
                out.update(max_batch=batch, joins=server.service.decoder.joins, admissions=len(groups),
                           express_runs=server.service.express_runs,
                           encoded_together=sum(g for g in groups if g > 1), largest_group=max(groups, default=0))
            finally:
                server.stop()
            log(f"serve: {clients} clients: {out['requests_per_minute']:.1f} requests/min, p50 {out['p50_s']:.2f} s, "
                f"p99 {out['p99_s']:.2f} s, {out['answered_ok']}/{REQUESTS} answered, {out['same_text']} same text")
            res.update({f"serve_{clients}_clients_{k}": v for k, v in out.items()})
        del model
    one = res["serve_1_clients_requests_per_minute"]
    top = max(CLIENTS)
    res[f"serve_{top}_over_1_client"] = res[f"serve_{top}_clients_requests_per_minute"] / one
    res[f"serve_{top}_over_sequential"] = (res[f"serve_{top}_clients_requests_per_minute"]
                                          / res["serve_sequential_requests_per_minute"])
    under = res.get(f"serve_{top}_clients_line_under_load_p99_s")
    res["serve_line_under_load_over_alone"] = under / res["serve_line_alone_s"] if under else None
    res["serve_nothing_lost"] = all(res[f"serve_{c}_clients_answered_ok"] == REQUESTS
                                    and res[f"serve_{c}_clients_same_text"] == REQUESTS
                                    and res[f"serve_{c}_clients_answered_twice"] == 0 for c in CLIENTS)
    res["serve_wall_s"] = time.perf_counter() - t_section
    return res
