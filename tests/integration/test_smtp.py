#!/usr/bin/python3
"""The smtp module (src/smtp.c, driven by tests/smtp-send.c) against a real
Postfix from Debian on loopback (harness.postfix) that authenticates with
Dovecot's auth service and delivers over LMTP into the test Dovecot, where
the delivered mail is read back over IMAP as the recipient.  Faults Postfix
will not produce (an endless reply line, a greeting that never comes, a
STARTTLS reply injection) come from harness.fakesmtp.

Needs PULJED_SMTP_SEND (and, for the base class, PULJED and PULJECTL).
Run:  PULJED=build/src/puljed PULJECTL=build/src/puljectl \\
      PULJED_SMTP_SEND=build/tests/smtp-send \\
      /usr/bin/python3 tests/integration/test_smtp.py [-k name]
"""

import os
import re
import signal
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from harness.dovecot import unused_port  # noqa: E402
from harness.fakesmtp import FakeSmtp  # noqa: E402
from harness.postfix import Postfix  # noqa: E402
from harness.proxy import TlsDripProxy  # noqa: E402
from harness.testcase import PuljedTestCase  # noqa: E402

APPLICANT = "ansoeger@example.org"
SENDER = "puljer@sum.dk"

# LF line ends (the module makes them CRLF); lines starting with '.', a
# line of only '.', and 8-bit UTF-8 in the body.
MESSAGE = (
    "From: Puljesekretariatet <puljer@sum.dk>\n"
    "To: <ansoeger@example.org>\n"
    "Subject: Kvittering for modtaget ansoegning\n"
    "Message-ID: <receipt.1.42.test@sum.dk>\n"
    "Date: Mon, 07 Dec 2026 12:00:00 +0000\n"
    "Auto-Submitted: auto-replied\n"
    "MIME-Version: 1.0\n"
    "Content-Type: text/plain; charset=utf-8\n"
    "Content-Transfer-Encoding: 8bit\n"
    "\n"
    "Vi har modtaget din ansøgning.\n"
    ".Denne linje starter med et punktum\n"
    "..og denne med to\n"
    ".\n"
    "Reference: PJ-000042\n"
)


def send_bin():
    path = os.environ.get("PULJED_SMTP_SEND")
    if not path:
        raise RuntimeError("PULJED_SMTP_SEND is not set (path of build/tests/smtp-send)")
    return path


class SmtpBase(PuljedTestCase):
    """Postfix + Dovecot per test (fresh ports), and smtp-send."""

    def dovecot_options(self):
        return {}

    def setUp(self):
        super().setUp()
        self.dc = self.dovecot(lmtp=True, auth_inet=True, users={APPLICANT: None},
                               **self.dovecot_options())
        self.pf = Postfix(self.dc)
        self.addCleanup(self._stop_postfix)
        self.msg_path = self.path("message.eml")
        with open(self.msg_path, "w", encoding="utf-8") as f:
            f.write(MESSAGE)

    def _stop_postfix(self):
        if self._failed():
            sys.stderr.write("\n--- Postfix log (%s):\n%s\n" % (self.pf.dir, self.pf.log_text()[-6000:]))
        self.pf.cleanup()

    def send(self, port, security="starttls", ca_file=None, username=None, password_file=None,
             auth="plain", to=APPLICANT, host="127.0.0.1", timeout_ms=10000, count=1):
        """Runs smtp-send; (result name, code, errmsg, usable, elapsed s, stdout)."""
        args = [send_bin(), host, str(port), security,
                ca_file if ca_file is not None else self.pf.ca_file,
                username if username is not None else self.dc.username,
                password_file if password_file is not None else self.dc.password_file,
                auth, SENDER, to, self.msg_path]
        env = dict(os.environ, SMTP_SEND_TIMEOUT_MS=str(timeout_ms), SMTP_SEND_COUNT=str(count))
        t0 = time.monotonic()
        p = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, timeout=120)
        elapsed = time.monotonic() - t0
        out = p.stdout.decode("utf-8", "replace")
        err = p.stderr.decode("utf-8", "replace")
        for secret in self.secrets + [self.dc.password]:
            self.assertNotIn(secret, out + err, "the secret in smtp-send's output")
        m = re.match(r"(\S+) code=(\d+): (.*)", out)
        self.assertIsNotNone(m, "unexpected smtp-send output: %r %r" % (out, err))
        usable = "usable=yes" in out
        self.assertEqual(p.returncode == 0, m.group(1) == "SMTP_OK", out)
        return m.group(1), int(m.group(2)), m.group(3), usable, elapsed, out

    def expected_body(self):
        return MESSAGE.replace("\n", "\r\n").encode("utf-8")

    def assert_delivered_intact(self, n=1):
        got = self.pf.wait_delivered(APPLICANT, n)
        self.assertEqual(len(got), n)
        for raw in got:
            # Postfix and Dovecot prepend their Received (and Return-Path,
            # Delivered-To) headers; everything we sent follows unchanged.
            self.assertTrue(raw.endswith(self.expected_body()), raw)
            self.assertIn(b"\r\n.Denne linje starter med et punktum\r\n..og denne med to\r\n.\r\n"
                          b"Reference: PJ-000042\r\n", raw)
            self.assertIn("Vi har modtaget din ansøgning.".encode("utf-8"), raw)
        return got


class SmtpTest(SmtpBase):

    # ------------------------------------------------------------ delivered
    def test_starttls_auth_plain_delivered(self):
        mark = self.pf.log_mark()
        r, code, err, usable, _t, out = self.send(self.pf.submission_port, auth="plain")
        self.assertEqual(r, "SMTP_OK", out)
        self.assertEqual(code, 250)
        self.assertTrue(usable)
        self.assert_delivered_intact()
        self.assertTrue(self.pf.wait_for_log(r"sasl_method=PLAIN, sasl_username=%s" % self.dc.username, mark))
        lines = self.pf.disconnect_lines(mark)
        self.assertEqual(len(lines), 1, lines)
        self.assertIn("ehlo=2 starttls=1 auth=1 mail=1 rcpt=1 data=1 quit=1", lines[0])

    def test_starttls_auth_login_delivered(self):
        mark = self.pf.log_mark()
        r, code, err, _u, _t, out = self.send(self.pf.submission_port, auth="login")
        self.assertEqual(r, "SMTP_OK", out)
        self.assert_delivered_intact()
        self.assertTrue(self.pf.wait_for_log(r"sasl_method=LOGIN, sasl_username=%s" % self.dc.username, mark))

    def test_implicit_tls_record_trickled_past_the_timeout(self):
        # Below TLS, Postfix's records arrive a byte every 0.1 s: each byte
        # within the 1.5 s timeout, a whole record taking many seconds.
        # The reply's deadline holds inside a record too.
        with TlsDripProxy(self.pf.smtps_port, after=1, interval=0.1) as proxy:
            r, _code, _err, _u, elapsed, out = self.send(proxy.port, security="tls", timeout_ms=1500)
            dripped = proxy.dripped
        self.assertEqual(r, "SMTP_E_TIMEOUT", out)
        self.assertGreater(dripped, 0, "the proxy never dripped")
        self.assertLess(elapsed, 6.0, "a trickled TLS record held the client %.1f s" % elapsed)
        self.assertEqual(self.pf.delivered(APPLICANT), [])

    def test_implicit_tls_delivered(self):
        mark = self.pf.log_mark()
        r, code, err, _u, _t, out = self.send(self.pf.smtps_port, security="tls")
        self.assertEqual(r, "SMTP_OK", out)
        self.assert_delivered_intact()
        lines = self.pf.disconnect_lines(mark)
        self.assertEqual(len(lines), 1, lines)
        self.assertIn("ehlo=1 auth=1 mail=1 rcpt=1 data=1 quit=1", lines[0])
        self.assertNotIn("starttls", lines[0])

    def test_several_messages_one_session(self):
        r, code, err, _u, _t, out = self.send(self.pf.submission_port, count=3)
        self.assertEqual(r, "SMTP_OK", out)
        self.assert_delivered_intact(3)

    # ---------------------------------------------------- refused servers
    def assert_no_auth_no_mail(self, mark):
        self.assertEqual(self.pf.auth_attempt_lines(mark), [])
        self.assertEqual(self.dc.auth_attempt_lines(), [])
        for line in self.pf.disconnect_lines(mark):
            self.assertNotIn("auth=", line)
            self.assertNotIn("mail=", line)
        self.assertEqual(self.pf.delivered(APPLICANT), [])

    def test_wrong_host_certificate_refused_before_auth(self):
        mark = self.pf.log_mark()
        r, code, err, _u, _t, out = self.send(self.pf.wronghost_port)
        self.assertEqual(r, "SMTP_E_CERTIFICATE", out)
        self.assertIn("certificate", err)
        self.assertTrue(self.pf.wait_for_log(r"disconnect from .*\[127\.0\.0\.1\]", mark))
        self.assert_no_auth_no_mail(mark)

    def test_unknown_ca_refused_before_auth(self):
        mark = self.pf.log_mark()
        # The server's certificate is fine; the client trusts another CA.
        r, code, err, _u, _t, out = self.send(self.pf.submission_port, ca_file=self.pf.certs.unknown_cert)
        self.assertEqual(r, "SMTP_E_CERTIFICATE", out)
        self.assertTrue(self.pf.wait_for_log(r"disconnect from .*\[127\.0\.0\.1\]", mark))
        self.assert_no_auth_no_mail(mark)

    def test_unknown_ca_implicit_tls_refused(self):
        mark = self.pf.log_mark()
        r, code, err, _u, _t, out = self.send(self.pf.smtps_port, security="tls",
                                              ca_file=self.pf.certs.unknown_cert)
        self.assertEqual(r, "SMTP_E_CERTIFICATE", out)
        self.assert_no_auth_no_mail(mark)

    def test_starttls_not_offered_refused(self):
        mark = self.pf.log_mark()
        r, code, err, _u, _t, out = self.send(self.pf.plain_port)
        self.assertEqual(r, "SMTP_E_PROTOCOL", out)
        self.assertIn("STARTTLS", err)
        self.assertTrue(self.pf.wait_for_log(r"disconnect from .*\[127\.0\.0\.1\]", mark))
        lines = self.pf.disconnect_lines(mark)
        self.assertEqual(len(lines), 1, lines)
        # Only EHLO was said in plaintext: no AUTH, no MAIL, no STARTTLS.
        self.assertRegex(lines[0], r"disconnect from \S+ ehlo=1 commands=1$")
        self.assert_no_auth_no_mail(mark)

    def test_wrong_password(self):
        bad = self.path("bad-password")
        with open(bad, "w") as f:
            f.write("Wrong-" + self.dc.password + "\n")
        self.secrets.append("Wrong-" + self.dc.password)
        r, code, err, _u, _t, out = self.send(self.pf.submission_port, password_file=bad)
        self.assertEqual(r, "SMTP_E_AUTH", out)
        self.assertIn("535", err)
        self.assertEqual(self.pf.delivered(APPLICANT), [])

    def test_wrong_password_login(self):
        bad = self.path("bad-password")
        with open(bad, "w") as f:
            f.write("Wrong-" + self.dc.password + "\n")
        self.secrets.append("Wrong-" + self.dc.password)
        r, code, err, _u, _t, out = self.send(self.pf.submission_port, password_file=bad, auth="login")
        self.assertEqual(r, "SMTP_E_AUTH", out)
        self.assertIn("535", err)

    # ------------------------------------------------------ answers to RCPT
    def test_temporary_then_accepted(self):
        self.pf.set_recipient(APPLICANT, "450 4.2.0 try later")
        r, code, err, usable, _t, out = self.send(self.pf.submission_port)
        self.assertEqual(r, "SMTP_E_TEMPORARY", out)
        self.assertEqual(code, 450)
        self.assertIn("RCPT TO: 450 4.2.0", err)
        self.assertIn("try later", err)
        self.assertTrue(usable, "RSET after a 4xx keeps the session")
        self.pf.clear_recipient(APPLICANT)
        r, code, err, _u, _t, out = self.send(self.pf.submission_port)
        self.assertEqual(r, "SMTP_OK", out)
        self.assertEqual(code, 250)
        self.assert_delivered_intact(1)

    def test_permanent_with_server_words(self):
        self.pf.set_recipient(APPLICANT, "550 5.1.1 no such user")
        mark = self.pf.log_mark()
        r, code, err, usable, _t, out = self.send(self.pf.submission_port)
        self.assertEqual(r, "SMTP_E_PERMANENT", out)
        self.assertEqual(code, 550)
        self.assertRegex(err, r"^RCPT TO: 550 5\.1\.1 .*no such user")
        self.assertTrue(usable)
        lines = self.pf.disconnect_lines(mark)
        self.assertEqual(len(lines), 1, lines)
        self.assertIn("rcpt=0/1", lines[0])
        self.assertIn("rset=1", lines[0])
        self.assertEqual(self.pf.delivered(APPLICANT), [])

    # ------------------------------------------------------------ server down
    def test_server_down_then_up(self):
        port = self.pf.submission_port
        self.pf.stop()
        r, code, err, _u, elapsed, out = self.send(port)
        self.assertEqual(r, "SMTP_E_CONNECT", out)
        self.assertLess(elapsed, 2.0)
        self.pf.start()
        self.assertEqual(self.pf.submission_port, port)
        r, code, err, _u, _t, out = self.send(port)
        self.assertEqual(r, "SMTP_OK", out)
        self.assert_delivered_intact(1)

    def test_nothing_listens(self):
        r, code, err, _u, elapsed, out = self.send(unused_port())
        self.assertEqual(r, "SMTP_E_CONNECT", out)
        self.assertLess(elapsed, 2.0)


class XOAuth2SmtpTest(SmtpBase):
    """AUTH XOAUTH2 through Postfix to Dovecot's oauth2 passdb, which asks a
    local introspection endpoint (harness.oauth2) about the token."""

    def dovecot_options(self):
        self.idp = self.oauth2_endpoint()
        return {"oauth2": self.idp}

    def test_xoauth2_delivered(self):
        token = self.issue_token(self.idp, self.dc.username)
        tf = self.write_token(self.path("token"), token)
        mark = self.pf.log_mark()
        r, code, err, _u, _t, out = self.send(self.pf.submission_port, password_file=tf, auth="xoauth2")
        self.assertEqual(r, "SMTP_OK", out)
        self.assertIn(token, self.idp.seen)
        self.assert_delivered_intact()
        self.assertTrue(self.pf.wait_for_log(r"sasl_method=XOAUTH2, sasl_username=%s" % self.dc.username, mark))

    def test_xoauth2_revoked_token(self):
        token = self.issue_token(self.idp, self.dc.username)
        self.idp.revoke(token)
        tf = self.write_token(self.path("token"), token)
        r, code, err, _u, _t, out = self.send(self.pf.submission_port, password_file=tf, auth="xoauth2")
        self.assertEqual(r, "SMTP_E_AUTH", out)
        self.assertIn("535", err)
        self.assertEqual(self.pf.delivered(APPLICANT), [])


class HostileSmtpTest(PuljedTestCase):
    """Faults from a scripted server (harness.fakesmtp)."""

    def run_fake(self, fault, timeout_ms=2000, **kw):
        srv = FakeSmtp(fault, **kw)
        self.addCleanup(srv.close)
        msg = self.path("m.eml")
        with open(msg, "w") as f:
            f.write("Subject: x\n\nbody\n")
        pw = self.path("pw")
        with open(pw, "w") as f:
            f.write("Hostile-Secret-123\n")
        t0 = time.monotonic()
        p = subprocess.run([send_bin(), "127.0.0.1", str(srv.port), "starttls", "-", "rbj", pw, "plain",
                            SENDER, APPLICANT, msg],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60,
                           env=dict(os.environ, SMTP_SEND_TIMEOUT_MS=str(timeout_ms)))
        elapsed = time.monotonic() - t0
        out = p.stdout.decode("utf-8", "replace")
        self.assertNotEqual(p.returncode, 0, out)
        self.assertNotIn("Hostile-Secret-123", out)
        # Nothing after EHLO/STARTTLS may reach a server that failed us.
        for conn in srv.lines:
            for line in conn:
                self.assertNotRegex(line, rb"^(AUTH|MAIL|RCPT|DATA)", srv.lines)
        return out.split(" ", 1)[0], out, elapsed, srv

    def test_greeting_never_comes(self):
        r, out, elapsed, _srv = self.run_fake("silent", timeout_ms=1000)
        self.assertEqual(r, "SMTP_E_TIMEOUT", out)
        self.assertLess(elapsed, 3.0)

    def test_greeting_dripped_past_the_timeout(self):
        r, out, elapsed, _srv = self.run_fake("drip", timeout_ms=1500, drip=0.3)
        self.assertEqual(r, "SMTP_E_TIMEOUT", out)
        self.assertLess(elapsed, 4.0)

    def test_endless_reply_line(self):
        r, out, elapsed, srv = self.run_fake("endless-line")
        self.assertEqual(r, "SMTP_E_PROTOCOL", out)
        self.assertIn("longer than", out)
        self.assertLess(elapsed, 3.0)

    def test_endless_continuation_lines(self):
        r, out, elapsed, _srv = self.run_fake("many-lines")
        self.assertEqual(r, "SMTP_E_PROTOCOL", out)
        self.assertLess(elapsed, 3.0)

    def test_starttls_reply_injection_refused(self):
        r, out, _elapsed, srv = self.run_fake("starttls-inject")
        self.assertEqual(r, "SMTP_E_PROTOCOL", out)
        self.assertIn("after its STARTTLS reply", out)

    def test_cancelled_while_waiting(self):
        """SIGTERM (the daemon's handler sets the cancel flag) ends a wait for
        a greeting that never comes at once, not at the timeout."""
        srv = FakeSmtp("silent")
        self.addCleanup(srv.close)
        msg = self.path("m.eml")
        with open(msg, "w") as f:
            f.write("Subject: x\n\nbody\n")
        p = subprocess.Popen([send_bin(), "127.0.0.1", str(srv.port), "starttls", "-", "-", "-", "none",
                              SENDER, APPLICANT, msg], stdout=subprocess.PIPE,
                             env=dict(os.environ, SMTP_SEND_TIMEOUT_MS="30000"))
        deadline = time.monotonic() + 10
        while not srv.lines and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.3)
        t0 = time.monotonic()
        p.send_signal(signal.SIGTERM)
        out = p.communicate(timeout=10)[0].decode()
        self.assertLess(time.monotonic() - t0, 2.0)
        self.assertTrue(out.startswith("SMTP_E_CANCELLED"), out)

    def test_refusal_text_made_printable(self):
        r, out, _elapsed, _srv = self.run_fake("refuse-binary")
        self.assertEqual(r, "SMTP_E_PERMANENT", out)
        line = out.splitlines()[0]
        self.assertIn("greeting: 554 5.3.2  [31mgo? away 5.3.2 line two", line)
        self.assertTrue(all(" " <= ch <= "~" for ch in line), repr(line))

    def test_connection_lost(self):
        r, out, _elapsed, srv = self.run_fake("drop-at-starttls")
        self.assertEqual(r, "SMTP_E_NETWORK", out)
        self.assertIn("closed the connection", out)

    def test_starttls_not_offered_nothing_sent(self):
        r, out, _elapsed, srv = self.run_fake("no-starttls")
        self.assertEqual(r, "SMTP_E_PROTOCOL", out)
        self.assertEqual([line.split(b" ")[0] for line in srv.lines[0]], [b"EHLO"])


if __name__ == "__main__":
    unittest.main(verbosity=2)
