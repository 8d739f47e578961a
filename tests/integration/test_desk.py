#!/usr/bin/env python3
"""Issue 18 (the caseworker's desk), against a real Dovecot:

* ``test_raw``: `puljectl raw ID` writes the stored message byte for byte:
  its SHA-256 is the one `show --json` prints, for an application and for an
  unrelated record, and the bytes are the ones appended to the server;
  `-o FILE` writes a new file and refuses an existing one (a link too)
  without touching it; a record stored without its message (over
  max_message_size) exits 1 saying so; an unknown id exits 3; stored bytes
  changed behind the store's back exit 1 and write nothing.
* ``test_decide_history``: accept -> reject -> accept keeps three
  decisions in order in `show --json`, `list --json`, `applications
  --json` (the latest still in "decision"), `show` and the report; a
  missing or blank --note exits 2 and records nothing; the user is the real
  one (root here), "root (sudo by USER)" only when SUDO_UID names SUDO_USER.

Needs PULJED and PULJECTL in the environment (paths of the built binaries).
"""
import hashlib
import json
import os
import pwd
import re
import sqlite3
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from harness import messages as M  # noqa: E402
from harness import puljed as P  # noqa: E402
from harness.testcase import PuljedTestCase  # noqa: E402

PDF = b"%PDF-1.4\n% desk test\n" + bytes(range(256)) * 8


class DeskTest(PuljedTestCase):
    def raw(self, cfg, *args):
        """puljectl raw ARGS, with stdout as bytes."""
        argv = [P.puljectl_path(), "--config", cfg, "raw"] + list(args)
        return subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              env=P.clean_env(), timeout=60)

    def test_raw(self):
        dc = self.dovecot()
        app = M.application("Ærø Kommune", pdf=PDF)
        other = M.simple("Frokost i morgen?", body="Hvem kommer?\n")
        big = M.simple("Stor fil", body="x" * 3000 + "\n",
                       attachments=[("stor.bin", "application/octet-stream", os.urandom(4096))])
        for raw in (app, other, big):
            dc.append("INBOX", raw, "2022-06-15T10:00:00+02:00")
        cfg = self.config(dc, groups={"limits": {"max_message_size": "4K"}})
        self.run_puljed(cfg, "--once", expect=0)
        recs = {r["subject"]: r for r in self.records(cfg)}
        a, u, b = recs[M.CALL_SUBJECT + " \u2013 Ærø Kommune"], recs["Frokost i morgen?"], recs["Stor fil"]
        self.assertEqual(u["status"], "unrelated")

        for rec, sent in ((a, app), (u, other)):
            shown = json.loads(self.run_ctl(cfg, "show", str(rec["id"]), "--json").stdout)
            r = self.raw(cfg, str(rec["id"]))
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertEqual(hashlib.sha256(r.stdout).hexdigest(), shown["sha256"])
            # `raw ID | sha256sum`, literally.
            piped = subprocess.run("%s --config %s raw %d | sha256sum" % (P.puljectl_path(), cfg, rec["id"]),
                                   shell=True, stdout=subprocess.PIPE, check=True, env=P.clean_env())
            self.assertEqual(piped.stdout.decode().split()[0], shown["sha256"])
            self.assertEqual(r.stdout, sent.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n"))

        # -o FILE: a new file with the same bytes; an existing one is refused
        # and left as it was, a link likewise.
        out = self.path("a.eml")
        r = self.raw(cfg, str(a["id"]), "-o", out)
        self.assertEqual((r.returncode, r.stdout), (0, b""), r.stderr)
        with open(out, "rb") as f:
            self.assertEqual(hashlib.sha256(f.read()).hexdigest(), a["sha256"])
        with open(out, "wb") as f:
            f.write(b"keep me")
        r = self.raw(cfg, str(u["id"]), "--output", out)
        self.assertEqual(r.returncode, 1)
        self.assertIn(b"nothing is overwritten", r.stderr)
        with open(out, "rb") as f:
            self.assertEqual(f.read(), b"keep me")
        target = self.path("target")
        os.symlink(target, self.path("link.eml"))
        r = self.raw(cfg, str(u["id"]), "-o", self.path("link.eml"))
        self.assertEqual(r.returncode, 1)
        self.assertFalse(os.path.exists(target))

        # Stored without its message: a clear message, exit 1, nothing written.
        self.assertIsNone(b["sha256"])
        r = self.raw(cfg, str(b["id"]))
        self.assertEqual((r.returncode, r.stdout), (1, b""))
        self.assertIn(b"without its message", r.stderr)
        # Unknown id: 3, as show.
        r = self.raw(cfg, "9999")
        self.assertEqual(r.returncode, 3, r.stderr)
        # -o is raw's, export's and report's; not show's.
        self.run_ctl(cfg, "show", str(a["id"]), "-o", self.path("x"), expect=2)

        # Bytes changed behind the store's back: refused, nothing written.
        db = sqlite3.connect(self.path("puljed.db"))
        (blob,) = db.execute("SELECT raw FROM bodies WHERE message = ?", (a["id"],)).fetchone()
        db.execute("UPDATE bodies SET raw = ? WHERE message = ?", (blob[:-1] + b"!", a["id"]))
        db.commit()
        db.close()
        r = self.raw(cfg, str(a["id"]))
        self.assertEqual((r.returncode, r.stdout), (1, b""))
        self.assertIn(b"not what was recorded", r.stderr)

    def test_decide_history(self):
        dc = self.dovecot()
        dc.append("INBOX", M.application("Vejle Kommune", pdf=PDF), "2022-06-15T10:00:00+02:00")
        cfg = self.config(dc)
        self.run_puljed(cfg, "--once", expect=0)
        (rec,) = self.records(cfg)
        rid = str(rec["id"])
        self.assertEqual(rec["decisions"], [])

        # No note, an empty one, a blank one: exit 2, nothing recorded.
        for args in ((), ("--note", ""), ("--note", " \t\n ")):
            r = self.run_ctl(cfg, "decide", rid, "accept", *args, expect=2)
            self.assertIn("--note", r.stderr)
        self.assertEqual(self.sql("SELECT count(*) FROM decisions"), [(0,)])

        real = pwd.getpwuid(os.getuid()).pw_name
        env = dict(P.clean_env())
        for k in ("SUDO_USER", "SUDO_UID"):
            env.pop(k, None)
        steps = [("accept", "Ser fin ud", {}),
                 ("reject", "Mangler underskrift – Søren Ærø", {"SUDO_USER": "nobody"}),
                 ("accept", "Underskrift eftersendt", {"SUDO_USER": "nobody",
                                                       "SUDO_UID": str(pwd.getpwnam("nobody").pw_uid)})]
        for decision, note, extra in steps:
            r = subprocess.run([P.puljectl_path(), "--config", cfg, "decide", rid, decision, "--note", note],
                               env=dict(env, **extra), stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
            self.assertEqual(r.returncode, 0, r.stderr)
        # SUDO_USER alone is not trusted; with a SUDO_UID that names it, it is
        # added to the real user.
        users = [real, real, "%s (sudo by nobody)" % real]
        # A SUDO_UID that is not SUDO_USER's: the real user alone.
        r = subprocess.run([P.puljectl_path(), "--config", cfg, "decide", rid, "reject", "--note", "x"],
                           env=dict(env, SUDO_USER="mette-not-here", SUDO_UID=str(pwd.getpwnam("nobody").pw_uid)),
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        steps.append(("reject", "x", {}))
        users.append(real)

        want = [(d, n, u) for (d, n, _), u in zip(steps, users)]
        shown = json.loads(self.run_ctl(cfg, "show", rid, "--json").stdout)
        got = [(d["decision"], d["note"], d["user"]) for d in shown["decisions"]]
        self.assertEqual(got, want)
        self.assertEqual([d["record"] for d in shown["decisions"]], [rec["id"]] * 4)
        ats = [d["at"] for d in shown["decisions"]]
        self.assertEqual(ats, sorted(ats))
        self.assertTrue(all(a[-6] in "+-" for a in ats), ats)
        # The latest is still "decision", as before.
        self.assertEqual(shown["decision"], {k: shown["decisions"][-1][k] for k in ("decision", "note", "user", "at")})
        (listed,) = self.records(cfg)
        self.assertEqual(listed["decisions"], shown["decisions"])
        apps = json.loads(self.run_ctl(cfg, "applications", "--json").stdout)
        self.assertEqual(len(apps), 1, apps)
        self.assertEqual(apps[0]["decisions"], shown["decisions"])
        self.assertEqual(apps[0]["decision"], shown["decision"])

        human = self.run_ctl(cfg, "show", rid).stdout
        hist = human[human.index("\nDecisions:\n"):]
        self.assertEqual(len([ln for ln in hist.splitlines() if ln.startswith("  ") and ln[2].isdigit()]), 4, hist)
        flat = " ".join(hist.split())  # wrapped to 80 columns
        for i, (d, n, u) in enumerate(want, 1):
            self.assertRegex(flat, r"%d\. %s by %s at [-0-9]+ [:0-9]+ \w+: %s" % (
                i, d, re.escape(u), re.escape(n)))

        out = self.path("report")
        self.run_ctl(cfg, "report", "--output", out)
        with open(os.path.join(out, "index.html"), encoding="utf-8") as f:
            html = f.read()
        self.assertEqual(html.count("<li>Godkendt af "), 2, html)
        self.assertEqual(html.count("<li>Afvist af "), 2, html)
        self.assertIn("Afvist af %s, " % real, html)
        self.assertIn("Mangler underskrift – Søren Ærø", html)
        self.assertIn("Godkendt af %s (sudo by nobody)" % real, html)


if __name__ == "__main__":
    unittest.main(verbosity=2)
