#!/usr/bin/python3
"""Receipts to applicants end to end (issue 19, "Tests with real parts"):
the real puljed against a real Dovecot (the caseworker's mailbox, and the
applicants' mailboxes) and a real Postfix on loopback (submission with
STARTTLS and AUTH through Dovecot, delivering over LMTP into Dovecot).
Applications are APPENDed to the caseworker's INBOX, `puljed --once` runs
with [receipts] send = yes, and each test reads what the applicant got over
IMAP, like an applicant would.

Needs PULJED, PULJECTL and PULJED_CRASHTEST in the environment.
Run:  PULJED=build/src/puljed PULJECTL=build/src/puljectl \\
      PULJED_CRASHTEST=build/src/puljed-crashtest \\
      /usr/bin/python3 tests/integration/test_receipts.py [-k name]

One Dovecot and one Postfix serve the whole class; each test empties the
caseworker's INBOX, has its own database and its own applicant addresses.
"""

import datetime as dt
import email
import email.policy
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from harness import journal  # noqa: E402
from harness import messages as M  # noqa: E402
from harness import puljed as P  # noqa: E402
from harness.dovecot import Dovecot, free_port  # noqa: E402
from harness.postfix import Postfix  # noqa: E402
from harness.testcase import PuljedTestCase  # noqa: E402

ON_TIME = "2022-06-15T10:00:00+02:00"
ON_TIME_WORDS = "15. juni 2022 kl. 10:00:00"
LATE = "2022-07-02T09:00:00+02:00"
LATE_WORDS = "2. juli 2022 kl. 09:00:00"
FROM_ADDR = "puljer@puljed.test"
FROM = "Puljeteamet <%s>" % FROM_ADDR
FROM_DOMAIN = "puljed.test"

# The applicants (Dovecot users, so that what Postfix delivers to them can
# be read).  Each test uses its own.
USERS = (
    ["ontime@example.org", "ontime-from@example.org", "late@example.org",
     "review@example.org",
     "never-null@example.org", "never-auto@example.org", "never-bounce@example.org",
     "never-list@example.org", "never-bulk@example.org", "never-unrelated@example.org", "full@example.org",
     "never-large@example.org", "never-dup@example.org", "kollega@puljed.test", FROM_ADDR,
     "flood@example.org", "past@example.org", "cert@example.org", "down@example.org",
     "soft@example.org", "hard@example.org", "crash@example.org", "tmpl@example.org",
     "smime@example.org", "log@example.org", "log-skip@example.org", "tls@example.org",
     "fup@example.org", "evil@example.org", "daemon@example.org", "daemon-soft@example.org",
     "rate-a@example.org", "rate-b@example.org", "daemon-old@example.org", "reclass@example.org",
     "lost0@example.org", "lost1@example.org", "lost2@example.org", "auth@example.org"])

CRASH_KILL_WINDOW = "action: carried out, not yet marked"


def parse(raw):
    return email.message_from_bytes(raw, policy=email.policy.default)


def body_text(msg):
    """The receipt's text: the text/plain part (inside a multipart/signed
    when signed), quoted-printable decoded."""
    for part in msg.walk():
        if part.get_content_type() == "text/plain":
            return part.get_content().replace("\r\n", "\n")
    raise AssertionError("no text/plain part in\n%s" % msg.as_string()[:3000])


def danish_count(n):
    s = str(n)
    out = ""
    while len(s) > 3:
        out = "." + s[-3:] + out
        s = s[:-3]
    return s + out


def reference(record_id):
    return "PJ-%06d" % record_id


class ReceiptsTest(PuljedTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.dc = Dovecot(lmtp=True, auth_inet=True, users={u: None for u in USERS})
        try:
            cls.pf = Postfix(cls.dc)
        except Exception:
            cls.dc.stop()
            raise
        cls.t0 = time.monotonic()

    @classmethod
    def tearDownClass(cls):
        sys.stderr.write("\n  receipts suite: %.1f s with one Dovecot and one Postfix\n"
                         % (time.monotonic() - cls.t0))
        keep = os.environ.get("PULJED_KEEP_TMP") not in (None, "", "0")
        cls.pf.stop()
        cls.dc.stop()
        if not keep:
            cls.pf.cleanup()
            cls.dc.cleanup()

    def setUp(self):
        super().setUp()
        self.secrets.append(self.dc.password)
        if not self.pf.running:
            self.pf.start()
        self.pf.clear_recipients()
        self.empty_inbox()
        self.pf_mark = self.pf.log_mark()
        self.addCleanup(self._show_postfix)
        self.db_of = {}

    def _show_postfix(self):
        if self._failed():
            sys.stderr.write("\n--- Postfix log of failed %s:\n%s\n" % (
                self.id(), self.pf.log_text(self.pf_mark)[-5000:]))

    # ------------------------------------------------------------ helpers
    def empty_inbox(self):
        if self.dc.uids("INBOX"):
            self.dc.expunge_all()
        self.dc.close_client()

    def rconfig(self, name="puljed.conf", db=None, limits=None, poll_interval=None, calls=None,
                **receipts):
        """A config for the class's Dovecot with [receipts] sending through
        the class's Postfix (keys in RECEIPTS override, None removes)."""
        group = {
            "send": "yes",
            "smtp_host": self.pf.host,
            "smtp_port": self.pf.submission_port,
            "security": "starttls",
            "ca_file": self.pf.ca_file,
            "username": self.pf.username,
            "password_file": self.pf.password_file,
            "from": FROM,
            "timeout": "10s",
        }
        group.update(receipts)
        group = {k: v for k, v in group.items() if v is not None}
        groups = {"receipts": group}
        if limits:
            groups["limits"] = limits
        kw = {"groups": groups}
        if poll_interval:
            kw["poll_interval"] = poll_interval
        if calls:
            kw["calls"] = calls
        if db:
            kw["database"] = db
        path = self.config(self.dc, name=name, **kw)
        self.db_of[path] = db or self.path("puljed.db")
        return path

    def records(self, cfg, db=None):
        return super().records(cfg, db=db or self.db_of.get(cfg))

    def app(self, sender, applicant="Kommune", pdfs=None, return_path=None, headers=None,
            **kw):
        """An application from SENDER (From), with Return-Path RETURN_PATH
        (default: SENDER) on top as the delivering server puts it;
        PDFS: [(filename, bytes)]."""
        pdfs = [("ansoegning.pdf", M.fake_pdf(1500, seed=hash(sender) & 0xffff))] \
            if pdfs is None else pdfs
        raw = M.application(applicant, from_addr=sender,
                            attachments=[(n, "application/pdf", d) for n, d in pdfs],
                            extra_headers=headers, **kw)
        rp = sender if return_path is None else return_path
        if rp is not False:
            raw = M.prepend_headers(raw, [("Return-Path", "<%s>" % rp)])
        return raw

    def put(self, raw, when=ON_TIME):
        uid = self.dc.append("INBOX", raw, when)
        self.dc.close_client()
        return uid

    def once(self, cfg, expect=P.EXIT_OK):
        return self.run_puljed(cfg, "--once", expect=expect)

    def delivered(self, user, settle=True):
        """Every message USER's mailbox holds now (after Postfix's queue is
        empty: what was accepted has been delivered)."""
        if settle:
            self.assertTrue(self.pf.wait_queue_empty(30), "Postfix's queue does not drain")
        return [parse(r) for r in self.pf.delivered(user)]

    def records_by_uid(self, cfg):
        return {r["uid"]: r for r in self.records(cfg)}

    def show(self, cfg, rid):
        r = self.run_ctl(cfg, "show", str(rid), "--json")
        return json.loads(r.stdout)

    def receipt_of(self, cfg, rid):
        rec = self.show(cfg, rid)
        self.assertIn("receipt", rec, rec)
        return rec["receipt"]

    def receipts_json(self, cfg):
        r = self.run_ctl(cfg, "receipts", "--json")
        return json.loads(r.stdout)

    def receipts_by_record(self, cfg):
        return {x["record"]: x for x in self.receipts_json(cfg)["receipts"]}

    def message_id(self, cfg, rec):
        return "<receipt.%d.%d.%s@%s>" % (rec["uidvalidity"], rec["uid"], rec["call"], FROM_DOMAIN)

    def assert_receipt_headers(self, msg, to, application_raw, mid):
        app = parse(application_raw)
        self.assertEqual(msg["To"], to)
        self.assertEqual(email.utils.parseaddr(msg["From"])[1], FROM_ADDR)
        self.assertEqual(str(msg["Auto-Submitted"]).strip(), "auto-replied")
        self.assertEqual(str(msg["X-Auto-Response-Suppress"]).strip(), "All")
        self.assertEqual(str(msg["In-Reply-To"]).strip(), app["Message-ID"].strip())
        self.assertIn(app["Message-ID"].strip(), str(msg["References"]).split())
        self.assertEqual(str(msg["Message-ID"]).strip(), mid)
        self.assertIsNotNone(msg["Date"], "no Date")
        date = email.utils.parsedate_to_datetime(str(msg["Date"]))
        now = dt.datetime.now(dt.timezone.utc)
        self.assertLess(abs((now - date).total_seconds()), 600, "Date %s is not now" % msg["Date"])
        self.assertTrue(str(msg["Subject"]).startswith("Kvittering: "), msg["Subject"])
        self.assertIn(str(app["Subject"]), str(msg["Subject"]))

    def assert_lists_attachments(self, text, pdfs):
        for name, data in pdfs:
            m = re.search(r"- %s\b[^\n]*\(%s bytes\)\n\s+SHA-256 %s" % (
                re.escape(name), re.escape(danish_count(len(data))), hashlib.sha256(data).hexdigest()),
                text)
            self.assertIsNotNone(m, "attachment %s (%d bytes, %s) not listed as sent in:\n%s" % (
                name, len(data), hashlib.sha256(data).hexdigest(), text))

    def assert_never(self, cfg, rec, rule, user):
        rc = self.receipt_of(cfg, rec["id"])
        self.assertEqual(rc["state"], "skipped", (rule, rec["subject"], rc))
        self.assertEqual(rc["rule"], rule, rc)
        self.assertIsInstance(rc["why"], str, rc)
        self.assertGreater(len(rc["why"]), 10, rc)
        self.assertIsNone(rc["sent_at"], rc)
        self.assertEqual(self.delivered(user, settle=False), [],
                         "%s (%s) got a receipt" % (user, rule))

    def four_outcomes(self, word):
        """Four applications whose receipts end sent, skipped (automatic),
        failed (550) and pending (451): their UIDs in that order."""
        uids = (self.put(self.app("log@example.org", "Kommune %s" % word)),
                self.put(self.app("log-skip@example.org", "Kommune %s Auto" % word,
                                  headers={"Auto-Submitted": "auto-generated"})),
                self.put(self.app("hard@example.org", "Kommune %s Fejl" % word)),
                self.put(self.app("soft@example.org", "Kommune %s Senere" % word)))
        self.pf.set_recipient("hard@example.org", "550 5.7.1 Afvist af politik")
        self.pf.set_recipient("soft@example.org", "451 4.3.0 Midlertidig fejl")
        return uids

    # ------------------------------------------------------------ 1
    def test_01_on_time_late_review(self):
        pdfs = [("ansoegning.pdf", M.fake_pdf(2345, seed=1)),
                ("budget æøå.pdf", M.fake_pdf(1234567, seed=2))]
        # From and Return-Path differ: the receipt goes to the envelope sender.
        raw_on = self.app("ontime-from@example.org", "Kommune Ét", pdfs,
                          return_path="ontime@example.org")
        raw_late = self.app("late@example.org", "Kommune To")
        # No attachment: review ("vil blive vurderet manuelt").
        raw_review = self.app("review@example.org", "Kommune Tre", pdfs=[])
        u_on = self.put(raw_on)
        u_late = self.put(raw_late, LATE)
        u_rev = self.put(raw_review)
        cfg = self.rconfig()
        r = self.once(cfg)

        recs = self.records_by_uid(cfg)
        self.assertEqual(recs[u_on]["status"], "accepted")
        self.assertEqual(recs[u_late]["status"], "late")
        self.assertEqual(recs[u_rev]["status"], "review", recs[u_rev])

        # On time: exactly one receipt, to Return-Path, not to From.
        got = self.delivered("ontime@example.org")
        self.assertEqual(len(got), 1, "receipts to the Return-Path address")
        self.assertEqual(self.delivered("ontime-from@example.org", settle=False), [],
                         "a receipt went to From, not to the envelope sender")
        msg = got[0]
        rec = recs[u_on]
        mid = self.message_id(cfg, rec)
        self.assert_receipt_headers(msg, "ontime@example.org", raw_on, mid)
        self.assertEqual(msg.get_content_type(), "text/plain")
        self.assertEqual(msg.get_content_charset(), "utf-8")
        self.assertEqual(str(msg["Content-Transfer-Encoding"]).lower(), "quoted-printable")
        text = body_text(msg)
        self.assertIn("modtaget inden fristen", text)
        self.assertNotIn("efter fristen", text)
        self.assertIn(ON_TIME_WORDS, text)
        self.assertIn("dansk tid", text)
        self.assert_lists_attachments(text, pdfs)
        self.assertIn(reference(rec["id"]), text)
        self.assertEqual(re.findall(r"PJ-\d+", text), [reference(rec["id"])])
        self.assertIn(rec["sha256"], text, "the whole message's SHA-256")
        self.assertEqual(rec["sha256"], hashlib.sha256(raw_on).hexdigest())
        self.assertNotIn("godkendt", text.lower())
        # No line of the encoded body is longer than 76 characters.
        raw_body = self.pf.delivered("ontime@example.org")[0].split(b"\r\n\r\n", 1)[1]
        self.assertLessEqual(max(len(l) for l in raw_body.split(b"\r\n")), 76)

        rc = self.receipt_of(cfg, rec["id"])
        self.assertEqual(rc["state"], "sent", rc)
        self.assertEqual(rc["to"], "ontime@example.org")
        self.assertEqual(rc["message_id"], mid)
        self.assertIsInstance(rc["sent_at"], str, rc)
        sent_at = dt.datetime.fromisoformat(rc["sent_at"].replace("Z", "+00:00"))
        self.assertLess(abs((dt.datetime.now(dt.timezone.utc) - sent_at).total_seconds()), 600)

        # Late: the deadline in words.
        late = self.delivered("late@example.org", settle=False)
        self.assertEqual(len(late), 1)
        ltext = body_text(late[0])
        self.assertIn("modtaget efter fristen 1. juli 2022 kl. 23:59:59", ltext)
        self.assertIn(LATE_WORDS, ltext)
        self.assertNotIn("inden fristen", ltext)
        self.assertNotIn("godkendt", ltext.lower())
        self.assertIn(reference(recs[u_late]["id"]), ltext)
        self.assert_receipt_headers(late[0], "late@example.org", raw_late,
                                    self.message_id(cfg, recs[u_late]))

        # Review: a person will look at it.
        rev = self.delivered("review@example.org", settle=False)
        self.assertEqual(len(rev), 1)
        rtext = body_text(rev[0])
        self.assertIn("vil blive vurderet manuelt", rtext)
        self.assertNotIn("godkendt", rtext.lower())
        self.assertIn("ingen vedhæftede filer", rtext)

        # The reference is the published ledger's for the same message.
        csv_path = self.path("ledger.csv")
        self.run_ctl(cfg, "ledger", "--output", csv_path)
        with open(csv_path, encoding="utf-8-sig") as f:
            rows = [l.split(";") for l in f.read().splitlines()[1:]]
        by_sha = {row[6]: row for row in rows}
        for rec_, body in ((rec, text), (recs[u_late], ltext), (recs[u_rev], rtext)):
            row = by_sha[rec_["sha256"][:16]]
            self.assertEqual(re.findall(r"PJ-\d+", body), [row[0]], (row, body))

        st = self.status_json(cfg)
        self.assertEqual(st["receipts"]["sent"], 3, st)
        self.assertEqual(st["receipts"]["pending"], 0, st)
        self.assertEqual(st["receipts"]["failed"], 0, st)
        self.assertEqual(st["receipts"]["skipped"], 0, st)
        self.assertIsNone(st["receipts"]["last_error"], st)

        # 11: the settlements are in --once's output, one line each.
        for rec_ in (recs[u_on], recs[u_late], recs[u_rev]):
            self.assertRegex(r.stderr, r"receipt for #%d sent to \S+@example\.org: %s" % (
                rec_["id"], re.escape(self.message_id(cfg, rec_))), r.describe())

        # A second run sends nothing more.
        self.once(cfg)
        self.assertEqual(len(self.delivered("ontime@example.org")), 1)
        self.assertEqual(len(self.delivered("late@example.org", settle=False)), 1)
        self.assertEqual(self.status_json(cfg)["receipts"]["sent"], 3)

    # ------------------------------------------------------------ 2
    def test_02_never(self):
        base = self.app("never-dup@example.org", "Kommune Dublet")
        cases = [
            ("null-sender", "never-null@example.org",
             self.app("never-null@example.org", "Kommune Nul", return_path="")),
            ("automatic", "never-auto@example.org",
             self.app("never-auto@example.org", "Kommune Auto",
                      headers={"Auto-Submitted": "auto-replied"})),
            ("report", "never-bounce@example.org",
             M.prepend_headers(M.delivery_report(base, from_addr="never-bounce@example.org"),
                               [("Return-Path", "<never-bounce@example.org>")])),
            ("list", "never-list@example.org",
             self.app("never-list@example.org", "Kommune Liste",
                      headers={"List-Id": "Ansøgere <ansoegere.example.org>"})),
            # Precedence: bulk also makes the classifier's kind "list";
            # the headers are checked first, so the rule names the header.
            ("bulk", "never-bulk@example.org",
             self.app("never-bulk@example.org", "Kommune Bulk",
                      headers={"Precedence": "bulk"})),
            ("unrelated", "never-unrelated@example.org",
             M.prepend_headers(M.simple("Spørgsmål om noget helt andet", "Hej\n",
                                        from_addr="never-unrelated@example.org"),
                               [("Return-Path", "<never-unrelated@example.org>")])),
            ("too-large", "never-large@example.org",
             self.app("never-large@example.org", "Kommune Stor",
                      [("stor.pdf", M.fake_pdf(300000, seed=9))])),
            ("own-address", FROM_ADDR, self.app(FROM_ADDR, "Puljeteamet selv")),
            ("own-address", "kollega@puljed.test", self.app("kollega@puljed.test", "En kollega")),
        ]
        uids = {}
        first_dup = self.put(base)
        for rule, user, raw in cases:
            uids[self.put(raw)] = (rule, user)
        second_dup = self.put(base)  # the same bytes again
        uids[second_dup] = ("duplicate", "never-dup@example.org")
        cfg = self.rconfig(limits={"max_message_size": "100K"})
        self.once(cfg)
        recs = self.records_by_uid(cfg)
        self.assertEqual(len(recs), len(cases) + 2)
        self.assertEqual(recs[second_dup]["duplicate_of"], recs[first_dup]["id"])

        # The original of the duplicate got exactly one receipt.
        self.assertEqual(len(self.delivered("never-dup@example.org")), 1,
                         "the same message twice: one receipt")
        self.assertEqual(self.receipt_of(cfg, recs[first_dup]["id"])["state"], "sent")
        for uid, (rule, user) in uids.items():
            if rule == "duplicate":
                rc = self.receipt_of(cfg, recs[uid]["id"])
                self.assertEqual((rc["state"], rc["rule"]), ("skipped", "duplicate"), rc)
                self.assertIsInstance(rc["why"], str)
            else:
                self.assert_never(cfg, recs[uid], rule, user)

        # puljectl receipts shows them, with their rules.
        by_rec = self.receipts_by_record(cfg)
        for uid, (rule, user) in uids.items():
            x = by_rec[recs[uid]["id"]]
            self.assertEqual((x["state"], x["rule"]), ("skipped", rule), x)
        counts = self.receipts_json(cfg)["counts"]
        self.assertEqual(counts, {"due": 0, "sent": 1, "failed": 0, "skipped": len(uids)}, counts)
        table = self.run_ctl(cfg, "receipts").stdout
        self.assertRegex(self.receipt_of(cfg, recs[[u for u, (_r, us) in uids.items()
                                                    if us == "never-bulk@example.org"][0]]["id"])["why"],
                         r"Precedence")
        for uid in uids:
            self.assertRegex(table, r"(?m)^ +%d  skipped  " % recs[uid]["id"], table)
        self.assertEqual(self.status_json(cfg)["receipts"]["skipped"], len(uids))

        # No SMTP session carried anything but the one receipt.
        rcpts = [l for l in self.pf.log_lines(self.pf_mark) if "postfix/lmtp" in l and "to=<" in l]
        self.assertEqual(len(rcpts), 1, rcpts)

        # An operator's request passes the duplicate rule, never the
        # null-sender, automatic, own-address or unrelated ones.
        asked = {rule: uid for uid, (rule, _u) in uids.items()}
        for rule in ("duplicate", "null-sender", "automatic", "own-address", "unrelated"):
            r = self.run_ctl(cfg, "receipt", "send", str(recs[asked[rule]]["id"]), expect=None)
            self.assertIn(r.returncode, (0, 1), r.describe())
        self.once(cfg)
        got = self.delivered("never-dup@example.org")
        self.assertEqual(len(got), 2, "the requested receipt for the duplicate")
        self.assertEqual(str(got[1]["Message-ID"]), self.message_id(cfg, recs[second_dup]))
        self.assertEqual(self.receipt_of(cfg, recs[second_dup]["id"])["state"], "sent")
        for rule in ("null-sender", "automatic", "own-address", "unrelated"):
            rec = recs[asked[rule]]
            rc = self.receipt_of(cfg, rec["id"])
            self.assertEqual((rc["state"], rc["rule"]), ("skipped", rule), rc)
            self.assertEqual(self.delivered(uids[asked[rule]][1], settle=False), [], rule)

    # ------------------------------------------------------------ 3
    def test_03_rate_cap(self):
        # The third in another case: the same address for the cap.
        uids = [self.put(self.app("Flood@Example.ORG" if i == 2 else "flood@example.org",
                                  "Kommune %d" % i, [("a%d.pdf" % i, M.fake_pdf(800, seed=30 + i))]))
                for i in range(4)]
        cfg = self.rconfig(max_per_sender="2")
        r = self.once(cfg)
        self.assertEqual(len(self.delivered("flood@example.org")), 2)
        recs = self.records_by_uid(cfg)
        states = [self.receipt_of(cfg, recs[u]["id"]) for u in uids]
        self.assertEqual([s["state"] for s in states], ["sent", "sent", "skipped", "skipped"], states)
        for s in states[2:]:
            self.assertEqual(s["rule"], "rate-limit", s)
            self.assertIn("2", s["why"], s)
        self.assertRegex(r.stderr, r"receipt for #%d skipped" % recs[uids[3]]["id"])
        # A later run does not send them either (the cap holds for 24 h).
        self.put(self.app("flood@example.org", "Kommune 5", [("a5.pdf", M.fake_pdf(800, seed=40))]))
        self.once(cfg)
        self.assertEqual(len(self.delivered("flood@example.org")), 2)
        # An operator's request passes the cap.
        self.run_ctl(cfg, "receipt", "send", str(recs[uids[3]]["id"]))
        self.once(cfg)
        got = self.delivered("flood@example.org")
        self.assertEqual(len(got), 3)
        self.assertEqual(str(got[2]["Message-ID"]), self.message_id(cfg, recs[uids[3]]))
        self.assertEqual(self.receipt_of(cfg, recs[uids[3]]["id"])["state"], "sent")
        self.run_ctl(cfg, "receipt", "send", "9999", expect=3)

    # ------------------------------------------------------------ 4
    def test_04_switching_on_does_not_mail_the_past(self):
        # No Return-Path at all here: the receipt goes to From.
        old = [self.put(self.app("past@example.org", "Gammel %d" % i,
                                 [("g%d.pdf" % i, M.fake_pdf(700, seed=50 + i))], return_path=False))
               for i in range(2)]
        cfg_off = self.rconfig(name="off.conf", send="no")
        self.once(cfg_off)
        self.assertEqual(len(self.records(cfg_off)), 2)
        self.assertEqual(self.delivered("past@example.org"), [])
        recs = self.records_by_uid(cfg_off)
        for u in old:
            self.assertEqual(self.receipt_of(cfg_off, recs[u]["id"])["state"], "none")

        new = self.put(self.app("past@example.org", "Ny", [("n.pdf", M.fake_pdf(700, seed=59))],
                                return_path=False))
        cfg = self.rconfig()
        self.once(cfg)
        got = self.delivered("past@example.org")
        recs = self.records_by_uid(cfg)
        self.assertEqual([str(m["Message-ID"]) for m in got], [self.message_id(cfg, recs[new])],
                         "switching receipts on mailed records made before")
        for u in old:
            self.assertEqual(self.receipt_of(cfg, recs[u]["id"])["state"], "none")

        # An operator asks for one of the old ones: sent at the next run.
        rid = recs[old[0]]["id"]
        self.run_ctl(cfg, "receipt", "send", str(rid))
        rc = self.receipt_of(cfg, rid)
        self.assertEqual(rc["state"], "pending", rc)
        self.assertIsInstance(rc["requested_by"], str, rc)
        self.assertEqual(len(self.delivered("past@example.org")), 1, "sent before puljed ran")
        self.once(cfg)
        got = self.delivered("past@example.org")
        self.assertEqual(len(got), 2)
        self.assertEqual(str(got[1]["Message-ID"]), self.message_id(cfg, recs[old[0]]))
        self.assertEqual(self.receipt_of(cfg, rid)["state"], "sent")
        self.assertEqual(self.receipt_of(cfg, recs[old[1]]["id"])["state"], "none")
        # Again: refused (exit 1) unless --again.
        r = self.run_ctl(cfg, "receipt", "send", str(rid), expect=1)
        self.assertRegex(r.stderr, r"(?i)again|sent")
        self.once(cfg)
        self.assertEqual(len(self.delivered("past@example.org")), 2)
        self.run_ctl(cfg, "receipt", "send", str(rid), "--again")
        self.once(cfg)
        got = self.delivered("past@example.org")
        self.assertEqual(len(got), 3)
        self.assertEqual(str(got[2]["Message-ID"]), self.message_id(cfg, recs[old[0]]),
                         "a receipt sent again has the same Message-ID")

    # ------------------------------------------------------------ 5
    def test_05_refused_certificate(self):
        u1 = self.put(self.app("cert@example.org", "Kommune Cert"))
        for name, kw in (("wronghost", {"smtp_port": self.pf.wronghost_port}),
                         ("unknown CA", {"ca_file": self.pf.certs.unknown_cert})):
            mark = self.pf.log_mark()
            cfg = self.rconfig(name="cert.conf", db=self.path("cert-%s.db" % name[:5]), **kw)
            r = self.once(cfg)  # recording is not held up
            recs = self.records_by_uid(cfg)
            self.assertEqual(list(recs), [u1])
            rc = self.receipt_of(cfg, recs[u1]["id"])
            self.assertEqual(rc["state"], "pending", (name, rc))
            self.assertIsInstance(rc["why"], str, rc)
            self.assertRegex(rc["why"], r"(?i)certificate|tls|host|trust|verif", rc)
            self.assertIsInstance(rc["next_attempt_at"], str, rc)
            st = self.status_json(cfg)
            self.assertEqual(st["receipts"]["pending"], 1, st)
            self.assertIsInstance(st["receipts"]["last_error"], str, st)
            self.assertRegex(r.stderr, r"receipt for #%d not sent, kept pending" % recs[u1]["id"])
            self.assertEqual(self.delivered("cert@example.org"), [], name)
            # The client got as far as STARTTLS (Postfix saw it) and sent no AUTH.
            self.assertTrue(self.pf.wait_for_log(r"connect from localhost", since=mark),
                            "puljed never reached Postfix (%s)" % name)
            self.assertEqual(self.pf.auth_attempt_lines(mark), [], name)
            self.assertNotRegex(self.pf.log_text(mark), r"sasl_|auth=[1-9]")

    # ------------------------------------------------------------ 6
    def test_06_smtp_down_then_up(self):
        u1 = self.put(self.app("down@example.org", "Kommune Nede"))
        u2 = self.put(self.app("down@example.org", "Kommune Nede 2",
                               [("b.pdf", M.fake_pdf(900, seed=61))]))
        cfg = self.rconfig(retry_min="1s", retry_max="2s")
        self.pf.stop()
        try:
            r = self.once(cfg, expect=P.EXIT_OK)
        finally:
            self.pf.start()
        recs = self.records_by_uid(cfg)
        self.assertEqual(sorted(recs), [u1, u2], "recording did not complete")
        for u in (u1, u2):
            rc = self.receipt_of(cfg, recs[u]["id"])
            self.assertEqual(rc["state"], "pending", rc)
            self.assertIsInstance(rc["next_attempt_at"], str, rc)
            self.assertIsInstance(rc["why"], str, rc)
        st = self.status_json(cfg)
        self.assertEqual(st["receipts"]["pending"], 2, st)
        self.assertRegex(st["receipts"]["last_error"] or "", r"(?i)refused|connect|SMTP", st)
        self.assertEqual(len(re.findall(r"not sent, kept pending", r.stderr)), 2, r.describe())
        self.assertEqual(self.delivered("down@example.org"), [])
        time.sleep(2.2)  # the next attempt is due
        self.once(cfg)
        got = self.delivered("down@example.org")
        self.assertEqual(sorted(str(m["Message-ID"]) for m in got),
                         sorted(self.message_id(cfg, recs[u]) for u in (u1, u2)))
        for u in (u1, u2):
            self.assertEqual(self.receipt_of(cfg, recs[u]["id"])["state"], "sent")
        self.assertEqual(self.status_json(cfg)["receipts"]["pending"], 0)
        self.once(cfg)
        self.assertEqual(len(self.delivered("down@example.org")), 2, "exactly one copy each")

        # A server that stays away past give_up: failed, "given up", with
        # the last error, and not tried again.
        closed = free_port()
        cfg2 = self.rconfig(name="gone.conf", db=self.path("gone.db"), smtp_port=closed,
                            retry_min="1s", retry_max="1s", give_up="1s")
        self.once(cfg2)
        rid = self.records(cfg2)[0]["id"]
        self.assertEqual(self.receipt_of(cfg2, rid)["state"], "pending")
        time.sleep(1.2)
        r = self.once(cfg2)
        rc = self.receipt_of(cfg2, rid)
        self.assertEqual(rc["state"], "failed", rc)
        self.assertRegex(rc["why"], r"given up after 2 attempt", rc)
        self.assertRegex(r.stderr, r"receipt for #%d failed" % rid)
        time.sleep(1.2)
        r = self.once(cfg2)
        self.assertNotRegex(r.stderr, r"receipt for #%d" % rid)
        self.assertEqual(self.receipt_of(cfg2, rid)["attempts"], 2)

    # ------------------------------------------------------------ 7
    def test_07_4xx_then_250_and_5xx(self):
        u_soft = self.put(self.app("soft@example.org", "Kommune Blød"))
        u_hard = self.put(self.app("hard@example.org", "Kommune Hård"))
        self.pf.set_recipient("soft@example.org", "450 4.2.0 Mailbox busy, try later")
        self.pf.set_recipient("hard@example.org", "550 5.1.1 Ingen saadan modtager")
        cfg = self.rconfig(retry_min="1s", retry_max="2s")
        self.once(cfg)
        recs = self.records_by_uid(cfg)
        soft = self.receipt_of(cfg, recs[u_soft]["id"])
        hard = self.receipt_of(cfg, recs[u_hard]["id"])
        self.assertEqual(soft["state"], "pending", soft)
        self.assertRegex(soft["why"] or "", r"450|try later", soft)
        self.assertIsInstance(soft["next_attempt_at"], str)
        self.assertEqual(hard["state"], "failed", hard)
        self.assertRegex(hard["why"] or "", r"550.*Ingen saadan modtager|Ingen saadan modtager", hard)
        self.assertEqual(self.delivered("soft@example.org"), [])
        self.assertEqual(self.delivered("hard@example.org", settle=False), [])
        st = self.status_json(cfg)["receipts"]
        self.assertEqual((st["pending"], st["failed"]), (1, 1), st)

        self.pf.clear_recipients()
        time.sleep(1.2)
        mark = self.pf.log_mark()
        r = self.once(cfg)
        self.assertEqual(len(self.delivered("soft@example.org")), 1)
        self.assertEqual(self.receipt_of(cfg, recs[u_soft]["id"])["state"], "sent")
        # 5xx: failed for good, not tried again although the address works now.
        self.assertEqual(self.delivered("hard@example.org", settle=False), [])
        self.assertEqual(self.receipt_of(cfg, recs[u_hard]["id"])["state"], "failed")
        self.assertNotIn("hard@example.org", self.pf.log_text(mark))
        self.assertNotRegex(r.stderr, r"#%d" % recs[u_hard]["id"])

    # ------------------------------------------------------------ 8
    def crashrun(self, cfg, crash_at=None, report=False, full_after=None):
        r = P.run([P.crashtest_path(), "--config", cfg, "--once"], timeout=120,
                  env=P.crash_env(crash_at, report=report, full_after=full_after))
        self.runs.append(r)
        self.check_no_secret(r)
        self.assertFalse(r.timed_out, r.describe())
        return r

    def test_08_crash_sweep(self):
        # Kill at every durable step of one ingest + receipt run, restart
        # normally: the application recorded once, the applicant has one
        # receipt -- two (with the same Message-ID) only when the kill fell
        # between the server's 250 and the mark.
        user = "crash@example.org"
        # The schema and the mailbox's watermark made once: every step of
        # the sweep is then a step of the ingest and its receipt.
        self.empty_inbox()
        template = self.path("template.db")
        self.once(self.rconfig(name="template.conf", db=template))
        names = {}
        seen = 0
        results = []
        n = 1
        while True:
            self.empty_inbox()
            uid = self.put(self.app(user, "Kommune Krak", [("k.pdf", M.fake_pdf(1200, seed=80))]))
            db = self.path("crash-%d.db" % n)
            for suffix in ("", "-wal"):
                if os.path.exists(template + suffix):
                    shutil.copyfile(template + suffix, db + suffix)
            cfg = self.rconfig(name="crash.conf", db=db)
            r = self.crashrun(cfg, crash_at=n)
            killed = r.returncode == -9
            if killed:
                m = re.search(r"crashpoint: killed at step (\d+) \((.*)\)", r.stderr)
                self.assertIsNotNone(m, r.describe())
                self.assertEqual(int(m.group(1)), n)
                names[n] = m.group(2)
            else:
                self.assertEqual(r.returncode, 0, "step %d: %s" % (n, r.describe()))
            self.once(cfg)
            recs = self.records(cfg)
            self.assertEqual([x["uid"] for x in recs], [uid], "after a kill at step %d" % n)
            mid = self.message_id(cfg, recs[0])
            got = self.delivered(user)[seen:]
            seen += len(got)
            self.assertIn(len(got), (1, 2), "kill at step %d (%s): %d receipts" % (
                n, names.get(n), len(got)))
            self.assertEqual({str(m["Message-ID"]) for m in got}, {mid},
                             "step %d: the receipts' Message-IDs" % n)
            rc = self.receipt_of(cfg, recs[0]["id"])
            self.assertEqual(rc["state"], "sent", "step %d: %s" % (n, rc))
            results.append((n, names.get(n), len(got)))
            for suffix in ("", "-wal", "-shm", ".lock"):
                if os.path.exists(db + suffix):
                    os.unlink(db + suffix)
            if not killed:
                break
            n += 1
            self.assertLess(n, 500, "no run completed")
        # Two copies only inside the window: from "carried out, not yet
        # marked" up to the commit that marks it.
        order = [names[i] for i in sorted(names)]
        self.assertIn(CRASH_KILL_WINDOW, order, "the kill point after the 250 was never reached")
        self.assertIn("receipt: composed, about to send", order)
        w0 = order.index(CRASH_KILL_WINDOW) + 1
        w1 = w0 + order[w0 - 1:].index("commit")  # the commit's own step: marked
        for step, name, count in results:
            if count == 2:
                self.assertTrue(w0 <= step < w1, "two receipts after a kill at step %d (%s), outside "
                                "the window %d..%d" % (step, name, w0, w1 - 1))
        self.assertEqual(dict((s, c) for s, _n, c in results)[w0], 2,
                         "killed right after the 250: the restart must send it again")
        sys.stderr.write("\n  crash sweep: %d steps killed, a run of %d steps completes; two copies "
                         "at steps %s (window %d..%d)\n" % (
                             len(names), n, [s for s, _n, c in results if c == 2], w0, w1 - 1))

    # ------------------------------------------------------------ 9
    PLACEHOLDERS = ("call", "call_id", "subject", "from", "arrival", "clock", "verdict",
                    "deadline", "attachments", "signature", "reference", "message_sha256")

    def test_09_template(self):
        # The placeholders this test uses are those doc/receipts.md lists.
        srcdir = os.environ.get("PULJED_SRCDIR") or os.path.join(
            os.path.dirname(os.path.abspath(__file__)), "..", "..")
        with open(os.path.join(srcdir, "doc", "receipts.md"), encoding="utf-8") as f:
            documented = re.findall(r"^\| `\{([a-z_0-9]+)\}` \|", f.read(), re.M)
        self.assertEqual(tuple(documented), self.PLACEHOLDERS, "doc/receipts.md's placeholders")
        tmpl = self.path("kvittering.txt")
        with open(tmpl, "w", encoding="utf-8") as f:
            f.write("Egen tekst {{bogstavelig}}\n")
            for name in self.PLACEHOLDERS:
                f.write("<<%s>> {%s}\n" % (name, name))
        pdfs = [("skema.pdf", M.fake_pdf(3333, seed=91))]
        raw = self.app("tmpl@example.org", "Kommune Skabelon", pdfs)
        uid = self.put(raw)
        cfg = self.rconfig(template=tmpl)
        self.once(cfg)
        got = self.delivered("tmpl@example.org")
        self.assertEqual(len(got), 1)
        text = body_text(got[0])
        self.assertIn("Egen tekst {bogstavelig}", text)
        rec = self.records_by_uid(cfg)[uid]
        values = {}
        for name in self.PLACEHOLDERS:
            m = re.search(r"^<<%s>> (.*)$" % name, text, re.M)
            self.assertIsNotNone(m, "placeholder %s missing in\n%s" % (name, text))
            values[name] = m.group(1)
        self.assertNotRegex(text.replace("{bogstavelig}", ""), r"\{[a-z_0-9]+\}",
                            "a placeholder left unrendered:\n" + text)
        self.assertEqual(values["call"], M.CALL_SUBJECT)
        self.assertEqual(values["call_id"], rec["call"])
        self.assertEqual(values["subject"], rec["subject"])
        self.assertEqual(values["from"], "tmpl@example.org")
        self.assertEqual(values["arrival"], ON_TIME_WORDS)
        self.assertTrue(values["clock"], values)
        self.assertEqual(values["verdict"], "modtaget inden fristen")
        self.assertEqual(values["deadline"], "1. juli 2022 kl. 23:59:59")
        self.assert_lists_attachments(text, pdfs)
        self.assertTrue(values["signature"], values)
        self.assertEqual(values["reference"], reference(rec["id"]))
        self.assertEqual(values["message_sha256"], hashlib.sha256(raw).hexdigest())

        # An unknown placeholder: exit 2 with one line naming [receipts]
        # template, before any network traffic (no IMAP login, no SMTP).
        bad = self.path("bad.txt")
        with open(bad, "w", encoding="utf-8") as f:
            f.write("Hej\n{reference}\n{ansoeger_navn}\n")
        cfg_bad = self.rconfig(name="bad.conf", db=self.path("bad.db"), template=bad)
        mark = self.pf.log_mark()
        dmark = self.dc.log_mark()
        r = self.run_puljed(cfg_bad, "--check-config", expect=P.EXIT_CONFIG)
        self.assertIn("[receipts] template", r.stderr)
        r = self.once(cfg_bad, expect=P.EXIT_CONFIG)
        lines = [l for l in r.stderr.splitlines() if l.strip()]
        self.assertEqual(len(lines), 1, r.describe())
        self.assertIn("[receipts] template", lines[0])
        self.assertIn("ansoeger_navn", lines[0])
        self.assertFalse(os.path.exists(self.path("bad.db")), "the database was created")
        self.assertEqual(self.pf.disconnect_lines(mark), [], "puljed talked to Postfix")
        self.assertEqual(self.dc.login_lines(dmark), [], "puljed logged in to Dovecot")

    # ------------------------------------------------------------ 10
    def make_signer(self):
        certs = self.pf.certs
        key, csr, cert, ext = (self.path(n) for n in ("sign.key", "sign.csr", "sign.pem", "ext.cnf"))
        with open(ext, "w") as f:
            f.write("basicConstraints = CA:FALSE\nkeyUsage = digitalSignature, nonRepudiation\n"
                    "extendedKeyUsage = emailProtection\nsubjectAltName = email:%s\n" % FROM_ADDR)
        for argv in (["req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", csr,
                      "-subj", "/CN=Puljeteamet/emailAddress=%s" % FROM_ADDR],
                     ["x509", "-req", "-in", csr, "-CA", certs.ca_cert, "-CAkey", certs.ca_key,
                      "-CAcreateserial", "-CAserial", self.path("ca.srl"), "-days", "30",
                      "-extfile", ext, "-out", cert]):
            subprocess.run(["openssl"] + argv, check=True, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
        os.chmod(key, 0o600)
        return cert, key

    def smime_verify(self, raw):
        path = self.path("receipt-%d.eml" % time.monotonic_ns())
        with open(path, "wb") as f:
            f.write(raw)
        return subprocess.run(["openssl", "smime", "-verify", "-in", path, "-CAfile",
                               self.pf.certs.ca_cert, "-out", "/dev/null"],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT)

    def test_10_smime(self):
        cert, key = self.make_signer()
        pdfs = [("signeret.pdf", M.fake_pdf(2000, seed=101))]
        self.put(self.app("smime@example.org", "Kommune Signeret", pdfs))
        cfg = self.rconfig(sign_cert=cert, sign_key=key)
        self.once(cfg)
        raws = self.pf.wait_delivered("smime@example.org", 1)
        self.assertEqual(len(raws), 1)
        msg = parse(raws[0])
        self.assertEqual(msg.get_content_type(), "multipart/signed", msg.get_content_type())
        self.assertEqual(str(msg["Auto-Submitted"]).strip(), "auto-replied")
        text = body_text(msg)
        self.assertIn("modtaget inden fristen", text)
        self.assert_lists_attachments(text, pdfs)
        v = self.smime_verify(raws[0])
        self.assertEqual(v.returncode, 0, v.stdout.decode("utf-8", "replace"))
        self.assertIn(b"Verification successful", v.stdout)
        # One byte changed in the signed text: verification fails.
        i = raws[0].index(b"modtaget inden fristen")
        bad = raws[0][:i] + b"M" + raws[0][i + 1:]
        v = self.smime_verify(bad)
        self.assertNotEqual(v.returncode, 0, "a changed receipt still verifies")
        self.assertNotIn(b"Verification successful", v.stdout)

    # ------------------------------------------------------------ 12
    def test_12_implicit_tls(self):
        self.put(self.app("tls@example.org", "Kommune TLS"))
        cfg = self.rconfig(security="tls", smtp_port=self.pf.smtps_port)
        self.once(cfg)
        got = self.delivered("tls@example.org")
        self.assertEqual(len(got), 1)
        rec = self.records(cfg)[0]
        self.assertEqual(str(got[0]["Message-ID"]), self.message_id(cfg, rec))
        self.assertEqual(self.receipt_of(cfg, rec["id"])["state"], "sent")

    # ------------------------------------------------------------ 13
    def test_13_hostile_words_stay_words(self):
        # A late application whose subject (RFC 2047) and attachment name
        # (RFC 2231) carry line breaks and forged lines: the receipt keeps
        # them inside their own line, adds no header, and still says late.
        import base64
        subject = (M.CALL_SUBJECT + " \u2013 Kommune Fup\r\nBcc: evil@example.org\r\n"
                   "X-Injected: yes")
        enc = "=?utf-8?b?%s?=" % base64.b64encode(subject.encode()).decode()
        pdf = M.fake_pdf(1000, seed=131)
        forged = "Status:      modtaget inden fristen"
        entity = M.multipart([
            M.text_part("Hej\n"),
            M.file_part(pdf, filename_param="filename*=utf-8''a.pdf%0D%0A" +
                        forged.replace(" ", "%20").replace(":", "%3A"))])
        raw = M.wrap_message(entity, "x", from_addr="fup@example.org")
        raw = raw.replace(b"Subject: x\r\n", ("Subject: %s\r\n" % enc).encode())
        raw = M.prepend_headers(raw, [("Return-Path", "<fup@example.org>")])
        self.put(raw, LATE)
        cfg = self.rconfig()
        self.once(cfg)
        rec = self.records(cfg)[0]
        self.assertEqual(rec["status"], "late", rec)
        # The hostile words did reach the record (the test is not vacuous).
        self.assertIn("X-Injected", rec["subject"])
        names = [a.get("filename") or "" for a in self.show(cfg, rec["id"])["attachments"]]
        self.assertTrue(any("modtaget inden fristen" in n for n in names), names)
        got = self.delivered("fup@example.org")
        self.assertEqual(len(got), 1)
        msg = got[0]
        self.assertIsNone(msg["X-Injected"], "a header injected through the subject")
        self.assertIsNone(msg["Bcc"])
        self.assertEqual(self.delivered("evil@example.org", settle=False), [])
        text = body_text(msg)
        self.assertIn("modtaget efter fristen", text)
        self.assertNotRegex(text, r"(?m)^Status: +modtaget inden fristen",
                            "a forged line in the receipt:\n" + text)
        self.assertNotRegex(text, r"(?m)^(Bcc|X-Injected):", text)
        self.assertIn(hashlib.sha256(pdf).hexdigest(), text)
        self.assertIn("X-Injected", str(msg["Subject"]))
        self.assertIn("modtaget inden fristen", text.split("SHA-256 " + hashlib.sha256(pdf).hexdigest())[0]
                      .rsplit("\n- ", 1)[-1], "the name is listed, on the attachment's line")

    # ------------------------------------------------------------ 14
    def test_14_daemon(self):
        # The polling daemon: a new application gets its receipt within
        # seconds of its arrival (IDLE; the next poll an hour away); a 4xx
        # is tried again at its next attempt, and an operator's request is
        # carried out within seconds, neither waiting for the next poll
        # nor for new mail.
        old = self.put(self.app("daemon-old@example.org", "Gammel", return_path=False))
        self.once(self.rconfig(name="off.conf", send="no"))
        self.pf.set_recipient("daemon-soft@example.org", "450 4.2.0 Not now")
        cfg = self.rconfig(retry_min="1s", retry_max="1s", poll_interval=3600)
        d = self.spawn_daemon(cfg)
        self.assertIsNotNone(d.wait_ready(10), "no READY=1\n" + d.describe())
        time.sleep(1.0)
        t0 = time.monotonic()
        self.put(self.app("daemon@example.org", "Kommune Dæmon"))
        self.pf.wait_delivered("daemon@example.org", 1, timeout=15)
        took = time.monotonic() - t0
        self.assertLess(took, 10, "the receipt took %.1f s" % took)
        self.put(self.app("daemon-soft@example.org", "Kommune Senere"))
        self.assertIsNotNone(d.wait_output(r"receipt for #\d+ not sent, kept pending: .*450", timeout=15),
                             d.describe())
        self.pf.clear_recipient("daemon-soft@example.org")
        self.pf.wait_delivered("daemon-soft@example.org", 1, timeout=20)
        rid = self.records_by_uid(cfg)[old]["id"]
        self.run_ctl(cfg, "receipt", "send", str(rid))
        self.pf.wait_delivered("daemon-old@example.org", 1, timeout=20)
        self.assertEqual(self.receipt_of(cfg, rid)["state"], "sent")
        d.terminate()
        for user in ("daemon@example.org", "daemon-soft@example.org", "daemon-old@example.org"):
            self.assertEqual(len(self.delivered(user)), 1, user)

    # ------------------------------------------------------------ 15
    def test_15_journal_fields(self):
        # Under journald (caught by harness.journal in a private /run):
        # each settlement is one entry with its own MESSAGE_ID and the
        # record, recipient, Message-ID and rule as fields.
        u1, u2, u3, u4 = self.four_outcomes("Journal")
        cfg = self.rconfig()
        rc, entries, stderr = journal.run(self.path("journal.json"),
                                          [P.puljed_path(), "--config", cfg, "--once"],
                                          env=P.clean_env())
        self.assertEqual(rc, 0, stderr + json.dumps(entries, indent=1)[-3000:])
        for secret in self.secrets:
            self.assertNotIn(secret, json.dumps(entries))
        recs = self.records_by_uid(cfg)
        by_record = {}
        for e in entries:
            if e.get("MESSAGE_ID", "").startswith("5b0c3e6c9d2a4f0e8a1b7c4d2e9f6a3"):
                self.assertNotIn(e["PULJED_RECORD"], by_record, "two entries for one receipt")
                by_record[e["PULJED_RECORD"]] = e
        rec1 = recs[u1]
        expected = {
            rec1["id"]: ("5b0c3e6c9d2a4f0e8a1b7c4d2e9f6a30", "6", "log@example.org",
                         self.message_id(cfg, rec1), None),
            recs[u2]["id"]: ("5b0c3e6c9d2a4f0e8a1b7c4d2e9f6a33", "6", "log-skip@example.org", None,
                             "automatic"),
            recs[u3]["id"]: ("5b0c3e6c9d2a4f0e8a1b7c4d2e9f6a32", "3", "hard@example.org", None, None),
            recs[u4]["id"]: ("5b0c3e6c9d2a4f0e8a1b7c4d2e9f6a31", "4", "soft@example.org", None, None),
        }
        self.assertEqual(sorted(by_record), sorted(str(i) for i in expected), entries)
        for rid, (msgid, prio, to, mid, rule) in expected.items():
            e = by_record[str(rid)]
            self.assertEqual(e["MESSAGE_ID"], msgid, e)
            self.assertEqual(e["PRIORITY"], prio, e)
            # A field without a value is left out, not sent empty.
            self.assertEqual(e.get("PULJED_RECEIPT_TO"), to, e)
            self.assertEqual(e.get("PULJED_RECEIPT_MESSAGE_ID"), mid, e)
            self.assertEqual(e.get("PULJED_RECEIPT_RULE"), rule, e)
        self.assertRegex(by_record[str(recs[u3]["id"])]["MESSAGE"], r"550.*Afvist af politik")
        self.assertRegex(by_record[str(recs[u4]["id"])]["MESSAGE"], r"451.*Midlertidig fejl")

    # ------------------------------------------------------------ 16
    def test_16_decided_when_carried_out(self):
        # Whether a receipt may be sent is decided when it is carried out,
        # from the record as it is then: an application whose receipt
        # waited for the server and that a reclassification has since put
        # under review gets none where only accepted and late ones do.
        u_keep = self.put(self.app("reclass@example.org", "Kommune Bliver"))
        cfg = self.rconfig(smtp_port=free_port(), retry_min="1s", retry_max="1s")
        self.once(cfg)
        recs = self.records_by_uid(cfg)
        self.assertEqual(self.receipt_of(cfg, recs[u_keep]["id"])["state"], "pending")
        other = {"andet-opslag-2031": {"subject": "Helt andet opslag 2031",
                                       "deadline": "2031-07-01", "timezone": "Europe/Copenhagen"}}
        cfg2 = self.rconfig(name="other.conf", calls=other, retry_min="1s", retry_max="1s",
                            statuses="accepted, late")
        r = self.run_ctl(cfg2, "reclassify")
        self.assertEqual(self.records_by_uid(cfg2)[u_keep]["status"], "review", r.describe())
        time.sleep(1.2)
        self.once(cfg2)
        rc = self.receipt_of(cfg2, recs[u_keep]["id"])
        self.assertEqual((rc["state"], rc["rule"]), ("skipped", "status"), rc)
        self.assertIn("Til vurdering", rc["why"])
        self.assertEqual(self.delivered("reclass@example.org"), [])

    # ------------------------------------------------------------ 17
    def test_17_connection_lost(self):
        # The server answers 421 and closes the connection at the first
        # receipt: that one and the rest of the run stay pending, without
        # a new connection for each; all are sent at the next run, once.
        uids = [self.put(self.app("lost%d@example.org" % i, "Kommune Tabt %d" % i))
                for i in range(3)]
        self.pf.set_recipient("lost0@example.org", "421 4.7.0 Lukker forbindelsen")
        cfg = self.rconfig(retry_min="1s", retry_max="1s")
        mark = self.pf.log_mark()
        r = self.once(cfg)
        recs = self.records_by_uid(cfg)
        for u in uids:
            rc = self.receipt_of(cfg, recs[u]["id"])
            self.assertEqual(rc["state"], "pending", rc)
        self.assertEqual(len(re.findall(r"not sent, kept pending", r.stderr)), 3, r.describe())
        connects = [l for l in self.pf.log_lines(mark) if "smtpd[" in l and " connect from " in l]
        self.assertEqual(len(connects), 1, connects)
        for i in range(3):
            self.assertEqual(self.delivered("lost%d@example.org" % i, settle=(i == 0)), [])
        self.pf.clear_recipients()
        time.sleep(1.2)
        mark = self.pf.log_mark()
        self.once(cfg)
        for i, u in enumerate(uids):
            got = self.delivered("lost%d@example.org" % i, settle=(i == 0))
            self.assertEqual([str(m["Message-ID"]) for m in got], [self.message_id(cfg, recs[u])])
        connects = [l for l in self.pf.log_lines(mark) if "smtpd[" in l and " connect from " in l]
        self.assertEqual(len(connects), 1, "one SMTP session for the run: %s" % connects)

    # ------------------------------------------------------------ 18
    def test_18_wrong_password_is_not_the_applicants_fault(self):
        # AUTH refused (535): the receipts wait (pending, the server's
        # words), they do not fail as a 5xx to the recipient would; with
        # the right password they are sent.
        u = self.put(self.app("auth@example.org", "Kommune Kode"))
        wrong = self.path("wrong-password")
        with open(wrong, "w") as f:
            f.write("not-the-password\n")
        os.chmod(wrong, 0o600)
        cfg = self.rconfig(password_file=wrong, retry_min="1s", retry_max="1s")
        r = self.once(cfg)
        rid = self.records_by_uid(cfg)[u]["id"]
        rc = self.receipt_of(cfg, rid)
        self.assertEqual(rc["state"], "pending", rc)
        self.assertRegex(rc["why"], r"(?i)535|auth", rc)
        self.assertNotIn("not-the-password", r.output)
        self.assertEqual(self.delivered("auth@example.org"), [])
        time.sleep(1.2)
        self.once(self.rconfig(retry_min="1s", retry_max="1s"))
        self.assertEqual(len(self.delivered("auth@example.org")), 1)
        self.assertEqual(self.receipt_of(cfg, rid)["state"], "sent")

    # ------------------------------------------------------------ 19
    def test_19_daemon_rate_wait(self):
        # max_per_minute reached: the rest wait, untried, and go out when
        # the minute since the first send is over -- with the next poll an
        # hour away, and a poll in between (new mail) not pushing the wait
        # back by another minute.
        self.empty_inbox()
        self.put(self.app("rate-a@example.org", "Kommune Først"))
        self.put(self.app("rate-b@example.org", "Kommune Bagefter"))
        cfg = self.rconfig(name="rate.conf", db=self.path("rate.db"), poll_interval=3600, max_per_minute="1")
        d = self.spawn_daemon(cfg)
        self.assertIsNotNone(d.wait_ready(10), "no READY=1\n" + d.describe())
        self.pf.wait_delivered("rate-a@example.org", 1, timeout=20)
        t0 = time.monotonic()
        recs = self.records(cfg)
        waiting = [r for r in recs if self.receipt_of(cfg, r["id"])["state"] == "pending"]
        self.assertEqual(len(waiting), 1, "one receipt waits for the rate")
        self.assertEqual(self.receipt_of(cfg, waiting[0]["id"])["attempts"], 0, "waiting is no attempt")
        # New mail 20 s into the minute: the daemon polls at once, and the
        # receipt still waits for the first one's minute, not a new one.
        time.sleep(max(0.0, t0 + 20 - time.monotonic()))
        self.put(M.simple("Spørgsmål om noget helt andet", "Hej\n", from_addr="rate-c@example.org"))
        deadline = time.monotonic() + 20
        while len(self.records(cfg)) < 3:
            self.assertLess(time.monotonic(), deadline, "new mail not recorded while the receipt waits\n"
                            + d.describe())
            time.sleep(0.2)
        polled = time.monotonic() - t0
        rc = self.receipt_of(cfg, waiting[0]["id"])
        self.assertEqual((rc["state"], rc["attempts"]), ("pending", 0), rc)
        self.pf.wait_delivered("rate-b@example.org", 1, timeout=120)
        took = time.monotonic() - t0
        sys.stderr.write("\n  the receipt held back by max_per_minute = 1 went %.1f s after the first"
                         " (a poll in between at %.1f s)\n" % (took, polled))
        self.assertGreater(took, 40, "sent before the minute was over")
        self.assertLess(took, polled + 55, "the poll in between pushed the wait back")
        self.assertEqual(self.receipt_of(cfg, waiting[0]["id"])["state"], "sent")
        d.terminate()
        for user in ("rate-a@example.org", "rate-b@example.org"):
            self.assertEqual(len(self.delivered(user)), 1, user)

    # ------------------------------------------------------------ 20
    def test_20_disk_full_after_the_250(self):
        # The disk fills up between the server's 250 and the mark: the
        # receipt was sent and cannot be marked.  While the disk stays
        # full it is not sent again at every run (it would be, were the
        # send not preceded by a write the store must take); once there
        # is space it is sent once more -- two copies in all, with the
        # same Message-ID, as after a kill in that window -- and marked.
        user = "full@example.org"
        self.empty_inbox()
        self.put(self.app(user, "Kommune Fuld"))
        cfg = self.rconfig(name="full.conf", db=self.path("full.db"))
        r = self.crashrun(cfg, full_after=CRASH_KILL_WINDOW)
        self.assertNotEqual(r.returncode, 0, r.describe())
        self.assertRegex(r.stderr.lower(), r"full", r.describe())
        self.assertEqual(len(self.delivered(user)), 1, "the first send")
        for i in range(3):
            r = self.crashrun(cfg, full_after="action: about to carry out")
            self.assertNotEqual(r.returncode, 0, r.describe())
            self.assertIn("disk full", r.stderr, r.describe())
        self.assertEqual(len(self.delivered(user)), 1, "sent again while the disk was full")
        self.once(cfg)
        rec = self.records(cfg)[0]
        got = self.delivered(user)
        self.assertEqual(len(got), 2, "once more when there is space")
        self.assertEqual({str(m["Message-ID"]) for m in got}, {self.message_id(cfg, rec)})
        self.assertEqual(self.receipt_of(cfg, rec["id"])["state"], "sent")

    # ------------------------------------------------------------ 11
    def test_11_log_lines(self):
        u1, u2, u3, u4 = self.four_outcomes("Log")
        cfg = self.rconfig()
        r = self.once(cfg)
        recs = self.records_by_uid(cfg)
        i1, i2, i3, i4 = (recs[u]["id"] for u in (u1, u2, u3, u4))
        self.assertRegex(r.stderr, r"receipt for #%d sent to log@example\.org: %s" % (
            i1, re.escape(self.message_id(cfg, recs[u1]))))
        self.assertRegex(r.stderr, r"receipt for #%d skipped: .*Auto-Submitted" % i2)
        self.assertRegex(r.stderr, r"receipt for #%d failed to hard@example\.org: .*550.*Afvist af politik"
                         % i3)
        self.assertRegex(r.stderr, r"receipt for #%d not sent, kept pending: .*451.*Midlertidig fejl" % i4)
        self.assertEqual(len(self.delivered("log@example.org")), 1)
        self.assertEqual(self.delivered("log-skip@example.org", settle=False), [])


if __name__ == "__main__":
    unittest.main(verbosity=2)
