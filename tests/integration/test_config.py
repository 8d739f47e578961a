#!/usr/bin/python3
"""A bad [receipts] configuration stops puljed before any network traffic
(issue 19): exit status 2 and one line on stderr naming the file, the
group and the key, whether puljed runs as the daemon, with --once or with
--check-config.  Covered: what config_load refuses (plaintext, unrelated
statuses, a From that is no address, an unknown key, a template that is not
text), and what the start refuses (the SMTP secret missing, empty as the
unit's stand-in for a missing credential file, or badly owned; a signing key
that cannot be read); and the same refused at SIGHUP, where the daemon
keeps its old configuration and runs on.  The IMAP and SMTP ports are
listening sockets that nobody answers: a connection to either would sit in
its accept queue, and the test asserts both queues are empty.

No Dovecot is needed.  Needs PULJED (and PULJECTL) in the environment.
Run:  PULJED=build/src/puljed PULJECTL=build/src/puljectl \\
      /usr/bin/python3 tests/integration/test_config.py [-k name]
"""

import os
import signal
import socket
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from harness import puljed as P  # noqa: E402
from harness.testcase import PuljedTestCase  # noqa: E402

MODES = (("daemon",), ("--once",), ("--check-config",))


class Listener:
    """A TCP socket on loopback that listens and never accepts: whatever
    connects stays in its accept queue, where connections() finds it."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]

    def connections(self):
        self.sock.setblocking(False)
        n = 0
        while True:
            try:
                conn, _ = self.sock.accept()
            except BlockingIOError:
                return n
            conn.close()
            n += 1

    def close(self):
        self.sock.close()


class ReceiptsConfigTest(PuljedTestCase):

    def setUp(self):
        super().setUp()
        self.imap = Listener()
        self.smtp = Listener()
        self.addCleanup(self.imap.close)
        self.addCleanup(self.smtp.close)
        self.imap_pw = self.secret_file("imap-pw", "imap-secret\n")
        self.secrets += ["imap-secret", "smtp-secret"]

    def secret_file(self, name, text, mode=0o600):
        path = self.path(name)
        with open(path, "w") as f:
            f.write(text)
        os.chmod(path, mode)
        return path

    def write(self, receipts, name="puljed.conf"):
        """A config whose [imap] and [receipts] point at the listeners."""
        path = self.path(name)
        with open(path, "w", encoding="utf-8") as f:
            f.write("[imap]\nhost = 127.0.0.1\nport = %d\nsecurity = tls\nusername = puljer\n"
                    "password_file = %s\ntimeout = 2\n\n[store]\ndatabase = %s\n\n"
                    "[call digitale-kompetencer-2022]\n"
                    "subject = Puljeopslag 2022: Styrkelse af digitale kompetencer\n"
                    "deadline = 2022-07-01\n\n[receipts]\nsmtp_host = 127.0.0.1\nsmtp_port = %d\n%s"
                    % (self.imap.port, self.imap_pw, self.path("puljed.db"), self.smtp.port, receipts))
        return path

    def run_mode(self, cfg, mode, env=None):
        args = [] if mode == "daemon" else [mode]
        r = P.run([P.puljed_path(), "--config", cfg] + args, timeout=30, env=env)
        self.runs.append(r)
        self.assertFalse(r.timed_out, "puljed did not stop\n" + r.describe())
        self.check_no_secret(r)
        return r

    def assert_refused(self, cfg, key, reason, env=None):
        """Exit 2 in every mode, one line naming file, [receipts] and KEY,
        no connection to either port, no database."""
        for mode in MODES:
            with self.subTest(mode=mode[0], key=key):
                r = self.run_mode(cfg, mode[0], env=env)
                self.assertEqual(r.returncode, 2, r.describe())
                lines = r.stderr.splitlines()
                self.assertEqual(len(lines), 1, r.describe())
                self.assertTrue(lines[0].startswith("puljed: %s: [receipts] %s: " % (cfg, key)), r.describe())
                self.assertIn(reason, lines[0], r.describe())
                self.assertEqual(r.stdout, "", r.describe())
                self.assertEqual(self.imap.connections(), 0, "an IMAP connection was made\n" + r.describe())
                self.assertEqual(self.smtp.connections(), 0, "an SMTP connection was made\n" + r.describe())
                self.assertFalse(os.path.exists(self.path("puljed.db")), "a database was created")

    def env_with_credentials(self, files):
        creds = self.path("credentials")
        os.makedirs(creds, exist_ok=True)
        for name, text in files.items():
            self.secret_file(os.path.join("credentials", name), text, 0o400)
        env = P.clean_env()
        env["CREDENTIALS_DIRECTORY"] = creds
        return env

    # ------------------------------------------------------------ tests
    def test_control(self):
        # The same file with a good [receipts] passes --check-config, and
        # makes no connection either: the refusals below are the group's.
        pw = self.secret_file("smtp-pw", "smtp-secret\n")
        cfg = self.write("send = yes\nfrom = Puljesekretariatet <puljer@sum.dk>\nusername = puljer@sum.dk\n"
                         "password_file = %s\n" % pw)
        r = self.run_mode(cfg, "--check-config")
        self.assertEqual(r.returncode, 0, r.describe())
        self.assertEqual(self.imap.connections() + self.smtp.connections(), 0)
        # send = no: a missing SMTP secret does not matter.
        cfg = self.write("send = no\nusername = puljer@sum.dk\n", name="off.conf")
        r = self.run_mode(cfg, "--check-config")
        self.assertEqual(r.returncode, 0, r.describe())

    def test_load_refusals(self):
        with open(self.path("latin1.txt"), "wb") as f:
            f.write("Kære ansøger".encode("latin-1"))
        for body, key, reason in (
                ("send = yes\nfrom = puljer@sum.dk\nsecurity = none\n", "security", "never sent in plain text"),
                ("send = yes\nfrom = puljer@sum.dk\nsecurity = plaintext\n", "security", "no fallback"),
                ("send = yes\nfrom = puljer@sum.dk\nstatuses = accepted, unrelated\n", "statuses",
                 "unrelated mail never gets a receipt"),
                ("send = yes\nfrom = Puljer <puljer>\n", "from", "not an e-mail address"),
                ("send = yes\n", "from", "required key is missing"),
                ("send = yes\nfrom = puljer@sum.dk\nreply_to = x@sum.dk\n", "reply_to", "unknown key"),
                ("send = yes\nfrom = puljer@sum.dk\ntemplate = %s\n" % self.path("latin1.txt"), "template",
                 "not valid UTF-8"),
                ("send = yes\nfrom = puljer@sum.dk\nsign_cert = /etc/ssl/certs/x.pem\n", "sign_key",
                 "both or neither"),
                ("send = maybe\n", "send", "\"yes\" or \"no\""),
        ):
            cfg = self.write(body)
            self.assert_refused(cfg, key, reason)

    def test_start_refusals(self):
        base = "send = yes\nfrom = puljer@sum.dk\nusername = puljer@sum.dk\n"
        # No password_file, no credentials directory.
        cfg = self.write(base)
        self.assert_refused(cfg, "password_file", "no systemd credential \"smtp-password\"")
        # The unit's stand-in for a missing /etc/puljed/smtp-password.
        env = self.env_with_credentials({"smtp-password": "\n"})
        r = self.run_mode(cfg, "--check-config", env=env)
        self.assertEqual(r.returncode, 2, r.describe())
        self.assertEqual(len(r.stderr.splitlines()), 1, r.describe())
        self.assertIn("systemd credential smtp-password: ", r.stderr)
        self.assertIn("is empty", r.stderr)
        r = self.run_mode(cfg, "daemon", env=env)
        self.assertEqual(r.returncode, 2, r.describe())
        self.assertIn("systemd credential smtp-password: ", r.stderr)
        self.assertEqual(self.imap.connections() + self.smtp.connections(), 0)
        # A password file its group may write.
        pw = self.secret_file("smtp-pw", "smtp-secret\n", 0o620)
        cfg = self.write(base + "password_file = %s\n" % pw, name="groupw.conf")
        self.assert_refused(cfg, "password_file", "writable by its group")
        # xoauth2 with a token file that does not exist.
        cfg = self.write(base + "auth = xoauth2\ntoken_file = %s\n" % self.path("no-token"), name="tok.conf")
        self.assert_refused(cfg, "token_file", "cannot read")
        # A signing key that cannot be read (send = yes).
        cert = self.secret_file("cert.pem", "x")
        cfg = self.write("send = yes\nfrom = puljer@sum.dk\nsign_cert = %s\nsign_key = %s\n"
                         % (cert, self.path("no-key.pem")), name="sign.conf")
        self.assert_refused(cfg, "sign_key", "cannot read")

    def test_reload_refused(self):
        # SIGHUP with a bad [receipts] (one config_load refuses, one the
        # secret check refuses): the daemon logs the line, keeps the old
        # configuration and runs on; nothing connects to the SMTP port.
        cfg = self.write("send = no\n")
        d = self.spawn_daemon(cfg)
        self.assertIsNotNone(d.wait_ready(timeout=10), d.describe())
        for body, key, reason in (
                ("send = yes\nfrom = puljer@sum.dk\nsecurity = none\n", "security", "never sent in plain text"),
                ("send = yes\nfrom = puljer@sum.dk\nusername = puljer@sum.dk\n", "password_file",
                 "no systemd credential \"smtp-password\""),
        ):
            with self.subTest(key=key):
                self.write(body)
                mark = d.output_mark()
                d.signal(signal.SIGHUP)
                self.assertIsNotNone(d.wait_output(r"\[receipts\] %s: " % key, since=mark, timeout=10), d.describe())
                line = [l for l in d.output(mark).splitlines() if "[receipts] %s: " % key in l][0]
                self.assertIn("keeping the old one: %s: [receipts] %s: " % (cfg, key), line)
                self.assertIn(reason, line)
                time.sleep(0.5)
                self.assertTrue(d.alive, "puljed stopped after a refused reload\n" + d.describe())
        self.assertEqual(self.smtp.connections(), 0, "an SMTP connection was made\n" + d.describe())
        self.assertEqual(d.terminate()[0], 0, d.describe())


if __name__ == "__main__":
    unittest.main(verbosity=2)
