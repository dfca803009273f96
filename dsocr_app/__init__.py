"""DSOCR desktop app (PySide6): see the tile plan before running, stream OCR, export.

The app talks to the engine only through `import engine`, gathered in `dsocr_app.engine_bridge`.
"""

__version__ = "0.1.0"
