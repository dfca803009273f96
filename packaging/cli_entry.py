"""Frozen entry point of the command line (`dsocr` beside `DSOCR`): `engine.cli.main.main`."""

import sys

from engine.cli.main import main

if __name__ == "__main__":
    sys.exit(main())
