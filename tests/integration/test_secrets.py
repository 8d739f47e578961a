#!/usr/bin/python3
"""The password stays secret (issue 15, part 4), against a real Dovecot:

* a core of the running daemon holds no password: the installed puljed is
  not dumpable (SIGSEGV with cores enabled writes no core), and the secret
  buffers are wiped once a connection is logged in -- checked on a core of
  puljed-crashtest, which honours PULJED_DUMPABLE=1 (the installed binary
  does not), taken while the daemon idles between polls;
* password_file and token_file are refused when others could write them or
  they belong to someone else (a symlink is judged by its target), with a
  warning when everyone may read them;
* TLS 1.0-only servers, servers that offer only static-RSA key exchange and
  RSA keys under 2048 bits are refused before any credential is sent;
  [imap] tls_priority overrides that for an old server.

Needs PULJED, PULJECTL and PULJED_CRASHTEST in the environment.
Run:  PULJED=build/src/puljed PULJECTL=build/src/puljectl \\
      PULJED_CRASHTEST=build/src/puljed-crashtest \\
      /usr/bin/python3 tests/integration/test_secrets.py [-k name]
"""

import base64
import glob
import os
import re
import resource
import secrets
import signal
import ssl
import sys
import time
import unittest
import warnings

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from harness import messages as M  # noqa: E402
from harness import puljed as P  # noqa: E402
from harness.daemon import Daemon  # noqa: E402
from harness.testcase import PuljedTestCase  # noqa: E402

ON_TIME = "2022-06-15T10:00:00+02:00"
DEFAULT_PRIORITY = "SECURE128:-VERS-TLS1.0:-VERS-TLS1.1:-RSA:%PROFILE_MEDIUM"



crashtest_path = P.crashtest_path


def sanitized(path):
    """A sanitizer build (ASan, TSan): its core would hold terabytes of
    reserved shadow and allocator space, and ASan turns cores off itself,
    so the core tests run on the normal build only."""
    with open(path, "rb") as f:
        data = f.read()
    return b"__asan_init" in data or b"__tsan_init" in data


def pieces_in(core, secret, n=10):
    """Where any N bytes in a row of SECRET are in CORE: a list of the
    first few places, each with the bytes around it (to tell the buffer)."""
    out = []
    for start in range(0, len(secret) - n + 1):
        i = core.find(secret[start:start + n])
        if i >= 0:
            out.append("bytes %d-%d of %r... at offset %d: %r" % (
                start, start + n, secret[:6], i, core[max(0, i - 32):i + n + 32]))
            if len(out) >= 4:
                break
    return out


class SecretsTest(PuljedTestCase):

    def setUp(self):
        super().setUp()
        soft, hard = resource.getrlimit(resource.RLIMIT_CORE)
        self.addCleanup(resource.setrlimit, resource.RLIMIT_CORE, (soft, hard))

    # ------------------------------------------------------------ helpers
    def old_server(self, dc, **kw):
        """A TLS proxy in front of DC (harness.recorder) as an old server."""
        with warnings.catch_warnings():
            # ssl.TLSVersion.TLSv1 is deprecated in Python: the point here.
            warnings.simplefilter("ignore", DeprecationWarning)
            return self.imap_recorder(dc, **kw)

    def mailbox(self, dc, n=1):
        for i in range(n):
            dc.append("INBOX", M.application("Region %d" % i, M.fake_pdf(600, seed=300 + i)), ON_TIME)
        dc.close_client()

    def no_credential_sent(self, dc, rec, mark):
        """Nothing reached Dovecot, and no client line left the TLS proxy."""
        self.assertEqual([l for c in rec.lines for l in c], [], "puljed sent IMAP commands")
        self.assertEqual(dc.login_lines(mark), [], dc.log_text(mark))
        self.assertEqual(dc.auth_attempt_lines(mark), [], dc.log_text(mark))

    def core_of_idle_daemon(self, cfg, binary, name, env=None, db=None, ready=None):
        """Starts BINARY as the polling daemon with cores enabled, waits until
        it idles after its first poll (and READY() is true, when given), kills
        it with SIGSEGV and returns (the core's bytes or None, the daemon)."""
        cwd = self.path("cwd-" + name)
        os.mkdir(cwd)
        resource.setrlimit(resource.RLIMIT_CORE, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
        d = self.spawn_daemon(cfg, name=name, binary=binary, cwd=cwd, extra_env=env)
        self.assertIsNotNone(d.notify.wait_for(re.compile(r"^STATUS=Idle"), timeout=30), d.describe())
        # Between polls: the connection is logged in and IDLEs.
        self.assertEqual(len(self.records(cfg, db=db)), 1, d.describe())
        deadline = time.monotonic() + 10
        while ready and not ready() and time.monotonic() < deadline:
            time.sleep(0.05)
        d.signal(signal.SIGSEGV)
        self.assertEqual(d.wait(60), -signal.SIGSEGV, d.describe())
        cores = glob.glob(os.path.join(cwd, "core*"))
        if not cores:
            return None, d
        with open(cores[0], "rb") as f:
            return f.read(), d

    def check_core_pattern(self):
        if sanitized(crashtest_path()) or sanitized(P.puljed_path()):
            self.skipTest("sanitizer build: cores are tested on the normal build")
        with open("/proc/sys/kernel/core_pattern") as f:
            pattern = f.read().strip()
        # A core handler (systemd-coredump, apport) would take the core away
        # from the working directory: the test must know where it goes.
        self.assertFalse(pattern.startswith("|"),
                         "kernel.core_pattern is a pipe (%s): the core tests need a plain file "
                         "name such as \"core\"" % pattern)
        self.assertNotIn("/", pattern, "kernel.core_pattern %s is not relative to the working directory"
                         % pattern)

    # ------------------------------------------------------------ cores
    def test_core_not_dumpable(self):
        # With cores enabled, the installed daemon writes none (it made
        # itself non-dumpable); the crash-test build with PULJED_DUMPABLE=1
        # does, which shows that this machine would write one.
        self.check_core_pattern()
        dc = self.dovecot()
        self.mailbox(dc)
        cfg = self.config(dc)
        core, d = self.core_of_idle_daemon(cfg, P.puljed_path(), "installed")
        self.assertTrue(core is None, "puljed left a core dump (%d bytes)" % len(core or b""))
        core, d = self.core_of_idle_daemon(cfg, crashtest_path(), "crashtest")
        self.assertTrue(core is None, "puljed-crashtest without PULJED_DUMPABLE left a core dump")
        core, d = self.core_of_idle_daemon(cfg, crashtest_path(), "dumpable", env={"PULJED_DUMPABLE": "1"})
        self.assertIsNotNone(core, "no core although PULJED_DUMPABLE=1: the test proves nothing")
        self.assertGreater(len(core), 1 << 20)

    def test_core_holds_no_secret(self):
        # A core taken while the daemon idles, logged in, between polls:
        # no ten bytes in a row of the password, of its SASL PLAIN form, of
        # the token or of its XOAUTH2 form.  The secrets are long (64
        # characters) so that a copy freed without being wiped would show:
        # free() overwrites only the first 16-32 bytes of a chunk.
        self.check_core_pattern()
        idp = self.oauth2_endpoint()
        password = "Pw-" + secrets.token_hex(32)[:61]
        dc = self.dovecot(oauth2=idp, password=password)
        self.mailbox(dc)
        rec = self.imap_recorder(dc)
        token = "Tok-" + secrets.token_hex(30)
        idp.issue(dc.username, token=token)
        self.secrets.append(token)
        tf = self.write_token(self.path("token"), token)
        user, pw = dc.username.encode(), password.encode()
        plain = base64.b64encode(b"\0" + user + b"\0" + pw)
        oauth = base64.b64encode(b"user=" + user + b"\x01auth=Bearer " + token.encode() + b"\x01\x01")
        for auth, kw, secret_forms in (
                ("login", {}, [pw]),
                ("plain", {}, [pw, plain]),
                ("xoauth2", dict(token_file=tf, password_file=None), [token.encode(), oauth])):
            with self.subTest(auth=auth):
                n = len(rec.lines)
                db = self.path("%s.db" % auth)
                cfg = self.config(dc, name="%s.conf" % auth, port=rec.port, auth=auth, database=db, **kw)
                def idling(n=n):
                    # The daemon's connection has sent IDLE (it is logged in).
                    return len(rec.lines) > n and any(l.split(b" ")[1:2] == [b"IDLE"] for l in rec.lines[n])

                core, d = self.core_of_idle_daemon(cfg, crashtest_path(), auth, env={"PULJED_DUMPABLE": "1"},
                                                   db=db, ready=idling)
                self.assertIsNotNone(core, "no core written\n" + d.describe())
                verbs = [l.split(b" ")[1].upper() for l in rec.lines[n] if b" " in l]
                self.assertIn(b"LOGIN" if auth == "login" else b"AUTHENTICATE", verbs)
                self.assertIn(b"IDLE", verbs, "the daemon was not idling when the core was taken")
                found = [f for s in secret_forms for f in pieces_in(core, s)]
                self.assertEqual(found, [], "%s: the core holds the secret:\n%s" % (auth, "\n".join(found)))
                # The core is a real image of the daemon: it holds what the
                # daemon keeps (the configuration's path, the database's).
                self.assertTrue(cfg.encode() in core and db.encode() in core, "the core misses the daemon's memory")

    def test_plain_without_sasl_library(self):
        # AUTHENTICATE PLAIN is puljed's own now (no Cyrus SASL): it logs
        # in over implicit TLS and STARTTLS, and a wrong password is a
        # refused login (exit 5) with the server's reason.
        dc = self.dovecot()
        self.mailbox(dc)
        for security in ("tls", "starttls"):
            with self.subTest(security=security):
                db = self.path("%s.db" % security)
                cfg = self.config(dc, name="%s.conf" % security, security=security, auth="plain", database=db)
                mark = dc.log_mark()
                self.run_puljed(cfg, "--once", expect=P.EXIT_OK)
                self.assertEqual(len(self.records(cfg, db=db)), 1)
                self.assertTrue(dc.wait_for_log(r"Login: user=<rbj>, method=PLAIN", since=mark), dc.log_text(mark))
        wrong = "Wrong-" + dc.password[::-1]
        self.secrets.append(wrong)
        pwf = self.write_token(self.path("wrong-password"), wrong)  # mode 0600
        cfg = self.config(dc, name="wrong.conf", auth="plain", password_file=pwf, database=self.path("wrong.db"))
        r = self.run_puljed(cfg, "--once", expect=P.EXIT_AUTH)
        self.assertIn('AUTHENTICATE PLAIN as "rbj" refused', r.stderr, r.describe())

    # ------------------------------------------------------------ files
    def check_config(self, cfg, expect):
        return self.run_puljed(cfg, "--check-config", expect=expect)

    def test_secret_file_permissions(self):
        dc = self.dovecot()
        self.mailbox(dc)
        pwf = self.write_token(self.path("imap-password"), dc.password)
        cfg = self.config(dc, password_file=pwf)

        os.chmod(pwf, 0o600)
        r = self.check_config(cfg, P.EXIT_OK)
        self.assertNotIn("warning", r.output.lower(), r.describe())

        os.chmod(pwf, 0o644)
        r = self.check_config(cfg, P.EXIT_OK)
        self.assertIn("[imap] password_file", r.stderr, r.describe())
        self.assertIn("readable by everyone", r.stderr, r.describe())

        for mode, why in ((0o620, "writable by its group"), (0o602, "writable by everyone"),
                          (0o666, "writable by")):
            with self.subTest(mode=oct(mode)):
                os.chmod(pwf, mode)
                r = self.check_config(cfg, P.EXIT_CONFIG)
                self.assertIn(cfg, r.stderr, r.describe())
                self.assertIn("[imap] password_file", r.stderr, r.describe())
                self.assertIn(pwf, r.stderr, r.describe())
                self.assertIn(why, r.stderr, r.describe())
                # The daemon refuses it too, before any connection.
                mark = dc.log_mark()
                r = self.run_puljed(cfg, "--once", expect=P.EXIT_CONFIG)
                self.assertIn(why, r.stderr, r.describe())
                self.assertEqual(dc.connection_lines(mark), [], dc.log_text(mark))

        os.chmod(pwf, 0o600)
        with self.subTest(owner="someone else"):
            os.chown(pwf, 4242, os.getegid())
            r = self.check_config(cfg, P.EXIT_CONFIG)
            self.assertIn("owned by uid 4242", r.stderr, r.describe())
            os.chown(pwf, os.geteuid(), os.getegid())
            self.check_config(cfg, P.EXIT_OK)

        with self.subTest(link="to a group-writable file"):
            target = self.write_token(self.path("shared-password"), dc.password)
            os.chmod(target, 0o660)
            link = self.path("link-password")
            os.symlink(target, link)
            cfg2 = self.config(dc, name="link.conf", password_file=link)
            r = self.check_config(cfg2, P.EXIT_CONFIG)
            self.assertIn("writable by its group", r.stderr, r.describe())
            os.chmod(target, 0o600)
            self.check_config(cfg2, P.EXIT_OK)
            self.run_puljed(cfg2, "--once", expect=P.EXIT_OK)

    def test_token_file_permissions(self):
        idp = self.oauth2_endpoint()
        dc = self.dovecot(oauth2=idp)
        token = self.issue_token(idp)
        tf = self.write_token(self.path("token"), token)
        cfg = self.config(dc, auth="xoauth2", token_file=tf, password_file=None)
        self.check_config(cfg, P.EXIT_OK)
        os.chmod(tf, 0o622)
        r = self.check_config(cfg, P.EXIT_CONFIG)
        self.assertIn("[imap] token_file", r.stderr, r.describe())
        self.assertIn("writable by", r.stderr, r.describe())
        mark = dc.log_mark()
        self.run_puljed(cfg, "--once", expect=P.EXIT_CONFIG)
        self.assertEqual(dc.connection_lines(mark), [], dc.log_text(mark))

    # ------------------------------------------------------------ TLS
    def test_tls10_only_server(self):
        dc = self.dovecot()
        self.mailbox(dc)
        rec = self.old_server(dc, tls_version=ssl.TLSVersion.TLSv1)
        mark = dc.log_mark()
        cfg = self.config(dc, port=rec.port)
        r = self.run_puljed(cfg, "--once", expect=P.EXIT_TLS)
        self.assertIn("TLS handshake", r.stderr, r.describe())
        self.assertIn("tls_priority", r.stderr, r.describe())
        self.no_credential_sent(dc, rec, mark)
        self.assertEqual(self.records(cfg), [])

        # The default, written out, is the same refusal.
        cfg = self.config(dc, name="default.conf", port=rec.port, tls_priority=DEFAULT_PRIORITY)
        self.run_puljed(cfg, "--once", expect=P.EXIT_TLS)
        self.no_credential_sent(dc, rec, mark)

        # Overridden for this old server: it works.
        cfg = self.config(dc, name="old.conf", port=rec.port,
                          tls_priority="NORMAL:-VERS-ALL:+VERS-TLS1.0:%PROFILE_MEDIUM")
        self.run_puljed(cfg, "--once", expect=P.EXIT_OK)
        self.assertEqual(len(self.records(cfg)), 1)
        self.assertEqual(rec.connections, 1)

    def test_static_rsa_only_server(self):
        dc = self.dovecot()
        self.mailbox(dc)
        rec = self.old_server(dc, tls_version=ssl.TLSVersion.TLSv1_2, ciphers="AES128-GCM-SHA256")
        mark = dc.log_mark()
        cfg = self.config(dc, port=rec.port)
        self.run_puljed(cfg, "--once", expect=P.EXIT_TLS)
        self.no_credential_sent(dc, rec, mark)
        cfg = self.config(dc, name="old.conf", port=rec.port, tls_priority="NORMAL:%PROFILE_MEDIUM")
        self.run_puljed(cfg, "--once", expect=P.EXIT_OK)
        self.assertEqual(len(self.records(cfg)), 1)

    def test_rsa1024_certificate(self):
        dc = self.dovecot()
        self.mailbox(dc)
        rec = self.old_server(dc, server_pair=dc.certs.pair("weakrsa"))
        mark = dc.log_mark()
        cfg = self.config(dc, port=rec.port)
        r = self.run_puljed(cfg, "--once", expect=P.EXIT_TLS)
        self.assertIn("insecure algorithm", r.stderr, r.describe())
        self.no_credential_sent(dc, rec, mark)
        self.assertEqual(self.records(cfg), [])
        # Without the verification profile the same key is accepted: the
        # profile is what refused it.
        cfg = self.config(dc, name="old.conf", port=rec.port,
                          tls_priority="SECURE128:-VERS-TLS1.0:-VERS-TLS1.1:-RSA")
        self.run_puljed(cfg, "--once", expect=P.EXIT_OK)
        self.assertEqual(len(self.records(cfg)), 1)

    def test_bad_tls_priority(self):
        dc = self.dovecot()
        cfg = self.config(dc, tls_priority="SECURE128:+NO-SUCH-THING")
        for args in (("--check-config",), ("--once",)):
            r = self.run_puljed(cfg, *args, expect=P.EXIT_CONFIG)
            self.assertIn("[imap] tls_priority", r.stderr, r.describe())
            self.assertIn("NO-SUCH-THING", r.stderr, r.describe())


if __name__ == "__main__":
    unittest.main(verbosity=2)
