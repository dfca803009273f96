"""Render docs/capture_overlay.png: the capture overlay over a sample screen, a selection being dragged,
its tile grid and token count drawn (offscreen, a 2x "Retina" screen of 1440x900 points).

    QT_QPA_PLATFORM=offscreen python docs/capture_overlay.py [docs/capture_overlay.png]

`docs/make_pictures.py` renders it with the README's other pictures.
"""

import os
import sys
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from PIL import Image  # noqa: E402
from PySide6.QtGui import QGuiApplication, QPixmap  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from dsocr_app import engine_bridge as eb  # noqa: E402
from dsocr_app.capture.overlay import SelectionOverlay  # noqa: E402
from dsocr_app.capture.screens import Shot  # noqa: E402
from dsocr_app.preview_view import pil_to_qimage  # noqa: E402
from dsocr_app.sample import document_page  # noqa: E402


def screen_image() -> Image.Image:
    """A 2880x1800 'desktop': a grey background with a document page open on it."""
    desk = Image.new("RGB", (2880, 1800), (58, 64, 78))
    page = document_page()
    page = page.resize((1600, round(page.height * 1600 / page.width)))
    desk.paste(page.crop((0, 0, 1600, 1640)), (640, 80))
    return desk


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    out = Path(argv[0] if argv else Path(__file__).with_name("capture_overlay.png"))
    app = QApplication.instance() or QApplication([])
    shot = Shot(QGuiApplication.primaryScreen(), (0, 0, 1440, 900), QPixmap.fromImage(pil_to_qimage(screen_image())))
    overlay = SelectionOverlay(shot, lambda size: eb.plan(size, version="v2", mode="gundam"))
    overlay.resize(1440, 900)
    overlay.set_selection((330, 150, 770, 490))
    overlay.show()
    app.processEvents()
    if not overlay.grab().save(str(out)):
        print(f"could not write {out}", file=sys.stderr)
        return 1
    print(out, overlay.label)
    return 0


if __name__ == "__main__":
    sys.exit(main())
