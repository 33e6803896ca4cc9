#!/usr/bin/env bash
# Fresh-machine check: copy the committed tree to a temporary folder, run the README's two set-up
# commands there exactly as written (with a new .venv), and report install time and size.
# The app command runs with DAMER_EXPLORER_SMOKE so the window opens offscreen and closes.
#   bash packaging/fresh_check.sh            # both commands
#   bash packaging/fresh_check.sh --app-only # only the first (install + start the app)
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d /tmp/damer-fresh-XXXXXX)
git archive HEAD | tar -x -C "$work"
app_cmd=$(python3 - <<'PY'
import re
text = open("README.md").read()
cmds = re.findall(r"^```(?:bash|sh)\n(.*?)\n```", text, re.S | re.M)
print([c for c in cmds if "damer-explorer" in c][0].strip())
PY
)
test_cmd=$(python3 - <<'PY'
import re
text = open("README.md").read()
cmds = re.findall(r"^```(?:bash|sh)\n(.*?)\n```", text, re.S | re.M)
print([c for c in cmds if "pytest" in c][0].strip())
PY
)
cd "$work"
export QT_QPA_PLATFORM=offscreen DAMER_EXPLORER_SMOKE=500
export DAMER_CONFIG_DIR="$work/.config" DAMER_DATA_DIR="$work/.data" DAMER_CACHE_DIR="$work/.cache-features"
start=$(date +%s)
echo "fresh_check: \$ $app_cmd"
bash -c "$app_cmd"
installed=$(date +%s)
echo "fresh_check: install + app start took $((installed - start)) s; .venv is $(du -sh .venv | cut -f1)"
if [ "${1:-}" != "--app-only" ]; then
  echo "fresh_check: \$ $test_cmd"
  bash -c "$test_cmd"
  echo "fresh_check: test command took $(( $(date +%s) - installed )) s"
fi
rm -rf "$work"
