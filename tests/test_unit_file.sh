#!/bin/sh
# The systemd units, puljed.service and the template puljed@.service:
# hardened to an exposure of at most 1.5 by `systemd-analyze security
# --offline=true`, clean under `systemd-analyze verify`, Type=notify with a
# watchdog, restarted without ever giving up (puljed backs off after crashes
# itself), ExecStart where this build installs puljed, each instance its own
# configuration, state directory and credential; the journal catalog parses.
set -u
# $1: the source tree; $2: where this build installs puljed, which each
# unit's ExecStart must name; $3: the built puljed; $4, $5: puljed.service
# and the template puljed@.service as the build generated them
# (systemd/puljed.service.in); $6, $7: the token helper's unit and where
# this build installs the helper.
installed="$2"
built="$3"
unit="$4"
template="$5"
catalog="$1/systemd/puljed.catalog"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# The template as instance "pool2", as systemd would load it.
cp "$unit" "$tmp/puljed.service"
cp "$template" "$tmp/puljed@pool2.service"
for u in "$tmp/puljed.service" "$tmp/puljed@pool2.service"; do
	out=$(systemd-analyze security --offline=true "$u" 2>&1) || { echo "$out"; exit 1; }
	level=$(printf '%s\n' "$out" | sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p')
	echo "$(basename "$u") exposure: $level"
	[ -n "$level" ] || { echo "no exposure level in: $out"; exit 1; }
	awk -v l="$level" 'BEGIN { exit !(l <= 1.5) }' || { echo "exposure $level > 1.5"; exit 1; }
	for key in Type=notify WatchdogSec= Restart=on-failure StartLimitIntervalSec=0 StateDirectory=puljed \
		   LoadCredential=imap-password: User=puljed MemoryHigh= MemoryMax=; do
		grep -q "^$key" "$u" || { echo "$u: missing $key"; exit 1; }
	done
	grep -q "^ExecStart=$installed --config " "$u" || { echo "ExecStart is not $installed:"; grep ^ExecStart= "$u"; exit 1; }
	# No core dump of the daemon's memory (the password), whatever the default.
	grep -q '^LimitCORE=0$' "$u" || { echo "$u: missing LimitCORE=0"; exit 1; }
	# systemd-analyze verify, with the built puljed where it will be
	# installed (verify wants the command to exist): silent, exit 0.
	sed -i "s|^ExecStart=$installed |ExecStart=$built |" "$u"
	out=$(systemd-analyze verify "$u" 2>&1) && [ -z "$out" ] || { echo "verify $u: $out"; exit 1; }
done
# puljed.service: the single mailbox; the template: each instance its own
# configuration, state directory and credential.
grep -q '^ExecStart=.* --config /etc/puljed/puljed.conf$' "$unit" || { echo "puljed.service: config"; exit 1; }
grep -q '^StateDirectory=puljed$' "$unit" || { echo "puljed.service: StateDirectory"; exit 1; }
grep -q '^LoadCredential=imap-password:/etc/puljed/imap-password$' "$unit" || { echo "puljed.service: credential"; exit 1; }
# The SMTP password for receipts is optional: a missing file falls back to
# SetCredential='s placeholder instead of failing the unit (exit 243).
for u in "$unit" "$template"; do
	grep -q '^SetCredential=smtp-password:\\n$' "$u" || { echo "$u: no SetCredential default for smtp-password"; exit 1; }
done
grep -q '^LoadCredential=smtp-password:/etc/puljed/smtp-password$' "$unit" || { echo "puljed.service: smtp credential"; exit 1; }
grep -q '^LoadCredential=smtp-password:/etc/puljed/%i.smtp-password$' "$template" || { echo "template: smtp credential"; exit 1; }
grep -q '^ExecStart=.* --config /etc/puljed/%i.conf$' "$template" || { echo "template: config"; exit 1; }
grep -q '^StateDirectory=puljed/%i$' "$template" || { echo "template: StateDirectory"; exit 1; }
grep -q '^LoadCredential=imap-password:/etc/puljed/%i.imap-password$' "$template" || { echo "template: credential"; exit 1; }
grep -q "^ExecStart=$7\$" "$6" || { echo "token unit: ExecStart is not $7"; exit 1; }
# Every MESSAGE_ID the daemon sends has a catalog entry, and the catalog is valid.
ids=$(grep -o 'MSGID_[A-Z_]* "[0-9a-f]\{32\}"' "$1/src/daemon.c" | grep -o '[0-9a-f]\{32\}')
[ -n "$ids" ] || { echo "no MESSAGE_IDs in daemon.c"; exit 1; }
for id in $ids; do
	grep -q "^-- $id" "$catalog" || { echo "catalog lacks $id"; exit 1; }
done
mkdir -p "$tmp/usr/lib/systemd/catalog" && cp "$catalog" "$tmp/usr/lib/systemd/catalog/"
journalctl --root="$tmp" --update-catalog >/dev/null 2>&1 || { echo "journalctl rejects the catalog"; exit 1; }
echo ok
