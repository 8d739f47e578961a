#!/usr/bin/env python3
"""Issue 19, the list of received applications, against a real Dovecot:

A mailbox with applications for two calls (one a resubmission of the same
bytes, one after the deadline, one over max_message_size, so recorded
without its bytes) and a mail that is no application is ingested by
`puljed --once`; then `puljectl ledger`:

* ``-o FILE.html`` is rendered by Debian's headless Chromium and printed to
  PDF (pdftotext): every received message's reference number ("PJ-" and
  the record id), its arrival in Danish time, "inden fristen" / "efter
  fristen" / "vurderes", and the first 16 hex digits of the SHA-256 of
  `puljectl raw ID` (sha256sum) stand on its line, in order of arrival;
  the message stored without its bytes shows "—" and says why; the
  unrelated record is absent.
* ``-o FILE.csv`` read back with Python's csv module: the same rows, the
  export's conventions (BOM, ';', CRLF, a date column named with its zone
  and an ISO 8601 column).
* Neither file, nor the rendered page, nor the terminal table holds an
  applicant's name, a From address or display name, a subject, a
  Message-ID or an attachment's name.
* The page is self-contained (no script, no external resource); a second
  run refuses the existing file and leaves it as it was; another name than
  .html/.htm/.csv and an unknown --call exit 2; --call gives that call only.

Needs PULJED and PULJECTL in the environment (paths of the built
binaries), /usr/bin/chromium and pdftotext (poppler-utils).
"""
import csv
import datetime as dt
import io
import os
import re
import subprocess
import sys
import unittest
import zoneinfo

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from harness import chromium as C  # noqa: E402
from harness import messages as M  # noqa: E402
from harness import puljed as P  # noqa: E402
from harness.dovecot import DEFAULT_CALL, DEFAULT_CALL_NAME  # noqa: E402
from harness.testcase import PuljedTestCase, parse_iso  # noqa: E402

ZONE = "Europe/Copenhagen"
CPH = zoneinfo.ZoneInfo(ZONE)
CALL2_ID = "sundhedsfremme-2022"
# Its deadline is judged by the sender's Date: header.
CALL2 = {"subject": "Pulje til sundhedsfremme i kommunerne 2022", "deadline": "2022-09-15",
         "timezone": ZONE, "deadline_basis": "date-header"}
MONTHS = ["januar", "februar", "marts", "april", "maj", "juni", "juli", "august", "september",
          "oktober", "november", "december"]
PDF = b"%PDF-1.4\n% ledger test\n" + bytes(range(256))

# (key, applicant or None, From address, subject, INTERNALDATE, message bytes)
AEROE, SJAELLAND, ODDER, VEJLE, ROSKILDE = ("\u00c6r\u00f8 Kommune", "Region Sj\u00e6lland",
                                            "Odder Kommune", "Vejle Kommune", "Roskilde Kommune")


def danish(iso):
    """An ISO 8601 time as the page says it: "15. juni 2022 kl. 10:00:00"."""
    t = parse_iso(iso).astimezone(CPH)
    return "%d. %s %d kl. %02d:%02d:%02d" % (t.day, MONTHS[t.month - 1], t.year, t.hour, t.minute,
                                             t.second)


def mail(key, applicant, addr, pdf=PDF, call_subject=M.CALL_SUBJECT, attachments=None, date=None):
    """(subject, bytes) of KEY's application, sent by APPLICANT from ADDR."""
    subject = call_subject + " \u2013 " + applicant
    atts = attachments if attachments is not None else [("ans\u00f8gning %s.pdf" % applicant,
                                                          "application/pdf", pdf)]
    return subject, M.make_message(subject, from_addr=addr, from_name=applicant, attachments=atts,
                                   date=parse_iso(date) if date else None, message_id="<%s.id@mail.%s>" % (key, addr.split("@")[1]))


def deciding(r):
    """The time that decided record R's deadline (list --json), and the
    clock the list names."""
    by = r["decided_by"]
    if by == "date-header":
        return r["date_header"], "afsenderens Date-felt"
    if by == "edge":
        return r["edge_received_at"], "mailserveren"
    return r["received_at"], "postkassen"


class LedgerTest(PuljedTestCase):
    def rendered_text(self, html_path):
        """The page as Chromium lays it out and prints it, as text."""
        pdf = self.path("ledger.pdf")
        r = C.run(self, "--no-pdf-header-footer", "--print-to-pdf=" + pdf, C.url(html_path), timeout=120)
        self.assertTrue(os.path.isfile(pdf) and os.path.getsize(pdf) > 1000, "no PDF\n" + r.describe())
        return C.printed_text(self, pdf)

    def raw_sha(self, cfg, rid):
        """sha256sum of `puljectl raw ID`, literally."""
        r = subprocess.run("%s --config %s raw %d | sha256sum" % (P.puljectl_path(), cfg, rid),
                           shell=True, stdout=subprocess.PIPE, check=True, env=P.clean_env())
        return r.stdout.decode().split()[0]

    def test_ledger(self):
        dc = self.dovecot()
        big = os.urandom(12000)
        sent = {}
        for key, applicant, addr, when, kw in (
                ("aeroe", AEROE, "soeren@aeroe.example", "2022-06-15T10:00:00+02:00", {}),
                ("late", ODDER, "post@odder.example", "2022-07-02T00:00:10+02:00", {}),
                ("sjaelland", SJAELLAND, "tilskud@regionsj.example", "2022-06-20T09:30:07+02:00", {}),
                ("big", VEJLE, "bilag@vejle.example", "2022-06-18T12:00:00+02:00",
                 {"attachments": [("kæmpe bilag.bin", "application/octet-stream", big)]}),
                ("call2", ROSKILDE, "sundhed@roskilde.example", "2022-08-01T08:15:00+02:00",
                 {"call_subject": CALL2["subject"], "date": "2022-08-01T07:00:00+02:00"})):
            subject, raw = mail(key, applicant, addr, **kw)
            sent[key] = {"applicant": applicant, "addr": addr, "subject": subject, "raw": raw, "when": when}
            dc.append("INBOX", raw, when)
        # The same bytes again, later: a line of its own.
        dc.append("INBOX", sent["aeroe"]["raw"], "2022-06-16T11:11:11+02:00")
        other = M.make_message("Frokost i morgen?", from_addr="karen.kollega@example.dk",
                               from_name="Karen Kollega", body="Hvem kommer?\n",
                               message_id="<frokost@mail.example.dk>")
        dc.append("INBOX", other, "2022-06-17T12:00:00+02:00")
        cfg = self.config(dc, calls={DEFAULT_CALL_NAME: dict(DEFAULT_CALL), CALL2_ID: dict(CALL2)},
                          groups={"limits": {"max_message_size": "8K"}})
        self.run_puljed(cfg, "--once", expect=0)

        recs = self.records(cfg)
        by_key = {}
        for key, s in sent.items():
            matches = [r for r in recs if r["subject"] == s["subject"]]
            by_key[key] = matches
        self.assertEqual(len(by_key["aeroe"]), 2, recs)
        (unrelated,) = [r for r in recs if r["subject"] == "Frokost i morgen?"]
        self.assertEqual(unrelated["status"], "unrelated")
        (big_rec,) = by_key["big"]
        self.assertIsNone(big_rec["sha256"], "the big message was fetched: raise its size")
        self.assertNotEqual(big_rec["status"], "unrelated")
        (late_rec,) = by_key["late"]
        self.assertEqual(late_rec["status"], "late")
        (roskilde,) = by_key["call2"]
        self.assertEqual(roskilde["decided_by"], "date-header")
        self.assertEqual(deciding(roskilde)[0], "2022-08-01T07:00:00+02:00")
        listed = [r for r in recs if r["status"] != "unrelated"]
        self.assertEqual(len(listed), 6)

        # The hash prefix of each message, by `puljectl raw ID | sha256sum`.
        prefix = {}
        for r in listed:
            if r["sha256"] is None:
                continue
            full = self.raw_sha(cfg, r["id"])
            self.assertEqual(full, r["sha256"])
            prefix[r["id"]] = full[:16]
        self.assertEqual(prefix[by_key["aeroe"][0]["id"]], prefix[by_key["aeroe"][1]["id"]])

        # Every would-be identifying value: names, addresses, display names,
        # subjects, Message-IDs, attachment names (the call's own name is the
        # page's title and may stand).
        forbidden = ["Karen", "kollega", "Frokost", "frokost@mail", "k\u00e6mpe bilag", "Kommune",
                     "Sj\u00e6lland", "@", ".pdf", ".bin", ".id"]
        for s in sent.values():
            forbidden += [s["applicant"], s["addr"], s["subject"], s["addr"].split("@")[1],
                          "ans\u00f8gning %s.pdf" % s["applicant"]]
        for r in recs:
            forbidden += [v for v in (r.get("message_id"), r.get("from"), r.get("applicant")) if v]

        html_path, csv_path = self.path("modtagne.html"), self.path("modtagne.csv")
        r = self.run_ctl(cfg, "ledger", "-o", html_path)
        self.assertIn("2 calls, 6 messages received", r.stdout)
        self.run_ctl(cfg, "ledger", "--output", csv_path)
        with open(html_path, encoding="utf-8") as f:
            page = f.read()
        with open(csv_path, "rb") as f:
            csv_bytes = f.read()
        csv_text = csv_bytes.decode("utf-8")
        term = self.run_ctl(cfg, "ledger").stdout
        rendered = self.rendered_text(html_path)
        for what, text in (("HTML", page), ("CSV", csv_text), ("rendered page", rendered),
                           ("terminal table", term)):
            for word in forbidden:
                self.assertNotIn(word, text.replace("@media", ""),
                                 "%r is in the %s" % (word, what))
            self.assertNotIn("godkendt", text.lower(), what)
            # The unrelated record is absent.
            self.assertNotIn("PJ-%06d" % unrelated["id"], text, what)
            self.assertNotIn(unrelated["sha256"][:16], text, what)

        # Self-contained.
        for word in ("<script", "src=", "href=", "url(", "http:", "https:"):
            self.assertNotIn(word, page)
        self.assertIn("<title>Modtagne ans\u00f8gninger</title>", page)
        self.assertIn(DEFAULT_CALL["subject"], page)
        self.assertIn(CALL2["subject"], page)
        self.assertIn("Listen er dannet %d" % dt.datetime.now(CPH).day, rendered)
        self.assertIn("Listen er ikke en afg\u00f8relse", " ".join(rendered.split()))

        # The rendered page: each message on a line of its own, in order of
        # arrival within its call, with its time, verdict and hash prefix.
        words = {"accepted": "inden fristen", "late": "efter fristen", "review": "vurderes"}
        lines = rendered.splitlines()
        for call in (DEFAULT_CALL_NAME, CALL2_ID):
            rows = sorted((r for r in listed if r["call"] == call),
                          key=lambda r: (parse_iso(deciding(r)[0]), r["id"]))
            at = -1
            for r in rows:
                ref = "PJ-%06d" % r["id"]
                # The reference opens its row's line, the time after it (a
                # note may name it too).
                hits = [i for i, ln in enumerate(lines) if re.match(r"\s*%s\s+\d" % ref, ln)]
                self.assertEqual(len(hits), 1, "%s opens lines %s of\n%s" % (ref, hits, rendered))
                line = " ".join(lines[hits[0]].split())
                self.assertGreater(hits[0], at, "%s is not in order of arrival" % ref)
                at = hits[0]
                self.assertIn(danish(deciding(r)[0]), line)
                self.assertIn(deciding(r)[1], line)
                self.assertIn(words[r["status"]], line)
                if r["sha256"]:
                    self.assertIn(prefix[r["id"]], line)
                    self.assertNotIn(r["sha256"][:17], rendered, "more than 16 digits shown")
                else:
                    self.assertIn("\u2014", line)
        self.assertIn("for stor til at blive hentet", " ".join(rendered.split()))
        self.assertIn("Samme besked som PJ-%06d" % by_key["aeroe"][0]["id"], " ".join(rendered.split()))
        self.assertIn("2. juli 2022 kl. 00:00:10", rendered)
        self.assertIn("1. august 2022 kl. 07:00:00", rendered)
        self.assertNotIn("1. august 2022 kl. 08:15:00", rendered)

        # The CSV, read back.
        self.assertTrue(csv_bytes.startswith(b"\xef\xbb\xbf"))
        self.assertNotIn(b"\n", csv_bytes.replace(b"\r\n", b""))
        rows = list(csv.reader(io.StringIO(csv_text[1:], newline=""), delimiter=";"))
        self.assertEqual(rows[0], ["Referencenummer", "Opslag", "Modtaget (%s)" % ZONE, "Modtaget, ISO 8601",
                                   "Tidspunkt if\u00f8lge", "Fristen", "SHA-256, f\u00f8rste 16 tegn",
                                   "Bem\u00e6rkning"])
        want = []
        for call in (DEFAULT_CALL_NAME, CALL2_ID):
            for r in sorted((r for r in listed if r["call"] == call),
                            key=lambda r: (parse_iso(deciding(r)[0]), r["id"])):
                when, clock = deciding(r)
                t = parse_iso(when).astimezone(CPH)
                want.append(["PJ-%06d" % r["id"], call, t.strftime("%Y-%m-%d %H:%M:%S"), t.isoformat(),
                             clock, words[r["status"]], prefix.get(r["id"], "")])
        self.assertEqual([row[:7] for row in rows[1:]], want)
        notes = {row[0]: row[7] for row in rows[1:]}
        self.assertIn("for stor til at blive hentet", notes["PJ-%06d" % big_rec["id"]])
        self.assertEqual(notes["PJ-%06d" % by_key["aeroe"][1]["id"]],
                         "Samme besked som PJ-%06d, modtaget igen." % by_key["aeroe"][0]["id"])

        # The terminal table: the same references, hashes and words.
        for r in listed:
            self.assertIn("PJ-%06d" % r["id"], term)
            if r["sha256"]:
                self.assertIn(prefix[r["id"]], term)

        # Never over an existing file; the format follows the name.
        before = os.stat(html_path)
        r = self.run_ctl(cfg, "ledger", "-o", html_path, expect=1)
        self.assertIn("nothing is overwritten", r.stderr)
        with open(html_path, encoding="utf-8") as f:
            self.assertEqual(f.read(), page)
        self.assertEqual(os.stat(html_path).st_mtime_ns, before.st_mtime_ns)
        for name in ("liste.txt", "liste", "liste.html.gz", "liste.pdf"):
            r = self.run_ctl(cfg, "ledger", "-o", self.path(name), expect=2)
            self.assertIn(".html, .htm or .csv", r.stderr)
            self.assertFalse(os.path.exists(self.path(name)))
        self.run_ctl(cfg, "ledger", "-o", self.path("LISTE.HTM"))
        r = self.run_ctl(cfg, "ledger", "--call", "ingen-saadan", expect=2)
        self.assertIn("ingen-saadan", r.stderr)
        self.run_ctl(cfg, "ledger", "--json", expect=2)
        self.run_ctl(cfg, "ledger", "--status", "late", expect=2)

        # --call: that call's messages only, the page titled with it.
        one = self.path("sundhed.html")
        self.run_ctl(cfg, "ledger", "--call", CALL2_ID, "-o", one)
        with open(one, encoding="utf-8") as f:
            text = f.read()
        self.assertIn("<title>Modtagne ans\u00f8gninger: %s</title>" % CALL2["subject"], text)
        self.assertIn("PJ-%06d" % roskilde["id"], text)
        for r in listed:
            if r["id"] != roskilde["id"]:
                self.assertNotIn("PJ-%06d" % r["id"], text)


if __name__ == "__main__":
    unittest.main(verbosity=2)
