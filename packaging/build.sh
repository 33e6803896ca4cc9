#!/usr/bin/env bash
# Build the desktop app: dist/damer-explorer/, one folder with the `damer-explorer` and
# `damer-core` programs, the desktop entry, the AppStream metadata and the icon. Copy the folder
# anywhere and run ./damer-explorer; ./install-desktop-entry.sh adds it to the application menu.
#   bash packaging/build.sh           # build (sets up .venv first if needed)
#   bash packaging/build.sh --check   # build, then open a track in the built app offscreen
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${DAMER_VENV:-.venv}
[ -x "$VENV/bin/python" ] || bash packaging/install.sh
"$VENV/bin/python" -m pip install -q "pyinstaller>=6.5"
export NUMBA_CACHE_DIR=${NUMBA_CACHE_DIR:-$PWD/.cache/numba}
export PYTHONWARNINGS=${PYTHONWARNINGS:-ignore::DeprecationWarning}
start=$(date +%s)
"$VENV/bin/python" -m PyInstaller --noconfirm --clean --log-level ERROR \
  --distpath dist --workpath build/pyinstaller packaging/damer-explorer.spec
out=dist/damer-explorer
# Symbols of the two largest libraries that nothing links against (~90 MB). Only these: stripping every library
# (PyInstaller's strip=True) breaks the auditwheel-patched ones such as numpy's OpenBLAS.
if command -v strip >/dev/null; then
  strip --strip-unneeded "$out/_internal/torch/lib/libtorch_cpu.so" "$out/_internal/llvmlite/binding/libllvmlite.so"
fi
id=org.damerexplorer.DamerExplorer
install -Dm644 packaging/linux/$id.desktop "$out/share/applications/$id.desktop"
install -Dm644 packaging/linux/$id.metainfo.xml "$out/share/metainfo/$id.metainfo.xml"
install -Dm644 resources/damer-explorer.png "$out/share/icons/hicolor/256x256/apps/$id.png"
install -Dm644 resources/damer-explorer.svg "$out/share/icons/hicolor/scalable/apps/$id.svg"
install -m755 packaging/linux/install-desktop-entry.sh "$out/install-desktop-entry.sh"
install -m644 packaging/linux/README.txt "$out/README.txt"
echo "build.sh: built $out in $(( $(date +%s) - start )) s; size $(du -sh "$out" | cut -f1)"
du -sh "$out"/_internal/{torch,llvmlite,PySide6,scipy,numpy*,libpython*} 2>/dev/null | sort -hr | sed 's/^/  /'
if [ "${1:-}" = "--check" ]; then
  track=${DAMER_CHECK_TRACK:-tests/data/vibe_ace.ogg}
  tmp=$(mktemp -d)
  QT_QPA_PLATFORM=offscreen DAMER_EXPLORER_SMOKE=300 DAMER_DATA_DIR="$tmp/data" DAMER_CONFIG_DIR="$tmp/config" \
    DAMER_CACHE_DIR="$tmp/cache" "$out/damer-explorer" "$track"
  rm -rf "$tmp"
  echo "build.sh: the built app opened $track and exited cleanly"
fi
