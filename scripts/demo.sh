#!/bin/sh
# The README demo: installs what is missing (Debian 12, as root), builds,
# starts a throwaway Dovecot on 127.0.0.1, loads the mails
# of fixtures/demo/ with their arrival times, runs one puljed cycle against
# it, prints `puljectl status` and `puljectl list`, and stops Dovecot.
#
#   scripts/demo.sh [BUILDDIR] [--keep]     (BUILDDIR defaults to build/)
#
# Run as root on a fresh machine; as another user once the packages of
# scripts/install-deps.sh are there.
set -eu

srcdir=$(cd "$(dirname "$0")/.." && pwd)
builddir=build
keep=
for arg in "$@"; do
	case $arg in
	--keep) keep=--keep ;;
	-h|--help) sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) builddir=$arg ;;
	esac
done

# A relative BUILDDIR is taken from the current directory, else from the
# source root.
case $builddir in
/*) ;;
*) if [ -d "$builddir" ]; then builddir=$(cd "$builddir" && pwd)
   else builddir=$srcdir/$builddir; fi ;;
esac

sh "$srcdir/scripts/install-deps.sh"
if [ ! -f "$builddir/build.ninja" ]; then
	meson setup "$builddir" "$srcdir" >/dev/null
fi
ninja -C "$builddir" >/dev/null

python=/usr/bin/python3
[ -x "$python" ] || python=python3

PYTHONPATH="$srcdir/tests${PYTHONPATH:+:$PYTHONPATH}" \
PULJED_SRCDIR="$srcdir" \
	exec "$python" -m harness.demo --builddir "$builddir" \
		--puljed "$builddir/src/puljed" --puljectl "$builddir/src/puljectl" $keep
