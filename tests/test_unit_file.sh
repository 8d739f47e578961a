#!/bin/sh
# The systemd unit: hardened to an exposure of at most 1.5 by
# `systemd-analyze security --offline=true`, Type=notify with a watchdog,
# restarted without ever giving up (puljed backs off after crashes itself),
# and the journal catalog parses.
set -u
# $2: the unit as the build generated it (systemd/puljed.service.in), $3:
# where this build installs puljed, which its ExecStart must start.
unit="$2"
catalog="$1/systemd/puljed.catalog"
out=$(systemd-analyze security --offline=true "$unit" 2>&1) || { echo "$out"; exit 1; }
level=$(printf '%s\n' "$out" | sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p')
echo "exposure: $level"
[ -n "$level" ] || { echo "no exposure level in: $out"; exit 1; }
awk -v l="$level" 'BEGIN { exit !(l <= 1.5) }' || { echo "exposure $level > 1.5"; exit 1; }
for key in Type=notify WatchdogSec= Restart=on-failure StartLimitIntervalSec=0 StateDirectory=puljed \
           LoadCredential=imap-password: User=puljed MemoryHigh= MemoryMax=; do
	grep -q "^$key" "$unit" || { echo "missing $key"; exit 1; }
done
grep -q "^ExecStart=$3 --config " "$unit" || { echo "ExecStart is not $3:"; grep ^ExecStart= "$unit"; exit 1; }
# No core dump of the daemon's memory (the password), whatever the default.
grep -q '^LimitCORE=0$' "$unit" || { echo "missing LimitCORE=0"; exit 1; }
# Every MESSAGE_ID the daemon sends has a catalog entry, and the catalog is valid.
ids=$(grep -o 'MSGID_[A-Z_]* "[0-9a-f]\{32\}"' "$1/src/daemon.c" | grep -o '[0-9a-f]\{32\}')
[ -n "$ids" ] || { echo "no MESSAGE_IDs in daemon.c"; exit 1; }
for id in $ids; do
	grep -q "^-- $id" "$catalog" || { echo "catalog lacks $id"; exit 1; }
done
tmp=$(mktemp -d)
mkdir -p "$tmp/usr/lib/systemd/catalog" && cp "$catalog" "$tmp/usr/lib/systemd/catalog/"
journalctl --root="$tmp" --update-catalog >/dev/null 2>&1 || { echo "journalctl rejects the catalog"; rm -rf "$tmp"; exit 1; }
rm -rf "$tmp"
echo ok
