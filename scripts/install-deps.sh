#!/bin/sh
# Installs what puljed needs to build, test and run its demo on Debian 12.
# Idempotent: installs only what is missing.  Run as root.
set -eu

PACKAGES="build-essential meson ninja-build pkg-config
  libetpan-dev libgmime-3.0-dev libsqlite3-dev libsystemd-dev libglib2.0-dev
  libgnutls28-dev libjson-glib-dev libsasl2-modules curl
  valgrind clang libclang-rt-14-dev
  dovecot-imapd dovecot-lmtpd postfix openssl faketime sqlite3 python3 ca-certificates poppler-utils systemd
  libsmartcols-dev scdoc man-db bash-completion chromium fonts-dejavu-core
  mpack uudeview sharutils
  libreoffice-calc-nogui python3-openpyxl"

missing=""
for p in $PACKAGES; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  case "$status" in
    "install ok installed") ;;
    *) missing="$missing $p" ;;
  esac
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" != 0 ]; then
  echo "install-deps: missing packages:$missing (run as root to install them)" >&2
  exit 1
fi
echo "install-deps: installing$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# The tests start their own Dovecot and Postfix; keep the packages' system
# services from starting (and binding ports 143/993/25) during installation,
# and let Postfix's debconf question install it unconfigured.
if command -v debconf-set-selections >/dev/null; then
  echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
fi
made_policy=""
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
  chmod 755 /usr/sbin/policy-rc.d
  made_policy=1
fi
# shellcheck disable=SC2086
rc=0
apt-get install -y -qq --no-install-recommends $missing || rc=$?
[ -n "$made_policy" ] && rm -f /usr/sbin/policy-rc.d
exit "$rc"
