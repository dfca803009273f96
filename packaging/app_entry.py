"""Frozen entry point of the desktop app (`DSOCR`, the .app's executable): `dsocr_app.main.main`."""

import sys

from dsocr_app.main import main

if __name__ == "__main__":
    sys.exit(main())
