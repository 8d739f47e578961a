#!/bin/sh
# puljed benchmark: installs what is missing (build deps, isync, GNU time), builds, runs bench/run.py "$@".
set -eu; cd "$(dirname "$0")/.."; sh scripts/install-deps.sh; for p in isync time; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || { apt-get update -qq; DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$p"; }; done; [ -f build/build.ninja ] || meson setup build; ninja -C build; exec /usr/bin/python3 bench/run.py "$@"
