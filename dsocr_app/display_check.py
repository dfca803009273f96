"""Before Qt starts on Linux: is there a display, and are the system libraries Qt's X11 plugin needs there?

Qt itself aborts with one generic hint ("xcb-cursor0 is needed") whatever went wrong. Here a missing display
is said as such, and a library is named only when it really cannot be loaded.
"""

from __future__ import annotations

import ctypes
import os
import sys

# the libraries Qt 6's xcb platform plugin loads, and the Debian/Ubuntu packages that hold them
XCB_LIBRARIES = {
    "libxcb-cursor.so.0": "libxcb-cursor0",
    "libxcb-icccm.so.4": "libxcb-icccm4",
    "libxcb-image.so.0": "libxcb-image0",
    "libxcb-keysyms.so.1": "libxcb-keysyms1",
    "libxcb-randr.so.0": "libxcb-randr0",
    "libxcb-render-util.so.0": "libxcb-render-util0",
    "libxcb-shape.so.0": "libxcb-shape0",
    "libxcb-xkb.so.1": "libxcb-xkb1",
    "libxkbcommon-x11.so.0": "libxkbcommon-x11-0",
}


def missing_libraries(names=XCB_LIBRARIES) -> list[str]:
    """The libraries of `names` the dynamic loader cannot load."""
    missing = []
    for name in names:
        try:
            ctypes.CDLL(name)
        except OSError:
            missing.append(name)
    return missing


def display_problem(environ=os.environ, platform: str = sys.platform) -> str | None:
    """Why the window cannot open here (one message saying what to do), or None when it can."""
    if not platform.startswith("linux"):
        return None  # macOS and Windows always have their display
    qpa = environ.get("QT_QPA_PLATFORM", "")
    if qpa and not qpa.startswith("xcb"):
        return None  # offscreen, wayland, ...: Qt's own choice
    if environ.get("WAYLAND_DISPLAY") and not qpa:
        return None  # Qt picks wayland first
    if not environ.get("DISPLAY"):
        return ("no display: the window needs a desktop session (DISPLAY is not set). Run dsocr-app from the "
                "desktop, or use `dsocr-app --screenshot FILE.png` / `dsocr-app --self-test` (no display needed), "
                "or the `dsocr` command")
    missing = missing_libraries()
    if missing:
        packages = " ".join(XCB_LIBRARIES[m] for m in missing)
        return (f"Qt's X11 support needs system libraries that are missing: {', '.join(missing)}. "
                f"Install them (Debian/Ubuntu: sudo apt install {packages})")
    return None
