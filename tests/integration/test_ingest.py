#!/usr/bin/python3
"""End-to-end tests of puljed against a throwaway Dovecot.

Needs PULJED and PULJECTL in the environment (paths of the built binaries).
Run:  PULJED=build/src/puljed PULJECTL=build/src/puljectl \\
      /usr/bin/python3 tests/integration/test_ingest.py
"""

import datetime as dt
import email
import email.policy
import hashlib
import json
import os
import random
import re
import signal
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from harness import messages as M  # noqa: E402
from harness import puljed as P  # noqa: E402
from harness.dovecot import unused_port  # noqa: E402
from harness.proxy import StartTLSProxy, TlsDripProxy  # noqa: E402
from harness.silent import SilentServer  # noqa: E402
from harness.testcase import PuljedTestCase, parse_iso  # noqa: E402

CEST = dt.timezone(dt.timedelta(hours=2))
ON_TIME = "2022-06-15T10:00:00+02:00"


def norm_msgid(value):
    return (value or "").strip().strip("<>")


def msgid_of(raw):
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    return norm_msgid(msg["Message-ID"])


class IngestTest(PuljedTestCase):

    # ------------------------------------------------------------ a)
    def test_a_classification(self):
        dc = self.dovecot()
        cfg = self.config(dc)
        pdf = {k: M.fake_pdf(3000 + i * 101, seed=i) for i, k in enumerate(
            ["ontime", "late", "edge", "reply"])}
        cases = [
            # key, raw, internaldate, status, on_time, applicant, pdf
            ("ontime", M.application("Region Hovedstaden", pdf["ontime"]),
             ON_TIME, "accepted", True, "Region Hovedstaden"),
            ("late", M.application("Aarhus Kommune", pdf["late"]),
             "2022-07-02T00:00:10+02:00", "late", False, "Aarhus Kommune"),
            ("edge", M.application("Odense Kommune", pdf["edge"]),
             "2022-07-01T23:59:59+02:00", "accepted", True, "Odense Kommune"),
            ("review", M.application("Vejle Kommune", None),
             ON_TIME, "review", True, "Vejle Kommune"),
            ("unrelated", M.simple("Nyhedsbrev juni 2022", "nyt\n"),
             ON_TIME, "unrelated", None, None),
            ("reply", M.application("Region Sj\u00e6lland", pdf["reply"],
                                    subject_prefix="SV: "),
             "2022-06-30T16:45:00+02:00", "accepted", True, "Region Sj\u00e6lland"),
        ]
        appended = {}
        for key, raw, idate, status, on_time, applicant in cases:
            uid = dc.append("INBOX", raw, idate)
            appended[uid] = dict(key=key, raw=raw, idate=idate, status=status,
                                 on_time=on_time, applicant=applicant,
                                 pdf=pdf.get(key) if key in pdf else None)
        uidvalidity = dc.uidvalidity()
        dc.close_client()

        self.run_puljed(cfg, "--once", expect=P.EXIT_OK)
        recs = self.records(cfg)
        self.assertEqual(len(recs), len(cases), recs)
        by_uid = {r["uid"]: r for r in recs}
        self.assertEqual(set(by_uid), set(appended))
        self.assertEqual(len({r["id"] for r in recs}), len(recs))
        for uid, want in appended.items():
            r = by_uid[uid]
            with self.subTest(message=want["key"]):
                self.assertEqual(r["mailbox"], "INBOX")
                self.assertEqual(r["uidvalidity"], uidvalidity)
                self.assertEqual(r["status"], want["status"], r)
                self.assertIs(r["on_time"], want["on_time"], r)
                self.assertEqual(r["applicant"], want["applicant"], r)
                self.assertIsNone(r["duplicate_of"], r)
                self.assertEqual(norm_msgid(r["message_id"]), msgid_of(want["raw"]))
                want_subject = email.message_from_bytes(
                    want["raw"], policy=email.policy.default)["Subject"]
                self.assertEqual(r["subject"], want_subject)
                self.assertIn("ansoeger@example.org", r["from"] or "")
                if want["status"] == "unrelated":
                    self.assertIsNone(r["call"], r)
                else:
                    self.assertEqual(r["call"], "digitale-kompetencer-2022", r)
                # received_at is the INTERNALDATE instant, with an offset.
                got = parse_iso(r["received_at"])
                self.assertIsNotNone(got.utcoffset(), r["received_at"])
                self.assertEqual(got, dt.datetime.fromisoformat(want["idate"]),
                                 r["received_at"])
                self.assertIsNotNone(r["date_header"])
                if want["pdf"] is not None:
                    self.assertEqual(len(r["attachments"]), 1, r)
                    a = r["attachments"][0]
                    self.assertEqual(a["filename"], "ansoegning.pdf")
                    self.assertEqual(a["content_type"], "application/pdf")
                    self.assertEqual(a["size"], len(want["pdf"]))
                    self.assertEqual(a["sha256"], M.sha256(want["pdf"]))
                else:
                    self.assertEqual(r["attachments"], [], r)

        # show --json agrees with list --json for one record.
        some = recs[0]
        shown = self.run_ctl(cfg, "show", str(some["id"]), "--json")
        obj = json.loads(shown.stdout)
        for k in ("id", "uid", "uidvalidity", "status", "subject", "applicant"):
            self.assertEqual(obj.get(k), some[k], k)
        # The human outputs work too.
        st = self.run_ctl(cfg, "status")
        self.assertTrue(st.stdout.strip(), st.describe())
        ls = self.run_ctl(cfg, "list")
        self.assertEqual(ls.stdout.count("\n") >= len(cases), True, ls.describe())
        # --db works like --config.
        self.assertEqual(self.records(cfg, db=self.path("puljed.db")), recs)

    # ------------------------------------------------------------ b)
    def test_b_idempotent_and_incremental(self):
        dc = self.dovecot()
        cfg = self.config(dc, host="localhost")
        for i in range(4):
            dc.append("INBOX", M.application("Kommune %d" % i, M.fake_pdf(1500, seed=i)),
                      "2022-06-0%dT09:00:00+02:00" % (i + 1))
        self.run_puljed(cfg, "--once", expect=P.EXIT_OK)
        first = self.records(cfg)
        self.assertEqual(len(first), 4)
        self.run_puljed(cfg, "--once", expect=P.EXIT_OK)
        second = self.records(cfg)
        self.assertEqual(second, first, "second run changed the records")

        new_uids = [dc.append("INBOX", M.application("Ny %d" % i, M.fake_pdf(900, seed=50 + i)),
                              "2022-06-20T12:00:0%d+02:00" % i) for i in range(2)]
        dc.close_client()
        self.run_puljed(cfg, "--once", expect=P.EXIT_OK)
        third = self.records(cfg)
        self.assertEqual(len(third), 6)
        old_ids = {r["id"] for r in first}
        added = [r for r in third if r["id"] not in old_ids]
        self.assertEqual(sorted(r["uid"] for r in added), sorted(new_uids))
        self.assertEqual([r for r in third if r["id"] in old_ids], first)

    # ------------------------------------------------------------ c)
    def test_c_duplicate(self):
        dc = self.dovecot()
        cfg = self.config(dc)
        raw = M.application("Region Midtjylland", M.fake_pdf(2000, seed=7))
        u1 = dc.append("INBOX", raw, ON_TIME)
        u2 = dc.append("INBOX", raw, "2022-06-15T10:05:00+02:00")
        run = self.run_puljed(cfg, "--once", expect=P.EXIT_OK)
        recs = self.records(cfg)
        self.assertIn(len(recs), (1, 2), recs)
        if len(recs) == 2:
            by_uid = {r["uid"]: r for r in recs}
            self.assertIsNone(by_uid[u1]["duplicate_of"])
            self.assertEqual(by_uid[u2]["duplicate_of"], by_uid[u1]["id"])
            # The log line says it is a duplicate, and of which record;
            # the first one does not.
            self.assertRegex(run.stderr, r"recorded UID %d as #%d: [^\n]*, duplicate of #%d,"
                             % (u2, by_uid[u2]["id"], by_uid[u1]["id"]), run.describe())
            self.assertNotRegex(run.stderr, r"recorded UID %d as #%d: [^\n]*duplicate" % (u1, by_uid[u1]["id"]))
        else:
            self.assertEqual(recs[0]["uid"], u1)

    # ------------------------------------------------------------ d)
    def _assert_tls_refused(self, dc, cfg, label):
        mark = dc.log_mark()
        r = self.run_puljed(cfg, "--once")
        self.assertEqual(r.returncode, P.EXIT_TLS, label + "\n" + r.describe())
        self.assertRegex(r.stderr, re.compile(r"certif|verif|TLS|SSL", re.I), label)
        self.assertEqual(len(r.stderr.strip().splitlines()), 1,
                         label + ": expected a one-line reason\n" + r.describe())
        self.assertEqual(self.records(cfg), [], label)
        dc.wait_for_log(r"imap-login: .*rip=127\.0\.0\.1,", since=mark)
        self.assertTrue(dc.connection_lines(mark),
                        label + ": puljed never reached Dovecot\n" + dc.log_text(mark))
        self.assertEqual(dc.auth_attempt_lines(mark), [],
                         label + ": credentials were sent over an unverified TLS session")

    def test_d_wrong_host_cert(self):
        dc = self.dovecot(cert="wronghost")
        dc.append("INBOX", M.application("X", M.fake_pdf(500, seed=1)), ON_TIME)
        dc.close_client()
        self._assert_tls_refused(dc, self.config(dc), "wrong host, 127.0.0.1")
        self._assert_tls_refused(dc, self.config(dc, host="localhost"),
                                 "wrong host, localhost")
        self._assert_tls_refused(dc, self.config(dc, security="starttls"),
                                 "wrong host, starttls")

    def test_d_unknown_ca(self):
        dc = self.dovecot(cert="unknownca")
        dc.append("INBOX", M.application("X", M.fake_pdf(500, seed=1)), ON_TIME)
        dc.close_client()
        self._assert_tls_refused(dc, self.config(dc), "unknown CA, test CA file")
        self._assert_tls_refused(dc, self.config(dc, ca_file=None),
                                 "unknown CA, system trust store")
        self._assert_tls_refused(dc, self.config(dc, ca_file=None, security="starttls"),
                                 "unknown CA, system trust store, starttls")

    def test_d_good_cert_system_store_refused(self):
        # Our test CA is not in the system store: the good cert is untrusted too.
        dc = self.dovecot()
        dc.append("INBOX", M.application("X", M.fake_pdf(500, seed=1)), ON_TIME)
        dc.close_client()
        self._assert_tls_refused(dc, self.config(dc, ca_file=None),
                                 "test CA not trusted without ca_file")

    # ------------------------------------------------------------ e)
    def test_e_starttls_works(self):
        dc = self.dovecot()
        uids = [dc.append("INBOX", M.application("Kommune %d" % i, M.fake_pdf(800, seed=i)),
                          ON_TIME) for i in range(2)]
        dc.close_client()
        cfg = self.config(dc, security="starttls")
        mark = dc.log_mark()
        self.run_puljed(cfg, "--once", expect=P.EXIT_OK)
        recs = self.records(cfg)
        self.assertEqual(sorted(r["uid"] for r in recs), uids)
        logins = [l for l in dc.auth_attempt_lines(mark) if "Login: user=<" in l]
        self.assertTrue(logins, dc.log_text(mark))
        # Dovecot marks a login made inside TLS with "TLS"; a plaintext login
        # on loopback would only say "secured".
        for line in logins:
            self.assertRegex(line, r"\bTLS\b", "login was not inside STARTTLS")

    def test_e_starttls_not_offered(self):
        dc = self.dovecot(ssl=False)
        dc.append("INBOX", M.application("X", M.fake_pdf(500, seed=1)), ON_TIME)
        dc.close_client()
        cfg = self.config(dc, security="starttls", port=dc.imap_port)
        mark = dc.log_mark()
        r = self.run_puljed(cfg, "--once")
        self.assertIn(r.returncode, (P.EXIT_NETWORK, P.EXIT_TLS), r.describe())
        self.assertEqual(self.records(cfg), [])
        dc.wait_for_log(r"imap-login: .*rip=127\.0\.0\.1,", since=mark)
        self.assertTrue(dc.connection_lines(mark), dc.log_text(mark))
        self.assertEqual(dc.auth_attempt_lines(mark), [],
                         "puljed sent credentials without TLS")

    def test_e_starttls_response_injection(self):
        # A man in the middle appends plaintext after the server's OK to
        # STARTTLS.  puljed must not treat it as part of the TLS session:
        # either it refuses (exit 3/4) or it discards it and works normally.
        marker = b"puljed-injected-marker"
        inject = (b"* BYE " + marker + b"\r\n")
        dc = self.dovecot()
        uids = [dc.append("INBOX", M.application("Kommune %d" % i, M.fake_pdf(800, seed=i)),
                          ON_TIME) for i in range(2)]
        dc.close_client()
        with StartTLSProxy(dc.imap_port, inject=inject) as proxy:
            cfg = self.config(dc, security="starttls", port=proxy.port)
            r = self.run_puljed(cfg, "--once")
            self.assertEqual(proxy.injected, 1, "the proxy never saw STARTTLS")
        self.assertNotIn(marker.decode(), r.output,
                         "injected plaintext was parsed as server data\n" + r.describe())
        self.assertNotRegex(r.stderr, re.compile(r"\bBYE\b"),
                            "injected BYE was believed\n" + r.describe())
        if r.returncode == P.EXIT_OK:
            self.assertEqual(sorted(x["uid"] for x in self.records(cfg)), uids)
        else:
            self.assertIn(r.returncode, (P.EXIT_NETWORK, P.EXIT_TLS), r.describe())

    def test_e_starttls_stripped(self):
        # A man in the middle removes STARTTLS from the capabilities: puljed
        # must refuse, and never send the password in plaintext.
        dc = self.dovecot()
        dc.close_client()
        with StartTLSProxy(dc.imap_port, strip_starttls=True) as proxy:
            cfg = self.config(dc, security="starttls", port=proxy.port)
            r = self.run_puljed(cfg, "--once")
            sent = b"".join(proxy.client_lines)
        self.assertIn(r.returncode, (P.EXIT_NETWORK, P.EXIT_TLS), r.describe())
        self.assertNotIn(dc.password.encode(), sent)
        self.assertNotRegex(sent, re.compile(rb"\b(LOGIN|AUTHENTICATE)\b", re.I),
                            "puljed sent credentials in plaintext")

    def test_e_tls_record_trickled(self):
        # Below TLS, the server's records arrive a byte every 0.1 s: each
        # byte within the 2 s timeout, one record taking a minute or more.
        # The response's deadline (twice the timeout) must hold inside a
        # record too: puljed gives up, saying it timed out, in seconds.
        dc = self.dovecot()
        dc.append("INBOX", M.application("Kommune Drypvis", M.fake_pdf(800, seed=7)), ON_TIME)
        dc.close_client()
        with TlsDripProxy(dc.imaps_port, after=1, interval=0.1) as proxy:
            cfg = self.config(dc, security="tls", port=proxy.port, timeout=2)
            t0 = time.monotonic()
            r = self.run_puljed(cfg, "--once", timeout=60)
            took = time.monotonic() - t0
            dripped = proxy.dripped
        self.assertEqual(r.returncode, P.EXIT_NETWORK, r.describe())
        self.assertRegex(r.stderr, re.compile(r"timed out", re.I), r.describe())
        self.assertGreater(dripped, 0, "the proxy never dripped")
        self.assertLess(took, 15, "a trickled TLS record held puljed %.1f s (timeout = 2)" % took)
        sys.stderr.write("\n  a TLS record trickled at 10 bytes/s: gave up after %.1f s (%d bytes)\n"
                         % (took, dripped))

    def test_e_sigterm_inside_a_trickled_tls_record(self):
        # The same drip with timeout = 60 (a response's deadline 2 min
        # away): SIGTERM ends puljed at once, in the middle of a record,
        # not when the record is complete.
        dc = self.dovecot()
        dc.close_client()
        with TlsDripProxy(dc.imaps_port, after=1, interval=0.1) as proxy:
            cfg = self.config(dc, security="tls", port=proxy.port, timeout=60)
            argv = [P.puljed_path(), "--config", cfg, "--once"]
            proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, env=P.clean_env())
            try:
                deadline = time.monotonic() + 20
                while proxy.dripped < 10 and time.monotonic() < deadline and proc.poll() is None:
                    time.sleep(0.05)
                self.assertGreaterEqual(proxy.dripped, 10, "the drip never began (exit %s)" % proc.poll())
                took, r = P.sigterm_timed(proc, argv, 20)
            finally:
                if proc.poll() is None:
                    proc.kill()
                    proc.communicate()
        self.runs.append(r)
        self.assertIsNotNone(took, "puljed still running 20 s after SIGTERM inside a trickled TLS record")
        self.assertLess(took, 3.0, "SIGTERM took %.1f s inside a trickled TLS record\n%s" % (took, r.describe()))
        self.assertNotIn("AddressSanitizer", r.stderr, r.describe())

    def test_e_tls_against_plain_port(self):
        # security = tls pointed at the plaintext listener must fail cleanly.
        dc = self.dovecot()
        dc.close_client()
        cfg = self.config(dc, security="tls", port=dc.imap_port)
        mark = dc.log_mark()
        r = self.run_puljed(cfg, "--once", timeout=120)
        self.assertIn(r.returncode, (P.EXIT_NETWORK, P.EXIT_TLS), r.describe())
        self.assertEqual(dc.auth_attempt_lines(mark), [])

    # ------------------------------------------------------------ f)
    def test_f_wrong_password(self):
        dc = self.dovecot()
        dc.append("INBOX", M.application("X", M.fake_pdf(500, seed=1)), ON_TIME)
        dc.close_client()
        wrong = "Wrong-" + dc.password[::-1]
        self.secrets.append(wrong)
        pwfile = self.path("wrong-password")
        with open(pwfile, "w") as f:
            f.write(wrong + "\n")
        os.chmod(pwfile, 0o600)
        for security in ("tls", "starttls"):
            with self.subTest(security=security):
                cfg = self.config(dc, security=security, password_file=pwfile)
                mark = dc.log_mark()
                r = self.run_puljed(cfg, "--once", expect=P.EXIT_AUTH)
                self.assertRegex(r.stderr, re.compile(r"auth|login", re.I))
                self.assertEqual(len(r.stderr.strip().splitlines()), 1, r.describe())
                self.assertEqual(self.records(cfg), [])
                self.assertTrue(dc.wait_for_log(r"auth failed|Password mismatch",
                                                since=mark),
                                "Dovecot saw no failed login:\n" + dc.log_text(mark))
        # Unknown user as well.
        cfg = self.config(dc, username="nosuchuser")
        self.run_puljed(cfg, "--once", expect=P.EXIT_AUTH)

    # ------------------------------------------------------------ g)
    def test_g_config_errors(self):
        dc = self.dovecot()
        dc.close_client()
        cases = [
            ("missing host", dict(host=None), "imap", "host"),
            ("unknown key", dict(groups={"imap": {"colour": "blue"}}), "imap", "colour"),
            ("bad port", dict(port="99999"), "imap", "port"),
            ("non-numeric port", dict(port="imaps"), "imap", "port"),
            ("bad security", dict(security="ssl3", port=dc.imaps_port), "imap", "security"),
            ("unknown group", dict(groups={"nonsense": {"a": "b"}}), "nonsense", None),
            ("bad deadline", dict(groups={"call digitale-kompetencer-2022":
                                          {"deadline": "1. juli"}}),
             "call digitale-kompetencer-2022", "deadline"),
            ("relative database", dict(database="relative.db"), "store", "database"),
        ]
        for i, (label, kw, group, key) in enumerate(cases):
            with self.subTest(case=label):
                cfg = self.config(dc, name="bad%d.conf" % i, **kw)
                mark = dc.log_mark()
                for mode in ("--once", "--check-config"):
                    r = self.run_puljed(cfg, mode)
                    self.assertEqual(r.returncode, P.EXIT_CONFIG,
                                     "%s %s\n%s" % (label, mode, r.describe()))
                    self.assertIn(cfg, r.stderr, label)
                    self.assertIn("[%s]" % group, r.stderr, label)
                    if key:
                        self.assertIn(key, r.stderr, label)
                    self.assertEqual(len(r.stderr.strip().splitlines()), 1,
                                     label + ": expected one line\n" + r.describe())
                self.assertEqual(dc.login_lines(mark), [],
                                 label + ": puljed connected despite a config error")
        self.assertFalse(os.path.exists(self.path("puljed.db")),
                         "a database was created despite config errors")

    def test_g_check_config_no_network(self):
        # A valid config pointing at a port nobody listens on: --check-config
        # must succeed without touching the network.
        dc = self.dovecot()
        dc.close_client()
        cfg = self.config(dc, port=unused_port())
        self.run_puljed(cfg, "--check-config", expect=P.EXIT_OK)
        cfg2 = self.config(dc, name="good.conf")
        mark = dc.log_mark()
        self.run_puljed(cfg2, "--check-config", expect=P.EXIT_OK)
        self.assertEqual(dc.login_lines(mark), [])
        # And --once against the closed port is a connection failure (3).
        r = self.run_puljed(cfg, "--once", timeout=120)
        self.assertEqual(r.returncode, P.EXIT_NETWORK, r.describe())

    # ------------------------------------------------------------ h)
    def test_h_password_never_printed(self):
        # Every run in every test goes through check_no_secret(); this test
        # additionally runs the chatty paths (success, verbose outputs).
        dc = self.dovecot()
        dc.append("INBOX", M.application("Region Nordjylland", M.fake_pdf(700, seed=3)),
                  ON_TIME)
        dc.close_client()
        cfg = self.config(dc)
        r = self.run_puljed(cfg, "--once", expect=P.EXIT_OK)
        for args in (("status",), ("list",), ("list", "--json")):
            self.run_ctl(cfg, *args)
        recs = self.records(cfg)
        self.run_ctl(cfg, "show", str(recs[0]["id"]))
        self.run_ctl(cfg, "show", str(recs[0]["id"]), "--json")
        # The raw password file contents never end up in the database either.
        with open(self.path("puljed.db"), "rb") as f:
            self.assertNotIn(dc.password.encode(), f.read())
        self.assertNotIn(dc.password, r.output)

    # ------------------------------------------------------------ i)
    def test_i_extract(self):
        dc = self.dovecot()
        pdf = M.fake_pdf(50_000, seed=42)
        dc.append("INBOX", M.application("Region Syddanmark", pdf), ON_TIME)
        dc.close_client()
        cfg = self.config(dc)
        self.run_puljed(cfg, "--once", expect=P.EXIT_OK)
        recs = self.records(cfg)
        self.assertEqual(len(recs), 1)
        out = self.path("extract")
        os.mkdir(out)
        self.run_ctl(cfg, "extract", str(recs[0]["id"]), out)
        files = []
        for root, _dirs, names in os.walk(out):
            files += [os.path.join(root, n) for n in names]
        self.assertEqual(len(files), 1, files)
        self.assertEqual(os.path.basename(files[0]), "ansoegning.pdf")
        with open(files[0], "rb") as f:
            self.assertEqual(f.read(), pdf)
        # Unknown id is an error, not a crash.
        r = self.run_ctl(cfg, "extract", "999999", out, expect=None)
        self.assertNotEqual(r.returncode, 0)
        self.assertLess(r.returncode, 128, "puljectl crashed\n" + r.describe())

    # ------------------------------------------------------------ j)
    def test_j_kill9_during_ingest(self):
        # 1,000 messages with 20 KB attachments (PULJED_KILL_MESSAGES to change).
        n = int(os.environ.get("PULJED_KILL_MESSAGES", "1000"))
        dc = self.dovecot()
        expected = {}
        rnd = random.Random(int(os.environ.get("PULJED_KILL_SEED", "0")) or None)
        for i in range(n):
            data = rnd.randbytes(20 * 1024)
            raw = M.application("Ansoeger %03d" % i, data, filename="bilag-%03d.pdf" % i)
            uid = dc.append("INBOX", raw, ON_TIME)
            expected[uid] = hashlib.sha256(data).hexdigest()
        uidvalidity = dc.uidvalidity()
        dc.close_client()
        cfg = self.config(dc)
        db = self.path("puljed.db")

        # Each restart carries on from the watermark.  The delay adapts: a
        # kill that came before anything was recorded makes the next delay
        # longer (slow start, e.g. under ASan); we stop after 4 kills in the
        # middle of an ingest, or when a run got to finish.
        max_rounds = int(os.environ.get("PULJED_KILL_ROUNDS", "12"))
        delay = 0.15
        history = []
        mid = 0
        before = 0
        for _round in range(max_rounds):
            d = delay * rnd.uniform(0.6, 1.4)
            proc = P.spawn_puljed(cfg, "--once")
            time.sleep(d)
            P.kill9(proc)
            out, err = proc.communicate(timeout=30)
            rec = P.Result(["puljed", "--once"], proc.returncode,
                           out.decode("utf-8", "replace"),
                           err.decode("utf-8", "replace"))
            self.runs.append(rec)
            self.check_no_secret(rec)
            if proc.returncode not in (0, -9):
                self.fail("puljed died with %s after %.3fs (not by our SIGKILL)\n%s"
                          % (proc.returncode, d, rec.describe()))
            if os.path.exists(db):
                self.assertEqual(self.integrity_check(db), "ok")
            count = len(self.records(cfg))
            history.append((round(d, 3), proc.returncode, count))
            if proc.returncode == 0 or count >= n:
                break
            if count == before:
                delay *= 1.6
            else:
                mid += 1
                if mid >= 4:
                    break
            before = count
        sys.stderr.write("\n  kill -9 history (delay s, exit, records): %s\n" % history)
        self.assertTrue(mid >= 1,
                        "no SIGKILL landed in the middle of an ingest (history "
                        "%s); raise PULJED_KILL_MESSAGES" % (history,))

        self.run_puljed(cfg, "--once", expect=P.EXIT_OK, timeout=300)
        self.assertEqual(self.integrity_check(db), "ok")
        recs = self.records(cfg)
        keys = [(r["uidvalidity"], r["uid"]) for r in recs]
        self.assertEqual(len(keys), len(set(keys)), "a message was recorded twice")
        self.assertEqual(set(keys), {(uidvalidity, u) for u in expected})
        for r in recs:
            self.assertIsNone(r["duplicate_of"], r["id"])
            self.assertEqual([a["sha256"] for a in r["attachments"]],
                             [expected[r["uid"]]], "uid %s" % r["uid"])
            self.assertEqual(r["status"], "accepted")
        # One more run adds nothing.
        self.run_puljed(cfg, "--once", expect=P.EXIT_OK)
        self.assertEqual(len(self.records(cfg)), n)


    # ------------------------------------------------------------ extras
    def test_k_non_ascii_mailbox(self):
        # The configured name is UTF-8; on the wire it must be IMAP's
        # modified UTF-7 (Dovecot 2.3 has no UTF8=ACCEPT).
        box = "Puljer/Ans\u00f8gninger 2022"
        dc = self.dovecot()
        dc.create_mailbox(box)
        uids = [dc.append(box, M.application("Kommune %d" % i, M.fake_pdf(600, seed=i)),
                          ON_TIME) for i in range(2)]
        dc.append("INBOX", M.application("Ikke her", M.fake_pdf(600, seed=9)), ON_TIME)
        v1 = dc.uidvalidity(box)
        dc.close_client()
        cfg = self.config(dc, mailbox=box)
        self.run_puljed(cfg, "--once", expect=P.EXIT_OK)
        recs = self.records(cfg)
        self.assertEqual(sorted(r["uid"] for r in recs), uids)
        for r in recs:
            self.assertEqual(r["mailbox"], box)
            self.assertEqual(r["uidvalidity"], v1)

    def test_k_uidvalidity_change(self):
        # The mailbox is deleted and re-created: a new UIDVALIDITY, UIDs
        # starting at 1 again.  A message that comes back keeps its one
        # record (re-keyed, evidence kept); new messages are recorded; old
        # records stay.
        box = "Puljer/Ansoegninger"
        dc = self.dovecot()
        dc.create_mailbox(box)
        old_raws = [M.application("Gammel %d" % i, M.fake_pdf(600, seed=i)) for i in range(3)]
        old_uids = [dc.append(box, raw, ON_TIME) for raw in old_raws]
        v1 = dc.uidvalidity(box)
        dc.close_client()
        cfg = self.config(dc, mailbox=box)
        self.run_puljed(cfg, "--once", expect=P.EXIT_OK)
        before = {r["uid"]: r for r in self.records(cfg)}
        self.assertEqual(len(before), 3)

        dc.delete_mailbox(box)
        time.sleep(1.1)  # Dovecot's UIDVALIDITY is time based
        dc.create_mailbox(box)
        # The first old message comes back (restored, with a later
        # INTERNALDATE), then two new ones.
        back = dc.append(box, old_raws[0], "2022-07-05T09:00:00+02:00")
        new_uids = [dc.append(box, M.application("Ny %d" % i, M.fake_pdf(600, seed=20 + i)),
                              ON_TIME) for i in range(2)]
        v2 = dc.uidvalidity(box)
        self.assertNotEqual(v1, v2)
        self.assertEqual([back] + new_uids, [1, 2, 3])
        dc.close_client()
        self.run_puljed(cfg, "--once", expect=P.EXIT_OK)
        recs = self.records(cfg)
        keys = sorted((r["uidvalidity"], r["uid"]) for r in recs)
        self.assertEqual(keys, sorted([(v1, u) for u in old_uids[1:]] + [(v2, back)] +
                                      [(v2, u) for u in new_uids]))
        self.assertEqual(len(recs), 5, "a message that came back was recorded twice")
        rekeyed = [r for r in recs if (r["uidvalidity"], r["uid"]) == (v2, back)][0]
        orig = before[old_uids[0]]
        self.assertEqual(rekeyed["id"], orig["id"])
        self.assertEqual(rekeyed["sha256"], orig["sha256"])
        self.assertEqual(rekeyed["received_at"], orig["received_at"], "the first arrival is the evidence")
        self.assertIsNone(rekeyed["duplicate_of"])
        shown = json.loads(self.run_ctl(cfg, "show", str(rekeyed["id"]), "--json").stdout)
        shown = shown[0] if isinstance(shown, list) else shown
        self.assertEqual(shown["prior_keys"], "%d:%d" % (v1, old_uids[0]))
        for r in recs:
            self.assertEqual(r["mailbox"], box)

    def test_l_password_file_problems(self):
        dc = self.dovecot()
        dc.close_client()
        missing = self.path("no-such-password-file")
        cfg = self.config(dc, name="missing.conf", password_file=missing)
        mark = dc.log_mark()
        r = self.run_puljed(cfg, "--once")
        self.assertEqual(r.returncode, P.EXIT_CONFIG, r.describe())
        self.assertIn("password_file", r.stderr)
        self.assertEqual(dc.login_lines(mark), [], "connected without a password")
        empty = self.path("empty-password")
        open(empty, "w").close()
        cfg = self.config(dc, name="empty.conf", password_file=empty)
        r = self.run_puljed(cfg, "--once")
        self.assertEqual(r.returncode, P.EXIT_CONFIG, r.describe())
        self.assertEqual(dc.login_lines(mark), [])

    def test_m_silent_server_times_out(self):
        # A server that accepts the TCP connection and never says anything:
        # puljed gives up after [imap] timeout with exit 3.
        with SilentServer() as silent:
            port = silent.port
            dc = self.dovecot(start=False)
            dc.imaps_port = dc.imap_port = port
            for security in ("tls", "starttls"):
                with self.subTest(security=security):
                    cfg = self.config(dc, security=security, port=port,
                                      groups={"imap": {"timeout": 2}})
                    t0 = time.monotonic()
                    r = self.run_puljed(cfg, "--once", timeout=60)
                    took = time.monotonic() - t0
                    self.assertEqual(r.returncode, P.EXIT_NETWORK, r.describe())
                    self.assertRegex(r.stderr, re.compile(r"time", re.I))
                    self.assertLess(took, 20, "timeout = 2 took %.1fs" % took)
            self.assertTrue(silent.connections, "puljed never connected")


    def test_n_too_large_message(self):
        # Over [limits] max_message_size: recorded (so nothing is lost) but
        # without its body, and flagged for a person.
        dc = self.dovecot()
        big = M.fake_pdf(300 * 1024, seed=5)
        small = M.fake_pdf(1000, seed=6)
        u_big = dc.append("INBOX", M.application("Stor Kommune", big), ON_TIME)
        u_small = dc.append("INBOX", M.application("Lille Kommune", small), ON_TIME)
        dc.close_client()
        cfg = self.config(dc, groups={"limits": {"max_message_size": "64K"}})
        self.run_puljed(cfg, "--once", expect=P.EXIT_OK)
        recs = {r["uid"]: r for r in self.records(cfg)}
        self.assertEqual(set(recs), {u_big, u_small})
        self.assertEqual(recs[u_big]["status"], "review", recs[u_big])
        self.assertEqual(recs[u_big]["applicant"], "Stor Kommune")
        self.assertEqual(recs[u_small]["status"], "accepted")
        self.assertEqual(recs[u_small]["attachments"][0]["sha256"], M.sha256(small))
        # Still recorded exactly once on the next run.
        self.run_puljed(cfg, "--once", expect=P.EXIT_OK)
        self.assertEqual(len(self.records(cfg)), 2)

    def test_n_prefetch_settings_agree(self):
        # Fetching ahead changes when a message is fetched, never what is
        # recorded or in which order: no prefetch, one message at a time
        # (every message is bigger than 1K, so each is fetched alone), 1M
        # and the default give the same records, ids and watermark
        # included.  Where the body is held differs too: a message up to
        # 1/16 of prefetch stays in memory, a larger one goes to the spool
        # file as it arrives, what came first included (prefetch 0 and 1K:
        # every message spooled; 1M: 1.2 and 27 KB messages in memory, the
        # 200 KB ones spooled after their first 64 KB; default: all in
        # memory).
        dc = self.dovecot()
        rng = random.Random(11)
        uids = []
        for i in range(40):
            size = rng.choice([900, 20 * 1024, 150 * 1024, 400 * 1024])
            raw = M.application("Kommune %d" % i, M.fake_pdf(size, seed=100 + i))
            uids.append(dc.append("INBOX", raw, "2022-06-%02dT10:00:00+02:00" % (1 + i % 28)))
        dc.close_client()
        seen = {}
        for prefetch in ["0", "1K", "1M", None]:
            db = self.path("prefetch-%s.db" % (prefetch or "default"))
            groups = {"limits": {"max_message_size": "300K"}}
            if prefetch is not None:
                groups["limits"]["prefetch"] = prefetch
            cfg = self.config(dc, name="prefetch-%s.conf" % (prefetch or "default"),
                              database=db, groups=groups)
            self.run_puljed(cfg, "--once", expect=P.EXIT_OK)
            recs = self.records(cfg, db=db)
            for r in recs:
                r.pop("recorded_at", None)
            self.assertEqual(sorted(r["uid"] for r in recs), sorted(uids))
            self.assertEqual([r["uid"] for r in sorted(recs, key=lambda r: r["id"])], uids,
                             "records not committed in UID order")
            status = json.loads(self.run_ctl(cfg, "status", "--json", db=db).stdout)
            self.assertEqual(status["mailboxes"][0]["last_uid"], max(uids))
            seen[prefetch or "default"] = recs
        too_large = [r for r in seen["0"] if "too-large" in (r.get("flags") or "")]
        self.assertTrue(too_large, "no message went over max_message_size")
        self.assertEqual(seen["1K"], seen["0"])
        self.assertEqual(seen["1M"], seen["0"])
        self.assertEqual(seen["default"], seen["0"])

    def test_o_daemon_polls_and_stops_on_sigterm(self):
        dc = self.dovecot()
        dc.append("INBOX", M.application("Foerste", M.fake_pdf(700, seed=1)), ON_TIME)
        cfg = self.config(dc, poll_interval=1)
        # No --once: the polling daemon.  Its log goes to a file, not a pipe
        # nobody reads.
        errf = open(self.path("daemon.stderr"), "w+b")
        self.addCleanup(errf.close)
        proc = P.spawn_puljed(cfg, stdout=errf, stderr=errf)
        try:
            def wait_for(count, timeout=20.0):
                deadline = time.monotonic() + timeout
                while time.monotonic() < deadline:
                    if proc.poll() is not None:
                        break
                    if os.path.exists(self.path("puljed.db")) and \
                            len(self.records(cfg)) >= count:
                        return True
                    time.sleep(0.25)
                return False
            self.assertTrue(wait_for(1), "daemon did not record the first message")
            uid2 = dc.append("INBOX", M.application("Anden", M.fake_pdf(700, seed=2)),
                             "2022-06-16T09:00:00+02:00")
            self.assertTrue(wait_for(2), "daemon did not pick up a new message")
            self.assertIn(uid2, [r["uid"] for r in self.records(cfg)])
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except Exception:
                self.fail("puljed did not stop within 15 s of SIGTERM")
            errf.seek(0)
            res = P.Result(["puljed", "(daemon)"], proc.returncode, "",
                           errf.read().decode("utf-8", "replace"))
            self.runs.append(res)
            self.check_no_secret(res)
            self.assertEqual(proc.returncode, 0, res.describe())
        finally:
            if proc.poll() is None:
                P.kill9(proc)
                proc.wait()
        self.assertEqual(len(self.records(cfg)), 2)


if __name__ == "__main__":
    unittest.main(verbosity=2)
