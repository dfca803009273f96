"""`dsocr-app --self-test`: check that this install (or the frozen app) can really work, one line per check.

Checks, in order: the engine and its native dependencies import; huggingface_hub's download path answers
offline; one MLX op runs on the default device (Metal on a Mac); a tiny random checkpoint is written to a
temporary folder and loaded; a generated image is planned and OCR'd; a generated PDF is rendered (pypdfium2's
binary) and a searchable PDF of it written (pikepdf's binary, the bundled glyph-less font); the window opens
offscreen and closes. Prints `ok`/`FAIL` per check on stdout (a failure's traceback
goes to stderr) and returns 1 if any failed. No network, no model download, no user settings.
"""

from __future__ import annotations

import dataclasses
import os
import sys
import tempfile
import time
import traceback
from pathlib import Path

CHECKS: list[tuple[str, object]] = []


def _need(state: dict, key: str):
    if key not in state:
        raise RuntimeError(f"not run: it needs '{key}' from an earlier check that failed")
    return state[key]


def check(name: str):
    def register(fn):
        CHECKS.append((name, fn))
        return fn

    return register


@check("imports")
def _imports(state: dict) -> str:
    import engine  # first: it loads the optimized BLAS before mlx.core
    import huggingface_hub
    import mlx.core as mx
    import numpy
    import PIL
    import pikepdf
    import pypdfium2
    import tokenizers
    from PySide6 import __version__ as pyside

    state["engine"] = engine
    return (f"engine {engine.__version__}, mlx {mx.__version__}, numpy {numpy.__version__}, Pillow {PIL.__version__}, "
            f"tokenizers {tokenizers.__version__}, huggingface_hub {huggingface_hub.__version__}, "
            f"pypdfium2 {pypdfium2.version.PYPDFIUM_INFO} (pdfium {pypdfium2.version.PDFIUM_INFO.build}), "
            f"pikepdf {pikepdf.__version__} (qpdf {pikepdf.__libqpdf_version__}), "
            f"PySide6 {pyside}; BLAS: {engine.blas_library()}")


@check("hub")
def _hub(state: dict) -> str:
    from huggingface_hub import HfApi, snapshot_download, try_to_load_from_cache  # noqa: F401 - what the engine uses
    from huggingface_hub.errors import LocalEntryNotFoundError

    try:  # the download path, offline: an empty cache must say "not found", not fail to import or to start
        snapshot_download("dsocr/self-test-absent", cache_dir=Path(state["tmp"]) / "hub", local_files_only=True)
    except LocalEntryNotFoundError:
        return "snapshot_download (offline, empty cache) reports the missing model"
    raise RuntimeError("snapshot_download found a model in an empty cache")


@check("mlx")
def _mlx(state: dict) -> str:
    import mlx.core as mx
    import numpy as np

    device = mx.default_device()
    if sys.platform == "darwin" and device != mx.gpu:
        raise RuntimeError(f"the default device is {device}, expected the GPU (Metal): is mlx.metallib bundled?")
    a = np.arange(64, dtype=np.float32).reshape(8, 8) / 64
    got = mx.softmax(mx.array(a) @ mx.array(a).T, axis=-1).sum(axis=-1)
    mx.eval(got)
    if not np.allclose(np.array(got), 1.0, atol=1e-5):
        raise RuntimeError(f"wrong result on {device}: {np.array(got)}")
    return f"matmul + softmax on {device}"


@check("checkpoint")
def _checkpoint(state: dict) -> str:
    engine = _need(state, "engine")
    folder = engine.write_tiny_checkpoint(Path(state["tmp"]) / "tiny-v2", "v2")
    t0 = time.perf_counter()
    state["model"] = engine.load(folder)
    return f"tiny v2 checkpoint written and loaded in {time.perf_counter() - t0:.2f} s"


@check("ocr")
def _ocr(state: dict) -> str:
    from .sample import document_page

    engine = _need(state, "engine")
    image = document_page(640, 480, title="Self-test")
    plan = engine.plan(image.size, version="v2", mode="small")  # the smallest v2 mode: a quick check
    result = engine.ocr(_need(state, "model"), image, engine.RunOptions.of(mode="small", max_tokens=8))
    state["result"] = result
    if result.plan.image_tokens != plan.image_tokens or result.generated_tokens < 1:
        raise RuntimeError(f"plan {plan.image_tokens} vs run {result.plan.image_tokens} image tokens, "
                           f"{result.generated_tokens} generated")
    return (f"{plan.image_tokens} image tokens planned, {result.generated_tokens} generated "
            f"({result.stop_reason}) in {result.elapsed_s:.2f} s")


@check("pdf")
def _pdf(state: dict) -> str:
    from .sample import document_page

    engine = _need(state, "engine")
    path = Path(state["tmp"]) / "two-pages.pdf"
    pages = [document_page(300, 400, seed=i) for i in range(2)]
    pages[0].save(path, save_all=True, append_images=pages[1:], resolution=72)
    count = engine.pdf_page_count(path)
    (_, image), = list(engine.render_pdf_pages(path, [1], 72))
    if count != 2 or image.size != (300, 400):
        raise RuntimeError(f"{count} pages, page 2 rendered at {image.size}")
    searchable = engine.SearchablePdf()
    searchable.add(dataclasses.replace(_need(state, "result"), image=image))
    data = searchable.to_bytes()
    out = Path(state["tmp"]) / "searchable.pdf"
    out.write_bytes(data)
    if engine.pdf_page_count(out) != 1:
        raise RuntimeError("the searchable PDF does not have its one page")
    return (f"{count} pages counted, page 2 rendered at {image.size[0]}x{image.size[1]}, "
            f"a searchable PDF of it written ({len(data)} bytes)")



@check("window")
def _window(state: dict) -> str:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication

    from .app import DsocrApplication
    from .sample import document_page
    from .settings import Settings
    from .window import MainWindow

    app = QApplication.instance() or DsocrApplication(sys.argv[:1])
    window = MainWindow(Settings(QSettings(str(Path(state["tmp"]) / "settings.ini"), QSettings.Format.IniFormat)))
    window.set_quiet(True)
    window.add_image(document_page(), "Self-test page")
    window.resize(1024, 700)
    window.show()
    for _ in range(3):
        app.processEvents()
    plan = window.current_plan
    shown = window.isVisible()
    window.close()
    app.processEvents()
    if not shown or plan is None:
        raise RuntimeError(f"window shown: {shown}, plan: {plan}")
    return f"opened on '{app.platformName()}', planned {plan.image_tokens} image tokens, closed"


def run(verbose: bool = True) -> int:
    """Run every check; print one line each (tracebacks of failures on stderr if `verbose`); 0 if all pass."""
    frozen = "frozen" if getattr(sys, "frozen", False) else "not frozen"
    print(f"DSOCR self-test ({frozen}, Python {sys.version.split()[0]}, {sys.platform})", flush=True)
    failed = 0
    with tempfile.TemporaryDirectory(prefix="dsocr-self-test-") as tmp:
        state: dict = {"tmp": tmp}
        for name, fn in CHECKS:
            t0 = time.perf_counter()
            try:
                detail = fn(state)
            except Exception as e:  # noqa: BLE001 - every failure is reported, the other checks still run
                failed += 1
                print(f"FAIL {name}: {type(e).__name__}: {e}", flush=True)
                if verbose:
                    traceback.print_exc()
                continue
            print(f"ok   {name}: {detail} [{time.perf_counter() - t0:.2f} s]", flush=True)
        state.clear()
    print(f"self-test {'failed' if failed else 'passed'}: {len(CHECKS) - failed}/{len(CHECKS)} checks", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(run())
