#!/usr/bin/env python3
"""puljectl reconcile and the server count in puljectl status, against a
real Dovecot: messages not polled yet, messages a person removed, and a
message at or below the watermark that was never recorded (exit 1)."""
import json
import os
import sqlite3
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from harness import messages as M  # noqa: E402
from harness.testcase import PuljedTestCase  # noqa: E402

PDF = b"%PDF-1.4\n% reconcile test\n"


class ReconcileTest(PuljedTestCase):
    def append(self, dc, n, start=0):
        return [dc.append("INBOX", M.application("Kommune %d" % (start + i), pdf=PDF + bytes([i])),
                          "2022-06-15T10:%02d:00+02:00" % (start + i)) for i in range(n)]

    def reconcile(self, cfg, expect=0):
        r = self.run_ctl(cfg, "reconcile", "--json", expect=expect)
        return json.loads(r.stdout)

    def test_reconcile(self):
        dc = self.dovecot()
        uids = self.append(dc, 3)
        cfg = self.config(dc)
        self.run_puljed(cfg, "--once", expect=0)
        rec = self.reconcile(cfg)
        self.assertEqual(rec["server_messages"], 3)
        self.assertEqual(rec["recorded"], 3)
        self.assertEqual(rec["watermark"], max(uids))
        self.assertEqual((rec["missing"], rec["pending"], rec["gone"]), ([], [], []))
        status = json.loads(self.run_ctl(cfg, "status", "--json").stdout)
        self.assertEqual(status["server_messages"], 3)
        self.assertEqual(status["recorded_current"], 3)
        human = self.run_ctl(cfg, "status").stdout
        self.assertIn("3 messages in the mailbox", human)

        # New mail not polled yet: pending, not missing; exit 0.
        new = self.append(dc, 2, start=10)
        rec = self.reconcile(cfg)
        self.assertEqual(rec["pending"], new)
        self.assertEqual(rec["missing"], [])

        # A person deletes a recorded message: gone, with its record id.
        ids = {r["uid"]: r["id"] for r in self.records(cfg)}
        conn = dc.connect()
        conn.select("INBOX")
        conn.uid("STORE", str(uids[0]), "+FLAGS.SILENT", r"(\Deleted)")
        conn.expunge()
        conn.logout()
        rec = self.reconcile(cfg)
        self.assertEqual(rec["gone"], [{"uid": uids[0], "id": ids[uids[0]]}])

        # A record lost below the watermark is what reconcile exists for:
        # exit 1 and the UID named.
        db = sqlite3.connect(self.path("puljed.db"))
        db.execute("PRAGMA foreign_keys = ON")
        db.execute("DELETE FROM messages WHERE uid = ?", (uids[1],))
        db.commit()
        db.close()
        rec = self.reconcile(cfg, expect=1)
        self.assertEqual(rec["missing"], [uids[1]])
        text = self.run_ctl(cfg, "reconcile", expect=1).stdout
        self.assertIn("at or below the watermark: 1", text)

    def test_earlier_uidvalidity(self):
        """Issue 18 item 6: records under an earlier UIDVALIDITY whose
        message did not come back after the mailbox was recreated are named,
        not skipped; those that came back were re-keyed and are not."""
        box = "Ansoegninger"
        dc = self.dovecot()
        dc.create_mailbox(box)
        raws = [M.application("Kommune %d" % i, pdf=PDF + bytes([i])) for i in range(3)]
        uids = [dc.append(box, raw, "2022-06-15T10:%02d:00+02:00" % i) for i, raw in enumerate(raws)]
        cfg = self.config(dc, mailbox=box)
        self.run_puljed(cfg, "--once", expect=0)
        before = {r["uid"]: r for r in self.records(cfg)}
        old_uv = before[uids[0]]["uidvalidity"]
        rec = self.reconcile(cfg)
        self.assertEqual((rec["earlier"], rec["earlier_may_rekey"]), ([], False))

        # The mailbox is recreated (a new UIDVALIDITY) with two of the three
        # messages put back, byte for byte.
        dc.delete_mailbox(box)
        dc.create_mailbox(box)
        for i in (0, 2):
            dc.append(box, raws[i], "2022-06-15T10:%02d:00+02:00" % i)
        # Not polled since: all three are under the old key, and may be
        # re-keyed by the next poll; nothing is missing (exit 0).
        rec = self.reconcile(cfg)
        self.assertNotEqual(rec["uidvalidity"], old_uv)
        self.assertEqual(sorted(e["id"] for e in rec["earlier"]), sorted(r["id"] for r in before.values()))
        self.assertTrue(rec["earlier_may_rekey"])
        self.assertEqual(rec["missing"], [])
        text = self.run_ctl(cfg, "reconcile").stdout
        self.assertIn("the next poll re-keys", text)

        # After the poll the two that came back are re-keyed; the one that
        # did not is still recorded (nothing lost) and named as its own
        # category; the exit status stays 0.
        self.run_puljed(cfg, "--once", expect=0)
        rec = self.reconcile(cfg)
        lost = before[uids[1]]
        self.assertEqual(rec["earlier"], [{"id": lost["id"], "uidvalidity": old_uv, "uid": uids[1]}])
        self.assertFalse(rec["earlier_may_rekey"])
        self.assertEqual(rec["recorded"], 2)
        self.assertEqual((rec["missing"], rec["pending"], rec["gone"]), ([], [], []))
        text = self.run_ctl(cfg, "reconcile").stdout
        self.assertIn("Recorded under an earlier UIDVALIDITY, not on the server since the mailbox was "
                      "recreated: 1  records #%d (%d:%d)" % (lost["id"], old_uv, uids[1]), text)
        self.assertNotIn("the next poll re-keys", text)

    def test_needs_config(self):
        dc = self.dovecot()
        cfg = self.config(dc)
        self.run_puljed(cfg, "--once", expect=0)
        r = self.run_ctl(cfg, "reconcile", db=self.path("puljed.db"), expect=2)
        self.assertIn("--config", r.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
