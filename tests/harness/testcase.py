"""unittest base class for puljed integration tests."""

import datetime as dt
import json
import os
import sqlite3
import shutil
import subprocess
import sys
import tempfile
import unittest

from . import puljed as P
from .daemon import Daemon
from .dovecot import Dovecot
from .oauth2 import IntrospectionServer
from .recorder import ImapRecorder


def parse_iso(text):
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


class PuljedTestCase(unittest.TestCase):
    """Gives each test a temp dir, Dovecot instances that are always stopped,
    and run helpers that check every output for leaked secrets."""

    @classmethod
    def setUpClass(cls):
        # Fail (not skip) loudly when the binaries are not given.
        cls.puljed_bin = P.puljed_path()
        cls.puljectl_bin = P.puljectl_path()

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="puljed-test-%s-" % self._testMethodName)
        os.chmod(self.tmp, 0o755)
        self.secrets = []
        self.runs = []
        self.instances = []
        self.addCleanup(self._cleanup)

    def _cleanup(self):
        failed = self._failed()
        for dc in self.instances:
            dc.stop()
            if failed:
                sys.stderr.write("\n--- Dovecot log (%s) for failed %s:\n%s\n" % (
                    dc.dir, self.id(), dc.log_text()[-6000:]))
        if failed and self.runs:
            sys.stderr.write("--- last runs of %s:\n" % self.id())
            for r in self.runs[-4:]:
                sys.stderr.write(r.describe() + "\n")
        keep = os.environ.get("PULJED_KEEP_TMP") not in (None, "", "0")
        for dc in self.instances:
            if not keep:
                dc.cleanup()
        if keep:
            sys.stderr.write("kept %s\n" % self.tmp)
        else:
            shutil.rmtree(self.tmp, ignore_errors=True)

    def _failed(self):
        outcome = getattr(self, "_outcome", None)
        if outcome is None:
            return False
        result = getattr(outcome, "result", None)
        if result is not None:
            for test, _ in list(result.failures) + list(result.errors):
                if test is self:
                    return True
        return not getattr(outcome, "success", True)

    # ----------------------------------------------------------- helpers
    def dovecot(self, **kw):
        dc = Dovecot(**kw)
        self.instances.append(dc)
        self.secrets.append(dc.password)
        return dc

    def path(self, *parts):
        return os.path.join(self.tmp, *parts)

    def config(self, dc, name="puljed.conf", **kw):
        kw.setdefault("database", self.path("puljed.db"))
        return dc.write_config(self.path(name), **kw)

    def check_no_secret(self, result):
        for secret in self.secrets:
            self.assertNotIn(secret, result.stdout,
                             "secret leaked on stdout\n" + result.describe())
            self.assertNotIn(secret, result.stderr,
                             "secret leaked on stderr\n" + result.describe())

    def run_puljed(self, cfg, *args, expect=None, timeout=120):
        r = P.puljed(cfg, *args, timeout=timeout)
        self.runs.append(r)
        self.assertFalse(r.timed_out, "puljed timed out\n" + r.describe())
        self.check_no_secret(r)
        if expect is not None:
            if isinstance(expect, (tuple, list, set)):
                self.assertIn(r.returncode, expect, r.describe())
            else:
                self.assertEqual(r.returncode, expect, r.describe())
        return r

    def run_ctl(self, cfg, *args, expect=0, db=None):
        r = P.puljectl(cfg, *args, db=db)
        self.runs.append(r)
        self.assertFalse(r.timed_out, "puljectl timed out\n" + r.describe())
        self.check_no_secret(r)
        if expect is not None:
            self.assertEqual(r.returncode, expect, r.describe())
        return r

    def records(self, cfg, db=None):
        """Parsed `puljectl list --json`; [] when the database does not exist
        or has no schema yet (puljed killed between creating the file and its
        first commit -- puljectl rightly refuses such a file)."""
        dbpath = db or self.path("puljed.db")
        if not os.path.exists(dbpath):
            return []
        if self.table_count(dbpath) == 0:
            return []
        data, r = P.list_json(cfg, db=db)
        self.runs.append(r)
        self.check_no_secret(r)
        return data

    def table_count(self, db):
        # A busy timeout: puljed may be creating the schema this moment.
        out = subprocess.run(["sqlite3", "-cmd", ".timeout 10000", db,
                              "SELECT count(*) FROM sqlite_master WHERE type='table'"],
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, check=True)
        return int(out.stdout.decode().strip())

    # ------------------------------------------- OAuth2, wire, daemon, DB
    def oauth2_endpoint(self, **kw):
        """An IntrospectionServer (harness.oauth2), closed at cleanup; pass it
        to self.dovecot(oauth2=...)."""
        idp = IntrospectionServer(**kw)
        self.addCleanup(idp.close)
        return idp

    def issue_token(self, idp, username="rbj"):
        """A new valid token for ``username``; it counts as a secret that
        must never appear in any output (check_no_secret)."""
        token = idp.issue(username)
        self.secrets.append(token)
        return token

    def write_token(self, path, token):
        with open(path, "w") as f:
            f.write(token + "\n")
        os.chmod(path, 0o600)
        return path

    def imap_recorder(self, dc, **kw):
        """An ImapRecorder (harness.recorder) in front of ``dc``, closed at
        cleanup.  Point puljed at it with self.config(dc, port=rec.port)."""
        rec = ImapRecorder(dc, **kw)
        self.addCleanup(rec.close)
        return rec

    def spawn_daemon(self, cfg, name="daemon", **kw):
        """A background puljed (harness.daemon.Daemon) with its output in the
        temp dir; killed at cleanup (before Dovecot stops), its output shown
        when the test failed and checked for secrets."""
        d = Daemon(cfg, self.path("%s.log" % name), name=name, **kw)

        def finish():
            if self._failed():
                sys.stderr.write("\n--- %s\n" % d.describe())
            d.close()
            text = d.output()
            notes = "\n".join(d.notify.lines()) if d.notify else ""
            for secret in self.secrets:
                if secret in text or secret in notes:
                    self.fail("a secret leaked in the output of %s" % name)
        self.addCleanup(finish)
        return d

    def status_json(self, cfg, db=None):
        """Parsed `puljectl status --json` (whatever its exit code)."""
        r = self.run_ctl(cfg, "status", "--json", expect=None, db=db)
        try:
            return json.loads(r.stdout)
        except ValueError as e:
            raise AssertionError("puljectl status --json printed no valid JSON "
                                 "(%s)\n%s" % (e, r.describe()))

    def sql(self, query, params=(), db=None):
        """Run one SQL statement on the database file (committed); rows."""
        conn = sqlite3.connect(db or self.path("puljed.db"), timeout=30)
        try:
            rows = conn.execute(query, params).fetchall()
            conn.commit()
            return rows
        finally:
            conn.close()

    def integrity_check(self, db):
        out = subprocess.run(["sqlite3", db, "PRAGMA integrity_check"],
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        return out.stdout.decode("utf-8", "replace").strip()


def main():
    """Run the calling module's tests; exit non-zero on any failure."""
    unittest.main(module="__main__", verbosity=2)
