#!/usr/bin/python3
"""Issue 15: stored evidence is checked when it is used; the database's
edge cases (puljed stopped, a read-only file, an empty file).

One mailbox is put into a throwaway Dovecot once (setUpClass) and ingested
by one `puljed --once`: an application with a PDF form signed by
tests/gen/pdfsign.py, one with an unsigned PDF, and a newsletter.  Every test
works on its own copy of that database:

* ``test_a_intact``: `verify` exits 0 and counts everything; extract,
  report and reclassify work.
* ``test_b_attachment_changed``: 10 bytes of the stored signed PDF flipped
  with sqlite3: extract writes nothing and exits 1 naming the record, the
  attachment and both hashes; report exits 1 naming it and writes no copy
  of the changed bytes; verify exits 1 with that one difference (also
  --json).
* ``test_c_raw_changed``: 10 bytes of a stored raw message flipped:
  reclassify (also --dry-run) exits 1 naming the record and changes
  nothing; report exits 1; verify exits 1 naming it; the record's intact
  attachments still extract.
* ``test_d_operator_while_stopped``: an operator in the database's group
  runs puljectl while puljed is stopped (no -wal, -shm): a clear message
  (was "database schema version -1"), nothing left behind; as the owner it
  reads, and leaves -wal/-shm the owner can write; then the operator reads.
* ``test_e_read_only_file``: root's puljectl on a 0444 database, then
  puljed, running as the database's owner, records new mail (SQLite's own
  0444 -shm made it fail with "attempt to write a readonly database").
* ``test_f_empty_file``: a zero-length database file: puljed --once exits
  1 before any login, the file stays empty; puljectl refuses it too.

Needs root (it creates a user and a group for d and e), PULJED and PULJECTL
in the environment.
Run:  PULJED=build/src/puljed PULJECTL=build/src/puljectl \\
      /usr/bin/python3 tests/integration/test_verify.py
"""

import grp
import hashlib
import json
import os
import pwd
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
sys.path.insert(0, os.path.join(HERE, "..", "gen"))

from harness import messages as M  # noqa: E402
from harness import puljed as P  # noqa: E402
from harness.dovecot import Dovecot  # noqa: E402
from harness.testcase import PuljedTestCase  # noqa: E402
import pdfsign  # noqa: E402

GROUP = "pjverify"
OWNER = "pjverify-d"     # the database's owner, as the puljed user
OPERATOR = "pjverify-op"  # in GROUP, can read the database


def sha(data):
    return hashlib.sha256(data).hexdigest()


def flip(db, table, column, key, value):
    """Flips 10 bytes in the middle of one stored blob, with sqlite3; the
    new bytes."""
    conn = sqlite3.connect(db)
    try:
        (blob,) = conn.execute("SELECT %s FROM %s WHERE %s = ?" % (column, table, key),
                               (value,)).fetchone()
        data = bytearray(blob)
        mid = len(data) // 2
        for i in range(mid, mid + 10):
            data[i] ^= 0xA5
        conn.execute("UPDATE %s SET %s = ? WHERE %s = ?" % (table, column, key),
                     (bytes(data), value))
        conn.commit()
        return bytes(data)
    finally:
        conn.close()


def ensure_users():
    """GROUP, OWNER (primary group GROUP) and OPERATOR (member of GROUP)."""
    if os.geteuid() != 0:
        raise AssertionError("test_verify creates a user and a group: run it as root")
    try:
        grp.getgrnam(GROUP)
    except KeyError:
        subprocess.run(["groupadd", "--system", GROUP], check=True)
    for user, args in ((OWNER, ["-g", GROUP]), (OPERATOR, ["-N", "-G", GROUP])):
        try:
            pwd.getpwnam(user)
        except KeyError:
            subprocess.run(["useradd", "--system", "-M", "-d", "/nonexistent", "-s",
                            "/usr/sbin/nologin"] + args + [user], check=True)


def as_user(user, argv):
    return ["runuser", "-u", user, "--"] + argv


class VerifyTest(PuljedTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        ensure_users()
        cls.work = tempfile.mkdtemp(prefix="puljed-verify-")
        os.chmod(cls.work, 0o755)
        pki = pdfsign.make_pki(os.path.join(cls.work, "pki"))
        signed, _ = pdfsign.sign_incremental(pdfsign.form_pdf(), pdfsign.SIGNER_CN,
                                             pki.signer_cert, pki.signer_key, pki.inter_cert)
        cls.signed = signed
        cls.unsigned = pdfsign.scanned_pdf(pdfsign.tiny_jpeg())
        cls.dc = Dovecot(workdir=os.path.join(cls.work, "dovecot"), keep=True)
        try:
            cls.uid_signed = cls.dc.append("INBOX", M.application("Region Sjælland", pdf=signed))
            cls.uid_unsigned = cls.dc.append("INBOX", M.application("Ærø Kommune", pdf=cls.unsigned))
            cls.dc.append("INBOX", M.simple("Nyhedsbrev december"))
            cls.served = cls.dc.fetch_raw(cls.uid_signed)
            cls.dc.close_client()
            cls.db = os.path.join(cls.work, "puljed.db")
            cfg = cls.dc.write_config(os.path.join(cls.work, "puljed.conf"), database=cls.db)
            r = P.puljed(cfg, "--once")
            if r.returncode != P.EXIT_OK:
                raise AssertionError("puljed --once failed\n%s" % r.describe())
            data, _ = P.list_json(cfg)
        finally:
            cls.dc.stop()
        cls.id_signed = next(rec["id"] for rec in data if rec["uid"] == cls.uid_signed)
        cls.id_unsigned = next(rec["id"] for rec in data if rec["uid"] == cls.uid_unsigned)

    @classmethod
    def tearDownClass(cls):
        if os.environ.get("PULJED_KEEP_TMP") in (None, "", "0"):
            cls.dc.cleanup()
            shutil.rmtree(cls.work, ignore_errors=True)

    def setUp(self):
        super().setUp()
        self.secrets.append(self.dc.password)
        self.copy_db(self.path("puljed.db"))
        self.cfg = self.dc.write_config(self.path("puljed.conf"), database=self.path("puljed.db"))

    def copy_db(self, dst_path):
        src = sqlite3.connect(self.db)
        dst = sqlite3.connect(dst_path)
        try:
            src.backup(dst)
        finally:
            dst.close()
            src.close()

    def ctl(self, *args, expect=0):
        return self.run_ctl(self.cfg, *args, expect=expect)

    def attachment(self, record):
        """(id, sha256) of RECORD's first attachment as recorded."""
        return self.sql("SELECT id, sha256 FROM attachments WHERE message = ? AND seq = 1",
                        (record,))[0]

    def files_under(self, top):
        found = {}
        for d, _, names in os.walk(top):
            for n in names:
                with open(os.path.join(d, n), "rb") as f:
                    found[os.path.relpath(os.path.join(d, n), top)] = f.read()
        return found

    # ------------------------------------------------------------- tests
    def test_a_intact(self):
        r = self.ctl("verify")
        self.assertRegex(r.stdout, r"^3 records, 3 raw messages, 2 attachments, \d+ bytes checked: "
                                   r"all intact\n$")
        data = json.loads(self.ctl("verify", "--json").stdout)
        self.assertEqual((data["ok"], data["differences"], data["messages"], data["attachments"]),
                         (True, [], 3, 2))
        out = self.path("out")
        os.mkdir(out)
        self.ctl("extract", str(self.id_signed), out)
        self.assertEqual(list(self.files_under(out).values()), [self.signed])
        self.ctl("report", "--output", self.path("report"))
        files = self.files_under(self.path("report"))
        self.assertIn(self.served, files.values())
        self.assertIn(self.signed, files.values())
        self.ctl("reclassify", "--dry-run")

    def test_b_attachment_changed(self):
        att_id, recorded = self.attachment(self.id_signed)
        self.assertEqual(recorded, sha(self.signed))
        changed = flip(self.path("puljed.db"), "attachments", "data", "id", att_id)
        now = sha(changed)
        named = "record %d: the stored attachment 1 is not what was recorded" % self.id_signed
        out = self.path("out")
        os.mkdir(out)
        r = self.ctl("extract", str(self.id_signed), out, expect=1)
        self.assertIn(named, r.stderr)
        self.assertIn("recorded sha256 %s, now %s" % (recorded, now), r.stderr)
        self.assertEqual(os.listdir(out), [], "extract wrote the changed attachment")
        self.assertEqual(r.stdout, "")
        r = self.ctl("report", "--output", self.path("report"), expect=1)
        self.assertIn(named, r.stderr)
        self.assertNotIn(changed, self.files_under(self.path("report")).values())
        r = self.ctl("verify", expect=1)
        self.assertEqual(r.stdout.splitlines()[0],
                         "record %d: attachment 1 (id %d): SHA-256 differs (recorded sha256 %s, now %s)"
                         % (self.id_signed, att_id, recorded, now))
        self.assertTrue(r.stdout.endswith(" bytes checked: 1 difference\n"), r.stdout)
        data = json.loads(self.ctl("verify", "--json", expect=1).stdout)
        self.assertFalse(data["ok"])
        self.assertEqual(data["differences"], [{
            "what": "attachment", "id": self.id_signed, "attachment": 1, "attachment_id": att_id,
            "why": "SHA-256 differs", "expected_sha256": recorded, "actual_sha256": now}])
        # The other record's attachment is untouched and still extracts.
        self.ctl("extract", str(self.id_unsigned), out)
        self.assertEqual(list(self.files_under(out).values()), [self.unsigned])

    def test_c_raw_changed(self):
        (recorded,) = self.sql("SELECT raw_sha256 FROM messages WHERE id = ?", (self.id_signed,))[0]
        self.assertEqual(recorded, sha(self.served))
        changed = flip(self.path("puljed.db"), "bodies", "raw", "message", self.id_signed)
        now = sha(changed)
        named = "record %d: the stored raw message is not what was recorded" % self.id_signed
        before = self.sql("SELECT * FROM messages ORDER BY id")
        # A rule change that would reclassify every record.
        cfg2 = self.dc.write_config(self.path("puljed2.conf"), database=self.path("puljed.db"),
                                    calls={"other": {"subject": "Noget helt andet",
                                                     "deadline": "2031-01-01T12:00:00",
                                                     "timezone": "Europe/Copenhagen"}})
        for args in (("reclassify",), ("reclassify", "--dry-run")):
            r = self.run_ctl(cfg2, *args, expect=1)
            self.assertIn(named, r.stderr)
            self.assertIn("recorded sha256 %s, now %s" % (recorded, now), r.stderr)
        self.assertEqual(self.sql("SELECT * FROM messages ORDER BY id"), before,
                         "reclassify changed records")
        r = self.ctl("report", "--output", self.path("report"), expect=1)
        self.assertIn(named, r.stderr)
        self.assertNotIn(changed, self.files_under(self.path("report")).values())
        r = self.ctl("verify", expect=1)
        self.assertEqual(r.stdout.splitlines()[0],
                         "record %d: raw message: SHA-256 differs (recorded sha256 %s, now %s)"
                         % (self.id_signed, recorded, now))
        # Its attachments are stored apart, intact, and still extract.
        out = self.path("out")
        os.mkdir(out)
        self.ctl("extract", str(self.id_signed), out)
        self.assertEqual(list(self.files_under(out).values()), [self.signed])

    def owned_db(self, mode):
        """A copy of the database in a directory of OWNER's (0750), the file
        OWNER:GROUP with MODE; no -wal, no -shm (puljed stopped)."""
        home = self.path("lib")
        os.mkdir(home)
        db = os.path.join(home, "puljed.db")
        self.copy_db(db)
        owner = pwd.getpwnam(OWNER).pw_uid
        gid = grp.getgrnam(GROUP).gr_gid
        os.chown(home, owner, gid)
        os.chmod(home, 0o750)
        os.chown(db, owner, gid)
        os.chmod(db, mode)
        self.assertEqual(sorted(os.listdir(home)), ["puljed.db"])
        return home, db

    def run_as(self, user, argv, expect=None):
        r = P.run(as_user(user, argv))
        self.runs.append(r)
        if expect is not None:
            self.assertEqual(r.returncode, expect, r.describe())
        return r

    def test_d_operator_while_stopped(self):
        home, db = self.owned_db(0o640)
        ctl = [self.puljectl_bin, "--db", db]
        r = self.run_as(OPERATOR, ctl + ["list", "--json"], expect=1)
        self.assertNotIn("-1", r.stderr)
        self.assertIn("cannot read the database while puljed is stopped", r.stderr)
        self.assertIn("run puljectl as %s" % OWNER, r.stderr)
        self.assertEqual(sorted(os.listdir(home)), ["puljed.db"], "files left behind")
        # As the owner it reads, and leaves -wal and -shm the owner writes.
        r = self.run_as(OWNER, ctl + ["list", "--json"], expect=0)
        self.assertEqual(len(json.loads(r.stdout)), 3)
        for suffix in ("-wal", "-shm"):
            st = os.stat(db + suffix)
            self.assertEqual((st.st_uid, st.st_mode & 0o777),
                             (pwd.getpwnam(OWNER).pw_uid, 0o640), suffix)
        # With them there, the operator reads (as while puljed runs).
        r = self.run_as(OPERATOR, ctl + ["list", "--json"], expect=0)
        self.assertEqual(len(json.loads(r.stdout)), 3)

    def test_e_read_only_file(self):
        home, db = self.owned_db(0o444)
        self.run_ctl(self.cfg, "list", "--json", db=db)  # root, on a 0444 file
        os.chmod(db, 0o640)
        # puljed as the database's owner, with a configuration it can read.
        dc = self.dovecot(workdir=self.path("dovecot"))
        dc.append("INBOX", M.simple("Ny post"))
        dc.close_client()
        cfg = dc.write_config(os.path.join(home, "puljed.conf"), database=db)
        pw = os.path.join(home, "password")
        shutil.copy(dc.password_file, pw)
        with open(cfg) as f:
            text = f.read().replace(dc.password_file, pw)
        with open(cfg, "w") as f:
            f.write(text)
        for p in (cfg, pw):
            os.chown(p, pwd.getpwnam(OWNER).pw_uid, grp.getgrnam(GROUP).gr_gid)
            os.chmod(p, 0o600)
        r = self.run_as(OWNER, [self.puljed_bin, "--config", cfg, "--once"])
        self.check_no_secret(r)
        self.assertEqual(r.returncode, P.EXIT_OK, r.describe())
        self.assertNotIn("readonly", r.stderr)
        self.assertEqual(self.sql("SELECT COUNT(*) FROM messages", db=db), [(4,)])

    def test_f_empty_file(self):
        db = self.path("empty.db")
        open(db, "wb").close()
        dc = self.dovecot(workdir=self.path("dovecot"))
        dc.append("INBOX", M.simple("Hej"))
        dc.close_client()
        cfg = dc.write_config(self.path("empty.conf"), database=db)
        mark = len(dc.login_lines())
        r = self.run_puljed(cfg, "--once", expect=1)
        self.assertIn("the file is empty (0 bytes)", r.stderr)
        self.assertEqual(os.path.getsize(db), 0)
        self.assertEqual(len(dc.login_lines()), mark, "puljed logged in")
        self.assertFalse(os.path.exists(db + "-wal"))
        for args in (("list",), ("reclassify",)):
            r = self.run_ctl(cfg, *args, expect=1)
            self.assertIn("the file is empty (0 bytes)", r.stderr)
        self.assertEqual(os.path.getsize(db), 0)


if __name__ == "__main__":
    unittest.main(verbosity=2)
