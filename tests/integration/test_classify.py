#!/usr/bin/python3
"""Issue 3: tolerant subject matching, non-applications, applicant from the
sender, deadline evidence, explanations, `applications`, `reclassify` and
`decide` -- end to end against a throwaway Dovecot.

Needs PULJED and PULJECTL in the environment (paths of the built binaries);
SubjectsFileTest (the check of tests/data/subjects.tsv) needs neither.
Run:  PULJED=build/src/puljed PULJECTL=build/src/puljectl \\
      /usr/bin/python3 tests/integration/test_classify.py
"""

import datetime as dt
import json
import os
import re
import sqlite3
import sys
import unicodedata
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from harness import messages as M  # noqa: E402
from harness import puljed as P  # noqa: E402
from harness.dovecot import DEFAULT_CALL, DEFAULT_CALL_NAME  # noqa: E402
from harness.testcase import PuljedTestCase, parse_iso  # noqa: E402

CALL = M.CALL_SUBJECT
CALL_ID = DEFAULT_CALL_NAME
CEST = dt.timezone(dt.timedelta(hours=2))
ON_TIME = "2022-06-15T10:00:00+02:00"
# The deadline 2022-07-01 (Europe/Copenhagen) ends when 2022-07-02 begins.
DEADLINE_END = dt.datetime(2022, 7, 2, 0, 0, 0, tzinfo=CEST)

NEW_FIELDS = ("match", "match_score", "applicant_source", "kind", "received_header",
              "deadline_basis", "decided_by", "deadline_delta", "reasons", "decision")
KINDS = ("application", "auto-reply", "delivery-report", "list", "question", "other")
EXIT_NOT_FOUND = 3


def iso(text):
    return dt.datetime.fromisoformat(text)


def pdf_att(seed, name="ansoegning.pdf", size=1500):
    return (name, "application/pdf", M.fake_pdf(size, seed=seed))


def mail(subject, idate=None, date=None, from_addr="ansoeger@example.org",
         from_name=None, pdf=None, headers=None, body=None, attachments=None,
         to="rbj@example.dk"):
    """A message whose Date: header is its arrival time unless date= says
    otherwise (date=False: no Date: header at all)."""
    if attachments is None:
        attachments = [pdf_att(pdf)] if pdf is not None else []
    when = date if date not in (None, False) else idate
    raw = M.make_message(subject, from_addr=from_addr, from_name=from_name, to=to,
                         attachments=attachments, extra_headers=headers,
                         date=iso(when) if isinstance(when, str) else when,
                         body=body or "Hej,\n\nHermed vores ansøgning.\n\nVenlig hilsen\n")
    if date is False:
        raw = M.drop_header(raw, "Date")
    return raw


def casefold_ws(text):
    return re.sub(r"\s+", " ", unicodedata.normalize("NFC", text).casefold()).strip()


def record_lines(text):
    """{record id: line} for reclassify output: every line but the last
    (the summary) that names a record; the record id is the line's first
    number."""
    lines = [l for l in text.splitlines() if l.strip()]
    out = {}
    for line in lines[:-1]:
        m = re.search(r"\d+", line)
        if m:
            out.setdefault(int(m.group(0)), []).append(line)
    return out


class ClassifyTest(PuljedTestCase):
    """One fresh Dovecot per test."""

    # ----------------------------------------------------------- helpers
    def ingest(self, dc, items, cfg=None, db=None, expect_all=True, **cfgkw):
        """Append [(key, raw, internaldate)] to INBOX, run puljed --once and
        return ({key: record}, cfg)."""
        keys = {}
        for key, raw, idate in items:
            self.assertNotIn(key, keys.values(), "duplicate test key %s" % key)
            keys[dc.append("INBOX", raw, idate)] = key
        dc.close_client()
        if cfg is None:
            cfg = self.config(dc, **cfgkw)
        self.run_puljed(cfg, "--once", expect=P.EXIT_OK)
        recs = self.records(cfg, db=db)
        got = {}
        for r in recs:
            if r["uid"] in keys:
                got[keys[r["uid"]]] = r
        if expect_all:
            self.assertEqual(set(got), set(keys.values()),
                             "not every appended message was recorded")
        for key, r in got.items():
            self.assert_new_fields(r, key)
        return got, cfg

    def assert_new_fields(self, r, label=""):
        missing = [k for k in NEW_FIELDS if k not in r]
        self.assertEqual(missing, [], "%s: list --json lacks %s\n%s" % (label, missing, r))
        self.assertIn(r["match"], ("exact", "fuzzy", None), label)
        self.assertIn(r["kind"], KINDS, label)
        self.assertIn(r["applicant_source"], ("subject", "from", None), label)
        # No call, no deadline: deadline_basis may then be null.
        self.assertIn(r["deadline_basis"], ("arrival", "date-header", "edge")
                      if r["call"] is not None else ("arrival", "date-header", "edge", None), label)
        self.assertIn(r["decided_by"], ("arrival", "date-header", "edge", None), label)
        self.assertIn("edge_received_at", r, label)
        self.assertIn("received_at", r, label)
        self.assertIsInstance(r["reasons"], list, label)
        for reason in r["reasons"]:
            self.assertIsInstance(reason, str, label)
        if r["match_score"] is not None:
            self.assertIsInstance(r["match_score"], (int, float), label)
            self.assertTrue(0 <= r["match_score"] <= 1, "%s: score %r" % (label, r["match_score"]))
        if r["deadline_delta"] is not None:
            self.assertIsInstance(r["deadline_delta"], int, label)
        if r["applicant"] is None:
            self.assertIsNone(r["applicant_source"], "%s: source without applicant" % label)
        else:
            self.assertIsNotNone(r["applicant_source"], "%s: applicant without source" % label)
        if r["kind"] in ("auto-reply", "delivery-report", "list", "question"):
            self.assertNotEqual(r["status"], "accepted",
                                "%s: a %s was accepted\n%s" % (label, r["kind"], r))
        if r["match"] == "fuzzy":
            self.assertIn(r["status"], ("review", "late", "unrelated"), "%s\n%s" % (label, r))

    def applications(self, cfg, db=None):
        r = self.run_ctl(cfg, "applications", "--json", db=db)
        try:
            data = json.loads(r.stdout)
        except ValueError as e:
            self.fail("applications --json printed no valid JSON (%s)\n%s" % (e, r.describe()))
        self.assertIsInstance(data, list, r.describe())
        for row in data:
            for k in ("call", "applicant", "messages", "ids", "from", "first_arrival",
                      "last_arrival", "on_time", "form_attached", "status", "decision"):
                self.assertIn(k, row, "applications row lacks %s: %s" % (k, row))
            self.assertEqual(row["messages"], len(row["ids"]), row)
            self.assertIn(row["status"], ("accepted", "review", "late"), row)
        return data

    def assert_unrelated_kind(self, r, key, kinds):
        with self.subTest(message=key):
            self.assertIn(r["kind"], kinds, "%s\n%s" % (key, r))
            self.assertEqual(r["status"], "unrelated", "%s\n%s" % (key, r))
            self.assertNotEqual(r["status"], "accepted", key)

    def assert_delta(self, r, seconds, label):
        # +-1 s: whether "the end of the deadline" is 23:59:59 or 24:00:00.
        self.assertIsNotNone(r["deadline_delta"], "%s\n%s" % (label, r))
        self.assertLessEqual(abs(r["deadline_delta"] - seconds), 1,
                             "%s: deadline_delta %s, expected %s\n%s"
                             % (label, r["deadline_delta"], seconds, r))

    # ------------------------------------------------------------ a)
    def test_a_auto_replies(self):
        dc = self.dovecot()
        vacation = ("Tak for din mail.\n\nJeg er på ferie til og med 8. august og læser "
                    "ikke mails i perioden.\nDin mail bliver ikke videresendt.\n\n"
                    "> Emne: %s\n" % CALL)
        t = "2022-06-20T10:%02d:00+02:00"
        cases = [
            # key, subject, headers, pdf
            ("auto-submitted-auto-replied", "Automatisk svar: " + CALL + " - Region Midtjylland",
             {"Auto-Submitted": "auto-replied"}, 1),
            ("auto-submitted-auto-generated", CALL + " - Aarhus Kommune",
             {"Auto-Submitted": "auto-generated"}, 2),
            ("auto-submitted-auto-notified", CALL,
             {"Auto-Submitted": "auto-notified"}, None),
            ("x-autoreply", "SV: " + CALL + " - Odense Kommune",
             {"X-Autoreply": "yes"}, 3),
            ("x-autorespond", CALL + " \u2013 Vejle Kommune",
             {"X-Autorespond": CALL}, None),
            ("x-auto-response-suppress", CALL + " - K\u00f8benhavns Kommune",
             {"X-Auto-Response-Suppress": "All"}, 4),
            ("precedence-auto_reply", "Re: " + CALL,
             {"Precedence": "auto_reply"}, 5),
            ("subject-automatisk-svar", "Automatisk svar: " + CALL, None, 6),
            ("subject-autosvar", "Autosvar: " + CALL + " - Aalborg Kommune", None, None),
            ("subject-out-of-office", "Out of Office: " + CALL + " - Region Hovedstaden", None, 7),
            ("subject-automatic-reply", "Automatic reply: " + CALL, None, None),
            ("subject-fravaerende", "Frav\u00e6rende: " + CALL + " - Region Sj\u00e6lland", None, 8),
            ("subject-ikke-til-stede", "Ikke til stede: " + CALL, None, None),
        ]
        items = []
        for i, (key, subject, headers, seed) in enumerate(cases):
            items.append((key, mail(subject, t % i, from_addr="kontor@example.dk",
                                    from_name="Kontoret", pdf=seed, headers=headers,
                                    body=vacation), t % i))
        # Control: "Auto-Submitted: no" is an ordinary application.
        items.append(("control-auto-submitted-no",
                      mail(CALL + " - Roskilde Kommune", t % 59, pdf=99,
                           headers={"Auto-Submitted": "no"}), t % 59))
        # Weak evidence: systems that *generate* mail (Auto-Submitted:
        # auto-generated / auto-notified, X-Auto-Response-Suppress) may send a
        # real application; with the call's subject those go to a person
        # (review), never accepted.  Everything else is unrelated.
        weak = {"auto-submitted-auto-generated", "auto-submitted-auto-notified",
                "x-auto-response-suppress"}
        got, _cfg = self.ingest(dc, items)
        for key, _s, _h, _p in cases:
            r = got[key]
            with self.subTest(message=key):
                self.assertEqual(r["kind"], "auto-reply", r)
                self.assertIn("kind:auto-reply", r["reasons"], r)
                self.assertNotEqual(r["status"], "accepted", r)
                # What it is, in Danish; never its subject's score.
                self.assertEqual(r["why"], "Automatisk svar (fraværsbesked)", r)
                if key in weak:
                    self.assertEqual(r["status"], "review", r)
                else:
                    self.assertEqual(r["status"], "unrelated", r)
        c = got["control-auto-submitted-no"]
        self.assertEqual(c["kind"], "application", c)
        self.assertEqual(c["match"], "exact", c)
        self.assertEqual(c["status"], "accepted", c)
        self.assertEqual(c["applicant"], "Roskilde Kommune", c)
        self.assertIsNone(c["why"], c)

    # ------------------------------------------------------------ b)
    def test_b_delivery_reports(self):
        dc = self.dovecot()
        original = mail(CALL + " - Region Hovedstaden", "2022-06-30T15:00:00+02:00",
                        from_addr="rbj@example.dk", pdf=11, to="puljer@sst.example.dk")
        when = iso("2022-06-30T15:00:07+02:00")
        items = [
            ("dsn-undeliverable", M.delivery_report(
                original, subject="Undeliverable: " + CALL + " - Region Hovedstaden",
                from_addr="postmaster@example.dk", from_name="Microsoft Outlook",
                date=when), "2022-06-30T15:00:07+02:00"),
            ("dsn-gmail-failure", M.delivery_report(
                original, subject="Delivery Status Notification (Failure)",
                from_addr="mailer-daemon@googlemail.com",
                from_name="Mail Delivery Subsystem", date=when),
             "2022-06-30T15:00:08+02:00"),
            # A report whose subject is the application's own subject: only
            # the Content-Type tells.
            ("dsn-same-subject", M.delivery_report(
                original, subject=CALL + " - Region Hovedstaden", date=when),
             "2022-06-30T15:00:09+02:00"),
            ("dsn-exim", M.delivery_report(
                original, subject="Mail delivery failed: returning message to sender",
                from_addr="Mailer-Daemon@mail.example.net", from_name="", date=when),
             "2022-06-30T15:00:10+02:00"),
            # Plain-text notices recognised by their subjects.
            ("subject-kan-ikke-leveres", mail(
                "Kan ikke leveres: " + CALL + " - Region Hovedstaden",
                "2022-06-30T15:00:11+02:00", from_addr="postmaster@example.dk",
                body="Meddelelsen kunne ikke leveres til puljer@sst.example.dk.\n",
                attachments=[pdf_att(11)]), "2022-06-30T15:00:11+02:00"),
            ("subject-ikke-leveret", mail(
                "Ikke leveret: " + CALL, "2022-06-30T15:00:12+02:00",
                from_addr="postmaster@example.dk", pdf=12,
                body="Din meddelelse er ikke leveret.\n"), "2022-06-30T15:00:12+02:00"),
            ("subject-returned-mail", mail(
                "Returned mail: see transcript for details", "2022-06-30T15:00:13+02:00",
                from_addr="MAILER-DAEMON@example.org",
                body="The original message was received ...\n"), "2022-06-30T15:00:13+02:00"),
        ]
        # Postfix also adds Auto-Submitted: auto-replied to its bounces; which of
        # the two kinds wins is not fixed by the contract, unrelated is.
        postfix = M.delivery_report(original, subject="Undelivered Mail Returned to Sender",
                                    auto_submitted="auto-replied", date=when)
        items.append(("dsn-postfix-auto-submitted", postfix, "2022-06-30T15:00:14+02:00"))
        got, _cfg = self.ingest(dc, items)
        for key, _raw, _t in items:
            kinds = ("delivery-report", "auto-reply") if key == "dsn-postfix-auto-submitted" \
                else ("delivery-report",)
            self.assert_unrelated_kind(got[key], key, kinds)

    # ------------------------------------------------------------ c)
    def test_c_lists_and_questions(self):
        dc = self.dovecot()
        news = {"List-Id": "Nyhedsbrev fra Sundhedsstyrelsen <nyhedsbrev.sst.example.dk>",
                "List-Unsubscribe": "<mailto:afmeld@nyhedsbrev.sst.example.dk?subject=afmeld>, "
                                    "<https://nyhedsbrev.sst.example.dk/afmeld?id=4711>"}
        items = [
            ("list-id+unsubscribe", mail(
                CALL + " \u2013 husk ansøgningsfristen 1. juli", ON_TIME,
                from_addr="nyhedsbrev@sst.example.dk", from_name="Sundhedsstyrelsen",
                headers=news, attachments=[pdf_att(21, "puljeopslag.pdf")],
                body="Kære modtager\n\nFristen for %s er 1. juli 2022.\n" % CALL), ON_TIME),
            ("precedence-bulk", mail(
                CALL, "2022-06-16T08:00:00+02:00", from_addr="info@kl.example.dk",
                headers={"Precedence": "bulk"}, pdf=22), "2022-06-16T08:00:00+02:00"),
            ("list-unsubscribe-only", mail(
                "Nyhedsbrev uge 25", "2022-06-17T08:00:00+02:00",
                from_addr="nyt@example.dk", headers={"List-Unsubscribe":
                                                      "<https://example.dk/afmeld>"}),
             "2022-06-17T08:00:00+02:00"),
            ("question-vedr-puljen", mail(
                "Spørgsmål vedr. puljen " + CALL, "2022-06-18T09:00:00+02:00",
                from_addr="jens.hansen@vejle.example.dk", from_name="Jens Hansen",
                body="Kan man søge om medfinansiering af frikøb?\n"),
             "2022-06-18T09:00:00+02:00"),
            ("question-after-call", mail(
                CALL + " - spørgsmål om medfinansiering", "2022-06-18T09:01:00+02:00",
                from_addr="okonomi@rm.example.dk", pdf=23), "2022-06-18T09:01:00+02:00"),
            ("question-english", mail(
                "Question regarding " + CALL, "2022-06-18T09:02:00+02:00",
                from_addr="research@sdu.example.dk", pdf=24), "2022-06-18T09:02:00+02:00"),
            ("question-forespoergsel-upper", mail(
                "FORESPØRGSEL: " + CALL, "2022-06-18T09:03:00+02:00",
                from_addr="post@aeroe.example.dk"), "2022-06-18T09:03:00+02:00"),
            ("question-no-call", mail(
                "SV: Spørgsma\u030al til ansøgningsskemaet", "2022-06-18T09:04:00+02:00",
                from_addr="post@odense.example.dk"), "2022-06-18T09:04:00+02:00"),
            # Each list mark on its own, on a subject that reads like an
            # application ("CALL - Region ..."), the call's PDF attached.
            ("list-id-only", mail(
                CALL + " - Region Syddanmark", "2022-06-19T08:00:00+02:00",
                from_addr="nyhedsbrev@sst.example.dk",
                headers={"List-Id": news["List-Id"]}, pdf=25), "2022-06-19T08:00:00+02:00"),
            ("list-unsubscribe-quotes-call", mail(
                CALL + " - Region Nordjylland", "2022-06-19T08:01:00+02:00",
                from_addr="nyt@kl.example.dk",
                headers={"List-Unsubscribe": "<https://kl.example.dk/afmeld>"}, pdf=26),
             "2022-06-19T08:01:00+02:00"),
            ("precedence-list", mail(
                CALL + " - Region Sjælland", "2022-06-19T08:02:00+02:00",
                from_addr="puljer@sum.example.dk", headers={"Precedence": "list"}, pdf=27),
             "2022-06-19T08:02:00+02:00"),
            # A bulk-mail service's sender, no list header at all.
            ("bulk-sender", mail(
                CALL + " - Aarhus Kommune", "2022-06-19T08:03:00+02:00",
                from_addr="bounce-mc.us5_4711@mail148.mcsv.net", from_name="Digitaliseringsstyrelsen",
                pdf=28), "2022-06-19T08:03:00+02:00"),
            # A person answers the newsletter: Re:/SV:, no list headers.
            ("person-replies-to-list", mail(
                "SV: " + CALL + " \u2013 husk ansøgningsfristen 1. juli",
                "2022-06-19T09:00:00+02:00", from_addr="mette.holm@esbjerg.example.dk",
                from_name="Mette Holm",
                body="Hej\n\nGælder fristen også for kommuner?\n\n> Fristen for %s er 1. juli "
                     "2022.\n" % CALL), "2022-06-19T09:00:00+02:00"),
        ]
        got, cfg = self.ingest(dc, items)
        # List mail quoting the call (a reminder with the call's PDF, a
        # bulk mailing) is no application: unrelated, no applicant, the
        # quoted call in the reasons.
        # Each of List-Id, List-Unsubscribe, Precedence: bulk/list and a
        # bulk-mail service's sender is enough, and the caseworker is told
        # why; `applications` does not list any of them.
        listed = self.applications(cfg)
        listed_ids = {i for row in listed for i in row["ids"]}
        for key in ("list-id+unsubscribe", "precedence-bulk", "list-id-only",
                    "list-unsubscribe-quotes-call", "precedence-list", "bulk-sender"):
            r = got[key]
            with self.subTest(message=key):
                self.assertNotIn(r["id"], listed_ids, listed)
                self.assertEqual(r["why"], "Massemail fra en mailingliste eller et nyhedsbrev", r)
                self.assertEqual(r["kind"], "list", r)
                self.assertEqual(r["status"], "unrelated", r)
                self.assertIsNone(r["applicant"], r)
                self.assertIn("quotes:" + CALL_ID, r["reasons"], r)
        for key in ("Region Syddanmark", "Region Nordjylland", "Region Sjælland", "Aarhus Kommune"):
            self.assertNotIn(key, [row["applicant"] for row in listed], listed)
        r = got["list-unsubscribe-only"]
        self.assertEqual(r["kind"], "list", r)
        self.assertEqual(r["status"], "unrelated", r)
        self.assertEqual(r["why"], "Massemail fra en mailingliste eller et nyhedsbrev", r)
        # The person's reply to the newsletter is looked at by a person.
        r = got["person-replies-to-list"]
        self.assertEqual(r["status"], "review", r)
        self.assertIsNotNone(r["why"], r)
        self.assertNotEqual(r["kind"], "list", r)
        for key in ("question-vedr-puljen", "question-english",
                    "question-forespoergsel-upper"):
            r = got[key]
            with self.subTest(message=key):
                self.assertEqual(r["kind"], "question", r)
                self.assertIn(r["status"], ("unrelated", "review"), r)
                if r["match"] is not None:
                    self.assertEqual(r["status"], "review", r)
        r = got["question-after-call"]
        self.assertEqual(r["kind"], "question", r)
        self.assertEqual(r["match"], "exact", r)
        self.assertEqual(r["status"], "review", r)
        r = got["question-no-call"]
        self.assertEqual(r["kind"], "question", r)
        self.assertIsNone(r["match"], r)
        self.assertEqual(r["status"], "unrelated", r)

    # ------------------------------------------------------------ d)
    def test_d_resubmissions_and_applications(self):
        dc = self.dovecot()
        rm = "kontakt@rm.example.dk"
        items = [
            ("rm-1-no-form", mail(CALL + " - Region Midtjylland", "2022-06-10T09:00:00+02:00",
                                  from_addr=rm), "2022-06-10T09:00:00+02:00"),
            ("rm-2-form", mail(CALL + " \u2013 Region Midtjylland", "2022-06-20T14:00:00+02:00",
                               from_addr=rm, pdf=31), "2022-06-20T14:00:00+02:00"),
            ("aarhus", mail(CALL + " - Aarhus Kommune", "2022-06-25T11:30:00+02:00",
                            from_addr="sundhed@aarhus.example.dk", pdf=32),
             "2022-06-25T11:30:00+02:00"),
            ("rm-4-no-applicant", mail(CALL, "2022-06-28T16:00:00+02:00", from_addr=rm),
             "2022-06-28T16:00:00+02:00"),
            ("aeroe-late", mail(CALL + " - \u00c6r\u00f8 Kommune", "2022-07-02T08:15:00+02:00",
                                from_addr="post@aeroe.example.dk", pdf=33),
             "2022-07-02T08:15:00+02:00"),
            ("rm-3-correction-late", mail("SV: " + CALL + " - REGION  MIDTJYLLAND",
                                          "2022-07-03T10:00:00+02:00", from_addr=rm, pdf=34),
             "2022-07-03T10:00:00+02:00"),
            ("fanoe-no-applicant", mail(CALL, "2022-06-29T12:00:00+02:00",
                                        from_addr="post@fanoe.example.dk", pdf=35),
             "2022-06-29T12:00:00+02:00"),
            ("newsletter", mail("Nyhedsbrev juni 2022", "2022-06-29T12:30:00+02:00",
                                from_addr=rm), "2022-06-29T12:30:00+02:00"),
        ]
        got, cfg = self.ingest(dc, items)
        self.assertEqual(got["rm-1-no-form"]["status"], "review")
        self.assertEqual(got["rm-2-form"]["status"], "accepted")
        self.assertEqual(got["rm-3-correction-late"]["status"], "late")
        self.assertIsNone(got["rm-4-no-applicant"]["applicant"], got["rm-4-no-applicant"])
        self.assertEqual(got["newsletter"]["status"], "unrelated")

        rows = self.applications(cfg)
        calls = {row["call"] for row in rows}
        self.assertEqual(calls, {CALL_ID}, rows)
        by_app = {}
        for row in rows:
            key = casefold_ws(row["applicant"]) if row["applicant"] is not None \
                else ("<none>",) + tuple(sorted(row["from"]))
            self.assertNotIn(key, by_app, "two rows for one applicant: %s" % rows)
            by_app[key] = row
        self.assertEqual(set(by_app), {"region midtjylland", "aarhus kommune",
                                       "ærø kommune", ("<none>", "post@fanoe.example.dk")},
                         json.dumps(rows, indent=1, ensure_ascii=False))
        all_ids = [i for row in rows for i in row["ids"]]
        self.assertEqual(len(all_ids), len(set(all_ids)), "a message in two rows")
        self.assertNotIn(got["newsletter"]["id"], all_ids)

        rmrow = by_app["region midtjylland"]
        want_ids = {got[k]["id"] for k in ("rm-1-no-form", "rm-2-form",
                                           "rm-3-correction-late", "rm-4-no-applicant")}
        self.assertEqual(set(rmrow["ids"]), want_ids, rmrow)
        self.assertEqual(rmrow["messages"], 4, rmrow)
        self.assertEqual([a.lower() for a in rmrow["from"]], [rm], rmrow)
        self.assertEqual(parse_iso(rmrow["first_arrival"]), iso("2022-06-10T09:00:00+02:00"))
        self.assertEqual(parse_iso(rmrow["last_arrival"]), iso("2022-07-03T10:00:00+02:00"))
        self.assertIs(rmrow["on_time"], True, rmrow)
        self.assertIs(rmrow["form_attached"], True, rmrow)
        self.assertEqual(rmrow["status"], "accepted", rmrow)
        self.assertIsNone(rmrow["decision"], rmrow)

        row = by_app["aarhus kommune"]
        self.assertEqual((row["messages"], row["ids"]), (1, [got["aarhus"]["id"]]), row)
        self.assertEqual(row["first_arrival"] and parse_iso(row["first_arrival"]),
                         iso("2022-06-25T11:30:00+02:00"))
        self.assertEqual(parse_iso(row["last_arrival"]), parse_iso(row["first_arrival"]))
        self.assertIs(row["on_time"], True)
        self.assertIs(row["form_attached"], True)
        self.assertEqual(row["status"], "accepted")

        row = by_app["ærø kommune"]
        self.assertEqual(row["applicant"], "\u00c6r\u00f8 Kommune", row)
        self.assertEqual(row["messages"], 1, row)
        self.assertIs(row["on_time"], False, row)
        self.assertIs(row["form_attached"], True, row)
        self.assertEqual(row["status"], "late", row)

        row = by_app[("<none>", "post@fanoe.example.dk")]
        self.assertEqual(row["ids"], [got["fanoe-no-applicant"]["id"]], row)
        self.assertIs(row["on_time"], True, row)
        self.assertEqual(row["status"], "accepted", row)

    # ------------------------------------------------------------ e)
    def test_e_applicant_from_sender(self):
        dc = self.dovecot()
        items = [
            ("from-name", mail(CALL, ON_TIME, from_addr="post@rn.example.dk",
                               from_name="Region Nordjylland", pdf=41), ON_TIME),
            ("organization", mail(CALL, ON_TIME, from_addr="jh@rn.example.dk",
                                  from_name="Jens Hansen",
                                  headers={"Organization":
                                           "Region Nordjylland, Sygehus Vendsyssel"},
                                  pdf=42), ON_TIME),
            ("organization-non-ascii", mail(CALL + " \u2013 ", ON_TIME,
                                            from_addr="mette@aeroe.example.dk",
                                            from_name="Mette Ærbøl",
                                            headers={"Organization": "Ærø Kommune"}),
             ON_TIME),
            ("from-name-non-ascii", mail("SV: " + CALL, ON_TIME,
                                         from_addr="post@regionsjaelland.example.dk",
                                         from_name="Region Sjælland"), ON_TIME),
            ("subject-wins", mail(CALL + " - Aalborg Kommune", ON_TIME,
                                  from_addr="lars@aalborg.example.dk", from_name="Lars Due",
                                  headers={"Organization": "Aalborg Kommune, Ældre og Handicap"},
                                  pdf=43), ON_TIME),
            ("bare-address", mail(CALL, ON_TIME, from_addr="post@example.dk"), ON_TIME),
        ]
        got, _cfg = self.ingest(dc, items)
        want = {
            "from-name": ("Region Nordjylland", "from"),
            "organization": ("Region Nordjylland, Sygehus Vendsyssel", "from"),
            "organization-non-ascii": ("Ærø Kommune", "from"),
            "from-name-non-ascii": ("Region Sjælland", "from"),
            "subject-wins": ("Aalborg Kommune", "subject"),
            "bare-address": (None, None),
        }
        for key, (applicant, source) in want.items():
            r = got[key]
            with self.subTest(message=key):
                self.assertEqual(r["match"], "exact", r)
                self.assertEqual(r["applicant"], applicant, r)
                self.assertEqual(r["applicant_source"], source, r)
                if source == "from":
                    self.assertIn("applicant:from", r["reasons"], r)
                else:
                    self.assertNotIn("applicant:from", r["reasons"], r)
        self.assertEqual(got["from-name"]["status"], "accepted")
        self.assertEqual(got["organization"]["status"], "accepted")

    # ------------------------------------------------------------ f)
    def test_f_deadline_evidence(self):
        dc = self.dovecot()
        received = ("from mail.rm.example.dk (mail.rm.example.dk [192.0.2.10])\r\n"
                    "\tby mx.example.dk (Postfix) with ESMTPS id 4LZ3xK0mQbz9sX\r\n"
                    "\tfor <rbj@example.dk>; Fri, 1 Jul 2022 23:58:12 +0200 (CEST)")
        older = ("from [10.20.30.40] (pc123.rm.example.dk [10.20.30.40])\r\n"
                 "\tby mail.rm.example.dk (Postfix) with ESMTPSA id 9A1B2C3D4E;\r\n"
                 "\tFri, 1 Jul 2022 21:58:09 +0000 (UTC)")
        with_received = M.prepend_headers(
            mail(CALL + " - Region Midtjylland", "2022-07-01T23:58:30+02:00", pdf=54,
                 date="2022-07-01T23:58:05+02:00"),
            [("Received", received), ("Received", older)])
        items = [
            # arrival on time, Date: late
            ("arrival-ok-date-late", mail(CALL + " - Vejle Kommune", "2022-07-01T18:00:00+02:00",
                                          date="2022-07-02T09:00:00+02:00", pdf=51),
             "2022-07-01T18:00:00+02:00"),
            # arrival late, Date: on time
            ("arrival-late-date-ok", mail(CALL + " - Kolding Kommune", "2022-07-02T08:00:00+02:00",
                                          date="2022-07-01T22:00:00+02:00", pdf=52),
             "2022-07-02T08:00:00+02:00"),
            # no Date: at all, late arrival
            ("no-date-late", mail(CALL + " - Fredericia Kommune", "2022-07-02T01:00:00+02:00",
                                  date=False, pdf=53), "2022-07-02T01:00:00+02:00"),
            ("received", with_received, "2022-07-01T23:58:30+02:00"),
            ("grace-10m", mail(CALL + " - Middelfart Kommune", "2022-07-02T00:10:00+02:00",
                               pdf=55), "2022-07-02T00:10:00+02:00"),
            ("grace-16m", mail(CALL + " - Nyborg Kommune", "2022-07-02T00:16:00+02:00",
                               pdf=56), "2022-07-02T00:16:00+02:00"),
            ("early", mail(CALL + " - Assens Kommune", "2022-07-01T20:47:48+02:00", pdf=57),
             "2022-07-01T20:47:48+02:00"),
        ]
        # 1) default: deadline_basis arrival, no grace
        got, _cfg = self.ingest(dc, items)
        for key, r in got.items():
            with self.subTest(config="arrival", message=key):
                self.assertEqual(r["deadline_basis"], "arrival", r)
                self.assertEqual(r["decided_by"], "arrival", r)
        r = got["arrival-ok-date-late"]
        self.assertEqual((r["status"], r["on_time"]), ("accepted", True), r)
        self.assert_delta(r, -6 * 3600, "arrival-ok-date-late/arrival")
        self.assertTrue(any(x.startswith("deadline:on-time") for x in r["reasons"]), r)
        r = got["arrival-late-date-ok"]
        self.assertEqual((r["status"], r["on_time"]), ("late", False), r)
        self.assert_delta(r, 8 * 3600, "arrival-late-date-ok/arrival")
        self.assertTrue(any(x.startswith("deadline:late") for x in r["reasons"]), r)
        r = got["no-date-late"]
        self.assertIsNone(r["date_header"], r)
        self.assertEqual(r["status"], "late", r)
        self.assert_delta(r, 3600, "no-date-late/arrival")
        r = got["early"]
        self.assert_delta(r, -(3 * 3600 + 12 * 60 + 12), "early")
        self.assertTrue(any(x.startswith("deadline:on-time(-3h12m") for x in r["reasons"]),
                        r["reasons"])
        r = got["grace-10m"]
        self.assertEqual(r["status"], "late", r)
        self.assert_delta(r, 600, "grace-10m/no grace")
        # received_header: the newest (topmost) Received:, received_at the
        # INTERNALDATE, date_header the Date:.
        r = got["received"]
        self.assertIsNotNone(r["received_header"], r)
        self.assertEqual(parse_iso(r["received_header"]), iso("2022-07-01T23:58:12+02:00"), r)
        self.assertEqual(parse_iso(r["received_at"]), iso("2022-07-01T23:58:30+02:00"), r)
        self.assertEqual(parse_iso(r["date_header"]), iso("2022-07-01T23:58:05+02:00"), r)
        self.assertEqual(r["status"], "accepted", r)
        for key in ("arrival-ok-date-late", "grace-10m", "early"):
            self.assertIsNone(got[key]["received_header"], got[key])

        # 2) deadline_basis = date-header (same mailbox, own database)
        cfg2 = self.config(dc, name="date.conf", database=self.path("date.db"),
                           calls={CALL_ID: dict(DEFAULT_CALL, deadline_basis="date-header")})
        self.run_puljed(cfg2, "--once", expect=P.EXIT_OK)
        got2 = {}
        for rec in self.records(cfg2, db=self.path("date.db")):
            for key, r in got.items():
                if r["uid"] == rec["uid"]:
                    got2[key] = rec
        self.assertEqual(set(got2), set(got))
        for key, r in got2.items():
            with self.subTest(config="date-header", message=key):
                self.assert_new_fields(r, key)
                self.assertEqual(r["deadline_basis"], "date-header", r)
        r = got2["arrival-ok-date-late"]
        self.assertEqual(r["decided_by"], "date-header", r)
        self.assertEqual((r["status"], r["on_time"]), ("late", False), r)
        self.assert_delta(r, 9 * 3600, "arrival-ok-date-late/date-header")
        r = got2["arrival-late-date-ok"]
        self.assertEqual(r["decided_by"], "date-header", r)
        self.assertEqual((r["status"], r["on_time"]), ("accepted", True), r)
        self.assert_delta(r, -2 * 3600, "arrival-late-date-ok/date-header")
        r = got2["no-date-late"]
        self.assertEqual(r["decided_by"], "arrival", r)
        self.assertEqual(r["status"], "late", r)
        self.assert_delta(r, 3600, "no-date-late/date-header")

        # 3) grace = 15m
        cfg3 = self.config(dc, name="grace.conf", database=self.path("grace.db"),
                           calls={CALL_ID: dict(DEFAULT_CALL, grace="15m")})
        self.run_puljed(cfg3, "--once", expect=P.EXIT_OK)
        got3 = {}
        for rec in self.records(cfg3, db=self.path("grace.db")):
            for key, r in got.items():
                if r["uid"] == rec["uid"]:
                    got3[key] = rec
        r = got3["grace-10m"]
        self.assertEqual((r["status"], r["on_time"]), ("accepted", True), r)
        self.assert_delta(r, 600 - 900, "grace-10m/grace 15m")
        r = got3["grace-16m"]
        self.assertEqual((r["status"], r["on_time"]), ("late", False), r)
        self.assert_delta(r, 60, "grace-16m/grace 15m")
        self.assert_delta(got3["early"], -(3 * 3600 + 12 * 60 + 12) - 900, "early/grace")

    def test_f_grace_durations_and_bad_values(self):
        dc = self.dovecot()
        dc.close_client()
        for value in ("90s", "15m", "2h", "1d", "0"):
            cfg = self.config(dc, name="ok.conf",
                              calls={CALL_ID: dict(DEFAULT_CALL, grace=value)})
            with self.subTest(grace=value):
                self.run_puljed(cfg, "--check-config", expect=P.EXIT_OK)
        for key, value in (("grace", "soon"), ("grace", "-5m"),
                           ("deadline_basis", "postmark")):
            cfg = self.config(dc, name="bad.conf",
                              calls={CALL_ID: dict(DEFAULT_CALL, **{key: value})})
            with self.subTest(**{key: value}):
                r = self.run_puljed(cfg, "--check-config")
                self.assertEqual(r.returncode, P.EXIT_CONFIG, r.describe())
                self.assertIn(key, r.stderr, r.describe())

    # ------------------------------------------------------------ g)
    def test_g_fuzzy_subjects(self):
        dc = self.dovecot()
        items = [
            ("typo", mail("Puljeopslag 2022: Styrkelse af digitale kompetancer - Region Syddanmark",
                          ON_TIME, pdf=61), ON_TIME),
            ("typo-late", mail("Puljeopslag 2022: Styrkelsen af digitale kompetencer - Vejen Kommune",
                               "2022-07-04T09:00:00+02:00", pdf=62), "2022-07-04T09:00:00+02:00"),
            ("no-year", mail("Puljeopslag: Styrkelse af digitale kompetencer - Norddjurs Kommune",
                             ON_TIME, pdf=63), ON_TIME),
            ("preamble", mail("Ansøgning: " + CALL + " - Esbjerg Kommune", ON_TIME, pdf=64),
             ON_TIME),
            ("exact", mail(CALL + " - Haderslev Kommune", ON_TIME, pdf=65), ON_TIME),
            ("exact-no-form", mail(CALL + " - Tønder Kommune", ON_TIME), ON_TIME),
            ("other-call", mail("Puljeopslag 2022: Styrkelse af psykiatrien - Region Midtjylland",
                                ON_TIME), ON_TIME),
            # The same with a form: the safety net (an application with a
            # form is never lost), a person looks.
            ("other-call-form", mail("Puljeopslag 2022: Styrkelse af psykiatrien - Region Nordjylland",
                                     ON_TIME, pdf=66), ON_TIME),
        ]
        got, _cfg = self.ingest(dc, items)
        want = {"typo": ("review", "Region Syddanmark"),
                "typo-late": ("late", "Vejen Kommune"),
                "no-year": ("review", "Norddjurs Kommune"),
                "preamble": ("review", "Esbjerg Kommune")}
        for key, (status, applicant) in want.items():
            r = got[key]
            with self.subTest(message=key):
                self.assertEqual(r["match"], "fuzzy", r)
                self.assertEqual(r["kind"], "application", r)
                self.assertEqual(r["status"], status, r)
                self.assertEqual(r["call"], CALL_ID, r)
                self.assertEqual(r["applicant"], applicant, r)
                self.assertEqual(r["applicant_source"], "subject", r)
                score = r["match_score"]
                self.assertIsNotNone(score, r)
                self.assertTrue(0.75 <= score <= 1.0, "score %r" % score)
                fz = [x for x in r["reasons"] if x.startswith("subject:fuzzy(")]
                self.assertEqual(len(fz), 1, r["reasons"])
                m = re.match(r"subject:fuzzy\(([0-9.]+)\)$", fz[0])
                self.assertIsNotNone(m, fz)
                # One rounding everywhere: the reason's score is --json's.
                self.assertEqual(m.group(1), "%.2f" % score, (fz, score))
        # The caseworker's why, in Danish, with the misspelled word; the
        # raw reasons stay in "reasons".
        self.assertEqual(got["typo"]["why"],
                         "Emnet ligner opslaget (stavefejl: 'kompetancer'), vurder manuelt",
                         got["typo"])
        self.assertEqual(got["typo-late"]["why"],
                         "Modtaget 2 dage og 9 timer efter fristen", got["typo-late"])
        self.assertEqual(got["exact-no-form"]["why"], "Ingen vedhæftede filer", got["exact-no-form"])
        self.assertEqual(got["other-call"]["why"], "Emnet nævner ikke opslaget", got["other-call"])
        self.assertEqual(got["other-call-form"]["why"],
                         "Emnet nævner ikke opslaget, men et ansøgningsskema er vedhæftet; "
                         "vurder manuelt", got["other-call-form"])
        self.assertIsNone(got["exact"]["why"], got["exact"])
        shown = json.loads(self.run_ctl(_cfg, "show", str(got["typo"]["id"]), "--json").stdout)
        self.assertEqual(shown["why"], got["typo"]["why"], shown)
        self.assertIn("subject:fuzzy(%.2f)" % shown["match_score"], shown["reasons"], shown)
        text = self.run_ctl(_cfg, "show", str(got["typo"]["id"])).stdout
        self.assertIn("Why:", text)
        self.assertIn("stavefejl: 'kompetancer'", text)
        self.assertIn("score %.2f" % shown["match_score"], text)
        listed = self.run_ctl(_cfg, "list").stdout
        self.assertIn("WHY", listed)
        r = got["exact"]
        self.assertEqual((r["match"], r["status"], r["kind"]), ("exact", "accepted", "application"), r)
        self.assertFalse(any(x.startswith("subject:fuzzy") for x in r["reasons"]), r)
        if r["match_score"] is not None:
            self.assertGreaterEqual(r["match_score"], 0.75, r)
        r = got["exact-no-form"]
        self.assertEqual((r["match"], r["status"]), ("exact", "review"), r)
        self.assertIn("attachments:none", r["reasons"], r)
        r = got["other-call"]
        self.assertIsNone(r["match"], r)
        self.assertIsNone(r["call"], r)
        self.assertEqual((r["status"], r["kind"]), ("unrelated", "other"), r)
        self.assertIsNone(r["applicant"], r)
        r = got["other-call-form"]
        self.assertIsNone(r["match"], r)
        self.assertEqual((r["call"], r["status"], r["kind"]), (CALL_ID, "review", "application"), r)
        self.assertIn("subject:none+form", r["reasons"], r)
        self.assertEqual(r["on_time"], True, r)

    # ------------------------------------------------------------ m)
    def test_m_edge_arrival(self):
        """deadline_basis = edge: the authority's mail gateway took the
        application at 23:59:40 on the deadline day, the mailbox at 00:01:02
        (INTERNALDATE): on time by the gateway, late by the mailbox.  A
        trusted-looking header below an untrusted one is never used."""
        dc = self.dovecot()
        idate = "2022-07-02T00:01:02+02:00"
        relays = {"evidence": {"trusted_relays": "*.prod.outlook.com; mx*.sum.dk"}}
        exo = [  # Exchange Online: mailbox server <- front end <- outside <- sender
            ("Received", "from AM6PR02MB1111.eurprd02.prod.outlook.com (2603:10a6:20b:ac::30) by\r\n"
             " AM0PR02MB2222.eurprd02.prod.outlook.com (2603:10a6:208:12::14) with Microsoft SMTP\r\n"
             " Server (version=TLS1_2, cipher=TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384) id\r\n"
             " 15.20.5395.17; Fri, 1 Jul 2022 22:01:01 +0000"),
            ("Received", "from smtp.example.org (192.0.2.25) by\r\n"
             " AM6PR02MB1111.eurprd02.prod.outlook.com (2603:10a6:20b:ac::30) with Microsoft SMTP\r\n"
             " Server id 15.20.5395.17; Fri, 1 Jul 2022 21:59:40 +0000"),
            ("Received", "from pc.example.org by smtp.example.org (Postfix); Fri, 1 Jul 2022 23:59:30 +0200"),
        ]
        postfix = [  # mx2 <- mx1 (verified) <- outside (HELO lies); below it the sender's forgery
            ("Received", "from mx1.sum.dk (mx1.sum.dk [10.0.0.5])\r\n\tby mx2.sum.dk (Postfix) with ESMTPS"
             " id 4LZ;\r\n\tSat,  2 Jul 2022 00:00:58 +0200 (CEST)"),
            ("Received", "from mx9.sum.dk (smtp.example.org [192.0.2.25])\r\n\tby mx1.sum.dk (Postfix) with"
             " ESMTPS id 4LY\r\n\tfor <puljer@sum.dk>; Fri,  1 Jul 2022 23:59:59 +0200 (CEST)"),
            ("Received", "from pc by mx3.sum.dk; Fri, 1 Jul 2022 20:00:00 +0200"),
        ]
        forged = [  # an untrusted gateway on top; a trusted-looking header below it
            ("Received", "from smtp.example.org (smtp.example.org [192.0.2.25]) by gw.example.net"
             " (Postfix); Sat, 2 Jul 2022 00:00:50 +0200"),
            ("Received", "from pc.example.org (mx1.sum.dk [10.0.0.5]) by mx1.sum.dk (Postfix);"
             " Fri, 1 Jul 2022 23:50:00 +0200"),
        ]
        bad_date = [("Received", "from smtp.example.org (smtp.example.org [192.0.2.25]) by mx1.sum.dk"
                     " (Postfix); Fri, 1 Jul 2022 23:59:40 CEST")]
        future = [("Received", "from smtp.example.org (smtp.example.org [192.0.2.25]) by mx1.sum.dk"
                   " (Postfix); Sat, 2 Jul 2022 00:10:00 +0200")]
        items = []
        for n, (key, hdrs) in enumerate((("exo", exo), ("postfix", postfix), ("forged", forged),
                                         ("bad-date", bad_date), ("future", future))):
            raw = M.prepend_headers(mail(CALL + " - Kommune %d" % n, idate, pdf=90 + n,
                                         date="2022-07-01T23:59:00+02:00"), hdrs)
            items.append((key, raw, idate))
        edge_at = {"exo": "2022-07-01T23:59:40+02:00", "postfix": "2022-07-01T23:59:59+02:00"}
        why = {"forged": "untrusted-top", "bad-date": "bad-date", "future": "after-arrival"}

        # 1) deadline_basis = arrival, [evidence] set: the mailbox decides;
        #    both times are recorded.
        got, cfg = self.ingest(dc, items, groups=relays)
        for key, r in got.items():
            with self.subTest(config="arrival", message=key):
                self.assertEqual((r["deadline_basis"], r["decided_by"]), ("arrival", "arrival"), r)
                self.assertEqual((r["status"], r["on_time"]), ("late", False), r)
                self.assertEqual(parse_iso(r["received_at"]), iso(idate), r)
                if key in edge_at:
                    self.assertEqual(r["edge_received_at"], edge_at[key], r)
                    self.assertIsNone(r["edge_why"], r)
                else:
                    self.assertIsNone(r["edge_received_at"], r)
                    self.assertEqual(r["edge_why"], why[key], r)

        # 2) deadline_basis = edge, fresh database: the gateway decides where
        #    there is an edge time, else arrival, and the record says which.
        edge_call = {CALL_ID: dict(DEFAULT_CALL, deadline_basis="edge")}
        cfg2 = self.config(dc, name="edge.conf", database=self.path("edge.db"), calls=edge_call,
                           groups=relays)
        self.run_puljed(cfg2, "--once", expect=P.EXIT_OK)
        by_uid = {r["uid"]: r for r in self.records(cfg2, db=self.path("edge.db"))}
        got2 = {key: by_uid[r["uid"]] for key, r in got.items()}
        self.check_edge(got2, edge_at, why, idate)

        # show explains it in Danish; show --json and export --json carry it.
        shown = self.run_ctl(cfg2, "show", str(got2["exo"]["id"]), db=self.path("edge.db")).stdout
        self.assertIn("modtaget af ministeriets mailserver 23:59:40, i postkassen 00:01:02; "
                      "fristen afgøres af mailserverens tid", " ".join(shown.split()))
        shown = self.run_ctl(cfg2, "show", str(got2["forged"]["id"]), db=self.path("edge.db")).stdout
        self.assertIn("ingen tid fra ministeriets mailserver", " ".join(shown.split()))
        self.assertIn("fristen afgøres af postkassens tid 00:01:02", " ".join(shown.split()))
        js = json.loads(self.run_ctl(cfg2, "show", str(got2["exo"]["id"]), "--json",
                                     db=self.path("edge.db")).stdout)
        if isinstance(js, list):
            js = js[0]
        self.assertEqual((js["edge_received_at"], js["decided_by"]), (edge_at["exo"], "edge"), js)
        exported = json.loads(self.run_ctl(cfg2, "export", "--messages", "--format", "json",
                                           db=self.path("edge.db")).stdout)
        row = [x for x in exported if x["id"] == str(got2["exo"]["id"])]
        self.assertEqual(len(row), 1, exported)
        self.assertEqual((row[0]["edge_received_at"], row[0]["decided_by"]), (edge_at["exo"], "edge"))
        self.assertEqual(parse_iso(row[0]["received_at"]), iso(idate), row)

        # 3) reclassify the first database under deadline_basis = edge: the
        #    same outcome as a fresh ingest.
        self.config(dc, calls=edge_call, groups=relays)
        self.run_ctl(cfg, "reclassify")
        by_uid = {r["uid"]: r for r in self.records(cfg)}
        got3 = {key: by_uid[r["uid"]] for key, r in got.items()}
        self.check_edge(got3, edge_at, why, idate)

    def check_edge(self, got, edge_at, why, idate):
        for key, r in got.items():
            with self.subTest(config="edge", message=key):
                self.assertEqual(r["deadline_basis"], "edge", r)
                self.assertEqual(parse_iso(r["received_at"]), iso(idate), r)
                if key in edge_at:
                    self.assertEqual(r["decided_by"], "edge", r)
                    self.assertEqual((r["status"], r["on_time"]), ("accepted", True), r)
                    self.assertEqual(r["edge_received_at"], edge_at[key], r)
                    self.assertTrue(any(x.startswith("deadline:on-time") and x.endswith("[edge]")
                                        for x in r["reasons"]), r)
                else:
                    self.assertEqual(r["decided_by"], "arrival", r)
                    self.assertEqual((r["status"], r["on_time"]), ("late", False), r)
                    self.assertIsNone(r["edge_received_at"], r)
                    self.assertEqual(r["edge_why"], why[key], r)
                    self.assertIn("deadline:no-edge(arrival)", r["reasons"], r)
        self.assertEqual(got["exo"]["deadline_delta"], -20, got["exo"])
        self.assertEqual(got["postfix"]["deadline_delta"], -1, got["postfix"])

    def test_m_edge_config_errors(self):
        dc = self.dovecot()
        dc.close_client()
        cases = [
            ({"evidence": {"trusted_relays": "mx1.sum.dk; [10.0.0.1]"}}, None, "[evidence]", "trusted_relays"),
            ({"evidence": {"trusted_relay": "mx1.sum.dk"}}, None, "[evidence]", "trusted_relay"),
            ({"evidence": {"trusted_relays": "mx1.sum.dk", "max_edge_skew": "2h"}}, None, "[evidence]",
             "max_edge_skew"),
            (None, "edge", "[call %s]" % CALL_ID, "deadline_basis"),
        ]
        for groups, basis, group, key in cases:
            calls = {CALL_ID: dict(DEFAULT_CALL, deadline_basis=basis)} if basis else None
            cfg = self.config(dc, name="bad.conf", groups=groups, calls=calls)
            with self.subTest(group=group, key=key):
                r = self.run_puljed(cfg, "--check-config")
                self.assertEqual(r.returncode, P.EXIT_CONFIG, r.describe())
                self.assertIn("%s: %s %s:" % (cfg, group, key), r.stderr, r.describe())
        cfg = self.config(dc, name="ok.conf", groups={"evidence": {"trusted_relays": "*.prod.outlook.com,"
                                                                   " mx*.sum.dk", "max_edge_skew": "90s"}},
                          calls={CALL_ID: dict(DEFAULT_CALL, deadline_basis="edge")})
        self.run_puljed(cfg, "--check-config", expect=P.EXIT_OK)

    # ------------------------------------------------------------ h)
    def test_h_reclassify(self):
        dc = self.dovecot()
        items = [
            ("jun15", mail(CALL + " - Region Hovedstaden", ON_TIME, pdf=71), ON_TIME),
            ("jun20-late-evening", mail(CALL + " - Gladsaxe Kommune", "2022-06-20T23:30:00+02:00",
                                        pdf=72), "2022-06-20T23:30:00+02:00"),
            ("jun21-just-after", mail(CALL + " - Gentofte Kommune", "2022-06-21T00:00:30+02:00",
                                      pdf=73), "2022-06-21T00:00:30+02:00"),
            ("jun25", mail(CALL + " - Lyngby-Taarbæk Kommune", "2022-06-25T12:00:00+02:00",
                           pdf=74), "2022-06-25T12:00:00+02:00"),
            ("jun30-no-form", mail(CALL + " - Rudersdal Kommune", "2022-06-30T12:00:00+02:00"),
             "2022-06-30T12:00:00+02:00"),
            ("unrelated", mail("Frokost fredag?", "2022-06-25T12:00:00+02:00"),
             "2022-06-25T12:00:00+02:00"),
            ("jul02-late", mail(CALL + " - Furesø Kommune", "2022-07-02T12:00:00+02:00",
                                pdf=75), "2022-07-02T12:00:00+02:00"),
        ]
        got, cfg = self.ingest(dc, items)
        before = self.records(cfg)
        why_before = {r["id"]: r["why"] for r in before}
        with open(cfg, encoding="utf-8") as f:
            db = re.search(r"^database\s*=\s*(\S+)", f.read(), re.M).group(1)

        def parts():
            con = sqlite3.connect("file:%s?mode=ro" % db, uri=True)
            try:
                return con.execute("SELECT message, COUNT(*) FROM parts GROUP BY message").fetchall()
            finally:
                con.close()
        parts_before = parts()
        self.assertEqual(len(parts_before), len(items))
        self.assertEqual([got[k]["status"] for k in ("jun15", "jun20-late-evening",
                                                      "jun21-just-after", "jun25",
                                                      "jun30-no-form", "unrelated")],
                         ["accepted", "accepted", "accepted", "accepted", "review", "unrelated"])
        self.assertEqual(got["jul02-late"]["status"], "late")
        # The call's deadline moves to 2022-06-20 in the config file.
        self.config(dc, calls={CALL_ID: dict(DEFAULT_CALL, deadline="2022-06-20")})
        changed = {got[k]["id"] for k in ("jun21-just-after", "jun25", "jun30-no-form")}
        # Still late, but "Modtaget ... efter fristen" now says 11 days and
        # 12 hours, not 12 hours: only its why changes, and it is printed.
        why_only = got["jul02-late"]["id"]
        # jun15's and jun20's reasons change (the deadline delta), their
        # status and why (none: accepted) do not: not printed.
        unchanged = {got[k]["id"] for k in ("jun15", "jun20-late-evening", "unrelated")}

        dry = self.run_ctl(cfg, "reclassify", "--dry-run")  # puljectl --config CFG ...
        self.assertEqual(self.records(cfg), before, "reclassify --dry-run changed records")
        self.assertTrue(changed <= set(record_lines(dry.stdout)),
                        "dry run does not name the records that would change\n" + dry.describe())
        dry_json = json.loads(self.run_ctl(cfg, "reclassify", "--dry-run", "--json").stdout)
        self.assertEqual({c["id"] for c in dry_json["changes"]}, changed | {why_only}, dry_json)
        self.assertEqual(dry_json["changed"], 4, dry_json)
        self.assertEqual(dry_json["records"], len(items), dry_json)
        jl = next(c for c in dry_json["changes"] if c["id"] == why_only)
        self.assertEqual(jl["status"], {"was": "late", "now": "late"}, jl)
        self.assertEqual(jl["why"]["was"], why_before[why_only], jl)
        self.assertRegex(jl["why"]["was"], r"\b12 timer\b", jl)
        self.assertNotIn("dage", jl["why"]["was"], jl)
        self.assertRegex(jl["why"]["now"], r"\b11 dage og 12 timer\b", jl)

        res = self.run_ctl(cfg, "reclassify")
        after = {r["id"]: r for r in self.records(cfg)}
        self.assertEqual(set(after), {r["id"] for r in before})
        named = record_lines(res.stdout)
        # Exactly the records whose status or why changed, and their count.
        self.assertEqual(set(named), changed | {why_only},
                         "reclassify names other records than the changed ones\n" + res.describe())
        self.assertEqual(res.stdout.splitlines()[-1].split(",")[:2],
                         ["%d records re-classified" % len(items), " 4 changed"], res.describe())
        self.assertIn(after[why_only]["why"], " ".join(named[why_only]), res.describe())
        self.assertNotEqual(after[why_only]["why"], why_before[why_only], after[why_only])
        for i in changed:
            self.assertRegex(" ".join(named[i]), r"\blate\b", res.describe())
        for k in ("jun21-just-after", "jun25", "jun30-no-form"):
            r = after[got[k]["id"]]
            with self.subTest(message=k):
                self.assertEqual(r["status"], "late", r)
                self.assertIs(r["on_time"], False, r)
                self.assertGreater(r["deadline_delta"], 0, r)
        for k in ("jun15", "jun20-late-evening", "unrelated"):
            r = after[got[k]["id"]]
            old = got[k]
            with self.subTest(message=k):
                self.assertEqual(r["status"], old["status"], r)
                self.assertEqual(r["on_time"], old["on_time"], r)
        self.assertAlmostEqual(after[got["jun20-late-evening"]["id"]]["deadline_delta"], -1800,
                               delta=1)
        for i in unchanged:
            lines = [l for l in named.get(i, []) if re.search(r"\blate\b", l)]
            self.assertEqual(lines, [], "record %d reported as late\n%s" % (i, res.describe()))
        # A second run changes nothing; a run replaces a changed record's parts and no one else's.
        again = self.run_ctl(cfg, "reclassify")
        self.assertEqual(again.stdout, "%d records re-classified, 0 changed\n" % len(items),
                         again.describe())
        self.assertEqual({r["id"]: r for r in self.records(cfg)}, after)
        self.assertEqual(parts(), parts_before)

    # ------------------------------------------------------------ i)
    def test_i_decide(self):
        dc = self.dovecot()
        items = [
            ("vejle", mail(CALL + " - Vejle Kommune", ON_TIME, pdf=81), ON_TIME),
            ("horsens", mail(CALL + " - Horsens Kommune", "2022-06-16T10:00:00+02:00", pdf=82),
             "2022-06-16T10:00:00+02:00"),
        ]
        got, cfg = self.ingest(dc, items)
        vid, hid = got["vejle"]["id"], got["horsens"]["id"]
        t0 = dt.datetime.now(dt.timezone.utc)
        self.run_ctl(cfg, "decide", str(vid), "reject", "--note", "Mangler underskrift")
        recs = {r["id"]: r for r in self.records(cfg)}
        d = recs[vid]["decision"]
        self.assertIsInstance(d, dict, recs[vid])
        self.assertEqual(d.get("decision"), "reject", d)
        self.assertEqual(d.get("note"), "Mangler underskrift", d)
        self.assertIsInstance(d.get("user"), str, d)
        self.assertTrue(d["user"].strip(), d)
        at = parse_iso(d["at"])
        self.assertIsNotNone(at.utcoffset(), d)
        self.assertLess(abs((at - t0).total_seconds()), 300, d)
        # The machine's classification stays as it was.
        for k, v in got["vejle"].items():
            if k not in ("decision", "decisions"):
                self.assertEqual(recs[vid][k], v, "decide changed %s" % k)
        self.assertEqual(recs[vid]["status"], "accepted")
        self.assertIsNone(recs[hid]["decision"], recs[hid])
        shown = json.loads(self.run_ctl(cfg, "show", str(vid), "--json").stdout)
        self.assertEqual(shown["decision"], d)
        rows = self.applications(cfg)
        row = [x for x in rows if vid in x["ids"]]
        self.assertEqual(len(row), 1, rows)
        self.assertEqual(row[0]["decision"], d, row)
        self.assertEqual(row[0]["status"], "accepted", row)

        # A later decision wins; notes keep their Danish letters.
        note = "Underskrift eftersendt – godkendt af fuldmægtig Søren Ærø"
        self.run_ctl(cfg, "decide", str(vid), "accept", "--note", note)
        recs = {r["id"]: r for r in self.records(cfg)}
        self.assertEqual(recs[vid]["decision"]["decision"], "accept", recs[vid])
        self.assertEqual(recs[vid]["decision"]["note"], note, recs[vid])
        self.assertEqual(recs[vid]["status"], "accepted")
        row = [x for x in self.applications(cfg) if vid in x["ids"]][0]
        self.assertEqual(row["decision"]["decision"], "accept", row)

        # Unknown id: exit 3, nothing recorded.
        r = self.run_ctl(cfg, "decide", "999999", "reject", "--note", "x", expect=None)
        self.assertEqual(r.returncode, EXIT_NOT_FOUND, r.describe())
        # Not a decision: an error, not a crash, nothing recorded.
        r = self.run_ctl(cfg, "decide", str(hid), "maybe", "--note", "x", expect=None)
        self.assertNotEqual(r.returncode, 0, r.describe())
        self.assertLess(r.returncode, 128, r.describe())
        recs = {r["id"]: r for r in self.records(cfg)}
        self.assertIsNone(recs[hid]["decision"], recs[hid])

        # A decision survives reclassify (which only redoes the machine's part).
        self.config(dc, calls={CALL_ID: dict(DEFAULT_CALL, deadline="2022-06-10")})
        self.run_ctl(cfg, "reclassify")
        recs = {r["id"]: r for r in self.records(cfg)}
        self.assertEqual(recs[vid]["status"], "late", recs[vid])
        self.assertEqual(recs[vid]["decision"]["decision"], "accept", recs[vid])
        self.assertEqual(recs[vid]["decision"]["note"], note, recs[vid])

    # ------------------------------------------------------------ j)
    def test_j_two_calls(self):
        dc = self.dovecot()
        psyk = "Puljeopslag 2023: Styrkelse af psykiatrien"
        calls = {CALL_ID: dict(DEFAULT_CALL),
                 "psykiatri-2023": {"subject": psyk, "deadline": "2023-03-01",
                                    "timezone": "Europe/Copenhagen"}}
        items = [
            ("dk-rh", mail(CALL + " - Region Hovedstaden", ON_TIME, pdf=91), ON_TIME),
            ("psyk-rh", mail(psyk + " - Region Hovedstaden", "2022-12-01T10:00:00+01:00", pdf=92),
             "2022-12-01T10:00:00+01:00"),
            ("psyk-reply", mail("SV: " + psyk + " \u2013 Psykiatrien i Region Syddanmark",
                                "2023-02-28T15:00:00+01:00", pdf=93),
             "2023-02-28T15:00:00+01:00"),
            ("psyk-late", mail(psyk + " - Region Sjælland", "2023-03-05T09:00:00+01:00", pdf=94),
             "2023-03-05T09:00:00+01:00"),
            # Wrong year for the psychiatry call: fuzzy for it, nothing for 2022.
            ("psyk-wrong-year", mail("Puljeopslag 2022: Styrkelse af psykiatrien - Region Nordjylland",
                                     "2022-12-02T10:00:00+01:00", pdf=95),
             "2022-12-02T10:00:00+01:00"),
            ("dk-typo", mail("Puljeopslag 2022: Styrkelse af digital kompetencer - Favrskov Kommune",
                             ON_TIME, pdf=96), ON_TIME),
            ("dk-late", mail(CALL + " - Region Hovedstaden", "2022-07-05T10:00:00+02:00", pdf=97),
             "2022-07-05T10:00:00+02:00"),
            ("neither", mail("Puljeopslag 2023: Udvikling af velfærdsteknologi", ON_TIME), ON_TIME),
        ]
        got, cfg = self.ingest(dc, items, calls=calls)
        want = {
            "dk-rh": (CALL_ID, "exact", "accepted"),
            "psyk-rh": ("psykiatri-2023", "exact", "accepted"),
            "psyk-reply": ("psykiatri-2023", "exact", "accepted"),
            "psyk-late": ("psykiatri-2023", "exact", "late"),
            "psyk-wrong-year": ("psykiatri-2023", "fuzzy", "review"),
            "dk-typo": (CALL_ID, "fuzzy", "review"),
            "dk-late": (CALL_ID, "exact", "late"),
            "neither": (None, None, "unrelated"),
        }
        for key, (call, match, status) in want.items():
            r = got[key]
            with self.subTest(message=key):
                self.assertEqual((r["call"], r["match"], r["status"]), (call, match, status), r)
        self.assertEqual(got["psyk-reply"]["applicant"], "Psykiatrien i Region Syddanmark")
        rows = self.applications(cfg)
        keyed = {(row["call"], casefold_ws(row["applicant"] or "")): row for row in rows}
        self.assertEqual(len(keyed), len(rows), rows)
        rh_dk = keyed[(CALL_ID, "region hovedstaden")]
        rh_psyk = keyed[("psykiatri-2023", "region hovedstaden")]
        self.assertEqual(set(rh_dk["ids"]), {got["dk-rh"]["id"], got["dk-late"]["id"]}, rh_dk)
        self.assertEqual(rh_dk["status"], "accepted")
        self.assertIs(rh_dk["on_time"], True)
        self.assertEqual(rh_psyk["ids"], [got["psyk-rh"]["id"]], rh_psyk)
        self.assertEqual(keyed[("psykiatri-2023", "region sjælland")]["status"], "late")
        self.assertNotIn(got["neither"]["id"], [i for row in rows for i in row["ids"]])

    # ------------------------------------------------------------ k)
    # ------------------------------------------------------------ l)
    def test_l_bounces_invites_named_zones(self):
        """Bounces that are not multipart/report (From MAILER-DAEMON@ or
        postmaster@, X-Failed-Recipients), a calendar invitation quoting the
        call, a person forwarding a bounce, and Date: headers with zone
        names (CEST, GMT, EDT) read with the right offset."""
        dc = self.dovecot()
        t = "2022-06-20T11:%02d:00+02:00"
        bounce_body = ("This is the mail system at host mx.example.net.\n\n"
                       "I'm sorry to have to inform you that your message could not\n"
                       "be delivered to one or more recipients.\n")
        ics = ("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nMETHOD:REQUEST\r\nBEGIN:VEVENT\r\n"
               "SUMMARY:Informationsm\u00f8de\r\nDTSTART:20220608T080000Z\r\n"
               "END:VEVENT\r\nEND:VCALENDAR\r\n").encode()

        def zoned(subject, arrival, date_text, seed):
            raw = M.drop_header(mail(subject, arrival, pdf=seed), "Date")
            return M.prepend_headers(raw, [("Date", date_text)])

        items = [
            ("mailer-daemon", mail(CALL + " - Region Hovedstaden", t % 0,
                                   from_addr="MAILER-DAEMON@mx.example.net",
                                   from_name="Mail Delivery System", pdf=61, body=bounce_body),
             t % 0),
            ("postmaster", mail(CALL + " - Vejle Kommune", t % 1, from_addr="postmaster@example.dk",
                                pdf=62, body=bounce_body), t % 1),
            ("x-failed-recipients", mail(CALL + " - Kolding Kommune", t % 2,
                                         from_addr="mail@mx.example.net", pdf=63, body=bounce_body,
                                         headers={"X-Failed-Recipients": "puljer@sst.example.dk"}),
             t % 2),
            # A person forwarding a bounce (no automatic-mail headers): not lost.
            ("person-forwards-bounce", mail("Fwd: Undeliverable: " + CALL + " - Vejle Kommune", t % 3,
                                            from_addr="mette@vejle.example.dk", pdf=64), t % 3),
            # An invitation quoting the call, with a PDF: never accepted.
            ("calendar-invite", mail(CALL + " - Region Midtjylland", t % 4,
                                     from_addr="kalender@rm.example.dk", from_name="Region Midtjylland",
                                     attachments=[("invite.ics", "text/calendar", ics), pdf_att(65)]),
             t % 4),
            # Control: the same without the invitation is accepted.
            ("control", mail(CALL + " - Region Midtjylland", t % 5, pdf=66), t % 5),
            # Date: with zone names; arrival is late, the Date: decides.
            ("date-cest", zoned(CALL + " - Horsens Kommune", "2022-07-02T00:10:00+02:00",
                                "Fri, 01 Jul 2022 23:30:00 CEST", 67), "2022-07-02T00:10:00+02:00"),
            ("date-edt", zoned(CALL + " - Odder Kommune", "2022-07-02T00:11:00+02:00",
                               "Fri, 01 Jul 2022 17:30:00 EDT", 68), "2022-07-02T00:11:00+02:00"),
            ("date-gmt", zoned(CALL + " - Skive Kommune", "2022-07-02T00:12:00+02:00",
                               "Fri, 01 Jul 2022 23:30:00 GMT", 69), "2022-07-02T00:12:00+02:00"),
        ]
        got, _cfg = self.ingest(dc, items,
                                calls={CALL_ID: dict(DEFAULT_CALL, deadline_basis="date-header")})
        for key in ("mailer-daemon", "postmaster", "x-failed-recipients"):
            self.assert_unrelated_kind(got[key], key, ("delivery-report",))
            self.assertIn("kind:delivery-report", got[key]["reasons"], got[key])
        r = got["person-forwards-bounce"]
        self.assertEqual(r["status"], "review", r)
        self.assertEqual(r["call"], CALL_ID, r)
        self.assertEqual(r["applicant"], "Vejle Kommune", r)
        self.assertIn("reply-to:delivery-report", r["reasons"], r)
        r = got["calendar-invite"]
        self.assertEqual((r["status"], r["kind"]), ("review", "other"), r)
        self.assertIn("kind:other", r["reasons"], r)
        r = got["control"]
        self.assertEqual((r["status"], r["kind"]), ("accepted", "application"), r)
        r = got["date-cest"]
        self.assertEqual(parse_iso(r["date_header"]), iso("2022-07-01T23:30:00+02:00"), r)
        self.assertEqual((r["decided_by"], r["on_time"], r["status"]), ("date-header", True, "accepted"), r)
        self.assert_delta(r, -30 * 60, "date-cest")
        r = got["date-edt"]
        self.assertEqual(parse_iso(r["date_header"]), iso("2022-07-01T17:30:00-04:00"), r)
        self.assertEqual((r["on_time"], r["status"]), (True, "accepted"), r)
        r = got["date-gmt"]
        self.assertEqual(parse_iso(r["date_header"]), iso("2022-07-01T23:30:00+00:00"), r)
        self.assertEqual((r["on_time"], r["status"]), (False, "late"), r)
        self.assert_delta(r, 90 * 60, "date-gmt")

    def test_k_subjects_tsv_end_to_end(self):
        """Every line of tests/data/subjects.tsv as a real message (bare From:
        address, so the applicant can only come from the subject).  Lines
        marked "# unsure" are reported, not failed."""
        rows = M.read_subjects()
        dc = self.dovecot()
        items = []
        for i, row in enumerate(rows):
            idate = (dt.datetime(2022, 6, 1, 8, 0, tzinfo=CEST) +
                     dt.timedelta(minutes=i)).isoformat()
            # Subject: as B encoded-words made here: Python's folding drops
            # the space between two encoded words of a long subject.
            raw = M.with_subject(mail("x", idate, from_addr="post%d@example.dk" % i),
                                 row["subject"])
            items.append(("line %d" % row["line"], raw, idate))
        got, _cfg = self.ingest(dc, items)
        fails, unsure = [], []
        for row in rows:
            r = got["line %d" % row["line"]]
            want_match = None if row["match"] == "none" else row["match"]
            problems = []
            if r["status"] == "unrelated" and r["kind"] in ("auto-reply", "delivery-report"):
                # An automatic reply or bounce quoting the call is no
                # application: no call, match, applicant or on_time; the
                # call it quotes is a reason.
                for field in ("call", "match", "applicant", "on_time"):
                    if r[field] is not None:
                        problems.append("%s %r on an unrelated %s" % (field, r[field], r["kind"]))
                if want_match and "quotes:" + CALL_ID not in r["reasons"]:
                    problems.append("no quotes:%s reason in %r" % (CALL_ID, r["reasons"]))
            elif r["match"] != want_match:
                problems.append("match %s, want %s" % (r["match"], want_match))
            elif want_match and r["applicant"] != row["applicant"]:
                problems.append("applicant %r, want %r" % (r["applicant"], row["applicant"]))
            if want_match is None and r["applicant"] is not None:
                problems.append("applicant %r on a non-match" % r["applicant"])
            if problems:
                text = "line %d %r: %s (score %s, kind %s)" % (
                    row["line"], row["subject"], "; ".join(problems), r["match_score"], r["kind"])
                (unsure if row["unsure"] else fails).append(text)
        if unsure:
            sys.stderr.write("\n  subjects.tsv, lines marked unsure that differ:\n    "
                             + "\n    ".join(unsure) + "\n")
        self.assertEqual(fails, [], "%d of %d subjects.tsv cases differ:\n%s"
                         % (len(fails), len(rows), "\n".join(fails)))


class SubjectsFileTest(unittest.TestCase):
    """tests/data/subjects.tsv parses and covers what it should (no binaries)."""

    def test_parses(self):
        rows = M.read_subjects()
        self.assertGreaterEqual(len(rows), 120)
        by = {m: [r for r in rows if r["match"] == m] for m in ("exact", "fuzzy", "none")}
        self.assertGreaterEqual(len(by["none"]), 30)
        self.assertGreaterEqual(len(by["fuzzy"]), 20)
        self.assertGreaterEqual(len(by["exact"]), 60)
        subjects = [r["subject"] for r in rows]
        dups = {s for s in subjects if subjects.count(s) > 1}
        self.assertEqual(dups, set(), "duplicate subjects")
        for r in rows:
            if r["applicant"] is not None:
                self.assertEqual(r["applicant"], unicodedata.normalize("NFC", r["applicant"]),
                                 "line %d: expected applicant not NFC" % r["line"])
                self.assertEqual(r["applicant"], r["applicant"].strip(), r["line"])
        self.assertLess(sum(r["unsure"] for r in rows), 25)

    def test_coverage(self):
        rows = M.read_subjects()
        text = "\n".join(r["subject"] for r in rows)
        for needle in ("Re: ", "SV: ", "VS: ", "Fwd: ", "Fw: ", "AW: ", "WG: ", "TR: ", "Antw: ",
                       "\u201c", "\u201e", "\u00ab", '"', "\u2013", "\u2014", "\t", "\u00a0",
                       "  ", "[EKSTERN]", "\u030a", "\u00c6", "\u00d8", "\u00e6", "\u00f8",
                       "\u00e5", "Automatisk svar:", "Undeliverable:"):
            self.assertIn(needle, text, "no subject contains %r" % needle)
        applicants = [r["applicant"] for r in rows if r["applicant"]]
        self.assertTrue(any(" - " in a for a in applicants))
        self.assertTrue(any(a.endswith(")") for a in applicants))

    def test_escapes(self):
        self.assertEqual(M.unescape_tsv(r"a\tb\\c\u00A0d\u030A"), "a\tb\\c\u00a0d\u030a")
        with self.assertRaises(ValueError):
            M.unescape_tsv("bad \\q")


if __name__ == "__main__":
    unittest.main(verbosity=2)
