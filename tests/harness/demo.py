"""The README demo: a throwaway Dovecot, the demo mails, one puljed cycle.

    PYTHONPATH=tests python3 -m harness.demo --builddir build

Loads every fixtures/demo/*.eml into the test mailbox with the INTERNALDATE
given in fixtures/demo/manifest.json (a list of {"file", "internaldate"}),
writes a puljed config into a temp dir, runs `puljed --config CFG --once`,
prints `puljectl --config CFG status` and `puljectl --config CFG list`, and
stops Dovecot.  Exit status is puljed's (or puljectl's) when one fails.
"""

import argparse
import glob
import json
import os
import shutil
import subprocess
import sys
import tempfile

from .dovecot import Dovecot
from .puljed import clean_env


def say(msg):
    sys.stdout.write("==> %s\n" % msg)
    sys.stdout.flush()


def load_manifest(fixtures):
    path = os.path.join(fixtures, "manifest.json")
    if not os.path.exists(path):
        return []
    with open(path, encoding="utf-8") as f:
        data = json.load(f)
    if not isinstance(data, list):
        raise SystemExit("%s: expected a JSON list of {file, internaldate}" % path)
    return data


def plan(fixtures):
    """[(path, internaldate or None)] in manifest order, then any .eml files
    the manifest does not name (in name order, arriving 'now')."""
    entries = load_manifest(fixtures)
    out, named = [], set()
    for e in entries:
        path = os.path.join(fixtures, e["file"])
        if not os.path.exists(path):
            raise SystemExit("manifest names %s, which does not exist" % path)
        out.append((path, e.get("internaldate")))
        named.add(os.path.basename(path))
    for path in sorted(glob.glob(os.path.join(fixtures, "*.eml"))):
        if os.path.basename(path) not in named:
            sys.stderr.write("warning: %s is not in manifest.json; using the "
                             "server's current time as INTERNALDATE\n" % path)
            out.append((path, None))
    return out


def main(argv=None):
    srcdir = os.environ.get("PULJED_SRCDIR") or os.path.dirname(
        os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    ap = argparse.ArgumentParser(prog="harness.demo", description=__doc__.split("\n")[0])
    ap.add_argument("--builddir", default=os.path.join(srcdir, "build"))
    ap.add_argument("--puljed", help="default: BUILDDIR/src/puljed or $PULJED")
    ap.add_argument("--puljectl", help="default: BUILDDIR/src/puljectl or $PULJECTL")
    ap.add_argument("--fixtures", default=os.environ.get("PULJED_FIXTURES_DEMO")
                    or os.path.join(os.environ.get("PULJED_FIXTURES")
                                    or os.path.join(srcdir, "fixtures"), "demo"))
    ap.add_argument("--keep", action="store_true",
                    help="keep the temp dir (config, database, Dovecot log)")
    args = ap.parse_args(argv)

    puljed = args.puljed or os.environ.get("PULJED") or \
        os.path.join(args.builddir, "src", "puljed")
    puljectl = args.puljectl or os.environ.get("PULJECTL") or \
        os.path.join(args.builddir, "src", "puljectl")
    for b in (puljed, puljectl):
        if not os.access(b, os.X_OK):
            raise SystemExit("demo: %s is missing; build first "
                             "(meson setup build && ninja -C build)" % b)
    mails = plan(args.fixtures)
    if not mails:
        raise SystemExit("demo: no .eml files in %s" % args.fixtures)

    work = tempfile.mkdtemp(prefix="puljed-demo-")
    os.chmod(work, 0o755)
    rc = 0
    dc = None
    try:
        say("starting a throwaway Dovecot on 127.0.0.1")
        dc = Dovecot(workdir=os.path.join(work, "dovecot"), keep=True)
        say("IMAPS on 127.0.0.1:%d, IMAP+STARTTLS on 127.0.0.1:%d, user %s"
            % (dc.imaps_port, dc.imap_port, dc.username))
        for path, idate in mails:
            with open(path, "rb") as f:
                raw = f.read()
            uid = dc.append("INBOX", raw, idate)
            say("appended UID %-3d %s  (INTERNALDATE %s)"
                % (uid, os.path.basename(path), idate or "now"))
        dc.close_client()
        # The CA file and password file live inside the work dir.
        cfg = dc.write_config(os.path.join(work, "puljed.conf"),
                              database=os.path.join(work, "puljed.db"))
        say("config: %s" % cfg)
        env = clean_env()
        steps = [
            ("puljed --config CFG --once", [puljed, "--config", cfg, "--once"]),
            ("puljectl --config CFG status", [puljectl, "--config", cfg, "status"]),
            ("puljectl --config CFG list", [puljectl, "--config", cfg, "list"]),
        ]
        for label, argv_ in steps:
            say(label)
            sys.stdout.flush()
            r = subprocess.run(argv_, env=env, stdin=subprocess.DEVNULL)
            if r.returncode != 0:
                say("%s exited with %d" % (label.split()[0], r.returncode))
                rc = r.returncode
                break
    finally:
        if dc is not None:
            dc.stop()
            say("stopped Dovecot")
        if args.keep or rc:
            say("kept %s (config, database, Dovecot log in dovecot/dovecot.log)" % work)
        else:
            shutil.rmtree(work, ignore_errors=True)
    return rc


if __name__ == "__main__":
    sys.exit(main())
