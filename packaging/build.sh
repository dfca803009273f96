#!/usr/bin/env bash
# Build DSOCR with PyInstaller (build.spec), then run the frozen self-test and the frozen command line.
#
#   packaging/build.sh                 # -> dist/DSOCR/ (Linux) or dist/DSOCR.app (macOS)
#   DSOCR_CODESIGN_IDENTITY="Developer ID Application: NAME (TEAMID)" packaging/build.sh   # signed .app
#
# PYTHON picks the interpreter (default: python3, with PyInstaller: pip install -e ".[build]");
# DSOCR_DIST / DSOCR_WORK move the output and work folders (default dist/ and build/).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
PYTHON="${PYTHON:-python3}"
DIST="${DSOCR_DIST:-$ROOT/dist}"
WORK="${DSOCR_WORK:-$ROOT/build}"
cd "$ROOT"

"$PYTHON" -m PyInstaller --version >/dev/null 2>&1 \
    || { echo "build.sh: PyInstaller is missing: $PYTHON -m pip install -e '.[build]'" >&2; exit 2; }

start=$SECONDS
"$PYTHON" -m PyInstaller --noconfirm --log-level WARN --distpath "$DIST" --workpath "$WORK" build.spec
echo "build.sh: built in $((SECONDS - start)) s with PyInstaller $("$PYTHON" -m PyInstaller --version)"

if [[ "$(uname -s)" == Darwin ]]; then
    APP="$DIST/DSOCR.app"
    BIN="$APP/Contents/MacOS"
else
    APP="$DIST/DSOCR"
    BIN="$APP"
fi
echo "build.sh: $APP is $(du -sm "$APP" | cut -f1) MB"

# The frozen app checks itself (engine, MLX on the default device, a tiny OCR run, PDF, the window).
(cd "${TMPDIR:-/tmp}" && QT_QPA_PLATFORM="${QT_QPA_PLATFORM:-offscreen}" "$BIN/DSOCR" --self-test)
# The frozen command line answers too.
"$BIN/dsocr" --version
echo "build.sh: ok"
