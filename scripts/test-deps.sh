#!/usr/bin/env bash
# The real clients some tests drive, from Debian: GDAL's ogrinfo (reads our OGC API and vector
# tiles) and Chromium (renders the web map headless), with a Chinese font for its screenshots. Installed when missing (as root); otherwise
# the tests that need them fail and say what to install. Idempotent; `npm test` calls it.
set -euo pipefail

need=()
command -v ogrinfo >/dev/null 2>&1 || need+=(gdal-bin)
command -v chromium >/dev/null 2>&1 || need+=(chromium)
# Chinese glyphs for the web map's screenshot artefact (no assertion depends on them).
[ -e /usr/share/fonts/truetype/wqy/wqy-microhei.ttc ] || need+=(fonts-wqy-microhei)
[ ${#need[@]} -eq 0 ] && exit 0

if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "test-deps: installing ${need[*]} from Debian"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${need[@]}" >/dev/null
else
  echo "test-deps: missing ${need[*]}; run as root: apt-get install ${need[*]} (the tests that need them will fail)" >&2
fi
