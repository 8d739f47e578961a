#!/usr/bin/python3
"""How puljed logs in ([imap] auth = login | plain | xoauth2, token_file),
against a real Dovecot; for XOAUTH2 with Dovecot's oauth2 passdb asking a
local introspection endpoint (harness.oauth2.IntrospectionServer).

Needs PULJED and PULJECTL in the environment (paths of the built binaries).
Run:  PULJED=build/src/puljed PULJECTL=build/src/puljectl \\
      /usr/bin/python3 tests/integration/test_auth.py [-k name]

Dovecot logs method=PLAIN for the LOGIN command as well as for AUTHENTICATE
PLAIN, so the command itself is checked through harness.recorder.ImapRecorder
(a TLS-terminating proxy that keeps the client's command lines).
"""

import os
import re
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from harness import messages as M  # noqa: E402
from harness import puljed as P  # noqa: E402
from harness.testcase import PuljedTestCase  # noqa: E402

ON_TIME = "2022-06-15T10:00:00+02:00"


def login_line(dc, since, method):
    """Dovecot's 'Login: user=<rbj>, method=M, rip=127.0.0.1' line or None."""
    rx = re.compile(r"imap-login: Info: Login: user=<%s>, method=%s, rip=127\.0\.0\.1,"
                    % (re.escape(dc.username), re.escape(method)))
    m = dc.wait_for_log(rx.pattern, since=since, timeout=5)
    return m


class AuthTest(PuljedTestCase):

    def app(self, i):
        return M.application("Region %d" % i, M.fake_pdf(600, seed=200 + i))

    def xoauth2_setup(self, n=1):
        """(idp, dc, token, token_file, cfg) with n messages in INBOX."""
        idp = self.oauth2_endpoint()
        dc = self.dovecot(oauth2=idp)
        self.assertIn("AUTH=XOAUTH2", dc.capabilities(login=False))
        for i in range(n):
            dc.append("INBOX", self.app(i), ON_TIME)
        dc.close_client()
        token = self.issue_token(idp)
        tf = self.write_token(self.path("token"), token)
        return idp, dc, token, tf

    def xoauth2_config(self, dc, tf, name="puljed.conf", **kw):
        return self.config(dc, name=name, auth="xoauth2", token_file=tf,
                           password_file=None, **kw)

    def assert_not_in_db(self, secret):
        db = self.path("puljed.db")
        if os.path.exists(db):
            with open(db, "rb") as f:
                self.assertNotIn(secret.encode(), f.read(), "secret stored in the database")

    # ------------------------------------------------------------ harness
    def test_0_harness(self):
        # Dovecot's oauth2 passdb against the introspection endpoint, with
        # imaplib alone; restart() keeps the ports, the mail and the log.
        idp = self.oauth2_endpoint()
        dc = self.dovecot(oauth2=idp)
        pre = dc.capabilities(login=False)
        for mech in ("AUTH=PLAIN", "AUTH=LOGIN", "AUTH=XOAUTH2", "AUTH=OAUTHBEARER"):
            self.assertIn(mech, pre)
        token = self.issue_token(idp)

        attempts = []

        def xoauth2(tok):
            # A fresh source address per attempt: no auth penalty delays.
            attempts.append(tok)
            conn = dc.connect(login=False, source_ip="127.0.0.%d" % (10 + len(attempts)))
            try:
                conn.authenticate("XOAUTH2", lambda _: (
                    "user=%s\x01auth=Bearer %s\x01\x01" % (dc.username, tok)).encode())
                conn.select("INBOX")
                return True
            except conn.error:
                return False
            finally:
                try:
                    conn.logout()
                except Exception:
                    pass

        self.assertTrue(xoauth2(token))
        self.assertEqual(idp.seen, [token])
        self.assertEqual(idp.requests[0][0], "POST")
        other = idp.issue("someone-else")
        self.assertFalse(xoauth2(other), "a token of another user was accepted")
        mark = dc.log_mark()
        ports = (dc.imap_port, dc.imaps_port)
        uid = dc.append("INBOX", self.app(0), ON_TIME)
        dc.restart()
        self.assertEqual((dc.imap_port, dc.imaps_port), ports)
        self.assertEqual(dc.uids(), [uid])  # and the password still works (LOGIN)
        self.assertIn("starting up", dc.log_text(mark))
        self.assertFalse(xoauth2(idp.new_token()), "an unknown token was accepted")
        idp.revoke(token)
        self.assertFalse(xoauth2(token), "a revoked token was accepted")

    # ------------------------------------------------------------ plain / login
    def test_a_plain_and_login(self):
        dc = self.dovecot()
        dc.append("INBOX", self.app(0), ON_TIME)
        dc.close_client()
        rec = self.imap_recorder(dc)

        # auth = plain: AUTHENTICATE PLAIN with the password, no LOGIN.
        cfg = self.config(dc, port=rec.port, auth="plain")
        mark = dc.log_mark()
        self.run_puljed(cfg, "--once", expect=P.EXIT_OK)
        self.assertEqual(len(self.records(cfg)), 1)
        verbs = rec.verbs()
        self.assertIn("AUTHENTICATE", verbs, rec.commands())
        self.assertNotIn("LOGIN", verbs, rec.commands())
        self.assertEqual(rec.commands("AUTHENTICATE")[0].split()[1], "PLAIN",
                         rec.commands("AUTHENTICATE"))
        sasl = rec.sasl_responses()
        self.assertEqual(len(sasl), 1, "SASL responses: %d" % len(sasl))
        authzid, user, pw = (sasl[0].split(b"\0") + [b"", b""])[:3]
        self.assertIn(authzid, (b"", dc.username.encode()))
        self.assertEqual(user, dc.username.encode())
        self.assertTrue(pw == dc.password.encode(), "AUTHENTICATE PLAIN did not "
                        "carry the password from password_file")
        self.assertIsNotNone(login_line(dc, mark, "PLAIN"), dc.log_text(mark))

        # auth = login (and the default): the LOGIN command, no AUTHENTICATE.
        for label, kw in (("login", dict(auth="login")), ("default", {})):
            with self.subTest(auth=label):
                n = len(rec.lines)
                cfg = self.config(dc, name="%s.conf" % label, port=rec.port, **kw)
                mark = dc.log_mark()
                self.run_puljed(cfg, "--once", expect=P.EXIT_OK)
                self.assertGreater(len(rec.lines), n)
                verbs = [v for ci, conn in enumerate(rec.lines[n:], n)
                         for v in rec.verbs(connection=ci)]
                self.assertIn("LOGIN", verbs)
                self.assertNotIn("AUTHENTICATE", verbs)
                # Dovecot logs the LOGIN command as method=PLAIN as well.
                self.assertIsNotNone(login_line(dc, mark, "PLAIN"), dc.log_text(mark))

    def test_b_plain_not_offered(self):
        # Dovecot cannot drop AUTH=PLAIN without also refusing the LOGIN
        # command, so the proxy removes it from the capability lists.
        dc = self.dovecot()
        dc.append("INBOX", self.app(0), ON_TIME)
        dc.close_client()
        rec = self.imap_recorder(dc, strip_capabilities=("AUTH=PLAIN",))
        cfg = self.config(dc, port=rec.port, auth="plain")
        mark = dc.log_mark()
        r = self.run_puljed(cfg, "--once", expect=P.EXIT_AUTH)
        self.assertRegex(r.stderr, re.compile(r"PLAIN"), r.describe())
        self.assertNotIn("AUTHENTICATE", rec.verbs(), rec.commands())
        self.assertNotIn("LOGIN", rec.verbs(), "fell back to the LOGIN command")
        self.assertEqual(dc.auth_attempt_lines(mark), [])
        self.assertEqual(self.records(cfg), [])

    # ------------------------------------------------------------ xoauth2
    def test_c_xoauth2(self):
        idp, dc, token, tf = self.xoauth2_setup(n=2)
        rec = self.imap_recorder(dc)
        cfg = self.xoauth2_config(dc, tf, port=rec.port)
        mark = dc.log_mark()
        r = self.run_puljed(cfg, "--once", expect=P.EXIT_OK)
        self.assertEqual(len(self.records(cfg)), 2)
        self.assertIsNotNone(login_line(dc, mark, "XOAUTH2"),
                             "no method=XOAUTH2 login in Dovecot's log\n"
                             + dc.log_text(mark))
        self.assertGreaterEqual(idp.asked(token), 1, "the introspection endpoint "
                                "was never asked about the token")
        self.assertEqual(rec.commands("AUTHENTICATE")[0].split()[1], "XOAUTH2")
        self.assertNotIn("LOGIN", rec.verbs())
        self.assertEqual(rec.sasl_responses()[0],
                         ("user=%s\x01auth=Bearer %s\x01\x01" % (dc.username, token)).encode())
        self.assertNotIn(token, r.output)
        for args in (("status",), ("status", "--json"), ("list",), ("list", "--json")):
            self.run_ctl(cfg, *args)  # checks every output for the token
        self.assert_not_in_db(token)

    def test_d_token_reread_between_runs(self):
        idp, dc, old, tf = self.xoauth2_setup(n=1)
        cfg = self.xoauth2_config(dc, tf)
        self.run_puljed(cfg, "--once", expect=P.EXIT_OK)
        self.assertGreaterEqual(idp.asked(old), 1)
        new = self.issue_token(idp)
        idp.revoke(old)
        self.write_token(tf, new)
        dc.append("INBOX", self.app(1), ON_TIME)
        dc.close_client()
        seen = len(idp.seen)
        self.run_puljed(cfg, "--once", expect=P.EXIT_OK)
        self.assertEqual(len(self.records(cfg)), 2)
        self.assertIn(new, idp.seen[seen:])
        self.assertNotIn(old, idp.seen[seen:], "the old token was used after the "
                         "token file was rewritten")

    def test_e_token_reread_daemon(self):
        idp, dc, old, tf = self.xoauth2_setup(n=1)
        cfg = self.xoauth2_config(dc, tf, poll_interval=300)
        d = self.spawn_daemon(cfg)
        self.assertIsNotNone(d.wait_ready(10), d.describe())
        self.assertTrue(self.wait_count(cfg, 1, 20), "first message not recorded\n"
                        + d.describe())
        self.assertGreaterEqual(idp.asked(old), 1)
        # The token is renewed (the old one revoked) and the server restarts:
        # the daemon must reconnect with what the file says now.
        new = self.issue_token(idp)
        idp.revoke(old)
        self.write_token(tf, new)
        seen = len(idp.seen)
        dc.restart()
        dc.append("INBOX", self.app(1), ON_TIME)
        dc.close_client()
        t0 = time.monotonic()
        ok = self.wait_count(cfg, 2, 30)
        took = time.monotonic() - t0
        self.assertTrue(ok, "a message appended after the restart was not recorded "
                        "within 30 s\nintrospection saw %s\n%s"
                        % (["new" if t == new else "old" if t == old else "?"
                            for t in idp.seen[seen:]], d.describe()))
        sys.stderr.write("\n  [auth] recorded %.1f s after the Dovecot restart\n" % took)
        self.assertIn(new, idp.seen[seen:])
        self.assertNotIn(old, idp.seen[seen:], "the old token was sent after the "
                         "token file was rewritten")
        self.assertTrue(d.alive, d.describe())
        rc, _ = d.terminate(10)
        self.assertEqual(rc, 0, d.describe())
        self.check_no_secret(d.result())

    def wait_count(self, cfg, n, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if os.path.exists(self.path("puljed.db")):
                r = P.puljectl(cfg, "list", "--json")
                self.check_no_secret(r)
                if r.returncode == 0 and r.stdout.count('"uid"') >= n:
                    return True
            time.sleep(0.2)
        return False

    def test_f_bad_token(self):
        idp, dc, token, tf = self.xoauth2_setup(n=1)
        for label in ("unknown", "revoked"):
            with self.subTest(token=label):
                if label == "unknown":
                    bad = idp.new_token()
                    self.secrets.append(bad)
                else:
                    bad = token
                    idp.revoke(token)
                self.write_token(tf, bad)
                cfg = self.xoauth2_config(dc, tf)
                mark = dc.log_mark()
                r = self.run_puljed(cfg, "--once", expect=P.EXIT_AUTH)
                self.assertNotIn(bad, r.output)
                self.assertGreaterEqual(idp.asked(bad), 1, "Dovecot never asked about "
                                        "the token")
                self.assertTrue(dc.wait_for_log(r"oauth2 failed|auth failed", since=mark),
                                dc.log_text(mark))
                st = self.status_json(cfg)
                self.assertIsInstance(st.get("last_error"), str, st)
                self.assertRegex(st["last_error"], re.compile(r"log ?in|authenticat", re.I))
                self.assertNotIn(bad, st["last_error"])
                self.assertEqual(self.records(cfg), [])
                self.assert_not_in_db(bad)

    def test_g_token_file_problems(self):
        idp, dc, token, tf = self.xoauth2_setup(n=1)
        a_dir = self.path("a-directory")
        os.mkdir(a_dir)
        cases = [
            ("token_file not set", dict(auth="xoauth2", password_file=None)),
            ("token_file missing", dict(auth="xoauth2", password_file=None,
                                        token_file=self.path("no-such-token"))),
            ("token_file is a directory", dict(auth="xoauth2", password_file=None,
                                               token_file=a_dir)),
        ]
        for i, (label, kw) in enumerate(cases):
            with self.subTest(case=label):
                cfg = self.config(dc, name="bad%d.conf" % i, **kw)
                mark = dc.log_mark()
                r = self.run_puljed(cfg, "--once", expect=P.EXIT_CONFIG)
                self.assertIn("[imap] token_file", r.stderr, r.describe())
                self.assertEqual(dc.connection_lines(mark), [],
                                 "a connection reached Dovecot")
                self.assertEqual(dc.auth_attempt_lines(mark), [])
        self.assertEqual(len(idp.seen), 0)

    def test_h_xoauth2_not_offered(self):
        dc = self.dovecot()  # auth_mechanisms = plain login
        self.assertNotIn("AUTH=XOAUTH2", dc.capabilities(login=False))
        dc.append("INBOX", self.app(0), ON_TIME)
        dc.close_client()
        token = "Tok-never-valid-" + dc.password[::-1]
        self.secrets.append(token)
        tf = self.write_token(self.path("token"), token)
        rec = self.imap_recorder(dc)
        cfg = self.xoauth2_config(dc, tf, port=rec.port)
        mark = dc.log_mark()
        r = self.run_puljed(cfg, "--once", expect=P.EXIT_AUTH)
        self.assertIn("XOAUTH2", r.stderr, r.describe())
        self.assertNotIn("AUTHENTICATE", rec.verbs(), rec.commands())
        self.assertNotIn("LOGIN", rec.verbs(), rec.commands())
        self.assertEqual(dc.auth_attempt_lines(mark), [])
        self.assertEqual(self.records(cfg), [])

    # ------------------------------------------------------------ config
    def test_i_config_errors(self):
        idp = self.oauth2_endpoint()
        dc = self.dovecot(oauth2=idp)
        dc.close_client()
        tf = self.write_token(self.path("token"), self.issue_token(idp))
        cases = [
            ("auth = bogus", dict(auth="bogus"), "auth"),
            ("token_file with auth = login", dict(auth="login", token_file=tf),
             "token_file"),
            ("token_file without auth (login)", dict(token_file=tf), "token_file"),
            ("token_file with auth = plain", dict(auth="plain", token_file=tf),
             "token_file"),
        ]
        for i, (label, kw, key) in enumerate(cases):
            with self.subTest(case=label):
                cfg = self.config(dc, name="bad%d.conf" % i, **kw)
                mark = dc.log_mark()
                for mode in ("--once", "--check-config"):
                    r = self.run_puljed(cfg, mode)
                    self.assertEqual(r.returncode, P.EXIT_CONFIG,
                                     "%s %s\n%s" % (label, mode, r.describe()))
                    self.assertIn("[imap]", r.stderr, label)
                    self.assertIn(key, r.stderr, label)
                self.assertEqual(dc.login_lines(mark), [], label)
        self.assertEqual(len(idp.seen), 0)
        # The valid forms pass --check-config (xoauth2 needs no password_file).
        for i, kw in enumerate([dict(auth="login"), dict(auth="plain"),
                                dict(auth="xoauth2", token_file=tf, password_file=None)]):
            with self.subTest(valid=kw):
                cfg = self.config(dc, name="good%d.conf" % i, **kw)
                self.run_puljed(cfg, "--check-config", expect=P.EXIT_OK)


if __name__ == "__main__":
    unittest.main(verbosity=2)
