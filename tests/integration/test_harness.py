#!/usr/bin/python3
"""Self-test of the Dovecot test harness (needs no puljed binaries)."""

import configparser
import datetime as dt
import imaplib
import os
import socket
import ssl
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from harness.dovecot import Dovecot, parse_internaldate, live_group_members  # noqa: E402
from harness import messages  # noqa: E402
from harness.proxy import StartTLSProxy  # noqa: E402


def _alive(pid):
    try:
        with open("/proc/%d/stat" % pid, "rb") as f:
            stat = f.read()
    except OSError:
        return False
    return stat[stat.rfind(b")") + 2:][:1] not in (b"Z", b"X")


def _group_alive(pgid):
    return bool(live_group_members(pgid))


class HarnessTest(unittest.TestCase):

    def test_append_fetch_internaldate_roundtrip(self):
        dates = [
            dt.datetime(2022, 7, 1, 23, 59, 59,
                        tzinfo=dt.timezone(dt.timedelta(hours=2))),
            "2022-07-02T00:00:10+02:00",
        ]
        with Dovecot() as dc:
            pgid = dc.proc.pid
            uids = []
            for i, d in enumerate(dates):
                raw = messages.simple(subject="harness test %d" % i,
                                      body="hello %d\n" % i)
                uids.append(dc.append("INBOX", raw, d, ["\\Seen"]))
            self.assertEqual(uids, sorted(uids))
            self.assertEqual(len(set(uids)), 2)
            self.assertEqual(dc.uids(), uids)
            self.assertIsInstance(dc.uidvalidity(), int)

            # FETCH with a plain imaplib client that verifies the test CA.
            ctx = ssl.create_default_context(cafile=dc.ca_file)
            conn = imaplib.IMAP4_SSL("localhost", dc.imaps_port,
                                     ssl_context=ctx)
            conn.login(dc.username, dc.password)
            conn.select("INBOX", readonly=True)
            typ, data = conn.uid("FETCH", "1:*", "(UID INTERNALDATE)")
            self.assertEqual(typ, "OK")
            got = {}
            for item in data:
                text = item if isinstance(item, bytes) else item[0]
                uid = int(text.split(b"UID ")[1].split()[0].rstrip(b")"))
                idate = text.split(b'INTERNALDATE "')[1].split(b'"')[0]
                got[uid] = parse_internaldate(idate)
            conn.logout()
            want0 = dates[0]
            want1 = dt.datetime.fromisoformat(dates[1])
            self.assertEqual(got[uids[0]], want0)
            self.assertEqual(got[uids[1]], want1)
            # Note: only the instant survives; Dovecot's maildir keeps the
            # INTERNALDATE as the file's mtime and FETCH answers in the
            # server's local zone (here UTC), not the +0200 of the APPEND.
            self.assertEqual(dc.fetch_internaldates(), got)
            self.assertEqual(dc.fetch_raw(uids[0]).count(b"harness test 0"), 1)
        self.assertFalse(_group_alive(pgid), "dovecot processes leaked")

    def test_starttls_on_plain_listener(self):
        with Dovecot() as dc:
            conn = imaplib.IMAP4("127.0.0.1", dc.imap_port)
            self.assertIn("STARTTLS", conn.capabilities)
            conn.starttls(ssl.create_default_context(cafile=dc.ca_file))
            conn.login(dc.username, dc.password)
            conn.logout()
            lines = dc.auth_attempt_lines()
            self.assertTrue(any("Login: user=<rbj>" in l and "TLS" in l
                                for l in lines), lines)

    def _assert_tls_refused(self, dc, cafile):
        mark = dc.log_mark()
        ctx = ssl.create_default_context(cafile=cafile)
        with self.assertRaises(ssl.SSLCertVerificationError):
            imaplib.IMAP4_SSL("localhost", dc.imaps_port, ssl_context=ctx)
        with self.assertRaises(ssl.SSLCertVerificationError):
            imaplib.IMAP4_SSL("127.0.0.1", dc.imaps_port, ssl_context=ctx)
        # Dovecot saw the connections but no authentication attempt.
        self.assertTrue(dc.wait_for_log(r"imap-login: .*Disconnected", since=mark))
        self.assertEqual(dc.auth_attempt_lines(mark), [])
        self.assertGreaterEqual(len(dc.connection_lines(mark)), 2)

    def test_auth_detection_is_not_vacuous(self):
        # A careless client that ignores the bad certificate and logs in is
        # seen by auth_attempt_lines(), with the right and the wrong password.
        with Dovecot(cert="wronghost") as dc:
            mark = dc.log_mark()
            ctx = ssl.create_default_context()
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            conn = imaplib.IMAP4_SSL("127.0.0.1", dc.imaps_port, ssl_context=ctx)
            conn.login(dc.username, dc.password)
            conn.logout()
            lines = dc.auth_attempt_lines(mark)
            self.assertEqual(len(lines), 1, lines)
            self.assertIn("Login: user=<rbj>", lines[0])
            mark = dc.log_mark()
            conn = imaplib.IMAP4_SSL("127.0.0.1", dc.imaps_port, ssl_context=ctx)
            with self.assertRaises(imaplib.IMAP4.error):
                conn.login(dc.username, "not-the-password")
            conn.logout()
            self.assertTrue(dc.auth_attempt_lines(mark))
            self.assertNotIn("not-the-password", dc.log_text())
        with Dovecot(ssl=False) as dc:
            mark = dc.log_mark()
            conn = imaplib.IMAP4("127.0.0.1", dc.imap_port)
            # Quirk: Dovecot treats loopback as "secured", so a plaintext
            # LOGIN from 127.0.0.1 is accepted despite disable_plaintext_auth.
            conn.login(dc.username, dc.password)
            conn.logout()
            lines = dc.auth_attempt_lines(mark)
            self.assertTrue(any("Login: user=<rbj>" in l and "secured" in l
                                and "TLS" not in l for l in lines), lines)

    def test_login_lines_see_clients_not_the_harness(self):
        # Starting opens no connection to the TLS port, and the harness's own
        # connections are not counted: a test that asserts "no connection"
        # after a config error must not fail on the harness's lines.
        with Dovecot() as dc:
            dc.append("INBOX", messages.simple(), "2022-06-01T10:00:00+02:00")
            dc.close_client()
            time.sleep(1.0)
            self.assertEqual(dc.login_lines(0), [], dc.log_text())
            # (A probe connection would be "TLS handshaking: Connection closed".)
            self.assertNotIn("TLS handshaking", dc.log_text())
            # Non-vacuous: a bare TCP connection to the TLS port from the
            # address the program under test uses is seen...
            mark = dc.log_mark()
            socket.create_connection(("127.0.0.1", dc.imaps_port)).close()
            self.assertTrue(dc.wait_for_log(r"imap-login: .*Disconnected", since=mark))
            self.assertEqual(len(dc.login_lines(mark)), 1, dc.log_text(mark))
            # ...and so is a TLS client that logs out before logging in.
            mark = dc.log_mark()
            ctx = ssl.create_default_context(cafile=dc.ca_file)
            imaplib.IMAP4_SSL("localhost", dc.imaps_port, ssl_context=ctx).logout()
            self.assertTrue(dc.wait_for_log(r"imap-login: .*Disconnected", since=mark))
            self.assertEqual(len(dc.login_lines(mark)), 1, dc.log_text(mark))

    def test_wrong_host_cert(self):
        with Dovecot(cert="wronghost") as dc:
            # The harness's own client still works (does not verify).
            dc.append("INBOX", messages.simple(), "2022-06-01T10:00:00+02:00")
            self.assertEqual(len(dc.uids()), 1)
            self._assert_tls_refused(dc, dc.ca_file)

    def test_unknown_ca_cert(self):
        with Dovecot(cert="unknownca") as dc:
            dc.append("INBOX", messages.simple(), "2022-06-01T10:00:00+02:00")
            self._assert_tls_refused(dc, dc.ca_file)
            self._assert_tls_refused(dc, None)  # system trust store

    def test_ssl_no(self):
        with Dovecot(ssl=False) as dc:
            self.assertIsNone(dc.imaps_port)
            dc.append("INBOX", messages.simple(), "2022-06-01T10:00:00+02:00")
            mark = dc.log_mark()
            conn = imaplib.IMAP4("127.0.0.1", dc.imap_port)
            self.assertNotIn("STARTTLS", conn.capabilities)
            conn.logout()
            self.assertEqual(dc.auth_attempt_lines(mark), [])
            self.assertEqual(len(dc.connection_lines(mark)), 1)

    def test_tls_versions(self):
        ctx = None
        with Dovecot(tls_max="TLSv1.2") as dc:
            ctx = ssl.create_default_context(cafile=dc.ca_file)
            conn = imaplib.IMAP4_SSL("localhost", dc.imaps_port, ssl_context=ctx)
            self.assertEqual(conn.sock.version(), "TLSv1.2")
            conn.logout()
        if os.environ.get("PULJED_TEST_TLS_MAX"):
            return
        with Dovecot() as dc:
            ctx = ssl.create_default_context(cafile=dc.ca_file)
            conn = imaplib.IMAP4_SSL("localhost", dc.imaps_port, ssl_context=ctx)
            self.assertEqual(conn.sock.version(), "TLSv1.3")
            conn.logout()

    def test_starttls_proxy(self):
        with Dovecot() as dc:
            with StartTLSProxy(dc.imap_port) as proxy:
                conn = imaplib.IMAP4("127.0.0.1", proxy.port)
                conn.starttls(ssl.create_default_context(cafile=dc.ca_file))
                conn.login(dc.username, dc.password)
                conn.logout()
                self.assertEqual(proxy.starttls_seen, 1)
            with StartTLSProxy(dc.imap_port, strip_starttls=True) as proxy:
                conn = imaplib.IMAP4("127.0.0.1", proxy.port)
                self.assertNotIn("STARTTLS", conn.capabilities)
                conn.logout()
            with StartTLSProxy(dc.imap_port, inject=b"* OK injected\r\n") as proxy:
                conn = imaplib.IMAP4("127.0.0.1", proxy.port)
                conn.starttls(ssl.create_default_context(cafile=dc.ca_file))
                self.assertEqual(proxy.injected, 1)
                conn.shutdown()

    def test_write_config(self):
        with Dovecot(start=False) as dc, tempfile.TemporaryDirectory() as td:
            dc.imaps_port, dc.imap_port = 993, 143
            path = dc.write_config(os.path.join(td, "p.conf"))
            cp = configparser.ConfigParser(interpolation=None)
            cp.read(path)
            self.assertEqual(cp["imap"]["port"], "993")
            self.assertEqual(cp["imap"]["security"], "tls")
            self.assertEqual(cp["store"]["database"],
                             os.path.join(td, "puljed.db"))
            self.assertEqual(cp["call digitale-kompetencer-2022"]["deadline"],
                             "2022-07-01")
            path = dc.write_config(os.path.join(td, "q.conf"),
                                   security="starttls", host=None,
                                   poll_interval=5, bogus_key="x",
                                   groups={"nonsense": {"a": "b"}})
            cp = configparser.ConfigParser(interpolation=None)
            cp.read(path)
            self.assertEqual(cp["imap"]["port"], "143")
            self.assertNotIn("host", cp["imap"])
            self.assertEqual(cp["imap"]["bogus_key"], "x")
            self.assertEqual(cp["daemon"]["poll_interval"], "5")
            self.assertEqual(cp["nonsense"]["a"], "b")

    def test_stop_is_idempotent_and_kills_group(self):
        dc = Dovecot()
        pid = dc.proc.pid
        dc.stop()
        dc.stop()
        self.assertFalse(_alive(pid))
        self.assertFalse(_group_alive(pid))
        with self.assertRaises(OSError):
            socket.create_connection(("127.0.0.1", dc.imap_port), timeout=1).close()
        dc.cleanup()


if __name__ == "__main__":
    unittest.main(verbosity=2)
