"""Frozen screenshots of every screen, and the physical pixels under a logical rectangle.

`grab_screens()` takes one screenshot per screen at once (`desktop_shots` cuts the desktop portal's one
screenshot of the whole desktop the same way) (the overlay then shows these, so what the user
selects is what was on the screen when the capture began). `Shot.crop` cuts the physical pixels under a
screen-local logical rectangle; `crop_global` does it for a rectangle in desktop coordinates (`--region`).
"""

from __future__ import annotations

from dataclasses import dataclass

from PIL import Image
from PySide6.QtGui import QGuiApplication, QPixmap, QScreen

from ..inputs import qimg_to_rgb
from . import geometry as geo


@dataclass
class Shot:
    """One screen's screenshot: its logical geometry on the desktop and its physical pixels."""

    screen: QScreen
    geometry: geo.Rect  # logical, desktop coordinates
    pixmap: QPixmap

    @property
    def ratio(self) -> float:
        return geo.pixel_ratio((self.pixmap.width(), self.pixmap.height()), self.geometry[2:])

    def physical(self, local: geo.Rect) -> geo.Rect | None:
        return geo.to_physical(local, self.ratio, (self.pixmap.width(), self.pixmap.height()))

    def crop(self, local: geo.Rect) -> Image.Image | None:
        """The physical pixels under a screen-local logical rectangle, as an RGB image (None if empty)."""
        box = self.physical(local)
        if box is None:
            return None
        return qimg_to_rgb(self.pixmap.copy(*box).toImage())


def _geometry(screen: QScreen) -> geo.Rect:
    g = screen.geometry()
    return g.x(), g.y(), g.width(), g.height()


def grab_screens() -> list[Shot]:
    """A screenshot of every screen (physical pixels, device pixel ratio measured)."""
    shots = []
    for screen in QGuiApplication.screens():
        pixmap = screen.grabWindow(0)
        if not pixmap.isNull():
            shots.append(Shot(screen, _geometry(screen), pixmap))
    return shots


def desktop_shots(pixmap: QPixmap) -> list[Shot]:
    """One screenshot of the whole desktop (the desktop portal's) cut into a Shot per screen."""
    screens = QGuiApplication.screens()
    parts = geo.desktop_parts((pixmap.width(), pixmap.height()), [_geometry(s) for s in screens])
    return [Shot(s, _geometry(s), pixmap.copy(*box)) for s, box in zip(screens, parts) if box is not None]


def crop_global(shots: list[Shot], rect: geo.Rect) -> tuple[Shot, geo.Rect, Image.Image]:
    """The screen that holds most of `rect` (desktop logical coordinates), the rectangle local to it, and its
    pixels. A rectangle across screens is cut to that screen. ValueError when it is on no screen."""
    index = geo.pick_screen(rect, [s.geometry for s in shots])
    if index is None:
        desktop = ", ".join("{}x{}+{}+{}".format(*s.geometry[2:], *s.geometry[:2]) for s in shots) or "none"
        raise ValueError(f"the region {rect} is on no screen (screens: {desktop})")
    shot = shots[index]
    local = geo.to_local(rect, shot.geometry)
    image = shot.crop(local)
    if image is None:
        raise ValueError(f"the region {rect} holds no pixels")
    return shot, local, image
