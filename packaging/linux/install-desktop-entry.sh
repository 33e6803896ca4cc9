#!/usr/bin/env bash
# Add DAMER Explorer (this folder) to your application menu, for you only (~/.local/share).
# Run it again after moving the folder; --remove takes the entry away again.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
id=org.damerexplorer.DamerExplorer
share=${XDG_DATA_HOME:-$HOME/.local/share}
if [ "${1:-}" = "--remove" ]; then
  rm -f "$share/applications/$id.desktop" "$share/icons/hicolor/256x256/apps/$id.png" \
        "$share/icons/hicolor/scalable/apps/$id.svg" "$share/metainfo/$id.metainfo.xml"
  echo "DAMER Explorer removed from the application menu"
  exit 0
fi
mkdir -p "$share/applications" "$share/icons/hicolor/256x256/apps" "$share/icons/hicolor/scalable/apps" "$share/metainfo"
sed -e "s|^Exec=damer-explorer|Exec=\"$here/damer-explorer\"|" -e "s|^TryExec=damer-explorer|TryExec=$here/damer-explorer|" \
  "$here/share/applications/$id.desktop" > "$share/applications/$id.desktop"
cp "$here/share/icons/hicolor/256x256/apps/$id.png" "$share/icons/hicolor/256x256/apps/"
cp "$here/share/icons/hicolor/scalable/apps/$id.svg" "$share/icons/hicolor/scalable/apps/"
cp "$here/share/metainfo/$id.metainfo.xml" "$share/metainfo/"
command -v update-desktop-database >/dev/null && update-desktop-database -q "$share/applications" || true
echo "DAMER Explorer added to the application menu ($share/applications/$id.desktop)"
# The analysis compiles parts of librosa once per user (about 20 s): done now, not on the first track.
echo "Preparing the analysis once (about 30 s)..."
"$here/damer-core" warm-up || echo "(the warm-up failed: the first track will take longer to analyse)"
