"""Render the README's pictures from the app as it is now, and what each shows (`pictures.json`):

- `screenshot.png`: the window at 1440x900 with `show1.jpg` planned for v1, as
  `dsocr-app --screenshot docs/screenshot.png --open show1.jpg --version v1` renders it;
- `tiling_panel.png`: the Tiling tab for a 300 dpi scan (3456x5184), the official 2x3 grid chosen, 3x3
  previewed on the page, the small-text warning in the status line;
- `capture_overlay.png`: the capture overlay dragging a selection (`capture_overlay.py`).

    QT_QPA_PLATFORM=offscreen python docs/make_pictures.py [FOLDER] [--samples DIR]

FOLDER defaults to docs/; `show1.jpg` is read from --samples (default ../shared/samples beside the checkout,
the `assets/` of deepseek-ai/DeepSeek-OCR); without it the generated sample page stands in (and the manifest
says so). `tests/app/test_pictures.py` runs this script and checks that the committed pictures and
`pictures.json` are what it makes now (the toolbar, menus, tabs and sizes), so they cannot go stale.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
DOCS = Path(__file__).resolve().parent
sys.path.insert(0, str(DOCS.parent))
sys.path.insert(0, str(DOCS))

from PySide6.QtCore import QSettings  # noqa: E402
from PySide6.QtWidgets import QApplication, QToolBar, QToolButton  # noqa: E402

from dsocr_app.settings import Settings  # noqa: E402

SAMPLES = DOCS.parent.parent / "shared" / "samples"
MANIFEST = "pictures.json"


def _app() -> QApplication:
    from dsocr_app.app import DsocrApplication

    return QApplication.instance() or DsocrApplication(sys.argv[:1])


def _window(settings_dir: Path):
    """A window with throwaway settings (as `dsocr-app --screenshot` makes it), scripted: no dialogs."""
    from dsocr_app.window import MainWindow

    settings = Settings(QSettings(str(settings_dir / "settings.ini"), QSettings.Format.IniFormat))
    window = MainWindow(settings)
    window.quiet = True
    return window


def _settle(app, window) -> None:
    window.show()
    for _ in range(3):
        app.processEvents()
    window.view.fit()
    for _ in range(3):
        app.processEvents()


def describe(window) -> dict:
    """What a picture of the window shows, in words (no pixels, no fonts): toolbar, menus, tabs, parts shown."""
    toolbars = {}
    for tb in window.findChildren(QToolBar):
        if not tb.isVisible() or tb.objectName() != "main-toolbar":
            continue
        names = []
        for action in tb.actions():
            widget = tb.widgetForAction(action)
            if action.isSeparator() or widget is None or not widget.isVisible():
                continue
            names.append(widget.text().replace("&", "") if isinstance(widget, QToolButton) else action.iconText())
        toolbars[tb.windowTitle()] = names
    tabs = window.results.tabs
    parts = {"queue": window.queue_view, "page": window.view, "drop area": window.page.placeholder,
             "plan summary": window.plan_label, "tile counts": window.results.tile_counts,
             "token table": window.results.table, "tiling panel": window.results.tiling,
             "page scale": window.scale_status}
    shown = [name for name, w in parts.items() if w.isVisible()]
    return {
        "size": [window.width(), window.height()],
        "toolbar": toolbars,
        "menus": [a.text().replace("&", "") for a in window.menuBar().actions()],
        "tabs": [tabs.tabText(i) for i in range(tabs.count())],
        "current_tab": tabs.tabText(tabs.currentIndex()),
        "shown": shown,
    }


def main_window(out: Path, samples: Path, scratch: Path) -> dict:
    app = _app()
    window = _window(scratch)
    page = samples / "show1.jpg"
    try:
        window.set_plan_options(version="v1")
        if page.is_file():
            window.add_paths([page])
        else:
            from dsocr_app.sample import document_page

            window.add_image(document_page(), "Sample page")
        window.resize(1440, 900)
        _settle(app, window)
        if not window.grab().save(str(out)):
            raise OSError(f"could not write {out}")
        return {**describe(window), "page": page.name if page.is_file() else "generated sample page"}
    finally:
        window.close()


def tiling_panel(out: Path, scratch: Path) -> dict:
    from dsocr_app.sample import document_page

    app = _app()
    scan = scratch / "scan-300dpi.png"
    document_page().resize((3456, 5184)).save(scan)
    window = _window(scratch)
    try:
        window.set_plan_options(version="v1", mode="gundam")
        window.add_paths([scan])
        window.resize(1500, 930)
        window.results.tabs.setCurrentWidget(window.results.tiling)
        _settle(app, window)
        window.results.tiling._hover((3, 3))  # the pointer over the 3x3 row: its grid drawn on the page
        window.statusBar().clearMessage()  # the status line shows the scale and the small-text warning
        for _ in range(3):
            app.processEvents()
        if not window.grab().save(str(out)):
            raise OSError(f"could not write {out}")
        return {**describe(window), "page": "generated sample page at 3456x5184", "previewed": [3, 3],
                "warning": window.scale_status.warning or ""}
    finally:
        window.close()


def capture_overlay(out: Path) -> dict:
    import capture_overlay as overlay_picture  # docs/capture_overlay.py

    _app()
    if overlay_picture.main([str(out)]) != 0:
        raise OSError(f"could not write {out}")
    from PIL import Image

    with Image.open(out) as im:
        return {"size": list(im.size)}


def make(folder: Path, samples: Path = SAMPLES) -> dict:
    """Write the three pictures and `pictures.json` into `folder`; return the manifest."""
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        scratch = Path(tmp)
        (scratch / "a").mkdir()
        (scratch / "b").mkdir()
        manifest = {
            "screenshot.png": main_window(folder / "screenshot.png", samples, scratch / "a"),
            "tiling_panel.png": tiling_panel(folder / "tiling_panel.png", scratch / "b"),
            "capture_overlay.png": capture_overlay(folder / "capture_overlay.png"),
        }
    (folder / MANIFEST).write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return manifest


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="Render the README's pictures from the app as it is now.")
    p.add_argument("folder", nargs="?", default=str(DOCS), help="where to write them (default: docs/)")
    p.add_argument("--samples", default=str(SAMPLES), help="the folder holding show1.jpg")
    args = p.parse_args(sys.argv[1:] if argv is None else argv)
    manifest = make(Path(args.folder), Path(args.samples))
    for name in manifest:
        print(Path(args.folder) / name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
