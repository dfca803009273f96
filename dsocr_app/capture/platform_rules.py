"""Platform rules of screen capture: the macOS Screen Recording permission and Dock icon, Wayland's portal.

- macOS: without the Screen Recording permission a screenshot holds only the wallpaper.
  `CGPreflightScreenCaptureAccess` says whether it is granted (no prompt); `CGRequestScreenCaptureAccess`
  asks once and adds DSOCR to System Settings > Privacy & Security > Screen Recording. Both through ctypes.
- macOS: while only the menu-bar item runs, DSOCR has no Dock icon (the NSApplication activation policy
  "accessory", switched at run time through the Objective-C runtime; "regular" again when a window shows).
- Wayland: Qt cannot read other applications' pixels; a capture asks the XDG desktop portal for the screenshot
  (`portal.py`). XWayland (Qt on `xcb` in a Wayland session) sees only X11 windows, so it asks the portal too.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys

PERMISSION_MESSAGE = ("DSOCR may not record the screen yet, so a capture would show only the wallpaper. "
                      "Allow it in System Settings > Privacy & Security > Screen Recording (turn DSOCR on), "
                      "then quit and reopen DSOCR.")


def is_wayland(platform_name: str, env=os.environ) -> bool:
    """True when Qt runs as a native Wayland client (XWayland's `xcb` can capture, but only X11 windows)."""
    return platform_name.startswith("wayland") or (platform_name == "" and env.get("XDG_SESSION_TYPE") == "wayland")


def uses_portal(platform_name: str, env=os.environ) -> bool:
    """True when the screenshot comes from the desktop portal: a Wayland session, natively or through XWayland."""
    return is_wayland(platform_name, env) or (platform_name == "xcb" and bool(env.get("WAYLAND_DISPLAY")))


def _core_graphics():
    path = ctypes.util.find_library("CoreGraphics")
    return ctypes.cdll.LoadLibrary(path) if path else None


def mac_permission(request: bool = False) -> bool:
    """True when the Screen Recording permission is granted (macOS 10.15+); with `request`, ask once."""
    cg = _core_graphics()
    if cg is None or not hasattr(cg, "CGPreflightScreenCaptureAccess"):
        return True  # older macOS: no such permission
    cg.CGPreflightScreenCaptureAccess.restype = ctypes.c_bool
    if cg.CGPreflightScreenCaptureAccess():
        return True
    if request:
        cg.CGRequestScreenCaptureAccess.restype = ctypes.c_bool
        return bool(cg.CGRequestScreenCaptureAccess())
    return False


def capture_problem(platform_name: str, request: bool = True) -> str | None:
    """Why a screen capture cannot work here (a message for the user), or None when it can."""
    if sys.platform == "darwin" and not mac_permission(request=request):
        return PERMISSION_MESSAGE
    return None


def set_dock_icon(visible: bool) -> bool:
    """macOS: show or hide the Dock icon (activation policy regular / accessory). False elsewhere or on error."""
    if sys.platform != "darwin":
        return False
    try:
        objc = ctypes.cdll.LoadLibrary(ctypes.util.find_library("objc"))
        ctypes.cdll.LoadLibrary(ctypes.util.find_library("AppKit"))
        objc.objc_getClass.restype = ctypes.c_void_p
        objc.sel_registerName.restype = ctypes.c_void_p
        send = objc.objc_msgSend
        send.restype = ctypes.c_void_p
        send.argtypes = [ctypes.c_void_p, ctypes.c_void_p]
        app = send(objc.objc_getClass(b"NSApplication"), objc.sel_registerName(b"sharedApplication"))
        set_policy = ctypes.CFUNCTYPE(ctypes.c_bool, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_long)(
            ctypes.cast(send, ctypes.c_void_p).value)
        return bool(set_policy(app, objc.sel_registerName(b"setActivationPolicy:"), 0 if visible else 1))
    except (OSError, AttributeError, TypeError):
        return False
