#!/bin/sh
# Re-vendor the browser libraries of the web pages from the npm registry (no build step at run
# time): Det Fælles Designsystem (dkfds: CSS, JS, the IBM Plex Sans faces its CSS names, icons)
# and uPlot (charts) into cloud/web/static/vendor/, and axe-core (browser tests only) into
# tests/web/vendor/. Usage: sh cloud/web/static/vendor/update.sh  (needs npm)
set -eu
DKFDS_VERSION=${DKFDS_VERSION:-11.2.0}
UPLOT_VERSION=${UPLOT_VERSION:-1.6.32}
AXE_VERSION=${AXE_VERSION:-4.14.1}
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../../../.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm init -y >/dev/null && npm install --no-audit --no-fund --ignore-scripts \
  "dkfds@$DKFDS_VERSION" "uplot@$UPLOT_VERSION" "axe-core@$AXE_VERSION" >/dev/null)
nm="$tmp/node_modules"

d="$here/dkfds"
rm -rf "$d" && mkdir -p "$d/css" "$d/js" "$d/img"
cp "$nm/dkfds/dist/css/dkfds.min.css" "$d/css/"
cp "$nm/dkfds/dist/js/dkfds.min.js" "$d/js/"
cp -r "$nm/dkfds/dist/img/svg-icons" "$d/img/"
cp "$nm/dkfds/dist/img/logo-placeholder.png" "$nm/dkfds/dist/img/logo-header-placeholder.png" "$d/img/"
# only the font files the CSS refers to
grep -o 'url(\.\./fonts/[^)]*)' "$d/css/dkfds.min.css" | sed 's/^url(\.\.\///; s/)$//' | sort -u |
  while read -r f; do mkdir -p "$d/$(dirname "$f")"; cp "$nm/dkfds/dist/$f" "$d/$f"; done
cp "$nm/dkfds/LICENSE.md" "$d/LICENSE.md"
cp "$nm/dkfds/dist/fonts/IBMPlexSans/split/woff/license.txt" "$d/fonts/IBMPlexSans/LICENSE-OFL.txt"
printf 'dkfds %s from the npm registry (dist/css/dkfds.min.css, dist/js/dkfds.min.js, the fonts\nthe CSS names, dist/img/svg-icons); MIT, fonts SIL OFL 1.1, icons Apache 2.0 (LICENSE.md).\nUpdate: sh cloud/web/static/vendor/update.sh\n' "$DKFDS_VERSION" > "$d/VERSION"

u="$here/uplot"
rm -rf "$u" && mkdir -p "$u"
cp "$nm/uplot/dist/uPlot.iife.min.js" "$nm/uplot/dist/uPlot.min.css" "$nm/uplot/LICENSE" "$u/"
printf 'uplot %s from the npm registry (dist/uPlot.iife.min.js, dist/uPlot.min.css); MIT (LICENSE).\n' "$UPLOT_VERSION" > "$u/VERSION"

a="$repo/tests/web/vendor/axe-core"
rm -rf "$a" && mkdir -p "$a"
cp "$nm/axe-core/axe.min.js" "$nm/axe-core/LICENSE" "$a/"
printf 'axe-core %s from the npm registry (axe.min.js); MPL-2.0 (LICENSE). Browser tests only.\n' "$AXE_VERSION" > "$a/VERSION"
echo "vendored dkfds $DKFDS_VERSION, uplot $UPLOT_VERSION, axe-core $AXE_VERSION"
