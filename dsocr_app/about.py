"""The About box: what DSOCR is, and the versions of the engine, MLX, Qt, PySide6 and Python."""

from __future__ import annotations

import platform
import sys
from importlib import metadata

from PySide6 import __version__ as pyside_version
from PySide6.QtCore import qVersion
from PySide6.QtWidgets import QMessageBox, QWidget

from . import __version__ as app_version
from . import engine_bridge as eb


def _dist_version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


def versions() -> dict[str, str]:
    return {
        "DSOCR app": app_version,
        "engine": eb.engine_version(),
        "MLX": _dist_version("mlx"),
        "Qt": qVersion(),
        "PySide6": pyside_version,
        "Python": f"{platform.python_version()} ({sys.platform})",
    }


def about_html(model_name: str = "") -> str:
    rows = "".join(f"<tr><td>{k}</td><td>&nbsp;{v}</td></tr>" for k, v in versions().items())
    model = f"<p>Model: {model_name}</p>" if model_name else "<p>No model loaded.</p>"
    return ("<h3>DSOCR</h3><p>Local document OCR with DeepSeek-OCR and DeepSeek-OCR-2 on MLX. "
            "Images never leave this computer; no telemetry.</p>"
            f"{model}<table>{rows}</table>")


def show_about(parent: QWidget, model_name: str = "") -> None:
    QMessageBox.about(parent, "About DSOCR", about_html(model_name))
