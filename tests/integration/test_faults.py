#!/usr/bin/python3
"""puljed --once against a scripted IMAP server (harness/fakeimap.py) that
misbehaves on purpose: silence, a byte-per-second drip, lying literals,
dropped connections, garbage, the responses that crash Debian's libetpan
1.9.4 (PERMANENTFLAGS, CAPABILITY, BADCHARSET), an unsolicited BYE, a
recreated mailbox and a refused EXAMINE.  Each test states the contract; the fake server is first shown to
be faithful (test_00).

Needs PULJED and PULJECTL in the environment (paths of the built binaries).
Run:  PULJED=build/src/puljed PULJECTL=build/src/puljectl \\
      /usr/bin/python3 tests/integration/test_faults.py
"""

import faulthandler
import hashlib
import json
import os
import re
import resource
import secrets
import shutil
import signal
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from harness import fakeimap as F  # noqa: E402
from harness.daemon import Daemon  # noqa: E402
from harness import messages as M  # noqa: E402
from harness import puljed as P  # noqa: E402
from harness.testcase import PuljedTestCase  # noqa: E402

TIMEOUT = 3               # [imap] timeout in every configuration here
ON_TIME = "15-Jun-2022 10:00:00 +0200"
UIDVALIDITY = 1655280000
CALL = ("digitale-kompetencer-2022",
        {"subject": M.CALL_SUBJECT, "deadline": "2022-07-01",
         "timezone": "Europe/Copenhagen"})


def sha(data):
    return hashlib.sha256(data).hexdigest()


def budget(seconds):
    """Per-test time limit: the test process dumps its threads and exits
    when a test runs longer than this (a hung test, not a slow puljed)."""
    def mark(fn):
        fn.budget = seconds
        return fn
    return mark


def is_sanitized(path):
    """Built with AddressSanitizer or ThreadSanitizer: both need far more
    address space than any cap here (their shadow memory)."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError:
        return False
    return b"__asan_init" in data or b"__tsan_init" in data


def mailbox(n, first_uid=1, seed=0):
    """N messages (applications with a small PDF each), UIDs from FIRST_UID."""
    msgs = []
    for i in range(n):
        raw = M.application("Kommune %d-%d" % (seed, i),
                            M.fake_pdf(900 + 37 * i, seed=seed * 100 + i),
                            message_id="fault-%d-%d@test.example" % (seed, i))
        msgs.append(F.Message(first_uid + i, raw, ON_TIME))
    return msgs


class FaultTest(PuljedTestCase):

    def setUp(self):
        super().setUp()
        limit = getattr(getattr(self, self._testMethodName), "budget", 60)
        faulthandler.dump_traceback_later(limit, exit=True)
        self.addCleanup(faulthandler.cancel_dump_traceback_later)
        self.servers = []

    # ----------------------------------------------------------- helpers
    def server(self, messages, faults=(), **kw):
        kw.setdefault("password", "Pw-" + secrets.token_hex(8))
        srv = F.FakeImap(messages, faults=faults, **kw)
        self.secrets.append(srv.password)
        self.servers.append(srv)

        def finish():
            srv.close()
            if self._failed():
                sys.stderr.write("\n--- fake IMAP server %d: commands %s\n    faults fired %s\n"
                                 % (srv.port, srv.log, srv.fired))
            self.assertEqual(srv.errors, [], "the fake server itself failed")
        self.addCleanup(finish)
        return srv

    def write_config(self, srv, name="puljed.conf", db="puljed.db", mailbox=None,
                     timeout=TIMEOUT, max_message_size="1M", auth="login", daemon=()):
        """A puljed configuration for the fake server (dovecot.py's format)."""
        pwfile = self.path(name + ".password")
        with open(pwfile, "w") as f:
            f.write(srv.password + "\n")
        os.chmod(pwfile, 0o600)
        groups = [
            ("imap", [("host", srv.host), ("port", srv.port), ("security", srv.security),
                      ("ca_file", srv.ca_file), ("username", srv.username),
                      ("password_file", pwfile), ("mailbox", mailbox or srv.mailbox),
                      ("timeout", timeout), ("auth", auth)]),
            ("daemon", [("poll_interval", 60)] + list(daemon)),
            ("store", [("database", self.path(db))]),
            ("limits", [("max_message_size", max_message_size)]),
            ("call %s" % CALL[0], list(CALL[1].items())),
        ]
        lines = ["# puljed test config for tests/harness/fakeimap.py"]
        for gname, kv in groups:
            lines += ["", "[%s]" % gname] + ["%s = %s" % (k, v) for k, v in kv]
        path = self.path(name)
        with open(path, "w", encoding="utf-8") as f:
            f.write("\n".join(lines) + "\n")
        return path

    def once(self, cfg, timeout=TIMEOUT * 3 + 20, max_vm=None):
        """puljed --config CFG --once; the Result gets .took (seconds).
        MAX_VM caps the address space (RLIMIT_AS) so that an attempt to
        allocate an announced size fails instead of passing unnoticed
        (not under AddressSanitizer or ThreadSanitizer, which need terabytes
        of it)."""
        argv = [P.puljed_path(), "--config", cfg, "--once"]
        pre = None
        if max_vm and not is_sanitized(argv[0]):
            def pre():
                resource.setrlimit(resource.RLIMIT_AS, (max_vm, max_vm))
        t0 = time.monotonic()
        try:
            proc = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, timeout=timeout,
                                  env=P.clean_env(), preexec_fn=pre)
            r = P.Result(argv, proc.returncode, proc.stdout.decode("utf-8", "replace"),
                         proc.stderr.decode("utf-8", "replace"))
        except subprocess.TimeoutExpired as e:
            r = P.Result(argv, None, (e.stdout or b"").decode("utf-8", "replace"),
                         (e.stderr or b"").decode("utf-8", "replace"), timed_out=True)
        r.took = time.monotonic() - t0
        self.runs.append(r)
        self.check_no_secret(r)
        return r

    def assert_no_crash(self, r):
        self.assertFalse(r.timed_out, "puljed did not finish\n" + r.describe())
        self.assertGreaterEqual(r.returncode, 0,
                                "puljed died of signal %d\n%s" % (-r.returncode, r.describe()))
        self.assertNotIn("AddressSanitizer", r.stderr, r.describe())
        self.assertNotIn("runtime error:", r.stderr, r.describe())

    def recs(self, cfg, db="puljed.db"):
        return self.records(cfg, db=self.path(db)) if db != "puljed.db" else self.records(cfg)

    def cut_then_resumed(self, n, fault, recorded_first):
        """A session of N messages cut short by FAULT: exit 3, only
        RECORDED_FIRST recorded; a healthy rerun carries on from the
        watermark and records the rest, each message exactly once."""
        msgs = mailbox(n)
        srv = self.server(msgs, faults=[fault])
        cfg = self.write_config(srv)
        r = self.once(cfg)
        self.assert_no_crash(r)
        self.assertEqual(r.returncode, P.EXIT_NETWORK, r.describe())
        self.assertEqual(len(srv.fired), 1)
        recs = self.assert_recorded(cfg, msgs)
        self.assertEqual(sorted(recs), recorded_first, r.describe())
        srv.clear_faults()
        mark = len(srv.log)
        r = self.once(cfg)
        self.assertEqual(r.returncode, P.EXIT_OK, r.describe())
        recs = self.assert_recorded(cfg, msgs)
        self.assertEqual(sorted(recs), list(range(1, n + 1)))
        self.assertEqual(sorted(x["sha256"] for x in recs.values()), sorted(sha(m.raw) for m in msgs))
        self.assertEqual(srv.fetched_bodies(since=mark), list(range(len(recorded_first) + 1, n + 1)),
                         "the rerun did not carry on from the watermark")

    def assert_recorded(self, cfg, msgs, uidvalidity=UIDVALIDITY, db="puljed.db",
                        too_large=()):
        """Every record belongs to MSGS (by UID) with its exact raw bytes,
        under UIDVALIDITY, once.  Returns {uid: record}."""
        by_uid = {m.uid: m for m in msgs}
        recs = self.recs(cfg, db)
        keys = [(r["uidvalidity"], r["uid"]) for r in recs]
        self.assertEqual(len(keys), len(set(keys)), "a message was recorded twice: %s" % keys)
        for r in recs:
            self.assertIn(r["uid"], by_uid, "a record for a UID the server never had")
            self.assertEqual(r["uidvalidity"], uidvalidity, r["uid"])
            self.assertEqual(r["mailbox"], "INBOX")
            if r["uid"] in too_large:
                continue
            m = by_uid[r["uid"]]
            self.assertEqual(r["sha256"], sha(m.raw), "uid %s: raw bytes differ" % r["uid"])
            self.assertEqual(r["size"], len(m.raw), r["uid"])
            self.assertIsNone(r["flags"], r["uid"])
        return {r["uid"]: r for r in recs}

    def backtrace(self, cfg):
        """gdb's backtrace of puljed --once on CFG (for a crash report)."""
        if not shutil.which("gdb"):
            return "(no gdb)"
        try:
            out = subprocess.run(["gdb", "-batch", "-nx", "-ex", "set debuginfod enabled off",
                                  "-ex", "run", "-ex", "bt", "--args", P.puljed_path(),
                                  "--config", cfg, "--once"],
                                 stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                 stderr=subprocess.STDOUT, timeout=60, env=P.clean_env())
        except subprocess.TimeoutExpired:
            return "(gdb timed out)"
        text = out.stdout.decode("utf-8", "replace")
        return "\n".join(line for line in text.splitlines()
                         if line.startswith("#") or "signal" in line)

    # ------------------------------------------------------------ 0
    @budget(90)
    def test_00_fake_server_is_faithful(self):
        # No fault: everything is recorded exactly, read-only, and a second
        # run asks for nothing it already has.
        msgs = mailbox(4)
        srv = self.server(msgs)
        cfg = self.write_config(srv)
        r = self.once(cfg)
        self.assert_no_crash(r)
        self.assertEqual(r.returncode, P.EXIT_OK, r.describe())
        recs = self.assert_recorded(cfg, msgs)
        self.assertEqual(sorted(recs), [1, 2, 3, 4])
        for r_ in recs.values():
            self.assertEqual(r_["status"], "accepted", r_)
            self.assertEqual(r_["received_at"], "2022-06-15T10:00:00+02:00")
            self.assertEqual(len(r_["attachments"]), 1)
        verbs = srv.verbs()
        self.assertIn("LOGIN", verbs)
        self.assertIn("EXAMINE", verbs)
        self.assertNotIn("SELECT", verbs)
        self.assertEqual(srv.fetched_bodies(), [1, 2, 3, 4])
        for c in srv.commands():
            if c.upper().startswith("UID FETCH") and "BODY" in c.upper():
                self.assertIn("BODY.PEEK[", c.upper(), "a fetch that would set \\Seen")
        self.assertEqual(verbs[-1], "LOGOUT")
        # Second run: nothing new, no fetch at all.
        before = len(srv.log)
        r = self.once(cfg)
        self.assertEqual(r.returncode, P.EXIT_OK, r.describe())
        self.assertNotIn("UID FETCH", [v for v in srv.verbs()[before:]])
        self.assertEqual(len(self.recs(cfg)), 4)

    # ------------------------------------------------------------ 1
    @budget(40)
    def test_01_greeting_never_comes(self):
        # TLS handshake completes, then silence: exit 3 within timeout + 5 s,
        # saying that it timed out.
        srv = self.server(mailbox(2), faults=[F.silence("greeting")])
        cfg = self.write_config(srv)
        r = self.once(cfg, timeout=TIMEOUT + 25)
        self.assert_no_crash(r)
        self.assertEqual(r.returncode, P.EXIT_NETWORK, r.describe())
        self.assertLess(r.took, TIMEOUT + 5, "timeout = %d took %.1fs" % (TIMEOUT, r.took))
        self.assertRegex(r.stderr, re.compile(r"timed out", re.I))
        self.assertEqual(srv.fired, [("greeting", 1, "silence at greeting")])
        self.assertEqual(srv.logins(), 0)
        self.assertEqual(self.recs(cfg), [])

    # ------------------------------------------------------------ 2
    def _drip(self, point):
        limit = TIMEOUT * 3 + 10
        msgs = mailbox(2)
        srv = self.server(msgs, faults=[F.drip(point, interval=1.0)])
        cfg = self.write_config(srv)
        r = self.once(cfg, timeout=limit + 10)
        self.assertFalse(r.timed_out, "a 1 byte/s drip at %s kept puljed busy for more than "
                         "%d s (timeout = %d: no total deadline per command)\n%s"
                         % (point, limit + 10, TIMEOUT, r.describe()))
        self.assert_no_crash(r)
        self.assertEqual(r.returncode, P.EXIT_NETWORK, r.describe())
        self.assertLess(r.took, limit, "drip at %s: took %.1fs" % (point, r.took))
        self.assertEqual(len(srv.fired), 1)
        self.assert_recorded(cfg, msgs)

    @budget(60)
    def test_02a_drip_greeting(self):
        # The greeting, one byte per second (each byte well within the
        # per-read timeout): puljed must still give up.
        self._drip("greeting")

    @budget(60)
    def test_02b_drip_response(self):
        # The EXAMINE response, one byte per second.
        self._drip("EXAMINE")

    # ------------------------------------------------------------ 3
    @budget(90)
    def test_03a_huge_literal_in_body(self):
        # Every body FETCH of UID 2 announces a 4 GiB literal and streams
        # mail-like lines: nothing of that size is allocated (the address
        # space is capped at 1 GiB), UID 2 is recorded without its body,
        # flagged too-large, for review; UIDs 1 and 3 are recorded whole.
        # (Asked for with 1 and 3 in one command, UID 2 is asked for again
        # alone: the fault fires twice.)
        for size in (4294967296, 4294967295):
            with self.subTest(literal=size):
                msgs = mailbox(3, seed=size % 7)
                srv = self.server(msgs, faults=[F.huge_literal("FETCH-BODY", uid=2, size=size, times=None)])
                db = "huge-%d.db" % size
                cfg = self.write_config(srv, name="huge-%d.conf" % size, db=db)
                r = self.once(cfg, max_vm=1 << 30)
                self.assert_no_crash(r)
                self.assertIn(r.returncode, (P.EXIT_OK, P.EXIT_NETWORK), r.describe())
                self.assertTrue(srv.fired, r.describe())
                self.assertEqual({f[0] for f in srv.fired}, {"FETCH-BODY"})
                recs = self.assert_recorded(cfg, msgs, db=db, too_large=(2,))
                self.assertEqual(sorted(recs), [1, 2, 3],
                                 "literal {%d}: records %s\n%s" % (size, sorted(recs), r.describe()))
                big = recs[2]
                self.assertIn("too-large", big["flags"] or "", big)
                self.assertEqual(big["status"], "review", big)
                self.assertNotEqual(big["sha256"], sha(msgs[1].raw), "the body was stored")
                self.assertEqual(big["attachments"], [])

    @budget(90)
    def test_03c_huge_literal_once_then_the_body(self):
        # A server that announces a 4 GiB literal for UID 2 once, among the
        # bodies of 1 … 3 asked for in one command, and then sends the
        # real body: UID 2 is asked for again alone on a new session and
        # recorded whole, not flagged; nothing is recorded twice.
        msgs = mailbox(3, seed=5)
        srv = self.server(msgs, faults=[F.huge_literal("FETCH-BODY", uid=2, times=1)])
        cfg = self.write_config(srv, name="huge-once.conf", db="huge-once.db")
        r = self.once(cfg, max_vm=1 << 30)
        self.assert_no_crash(r)
        self.assertEqual(r.returncode, P.EXIT_OK, r.describe())
        self.assertEqual(len(srv.fired), 1, r.describe())
        self.assertEqual(srv.fetched_bodies(), [1, 2, 3, 2, 3], "commands: %s" % srv.log)
        recs = self.assert_recorded(cfg, msgs, db="huge-once.db")
        self.assertEqual(sorted(recs), [1, 2, 3])
        self.assertEqual(recs[2]["sha256"], sha(msgs[1].raw))
        self.assertIsNone(recs[2]["flags"], recs[2])
        self.assertEqual(recs[2]["status"], "accepted", recs[2])
        self.assertIn("reconnecting", r.stderr)

    @budget(90)
    def test_03b_huge_literal_in_metadata(self):
        # The metadata FETCH carries a 4 GiB literal: exit 3, no crash,
        # nothing recorded from a response that could not be read.
        for size in (4294967296, 4294967295):
            with self.subTest(literal=size):
                msgs = mailbox(3)
                srv = self.server(msgs, faults=[F.huge_literal("FETCH-META", uid=1, size=size)])
                db = "meta-%d.db" % size
                cfg = self.write_config(srv, name="meta-%d.conf" % size, db=db)
                r = self.once(cfg, max_vm=1 << 30)
                self.assert_no_crash(r)
                self.assertEqual(r.returncode, P.EXIT_NETWORK, r.describe())
                self.assertEqual(srv.fired[0][0], "FETCH-META")
                self.assertEqual(self.recs(cfg, db), [])

    # ------------------------------------------------------------ 4
    @budget(90)
    def test_04_disconnect_mid_literal(self):
        # The connection drops half-way through UID 3's body: exit 3, UIDs
        # 1 and 2 recorded, 3 not; a healthy second run records the rest,
        # each message exactly once.
        self.cut_then_resumed(5, F.disconnect_mid_literal("FETCH-BODY", uid=3), recorded_first=[1, 2])

    # ------------------------------------------------------------ 5
    @budget(240)
    def test_05_garbage_and_unknown_responses(self):
        # Undecodable garbage is a protocol error (exit 3); well-formed
        # unknown responses may be ignored.  Never a crash, and whatever is
        # recorded is exact; a healthy rerun completes the mailbox.
        cases = [
            # label, fault, allowed exits
            ("random bytes", F.garbage("FETCH-BODY", F.random_line(7), uid=2),
             (P.EXIT_NETWORK,)),
            ("random bytes in the greeting",
             F.Fault("greeting", replace=F.random_line(8)), (P.EXIT_NETWORK,)),
            ("* FOO BAR", F.garbage("EXAMINE", b"* FOO BAR\r\n"),
             (P.EXIT_OK, P.EXIT_NETWORK)),
            ("* 1 UNKNOWNTHING (x)",
             F.garbage("FETCH-BODY", b"* 1 UNKNOWNTHING (x)\r\n", uid=2),
             (P.EXIT_OK, P.EXIT_NETWORK)),
            ("wrong tag",
             F.Fault("FETCH-BODY", uid=2,
                     replace=lambda resp, tag: resp.replace(b"\r\n" + tag + b" OK",
                                                            b"\r\nX999 OK")),
             (P.EXIT_OK, P.EXIT_NETWORK)),
        ]
        for i, (label, fault, exits) in enumerate(cases):
            with self.subTest(case=label):
                msgs = mailbox(3, seed=i)
                srv = self.server(msgs, faults=[fault])
                db = "garbage-%d.db" % i
                cfg = self.write_config(srv, name="garbage-%d.conf" % i, db=db)
                r = self.once(cfg, timeout=TIMEOUT * 3 + 10)
                self.assert_no_crash(r)
                self.assertIn(r.returncode, exits, "%s\n%s" % (label, r.describe()))
                self.assertEqual(len(srv.fired), 1, label)
                first = self.assert_recorded(cfg, msgs, db=db)
                if "FETCH-BODY" in fault.point:
                    self.assertIn(1, first, "%s: UID 1 came before the fault" % label)
                srv.clear_faults()
                r = self.once(cfg)
                self.assertEqual(r.returncode, P.EXIT_OK, "%s: rerun\n%s" % (label, r.describe()))
                recs = self.assert_recorded(cfg, msgs, db=db)
                self.assertEqual(sorted(recs), [1, 2, 3], label)

    # ------------------------------------------------------------ 6
    @budget(240)
    def test_06_responses_that_crash_libetpan_are_refused(self):
        # Debian's libetpan 1.9.4 dereferences a NULL list on each of these
        # (every one killed puljed with SIGSEGV before frame.c refused
        # them): a PERMANENTFLAGS list that does not start with a flag, in
        # any spelling its parser reads (case, spaces, tabs, tagged) or
        # hidden behind a status line or a quoted string that frame.c took
        # for a literal; a CAPABILITY code or response with no capability;
        # a second BADCHARSET code in a response; the same code in the
        # continuation request of AUTHENTICATE PLAIN.  Each is a protocol error
        # (exit 3) that names what was refused; a healthy rerun records
        # every message exactly once.
        perm = b"* OK [PERMANENTFLAGS ()] Flags permitted.\r\n"

        def sub(new, old=perm):
            return lambda resp, tag: resp.replace(old, new)
        cases = [
            ("PERMANENTFLAGS (%)", "EXAMINE", sub(b"* OK [PERMANENTFLAGS (%)] x\r\n")),
            ("lower case", "EXAMINE", sub(b"* ok [permanentflags (%)] x\r\n")),
            ("two spaces", "EXAMINE", sub(b"*  OK [PERMANENTFLAGS (%)] x\r\n")),
            ("tabs", "EXAMINE", sub(b"*\tOK\t[PERMANENTFLAGS\t(%)] x\r\n")),
            ("tagged", "EXAMINE",
             lambda resp, tag: resp.replace(tag + b" OK [READ-ONLY]",
                                            tag + b" OK [PERMANENTFLAGS (%)]")),
            ("a lone backslash", "EXAMINE", sub(b"* OK [PERMANENTFLAGS (\\)] x\r\n")),
            ("after a text line ending in {31}", "EXAMINE",
             sub(b"* OK hello {31}\r\n* OK [PERMANENTFLAGS (%)] x\r\n")),
            ("after a quoted string across lines", "EXAMINE",
             sub(perm + b'* LIST () "/" "a {33}\r\nb"\r\n* OK [PERMANENTFLAGS (%)] x\r\n')),
            ("[CAPABILITY] in the greeting", "greeting",
             lambda resp, tag: b"* OK [CAPABILITY] ready\r\n"),
            ("an empty CAPABILITY response", "CAPABILITY",
             lambda resp, tag: b"* CAPABILITY\r\n" + tag + b" OK done\r\n"),
            ("two BADCHARSET codes", "EXAMINE",
             sub(perm + b"* NO [BADCHARSET (A)] x\r\n* NO [BADCHARSET] y\r\n")),
            ("a continuation request", "AUTHENTICATE-CONTINUE",
             lambda resp, tag: b"+ [PERMANENTFLAGS (%)]\r\n"),
        ]
        for i, (label, point, rewrite) in enumerate(cases):
            with self.subTest(case=label):
                msgs = mailbox(2, seed=i)
                srv = self.server(msgs, faults=[F.Fault(point, replace=rewrite, times=None)])
                db = "crash-%d.db" % i
                cfg = self.write_config(srv, name="crash-%d.conf" % i, db=db,
                                        auth="plain" if point.startswith("AUTH") else "login")
                r = self.once(cfg)
                self.assertTrue(srv.fired, label)
                if r.returncode is not None and r.returncode < 0:
                    self.fail("%s: puljed died of signal %d\n%s\n--- gdb:\n%s"
                              % (label, -r.returncode, r.describe(), self.backtrace(cfg)))
                self.assert_no_crash(r)
                self.assertEqual(r.returncode, P.EXIT_NETWORK, "%s\n%s" % (label, r.describe()))
                self.assertIn("refused the server's response", r.stderr, r.describe())
                self.assertEqual(self.recs(cfg, db), [], label)
                srv.clear_faults()
                r = self.once(cfg)
                self.assertEqual(r.returncode, P.EXIT_OK, "%s: rerun\n%s" % (label, r.describe()))
                self.assertEqual(sorted(self.assert_recorded(cfg, msgs, db=db)), [1, 2], label)

    # ------------------------------------------------------------ 6b
    @budget(90)
    def test_06b_starttls_refused_is_a_tls_failure(self):
        # security = starttls and the server answers STARTTLS with BAD or
        # NO: exit 4 (TLS failure, as puljed(8), EXIT STATUS, says), no login
        # in plaintext, nothing recorded.
        for i, reply in enumerate((b"{tag} BAD TLS not available\r\n",
                                   b"{tag} NO TLS not available\r\n")):
            with self.subTest(reply=reply[6:9]):
                srv = self.server(mailbox(2), security="starttls",
                                  faults=[F.Fault("STARTTLS", replace=reply)])
                db = "starttls-%d.db" % i
                cfg = self.write_config(srv, name="starttls-%d.conf" % i, db=db)
                r = self.once(cfg)
                self.assert_no_crash(r)
                self.assertEqual(srv.fired[0][0], "STARTTLS")
                self.assertEqual(r.returncode, P.EXIT_TLS, r.describe())
                self.assertIn("STARTTLS", r.stderr, r.describe())
                self.assertEqual(srv.logins(), 0)
                self.assertEqual(self.recs(cfg, db), [])

    # ------------------------------------------------------------ 6c
    @budget(60)
    def test_06c_server_text_is_logged_without_controls(self):
        # The server's reason for refusing LOGIN carries a C1 CSI (U+009B),
        # an ESC sequence and a bidi override (U+202E): puljed logs the
        # reason (exit 5) with each replaced by a space, as valid UTF-8.
        evil = b"{tag} NO [AUTHENTICATIONFAILED] bad\xc2\x9b2J \x1b[31mred \xe2\x80\xaeevil\r\n"
        srv = self.server(mailbox(1), faults=[F.Fault("LOGIN", replace=evil)])
        cfg = self.write_config(srv)
        r = self.once(cfg)
        self.assert_no_crash(r)
        self.assertEqual(r.returncode, P.EXIT_AUTH, r.describe())
        self.assertIn("red", r.stderr, "the server's reason was not logged\n" + r.describe())
        for ch in ("\u009b", "\u202e", "\x1b", "\ufffd"):
            self.assertNotIn(ch, r.stderr, "%r reached the log\n%s" % (ch, r.describe()))
        self.assertIn("bad 2J  [31mred  evil", r.stderr, r.describe())

    # ------------------------------------------------------------ 7
    @budget(90)
    def test_07_bye_mid_session(self):
        # After the second body, "* BYE shutting down" and the connection
        # closes: exit 3, UIDs 1 and 2 recorded; a healthy rerun records
        # the rest, each message exactly once.
        self.cut_then_resumed(4, F.bye("FETCH-BODY", nth=2), recorded_first=[1, 2])

    # ------------------------------------------------------------ 8
    @budget(120)
    def test_08_uidvalidity_change(self):
        # The mailbox is recreated between two runs: a new UIDVALIDITY, UIDs
        # from 1 again, the same three messages and one new one.  Every
        # distinct message is recorded exactly once, all under the new
        # UIDVALIDITY (the old records re-keyed, not recorded again).
        old = mailbox(3, first_uid=7)
        srv = self.server(old, uidvalidity=UIDVALIDITY)
        cfg = self.write_config(srv)
        r = self.once(cfg)
        self.assertEqual(r.returncode, P.EXIT_OK, r.describe())
        self.assertEqual(sorted(self.assert_recorded(cfg, old)), [7, 8, 9])

        new_uv = UIDVALIDITY + 86400
        extra = mailbox(1, seed=5)[0]
        again = [F.Message(i + 1, m.raw, m.internaldate) for i, m in enumerate(old)]
        again.append(F.Message(4, extra.raw, extra.internaldate))
        srv.set_mailbox(again, uidvalidity=new_uv)
        r = self.once(cfg)
        self.assert_no_crash(r)
        self.assertEqual(r.returncode, P.EXIT_OK, r.describe())
        recs = self.recs(cfg)
        distinct = {sha(m.raw) for m in again}
        self.assertEqual(len(recs), len(distinct),
                         "expected one record per distinct message, got %s"
                         % [(x["uidvalidity"], x["uid"], x["duplicate_of"]) for x in recs])
        self.assertEqual({x["sha256"] for x in recs}, distinct)
        for x in recs:
            self.assertEqual(x["uidvalidity"], new_uv, "record #%s keeps the old UIDVALIDITY"
                             % x["id"])
            self.assertIsNone(x["duplicate_of"], x["id"])
        self.assert_recorded(cfg, again, uidvalidity=new_uv)
        # And a third run adds nothing.
        r = self.once(cfg)
        self.assertEqual(r.returncode, P.EXIT_OK, r.describe())
        self.assertEqual(len(self.recs(cfg)), len(distinct))

    # ------------------------------------------------------------ 9
    @budget(90)
    def test_09_examine_refused(self):
        # NO or BAD to EXAMINE: exit 3, the message names the mailbox, and
        # nothing is fetched.
        box = "Puljer/Ansoegninger-2022"
        cases = [("NO", b"{tag} NO [NONEXISTENT] No such mailbox\r\n"),
                 ("BAD", b"{tag} BAD Invalid arguments\r\n")]
        for i, (label, reply) in enumerate(cases):
            with self.subTest(reply=label):
                srv = self.server(mailbox(2), mailbox=box,
                                  faults=[F.Fault("EXAMINE", replace=reply)])
                db = "refused-%d.db" % i
                cfg = self.write_config(srv, name="refused-%d.conf" % i, db=db)
                r = self.once(cfg)
                self.assert_no_crash(r)
                self.assertEqual(r.returncode, P.EXIT_NETWORK, r.describe())
                self.assertIn(box, r.stderr, r.describe())
                self.assertEqual(len(srv.fired), 1)
                self.assertIn("EXAMINE", srv.verbs())
                self.assertNotIn("UID FETCH", srv.verbs(), "fetched without a mailbox")
                self.assertEqual(self.recs(cfg, db), [])


    # ------------------------------------------------------------ 10
    @budget(90)
    def test_10_sigterm_while_the_server_is_silent(self):
        # The server goes silent in the middle of the body FETCHes (UID 3),
        # with a 30 s timeout: SIGTERM still ends puljed --once within
        # seconds, whichever thread the signal lands on (the fetcher waits
        # on the network while the main thread waits for it), exit 0 and
        # UIDs 1 and 2 recorded; a healthy rerun records the rest, each
        # message exactly once.
        msgs = mailbox(5)
        srv = self.server(msgs, faults=[F.silence("FETCH-BODY", uid=3)])
        cfg = self.write_config(srv, timeout=30)
        argv = [P.puljed_path(), "--config", cfg, "--once"]
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, env=P.clean_env())
        try:
            deadline = time.monotonic() + 30
            while not srv.fired and time.monotonic() < deadline and proc.poll() is None:
                time.sleep(0.05)
            self.assertEqual([f[0] for f in srv.fired], ["FETCH-BODY"],
                             "the silence never began (exit %s)" % proc.poll())
            # Until UIDs 1 and 2 are committed, so that the main thread
            # waits on the fetcher when the signal comes.
            while len(self.recs(cfg)) < 2 and time.monotonic() < deadline:
                time.sleep(0.1)
            took, r = P.sigterm_timed(proc, argv, 25)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
        self.runs.append(r)
        self.check_no_secret(r)
        if took is None:
            self.fail("puljed still running 25 s after SIGTERM, waiting on a silent "
                      "server (timeout = 30 s)")
        self.assert_no_crash(r)
        self.assertEqual(r.returncode, P.EXIT_OK, r.describe())
        self.assertLess(took, 5.0, "SIGTERM took %.1f s to end a fetch waiting on a silent "
                        "server (timeout = 30 s)\n%s" % (took, r.describe()))
        self.assertEqual(sorted(self.assert_recorded(cfg, msgs)), [1, 2], r.describe())
        srv.clear_faults()
        r = self.once(cfg)
        self.assertEqual(r.returncode, P.EXIT_OK, r.describe())
        recs = self.assert_recorded(cfg, msgs)
        self.assertEqual(sorted(recs), [1, 2, 3, 4, 5])


    # ------------------------------------------------------------ 11
    @budget(90)
    def test_11_exists_during_the_sync_is_not_lost_in_idle(self):
        # The daemon (poll_interval 60) records UIDs 1 and 2; while it
        # fetches UID 2, UID 3 arrives and the server says "* 3 EXISTS",
        # either among that fetch's responses or just after them, before
        # the next command.  This server, like a real one, does not
        # announce it again once IDLE begins: puljed must notice and sync
        # again at once, not at the next poll a minute later, and not by
        # way of a timed-out IDLE and a reconnection (Debian's libetpan
        # cannot parse an untagged response before IDLE's continuation).
        for where in ("inside", "after"):
            with self.subTest(exists=where):
                msgs = mailbox(3, seed=len(where))
                srv = self.server(msgs[:2])

                def arrive(response, tag, srv=srv, msgs=msgs, where=where):
                    srv.set_mailbox(msgs)
                    if where == "after":
                        return response + b"* 3 EXISTS\r\n"
                    at = response.rindex(tag + b" OK")
                    return response[:at] + b"* 3 EXISTS\r\n" + response[at:]
                srv.add_fault(F.Fault("FETCH-BODY", uid=2, replace=arrive, name="UID 3 arrives"))
                db = "exists-%s.db" % where
                cfg = self.write_config(srv, name="exists-%s.conf" % where, db=db)
                log = open(self.path("daemon-%s.log" % where), "w+b")
                self.addCleanup(log.close)
                proc = P.spawn_puljed(cfg, stdout=log, stderr=log)
                got = []
                try:
                    deadline = time.monotonic() + 20
                    while time.monotonic() < deadline and proc.poll() is None:
                        if os.path.exists(self.path(db)):
                            got = sorted(r["uid"] for r in self.recs(cfg, db))
                            if len(got) >= 3:
                                break
                        time.sleep(0.2)
                finally:
                    proc.terminate()
                    try:
                        proc.wait(timeout=10)
                    except subprocess.TimeoutExpired:
                        proc.kill()
                        proc.wait()
                log.seek(0)
                out = log.read().decode("utf-8", "replace") + "\ncommands: %s" % srv.log
                self.assertEqual([f[2] for f in srv.fired], ["UID 3 arrives"], out)
                self.assertEqual(got, [1, 2, 3], "UID 3, announced by an EXISTS %s the sync's "
                                 "fetch, was not recorded within 20 s (poll_interval = 60)\n%s"
                                 % (where, out))
                self.assertNotIn("reconnecting", out)
                self.assertEqual(srv.logins(), 1, out)
                self.assertEqual(proc.returncode, 0, out)
                self.assertNotIn(srv.password, out)
                self.assert_recorded(cfg, msgs, db=db)

    # ------------------------------------------------------------ 12
    @budget(120)
    def test_12_bodies_asked_for_together_are_told_apart_by_uid(self):
        # puljed asks for the bodies of several messages in one command.
        # Each body must go to the message its own response names, never
        # to the one at its position; whatever the command did not bring,
        # or brought out of step, is asked for again alone.  The server
        # answers UID 2's turn with: nothing (once, or always as if
        # expunged), the body of UID 3 (which then comes a second time),
        # or a UID that was not asked for.
        def body_of(m, seq):
            return b"* %d FETCH (UID %d BODY[] {%d}\r\n" % (seq, m.uid, len(m.raw)) + m.raw + b")\r\n"

        def skip(resp, tag):  # the response left out; a tagged OK it carried stays
            at = resp.find(tag + b" OK")
            return resp[at:] if at >= 0 else b""

        cases = [
            ("skipped once", dict(replace=skip, times=1), False, False),
            ("skipped always", dict(replace=skip, times=None), True, False),
            ("UID 3 in its place", None, False, True),
            ("a UID not asked for", dict(replace=lambda resp, tag: resp.replace(b"(UID 2 ", b"(UID 99 ", 1)),
             False, True),
        ]
        for label, fault, gone, reconnects in cases:
            with self.subTest(case=label):
                msgs = mailbox(5, seed=12 + len(label))
                if label == "UID 3 in its place":
                    fault = dict(replace=lambda resp, tag, m=msgs[2]: body_of(m, 3))
                srv = self.server(msgs, faults=[F.Fault("FETCH-BODY", uid=2, name=label, **fault)])
                db = "range-%d.db" % len(label)
                cfg = self.write_config(srv, name="range-%d.conf" % len(label), db=db)
                r = self.once(cfg)
                self.assert_no_crash(r)
                self.assertEqual(r.returncode, P.EXIT_OK, r.describe())
                self.assertTrue(srv.fired, "the fault never fired: %s" % srv.log)
                asked = srv.fetched_bodies()
                self.assertGreater(len(set(asked[:5])), 1, "no body asked for with others: %s" % asked)
                self.assertIn(2, asked[5:], "UID 2 not asked for again alone: %s" % asked)
                recs = self.assert_recorded(cfg, msgs, db=db, too_large=(2,) if gone else ())
                self.assertEqual(sorted(recs), [1, 2, 3, 4, 5], r.describe())
                for uid in (1, 3, 4, 5):
                    self.assertEqual(recs[uid]["sha256"], sha(msgs[uid - 1].raw), uid)
                if gone:
                    self.assertIn("gone", recs[2]["flags"] or "", recs[2])
                    self.assertIsNone(recs[2]["sha256"], recs[2])
                else:
                    self.assertEqual(recs[2]["sha256"], sha(msgs[1].raw), recs[2])
                self.assertEqual("reconnecting" in r.stderr, reconnects, r.describe())
                self.assertEqual(srv.logins(), 2 if reconnects else 1, r.describe())
    # ------------------------------------------------------------ 13
    @budget(120)
    def test_12b_internaldate_that_is_no_time(self):
        # INTERNALDATE year 0000 (and 0001, 1969: before any mail) cannot be
        # when a message arrived: no arrival (received_at null), the reason
        # arrival:invalid-internaldate, no deadline delta from it, and not
        # one GLib warning or critical in puljed or in puljectl's show,
        # report and export.  The server's text is kept.
        dates = ["01-Jan-0000 00:00:00 +0000", "31-Dec-0001 23:59:59 -1200",
                 "31-Dec-1969 23:59:59 +0000", ON_TIME]
        msgs = [F.Message(i + 1, m.raw, d) for i, (m, d) in enumerate(zip(mailbox(4, seed=13), dates))]
        srv = self.server(msgs)
        cfg = self.write_config(srv)
        r = self.once(cfg)
        self.assert_no_crash(r)
        self.assertEqual(r.returncode, P.EXIT_OK, r.describe())
        glib = re.compile(r"CRITICAL|WARNING \*\*|Gtk-|GLib-")
        self.assertIsNone(glib.search(r.stderr), r.describe())
        recs = self.assert_recorded(cfg, msgs)
        for uid, date in enumerate(dates[:3], 1):
            rec = recs[uid]
            self.assertIsNone(rec["received_at"], rec)
            shown = json.loads(self.run_ctl(cfg, "show", str(rec["id"]), "--json").stdout)
            self.assertEqual(shown["internaldate"], date, shown)
            self.assertIn("arrival:invalid-internaldate", rec["reasons"], rec)
            self.assertFalse([x for x in rec["reasons"] if re.match(r"deadline:(on-time|late)", x)], rec)
            self.assertNotEqual(rec["status"], "accepted", rec)
        self.assertEqual(recs[4]["status"], "accepted", recs[4])
        outs = []
        for uid in (1, 2, 3):
            outs.append(self.run_ctl(cfg, "show", str(recs[uid]["id"])))
            outs.append(self.run_ctl(cfg, "show", str(recs[uid]["id"]), "--json"))
        outs.append(self.run_ctl(cfg, "export", "--messages"))
        outs.append(self.run_ctl(cfg, "export", "--format", "json", "--messages"))
        outs.append(self.run_ctl(cfg, "export"))
        outs.append(self.run_ctl(cfg, "list"))
        outs.append(self.run_ctl(cfg, "report", "--output", self.path("report")))
        for o in outs:
            self.assertIsNone(glib.search(o.stderr), o.describe())


    # ------------------------------------------------------------ 13
    @budget(120)
    def test_13_crash_loop_backs_off_and_status_shows_it(self):
        # The daemon dies of SIGSEGV while it waits for the server's answer
        # to EXAMINE (as it would inside libetpan's parser), twice in a row.
        # Each time: the signal still kills it (-11), its run record beside
        # the database says what it was doing, and "puljectl status" shows
        # the last crash.  The next start logs the crash (its own
        # MESSAGE_ID in the journal) and waits 10 s, then 20 s after the
        # second crash in a row, before connecting, feeding the watchdog
        # and ending at once on SIGTERM; a successful poll ends the series.
        msgs = mailbox(2)
        srv = self.server(msgs, faults=[F.silence("EXAMINE", times=2)])
        cfg = self.write_config(srv)
        phase = "parsing the server's response to SELECT or EXAMINE"
        daemons = []

        def start(n):
            d = Daemon(cfg, self.path("daemon-%d.log" % n), watchdog_usec=2_000_000,
                       name="daemon %d" % n)
            daemons.append(d)
            self.addCleanup(d.close)
            self.assertTrue(d.wait_ready(10), d.describe())
            return d

        def crash_in_examine(d, nth):
            deadline = time.monotonic() + 30
            while srv.verbs().count("EXAMINE") < nth and time.monotonic() < deadline and d.alive:
                time.sleep(0.05)
            self.assertEqual(srv.verbs().count("EXAMINE"), nth, d.describe())
            time.sleep(0.3)
            d.signal(signal.SIGSEGV)
            self.assertEqual(d.wait(10), -signal.SIGSEGV, d.describe())
            st = P.puljectl(cfg, "status")
            self.assertRegex(st.stdout, r"Last crash: +\d{4}-\d\d-\d\d .*signal 11 \(SIGSEGV\)",
                             st.describe())
            self.assertIn(phase.split()[-1], st.stdout.replace("\n", " "), st.describe())

        d1 = start(1)
        crash_in_examine(d1, 1)
        with open(self.path("puljed.db.run")) as f:
            record = f.read()
        self.assertIn("state=crashed\n", record)
        self.assertIn("signal=11\n", record)
        self.assertIn("phase=%s\n" % phase, record)

        t0 = time.monotonic()
        d2 = start(2)
        m = d2.wait_output(r"did not stop cleanly: signal 11 \(SIGSEGV\) while %s, at \S+ "
                           r"\(1 unclean end in a row\); waiting 10 s before connecting"
                           % re.escape(phase), timeout=10)
        self.assertTrue(m, d2.describe())
        crash_in_examine(d2, 2)
        self.assertGreater(time.monotonic() - t0, 9.5, "connected before the 10 s wait ended")
        self.assertGreaterEqual(d2.notify.count("WATCHDOG=1"), 4, "the watchdog starved during the wait")
        self.assertTrue(any("Waiting 10 s" in x for x in d2.notify.statuses()), d2.describe())

        d3 = start(3)
        self.assertTrue(d3.wait_output(r"\(2 unclean ends in a row\); waiting 20 s before connecting",
                                       timeout=10), d3.describe())
        time.sleep(1)
        rc, took = d3.terminate()
        self.assertEqual(rc, 0, d3.describe())
        self.assertLess(took, 3, "SIGTERM during the wait after a crash took %.1f s" % took)
        self.assertEqual(srv.connections, 2, "connected during the wait")
        st = P.puljectl(cfg, "status", "--json")
        crash = json.loads(st.stdout)["last_crash"]
        self.assertEqual(crash["in_a_row"], 2, st.stdout)
        self.assertIn("SIGSEGV", crash["reason"])

        # A clean stop is no crash: the next start connects at once and,
        # with the server healthy, records everything; the series ends.
        d4 = start(4)
        self.assertTrue(d4.wait_output(r"poll of \S+: 2 new, 2 recorded", timeout=20), d4.describe())
        self.assertNotIn("did not stop cleanly", d4.output())
        rc, _ = d4.terminate()
        self.assertEqual(rc, 0, d4.describe())
        self.assertEqual(sorted(self.assert_recorded(cfg, msgs)), [1, 2])
        with open(self.path("puljed.db.run")) as f:
            record = f.read()
        self.assertIn("state=stopped\n", record)
        self.assertIn("crashes=0\n", record)

    # ------------------------------------------------------------ 14
    def lose_record(self, uid):
        """Deletes the record of UID and everything of it: a lost record."""
        for table in ("bodies", "attachments", "parts"):
            self.sql("DELETE FROM %s WHERE message = (SELECT id FROM messages WHERE uid = ?)" % table,
                     (uid,))
        self.sql("DELETE FROM messages WHERE uid = ?", (uid,))

    def watermark(self, db="puljed.db"):
        rows = self.sql("SELECT last_uid FROM mailboxes", db=self.path(db))
        return rows[0][0] if rows else None

    @budget(150)
    def test_14_a_lying_metadata_answer_never_moves_the_watermark(self):
        # A UID FETCH answer that names a UID the mailbox cannot have, a
        # message number beyond EXISTS, or UIDs that do not rise with the
        # message numbers is a protocol error: nothing of it is recorded
        # (no "gone" record), the watermark stays, and a healthy rerun
        # records every message.  Before, UID 4000000 became a "gone"
        # record and the watermark jumped past all later mail.
        msgs = mailbox(3)

        def swap_1_2(resp, tag):
            return resp.replace(b"UID 1 ", b"UID X ").replace(b"UID 2 ", b"UID 1 ") \
                .replace(b"UID X ", b"UID 2 ")
        lies = [
            ("uid-above-uidnext", lambda resp, tag: resp.replace(b"UID 3 ", b"UID 4000000 "),
             "UIDNEXT 4"),
            ("number-beyond-exists", lambda resp, tag: resp.replace(b"* 3 FETCH", b"* 9 FETCH"),
             "message 9"),
            ("uids-not-rising", swap_1_2, "do not rise"),
        ]
        for name, lie, why in lies:
            with self.subTest(lie=name):
                srv = self.server(msgs, faults=[F.Fault("FETCH-META", times=None, replace=lie)])
                db = name + ".db"
                cfg = self.write_config(srv, name=name + ".conf", db=db)
                r = self.once(cfg)
                self.assert_no_crash(r)
                self.assertEqual(r.returncode, P.EXIT_NETWORK, r.describe())
                self.assertIn("protocol error", r.stderr, r.describe())
                self.assertIn(why, r.stderr, r.describe())
                self.assertTrue(srv.fired, "the lie was never told")
                self.assertEqual(self.recs(cfg, db), [], "a record made from a lying answer")
                self.assertEqual(self.watermark(db), 0)
                if name == "uid-above-uidnext":
                    self.assertIn("STATUS", srv.verbs(), "a jump was not asked about again")
                srv.clear_faults()
                r = self.once(cfg)
                self.assertEqual(r.returncode, P.EXIT_OK, r.describe())
                self.assertEqual(sorted(self.assert_recorded(cfg, msgs, db=db)), [1, 2, 3])
                self.assertEqual(self.watermark(db), 3)

    @budget(90)
    def test_15_new_mail_during_the_session_is_believed_once_status_says_so(self):
        # Mail arriving between EXAMINE and the fetch has a UID at or above
        # the UIDNEXT EXAMINE told: puljed asks STATUS again, and records it.
        msgs = mailbox(3)
        late = F.Message(4, mailbox(1, seed=4)[0].raw, ON_TIME)
        srv = None

        def arrives(resp, tag):
            srv.set_mailbox(msgs + [late], uidvalidity=UIDVALIDITY)
            return resp
        srv = self.server(msgs, faults=[F.Fault("EXAMINE", replace=arrives),
                                        F.Fault("FETCH-META", before=b"* 4 EXISTS\r\n")])
        cfg = self.write_config(srv)
        r = self.once(cfg)
        self.assertEqual(r.returncode, P.EXIT_OK, r.describe())
        self.assertEqual(len(srv.fired), 2)
        self.assertIn("STATUS", srv.verbs())
        self.assertEqual(sorted(self.assert_recorded(cfg, msgs + [late])), [1, 2, 3, 4])
        self.assertEqual(self.watermark(), 4)

    @budget(150)
    def test_16_gap_check_fetches_what_has_no_record(self):
        # The cheap half of reconcile runs when due: a UID at or below the
        # watermark without a record is fetched and recorded; one the
        # server will not deliver stays reported, in status (not "ok") and
        # in puljed's exit code.
        msgs = mailbox(5)
        srv = self.server(msgs)
        cfg = self.write_config(srv, daemon=[("gap_check_interval", 1)])
        r = self.once(cfg)
        self.assertEqual(r.returncode, P.EXIT_OK, r.describe())
        self.assertIn("UID SEARCH", srv.verbs(), "no gap check on the first run")
        self.assertEqual(self.status_json(cfg)["gaps"], 0)

        lose = self.lose_record
        lose(3)
        time.sleep(1.2)
        mark = len(srv.log)
        r = self.once(cfg)
        self.assertEqual(r.returncode, P.EXIT_OK, r.describe())
        self.assertIn("have no record (UIDs 3)", r.stderr, r.describe())
        self.assertEqual(srv.fetched_bodies(since=mark), [3])
        self.assertEqual(sorted(self.assert_recorded(cfg, msgs)), [1, 2, 3, 4, 5])
        self.assertEqual(self.watermark(), 5)
        st = self.status_json(cfg)
        self.assertEqual((st["gaps"], st["gap_uids"], st["healthy"]), (0, [], True))

        # The server will not deliver UID 3's metadata: the gap stays, and
        # says so.
        lose(3)
        srv.add_fault(F.Fault("FETCH-META", uid=3, times=None,
                              replace=b"{tag} OK Fetch completed.\r\n"))
        time.sleep(1.2)
        r = self.once(cfg)
        self.assert_no_crash(r)
        self.assertEqual(r.returncode, P.EXIT_OTHER, r.describe())
        self.assertIn("still have no record (UIDs 3)", r.stderr, r.describe())
        st = self.status_json(cfg)
        self.assertEqual((st["gaps"], st["gap_uids"], st["healthy"]), (1, [3], False))
        text = self.run_ctl(cfg, "status", expect=1).stdout
        self.assertIn("GAPS", text)
        self.assertIn("UIDs 3", text)

    @budget(120)
    def test_17_the_daemon_checks_for_gaps_at_start(self):
        # The daemon runs the gap check at start and says what is missing
        # in its log and its sd_notify STATUS.
        msgs = mailbox(4)
        srv = self.server(msgs)
        cfg = self.write_config(srv)
        r = self.once(cfg)
        self.assertEqual(r.returncode, P.EXIT_OK, r.describe())
        self.lose_record(2)
        srv.add_fault(F.Fault("FETCH-META", uid=2, times=None,
                              replace=b"{tag} OK Fetch completed.\r\n"))
        d = self.spawn_daemon(cfg)
        self.assertIsNotNone(d.wait_ready(timeout=10), d.describe())
        self.assertIsNotNone(d.notify.wait_for(re.compile(r"^STATUS=.*without a record \(UIDs 2\)"), timeout=20), d.describe())
        d.wait_output("still have no record", timeout=10)
        d.terminate()
        self.assertEqual(self.status_json(cfg)["gap_uids"], [2])

if __name__ == "__main__":
    unittest.main(verbosity=2)
