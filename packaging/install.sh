#!/usr/bin/env bash
# Set up DAMER Explorer on Debian 12 (or similar): system libraries, a virtual environment
# in .venv, the CPU build of torch, and the project itself.
#   bash packaging/install.sh         # to run the app
#   bash packaging/install.sh --dev   # also pytest + pytest-qt, to run the tests
# Environment: PYTHON (default python3), DAMER_VENV (default .venv),
#              DAMER_TORCH (default torch==2.13.0), DAMER_TORCH_INDEX (optional pip index for torch,
#              e.g. https://download.pytorch.org/whl/cpu on a machine that reaches it).
set -euo pipefail
cd "$(dirname "$0")/.."

extra=""
[ "${1:-}" = "--dev" ] && extra="[dev]"

APT_PACKAGES="libgl1 libegl1 libxkbcommon0 libxkbcommon-x11-0 libfontconfig1 fonts-dejavu-core
libglib2.0-0 libdbus-1-3 libx11-xcb1 libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 libxcb-image0
libxcb-randr0 libxcb-render-util0 libxcb-shape0 libxcb-xfixes0 libxcb-xkb1 xvfb xauth libportaudio2
ffmpeg python3-venv"
APT_PACKAGES=$(echo $APT_PACKAGES)

missing=""
if command -v dpkg-query >/dev/null 2>&1; then
  for p in $APT_PACKAGES; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
  done
fi
if [ -n "$missing" ]; then
  if [ "$(id -u)" = "0" ]; then
    echo "install.sh: installing system packages:$missing"
    export DEBIAN_FRONTEND=noninteractive
    . packaging/apt_wait.sh
    apt_get update -qq
    apt_get install -y -qq --no-install-recommends $missing >/dev/null
  else
    echo "install.sh: these system packages are missing. Install them, then run this again:"
    echo "  sudo apt-get install -y$missing"
    exit 1
  fi
fi

PY=${PYTHON:-python3}
VENV=${DAMER_VENV:-.venv}
[ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
pip="$VENV/bin/python -m pip"
$pip install -q --upgrade pip

# torch first: an unpinned torch would pull a multi-GB CUDA build.
if ! "$VENV/bin/python" -c "import torch" >/dev/null 2>&1; then
  if [ -n "${DAMER_TORCH_INDEX:-}" ]; then
    $pip install -q "${DAMER_TORCH:-torch==2.13.0}" --index-url "$DAMER_TORCH_INDEX"
  else
    $pip install -q "${DAMER_TORCH:-torch==2.13.0}"
  fi
fi
$pip install -q -e ".$extra"

# The whole analysis once on generated music, so numba compiles librosa's kernels into the user's
# cache now: on a fresh cache the first track's marker otherwise waits about 20 s for them.
"$VENV/bin/damer-core" warm-up || echo "install.sh: the warm-up failed; the first track will take longer to analyse"
echo "install.sh: ready ($VENV)"
