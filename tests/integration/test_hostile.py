#!/usr/bin/python3
"""Hostile corpus: every message recorded, flagged, within time and memory.

Contract (issue "hostile corpus"): fixtures for 300-deep nesting, 20,000
parts, a 1 MB subject, NUL bytes in headers, bad base64, a missing closing
boundary, random bytes, headers only, a 25 MB attachment.  Each is recorded
(never dropped), flagged, and processed within the time and memory limits.

The messages come from tests/gen/hostile.py (deterministic; the 25 MB one is
made here, never committed) and are appended to a throwaway Dovecot with an
on-time INTERNALDATE.  puljed runs with the default limits (max_message_size
64M) under /usr/bin/time, which gives its peak RSS and elapsed time.

* ``test_all_at_once``: everything in INBOX, one `puljed --once`.  Exit 0;
  one record per UID; raw size and sha256 equal to what the server serves
  (for most messages, byte for byte what was appended -- see below); a
  non-null ``flags`` for every message the contract names (the 25 MB one
  excepted: it is a valid application, and the honest outcome is accepted,
  unflagged, its attachment decoded byte for byte); no flagged message
  accepted; `puljectl show ID` (human) exits 0 and prints no control
  character but newline, no bidi control; `show --json` agrees with `list`.
  Peak RSS <= 256 MB and time <= 120 s (PULJED_HOSTILE_MAX_RSS_MB and
  PULJED_HOSTILE_MAX_SECONDS change them; the issue-7 target is 64 MB and
  the figures are printed).
* ``test_each_alone``: every message alone (its own mailbox and database)
  plus a plain application as the baseline, for per-message figures.  A
  table name -> seconds, peak RSS, flags, status goes to stderr.
* ``test_memory``: issue 15's bound.  Each of hostile.MEMORY (300,000
  header fields, 100,000 parts, 100,000-deep nesting, 999 parts of 999
  fields, a 60 MB Content-Type field) in its own mailbox, followed by a plain application; one
  `puljed --once` each.  Peak RSS <= 64 MB + 2 x the message's size
  (the normal build; figures printed in any), the message recorded with
  its exact bytes and its flag, and the application after it recorded
  and accepted.
* ``test_sigterm_during_the_parse``: SIGTERM while puljed --once parses
  slow-parse-66mb (its assessing thread busy): exit 0 within 2 s (the
  figure printed), nothing half-recorded; a rerun records it whole and
  the application after it.
* ``test_a_parse_that_kills_is_not_retried_forever``: puljed --once is
  SIGKILLed twice while it parses slow-parse-66mb (as the OOM killer would
  kill a parse too big for memory); the third run records it unparsed
  (raw bytes exact, flagged ``unparsed``) and the application after it.
* ``test_verbatim_nul_and_random``: Dovecot does not serve NUL bytes (a
  BODY[] literal has them replaced by 0x80, RFC 3501 forbids NUL there) and
  serves bare LF as CRLF, so through Dovecot alone puljed never sees the NULs
  of ``nul-headers`` nor the exact bytes of ``random-bytes``.  A TLS proxy
  in front of Dovecot hands puljed the original bytes instead, as a server
  that stores mail byte for byte would; the records must then hash to the
  original bytes.

Needs PULJED and PULJECTL in the environment and /usr/bin/time.
Run:  PULJED=build/src/puljed PULJECTL=build/src/puljectl \\
      /usr/bin/python3 tests/integration/test_hostile.py
"""

import asyncio
import datetime as dt
import hashlib
import json
import os
import signal
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
sys.path.insert(0, os.path.join(HERE, "..", "gen"))

from harness import puljed as P  # noqa: E402
from harness.testcase import PuljedTestCase, parse_iso  # noqa: E402
import hostile  # noqa: E402

ON_TIME = "2022-06-15T10:00:00+02:00"
TIME_BIN = os.environ.get("TIME", "/usr/bin/time")
MAX_RSS_MB = float(os.environ.get("PULJED_HOSTILE_MAX_RSS_MB", "256"))


def _sanitized():
    """True for the AddressSanitizer build: its shadow memory and quarantine
    make peak RSS meaningless (1.2 GB for what takes 70 MB), so the memory
    limit is checked in the normal build only (the figures are printed)."""
    try:
        out = subprocess.run(["ldd", os.environ.get("PULJED", "")], stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL, text=True).stdout
    except OSError:
        return False
    return "libasan" in out


if _sanitized():
    MAX_RSS_MB = float("inf")
MAX_SECONDS = float(os.environ.get("PULJED_HOSTILE_MAX_SECONDS", "120"))
TARGET_RSS_MB = 64.0  # issue 7's target: reported, not asserted
# Issue 15: peak RSS <= MEMORY_BASE_MB + 2 x the message's size, whatever its structure.
MEMORY_BASE_MB = 64.0
MEMORY_EXPECT = {
    "headers-300000": {"too-many-headers"},
    "parts-100000": {"too-many-parts"},
    "deep-100000": {"too-deep"},
    "part-fields-999": {"too-many-headers"},
    "content-type-60mb": {"too-many-headers"},
}
assert set(MEMORY_EXPECT) == set(hostile.MEMORY)
RUN_TIMEOUT = max(300.0, 2.5 * MAX_SECONDS)
LIMITS = {"limits": {"max_message_size": "64M"}}

# What honesty asks of each message.
#   must_flag: the record's "flags" must be non-null (and the status not
#              "accepted").  The contract names nine messages; the 25 MB one
#              is a valid application below max_message_size, so flagging it
#              would be a lie (there is no flag for "large but fine").
#   want:      flags that must be among the record's flags, where one flag
#              is the obvious name for the damage.
#   fine:      a valid application: accepted, unflagged, attachment intact.
# The extra shapes (not in the contract) are reported, not required, unless
# the damage has an obvious flag (message/rfc822 300 deep is too-deep).
EXPECT = {
    "deep-300": dict(must_flag=True, want={"too-deep"}),
    "parts-20000": dict(must_flag=True, want={"too-many-parts"}),
    "subject-1mb": dict(must_flag=True, want=set()),
    "nul-headers": dict(must_flag=True, want=set()),
    "bad-base64": dict(must_flag=True, want={"bad-encoding"}),
    "no-closing-boundary": dict(must_flag=True, want={"truncated"}),
    "random-bytes": dict(must_flag=True, want=set()),
    "headers-only": dict(must_flag=True, want=set()),
    "attachment-25mb": dict(must_flag=False, want=set(), fine=True),
    "long-boundary": dict(must_flag=False, want=set()),
    "header-line-2mb": dict(must_flag=False, want=set()),
    "received-10000": dict(must_flag=False, want=set()),
    "deep-rfc822-300": dict(must_flag=True, want={"too-deep"}),
    "ctrl-headers": dict(must_flag=False, want=set()),
}
assert set(EXPECT) == set(hostile.NAMES)

_CORPUS = None


def corpus():
    """[(name, raw)], built once per process (about 50 MB)."""
    global _CORPUS
    if _CORPUS is None:
        _CORPUS = hostile.corpus()
    return _CORPUS


def baseline_message():
    """A plain, valid application with a small PDF: the floor to compare with."""
    import random
    rng = random.Random("baseline")
    return hostile.application("baseline", "Region Midtjylland", b"=_base",
                               [hostile.text_part(),
                                hostile.pdf_part(hostile.pdf_bytes(3000, rng))])


def sha(data):
    return hashlib.sha256(data).hexdigest()


MB = 1024.0 * 1024.0


def mb(kb):
    return kb / 1024.0


def flagset(rec):
    return set((rec.get("flags") or "").split(",")) - {""}


# Terminal-unsafe text: C0 controls but newline, DEL, C1 controls, and the bidi
# embedding/override/isolate controls.
_BIDI = set(range(0x202A, 0x202F)) | set(range(0x2066, 0x206A)) | {0x200E, 0x200F, 0x061C}


def unsafe_chars(data):
    """[(offset, description)] of what must not reach a terminal in bytes
    ``data`` (which must also be valid UTF-8)."""
    bad = []
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        return [(e.start, "invalid UTF-8 %r" % data[e.start:e.start + 4])]
    for i, ch in enumerate(text):
        o = ord(ch)
        if ch == "\n":
            continue
        if o < 0x20 or o == 0x7F or 0x80 <= o <= 0x9F:
            bad.append((i, "control U+%04X" % o))
        elif o in _BIDI:
            bad.append((i, "bidi control U+%04X" % o))
        if len(bad) >= 10:
            break
    return bad


class Timed:
    """One `puljed --once` under /usr/bin/time: returncode, stdout, stderr,
    rss_kb (peak RSS), seconds (elapsed, from time), wall (measured here)."""

    def __init__(self, argv, returncode, stdout, stderr, rss_kb, seconds, wall,
                 timed_out):
        self.argv, self.returncode = argv, returncode
        self.stdout, self.stderr = stdout, stderr
        self.rss_kb, self.seconds, self.wall = rss_kb, seconds, wall
        self.timed_out = timed_out

    @property
    def rss_mb(self):
        return mb(self.rss_kb) if self.rss_kb is not None else float("nan")

    def describe(self):
        return ("command: %s\nexit: %s%s  peak RSS %s KB  elapsed %s s\n"
                "--- stdout:\n%s\n--- stderr:\n%s" % (
                    " ".join(self.argv), self.returncode,
                    " (TIMED OUT)" if self.timed_out else "", self.rss_kb,
                    self.seconds, self.stdout[-4000:], self.stderr[-4000:]))


def timed_puljed(cfg, workdir, timeout=RUN_TIMEOUT):
    tfile = tempfile.NamedTemporaryFile(prefix="time-", dir=workdir, delete=False)
    tfile.close()
    argv = [TIME_BIN, "-o", tfile.name, "-f", "%M %e",
            P.puljed_path(), "--config", cfg, "--once"]
    t0 = time.monotonic()
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=P.clean_env(),
                            start_new_session=True)
    timed_out = False
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        timed_out = True
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
    wall = time.monotonic() - t0
    rss = secs = None
    try:
        with open(tfile.name) as f:
            lines = [l for l in f.read().splitlines() if l.strip()]
        # time writes "Command exited with non-zero status N" first, then ours.
        kb, s = lines[-1].split()
        rss, secs = int(kb), float(s)
    except (OSError, ValueError, IndexError):
        pass
    os.unlink(tfile.name)
    return Timed(argv, None if timed_out else proc.returncode,
                 out.decode("utf-8", "replace"), err.decode("utf-8", "replace"),
                 rss, secs, wall, timed_out)


class VerbatimProxy:
    """A TLS-terminating IMAP proxy in front of Dovecot's IMAPS port that,
    server to client, replaces each ``served`` literal (``{N}`` CRLF and the
    message as Dovecot serves it) by the ``original`` one: puljed then gets
    the bytes that were appended, NULs and bare LFs included, as from a
    server that keeps mail byte for byte."""

    def __init__(self, dc, swaps):
        self.swaps = [(b"{%d}\r\n" % len(s) + s, b"{%d}\r\n" % len(o) + o)
                      for s, o in swaps if s != o]
        self.replaced = 0
        cert, key = dc.certs.pair("good")
        self._server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self._server_ctx.load_cert_chain(cert, key)
        self._client_ctx = ssl.create_default_context(cafile=dc.ca_file)
        self.upstream = ("127.0.0.1", dc.imaps_port)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self._server = asyncio.run_coroutine_threadsafe(
            asyncio.start_server(self._handle, "127.0.0.1", 0, ssl=self._server_ctx),
            self._loop).result(timeout=10)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _handle(self, reader, writer):
        up_w = None
        try:
            up_r, up_w = await asyncio.open_connection(
                *self.upstream, ssl=self._client_ctx, server_hostname="localhost")
            a = asyncio.ensure_future(self._copy(reader, up_w))
            b = asyncio.ensure_future(self._swap(up_r, writer))
            _, pending = await asyncio.wait({a, b}, return_when=asyncio.FIRST_COMPLETED)
            if pending:
                await asyncio.wait(pending, timeout=2)
            for t in pending:
                t.cancel()
        except (OSError, ssl.SSLError, asyncio.CancelledError):
            pass
        finally:
            for w in (writer, up_w):
                if w is not None:
                    try:
                        w.close()
                    except Exception:
                        pass

    async def _copy(self, reader, writer):
        try:
            while True:
                data = await reader.read(65536)
                if not data:
                    break
                writer.write(data)
                await writer.drain()
        except (OSError, ssl.SSLError, ConnectionError):
            pass

    def _held(self, buf):
        """Length of the longest tail of buf that may be the start of a literal
        still to be swapped."""
        keep = 0
        for old, _ in self.swaps:
            start = max(0, len(buf) - len(old) + 1)
            p = buf.find(b"{", start)
            while p >= 0:
                if old.startswith(buf[p:]):
                    keep = max(keep, len(buf) - p)
                    break
                p = buf.find(b"{", p + 1)
        return keep

    async def _swap(self, reader, writer):
        buf = b""
        try:
            while True:
                data = await reader.read(65536)
                if not data:
                    break
                buf += data
                for old, new in self.swaps:
                    if old in buf:
                        self.replaced += buf.count(old)
                        buf = buf.replace(old, new)
                keep = self._held(buf)
                out, buf = buf[:len(buf) - keep], buf[len(buf) - keep:]
                if out:
                    writer.write(out)
                    await writer.drain()
            if buf:
                writer.write(buf)
                await writer.drain()
        except (OSError, ssl.SSLError, ConnectionError):
            pass

    def close(self):
        async def shutdown():
            self._server.close()
            await self._server.wait_closed()
        try:
            asyncio.run_coroutine_threadsafe(shutdown(), self._loop).result(timeout=5)
        except Exception:
            pass
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)
        if not self._thread.is_alive():
            self._loop.close()


class HostileTest(PuljedTestCase):

    # ------------------------------------------------------------ helpers
    def run_timed(self, cfg):
        r = timed_puljed(cfg, self.tmp)
        self.runs.append(r)
        self.check_no_secret(r)
        self.assertFalse(r.timed_out, "puljed did not finish within %.0f s\n%s"
                         % (RUN_TIMEOUT, r.describe()))
        self.assertIsNotNone(r.rss_kb, "no figures from %s\n%s" % (TIME_BIN, r.describe()))
        return r

    def show_checks(self, cfg, rec, name):
        """show --json agrees with list; human show exits 0 with clean text."""
        shown = self.run_ctl(cfg, "show", str(rec["id"]), "--json")
        obj = json.loads(shown.stdout)
        for k in ("id", "uid", "status", "flags", "sha256", "size", "subject"):
            self.assertEqual(obj.get(k), rec.get(k), "%s: show --json %s" % (name, k))
        self.assertIsInstance(obj.get("parts"), list, name)
        argv = [P.puljectl_path(), "--config", cfg, "show", str(rec["id"])]
        proc = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, env=P.clean_env(), timeout=60)
        self.assertEqual(proc.returncode, 0, "%s: puljectl show exit %s\n%s" % (
            name, proc.returncode, proc.stderr.decode("utf-8", "replace")[-2000:]))
        for label, data in (("stdout", proc.stdout), ("stderr", proc.stderr)):
            bad = unsafe_chars(data)
            self.assertEqual(bad, [], "%s: puljectl show printed on %s: %s" % (
                name, label, bad))
        return obj, proc.stdout

    def check_record(self, name, rec, served, appended, problems):
        """Per-record assertions (as subTests); adds notes to problems."""
        exp = EXPECT[name]
        flags = flagset(rec)
        with self.subTest(message=name, check="raw"):
            self.assertEqual(rec["size"], len(served), name)
            self.assertEqual(rec["sha256"], sha(served), name)
        if served != appended:
            problems.append("%s: Dovecot serves %d bytes for the %d appended "
                            "(NUL -> 0x80, bare LF -> CRLF); the record matches "
                            "what is served" % (name, len(served), len(appended)))
        with self.subTest(message=name, check="received_at"):
            self.assertEqual(parse_iso(rec["received_at"]),
                             dt.datetime.fromisoformat(ON_TIME), name)
        if exp["must_flag"]:
            with self.subTest(message=name, check="flagged"):
                self.assertTrue(flags, "%s: not flagged (contract: every hostile "
                                "message is flagged): %s" % (name, _brief(rec)))
            with self.subTest(message=name, check="not accepted"):
                self.assertNotEqual(rec["status"], "accepted", "%s: %s" % (name, _brief(rec)))
            if exp["want"]:
                with self.subTest(message=name, check="flag names"):
                    self.assertTrue(exp["want"] <= flags, "%s: want %s in flags, got %s"
                                    % (name, sorted(exp["want"]), rec.get("flags")))
        elif not flags:
            problems.append("%s: unflagged, status %s" % (name, rec["status"]))
        if exp.get("fine"):
            with self.subTest(message=name, check="valid application"):
                self.assertEqual(rec["status"], "accepted", _brief(rec))
                self.assertIsNone(rec["flags"], _brief(rec))
                self.assertEqual(len(rec["attachments"]), 1, _brief(rec))
                att = rec["attachments"][0]
                pdf = _decoded_pdf(appended)
                self.assertEqual(att["size"], len(pdf))
                self.assertEqual(att["sha256"], sha(pdf))
        if rec["status"] == "accepted" and flags:
            problems.append("%s: accepted although flagged %s" % (name, rec["flags"]))

    # ---------------------------------------------------------------- tests
    def test_all_at_once(self):
        dc = self.dovecot()
        cfg = self.config(dc, groups=LIMITS)
        appended = {}
        for name, raw in corpus():
            uid = dc.append("INBOX", raw, ON_TIME)
            appended[uid] = (name, raw)
        served = {uid: dc.fetch_raw(uid) for uid in appended}
        dc.close_client()

        r = self.run_timed(cfg)
        sys.stderr.write("\n[hostile] all %d messages (%.1f MB on the wire) in one run: "
                         "exit %s, %.2f s, peak RSS %.1f MB (%d KB; target %.0f MB, "
                         "limit %.0f MB)\n" % (
                             len(appended), sum(len(v[1]) for v in appended.values()) / 1e6,
                             r.returncode, r.seconds, r.rss_mb, r.rss_kb, TARGET_RSS_MB,
                             MAX_RSS_MB))
        if r.stderr.strip():
            sys.stderr.write("[hostile] puljed stderr:\n%s\n" % _indent(_clip_lines(r.stderr)))
        self.assertEqual(r.returncode, 0, r.describe())
        self.assertLessEqual(r.seconds, MAX_SECONDS, r.describe())
        self.assertLessEqual(r.rss_mb, MAX_RSS_MB, r.describe())

        recs = self.records(cfg)
        by_uid = {}
        for rec in recs:
            self.assertNotIn(rec["uid"], by_uid, "two records for UID %s" % rec["uid"])
            by_uid[rec["uid"]] = rec
        self.assertEqual(sorted(by_uid), sorted(appended),
                         "records for UIDs %s, appended %s" % (sorted(by_uid), sorted(appended)))

        problems = []
        rows = []
        for uid, (name, raw) in sorted(appended.items()):
            rec = by_uid[uid]
            self.check_record(name, rec, served[uid], raw, problems)
            with self.subTest(message=name, check="show"):
                self.show_checks(cfg, rec, name)
            rows.append((name, len(raw), rec))
        ls = self.run_ctl(cfg, "list")
        self.assertEqual(unsafe_chars(ls.stdout.encode("utf-8")), [], "puljectl list")
        self.assertEqual(self.run_ctl(cfg, "status", expect=None).returncode in (0, 1), True)

        problems += _log_notes(r.stderr)
        sys.stderr.write("[hostile] records:\n")
        sys.stderr.write(_indent(_record_table(rows)) + "\n")
        for name, _, rec in rows:
            sys.stderr.write("    %s: subject %s, applicant %s, from %s <%s>\n" % (
                name, _short(rec["subject"], 70), _short(rec["applicant"], 40),
                _short(rec["from_name"], 30), _short(rec["from"], 30)))
        if problems:
            sys.stderr.write("[hostile] notes:\n%s\n" % _indent("\n".join(problems)))

    def test_each_alone(self):
        dc = self.dovecot()
        items = [("baseline", baseline_message())] + list(corpus())
        mailboxes = {}
        for name, raw in items:
            mbox = "h-" + name
            dc.create_mailbox(mbox)
            uid = dc.append(mbox, raw, ON_TIME)
            mailboxes[name] = (mbox, uid, raw)
        dc.close_client()

        table = []
        failures = []
        for name, raw in items:
            mbox, uid, _ = mailboxes[name]
            cfg = self.config(dc, name="%s.conf" % name, mailbox=mbox,
                              database=self.path("%s.db" % name), groups=LIMITS)
            r = self.run_timed(cfg)
            recs = self.records(cfg, db=self.path("%s.db" % name))
            rec = recs[0] if len(recs) == 1 else None
            table.append((name, len(raw), r, rec))
            if r.returncode != 0:
                failures.append("%s: exit %s\n%s" % (name, r.returncode, r.describe()))
            if r.seconds is not None and r.seconds > MAX_SECONDS:
                failures.append("%s: %.1f s > %.0f s" % (name, r.seconds, MAX_SECONDS))
            if r.rss_mb > MAX_RSS_MB:
                failures.append("%s: peak RSS %.1f MB > %.0f MB" % (name, r.rss_mb, MAX_RSS_MB))
            if rec is None or rec["uid"] != uid:
                failures.append("%s: expected one record for UID %s, got %s" % (
                    name, uid, [x.get("uid") for x in recs]))
            elif name != "baseline" and EXPECT[name]["must_flag"] and not rec["flags"]:
                failures.append("%s: not flagged (status %s)" % (name, rec["status"]))
            if r.stderr.strip():
                sys.stderr.write("[hostile] %s: puljed stderr:\n%s\n" % (
                    name, _indent(_clip_lines(r.stderr))))

        sys.stderr.write("\n[hostile] each message alone (puljed --once; peak RSS from "
                         "%s %%M, time %%e; issue-7 target %.0f MB):\n" % (TIME_BIN, TARGET_RSS_MB))
        sys.stderr.write(_indent(_alone_table(table)) + "\n")
        self.assertEqual(failures, [], "\n".join(failures))

    def test_memory(self):
        dc = self.dovecot()
        items = [(name, hostile.build(name)) for name in hostile.MEMORY]
        after = baseline_message()
        boxes = {}
        for name, raw in items:
            mbox = "m-" + name
            dc.create_mailbox(mbox)
            boxes[name] = (mbox, dc.append(mbox, raw, ON_TIME), dc.append(mbox, after, ON_TIME))
        dc.close_client()

        rows, failures = [], []
        for name, raw in items:
            mbox, uid, next_uid = boxes[name]
            db = self.path("%s.db" % name)
            cfg = self.config(dc, name="%s.conf" % name, mailbox=mbox, database=db, groups=LIMITS)
            r = self.run_timed(cfg)
            bound = MEMORY_BASE_MB + 2 * len(raw) / MB
            rows.append((name, len(raw), r, bound))
            self.assertEqual(r.returncode, 0, r.describe())
            if r.rss_mb > bound and MAX_RSS_MB != float("inf"):
                failures.append("%s: peak RSS %.1f MB > %.1f MB (64 MB + 2 x %.1f MB)"
                                % (name, r.rss_mb, bound, len(raw) / MB))
            by_uid = {rec["uid"]: rec for rec in self.records(cfg, db=db)}
            self.assertEqual(sorted(by_uid), [uid, next_uid], name)
            rec = by_uid[uid]
            with self.subTest(message=name, check="raw"):
                self.assertEqual((rec["size"], rec["sha256"]), (len(raw), sha(raw)), name)
            with self.subTest(message=name, check="flags"):
                self.assertTrue(MEMORY_EXPECT[name] <= flagset(rec), "%s: %s" % (name, _brief(rec)))
                self.assertNotEqual(rec["status"], "accepted", _brief(rec))
            with self.subTest(message=name, check="the next message"):
                self.assertEqual(by_uid[next_uid]["status"], "accepted", _brief(by_uid[next_uid]))
        sys.stderr.write("\n[hostile] memory (puljed --once, message then a plain application; "
                         "bound 64 MB + 2 x size):\n")
        out = ["%-18s %10s %8s %9s %9s" % ("message", "bytes", "seconds", "RSS MB", "bound MB")]
        for name, size, r, bound in rows:
            out.append("%-18s %10d %8.2f %9.1f %9.1f" % (name, size, r.seconds, r.rss_mb, bound))
        sys.stderr.write(_indent("\n".join(out)) + "\n")
        self.assertEqual(failures, [], "\n".join(failures))

    def sigterm_when_busy(self, cfg, thread, cpu):
        """puljed --once, SIGTERM once its THREAD has used CPU seconds:
        (seconds it had used, seconds from SIGTERM to exit, Result)."""
        argv = [P.puljed_path(), "--config", cfg, "--once"]
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, env=P.clean_env())
        try:
            busy = _wait_thread_busy(proc, thread, cpu, timeout=RUN_TIMEOUT)
            took, r = P.sigterm_timed(proc, argv, 30)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
        self.runs.append(r)
        self.check_no_secret(r)
        if took is None:
            self.fail("puljed still running 30 s after SIGTERM")
        return busy, took, r

    def test_sigterm_during_the_parse(self):
        dc = self.dovecot()
        raw = hostile.build("slow-parse-66mb")
        after = baseline_message()
        uid = dc.append("INBOX", raw, ON_TIME)
        next_uid = dc.append("INBOX", after, ON_TIME)
        dc.close_client()
        cfg = self.config(dc, groups=LIMITS)
        # In the pre-scan (about 0.7 s of CPU here) and in GMime's parse after it.
        for cpu in (0.3, 1.5):
            busy, took, r = self.sigterm_when_busy(cfg, "puljed-assess", cpu)
            sys.stderr.write("\n[hostile] SIGTERM %.2f s into the parse of slow-parse-66mb "
                             "(%d bytes): exit %s after %.2f s\n"
                             % (busy, len(raw), r.returncode, took))
            self.assertTrue(busy > 0, "the assessing thread never got busy\n" + r.describe())
            self.assertEqual(r.returncode, P.EXIT_OK, r.describe())
            self.assertLess(took, 2.0, "SIGTERM during a parse took %.2f s\n%s" % (took, r.describe()))
            self.assertEqual(self.records(cfg), [], "something was recorded of an interrupted parse")
        r = self.run_timed(cfg)
        self.assertEqual(r.returncode, 0, r.describe())
        by_uid = {rec["uid"]: rec for rec in self.records(cfg)}
        self.assertEqual(sorted(by_uid), [uid, next_uid])
        self.assertEqual((by_uid[uid]["size"], by_uid[uid]["sha256"]), (len(raw), sha(raw)))
        self.assertNotIn("stopped", flagset(by_uid[uid]), _brief(by_uid[uid]))
        self.assertEqual(by_uid[next_uid]["status"], "accepted", _brief(by_uid[next_uid]))

    def test_a_parse_that_kills_is_not_retried_forever(self):
        dc = self.dovecot()
        raw = hostile.build("slow-parse-66mb")
        uid = dc.append("INBOX", raw, ON_TIME)
        next_uid = dc.append("INBOX", baseline_message(), ON_TIME)
        dc.close_client()
        cfg = self.config(dc, groups=LIMITS)
        argv = [P.puljed_path(), "--config", cfg, "--once"]
        for n in (1, 2):
            proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, env=P.clean_env())
            try:
                busy = _wait_thread_busy(proc, "puljed-assess", 0.3, timeout=RUN_TIMEOUT)
                proc.kill()
            finally:
                proc.communicate()
            self.assertTrue(busy > 0, "run %d: the assessing thread never got busy" % n)
            self.assertEqual(proc.returncode, -signal.SIGKILL)
            self.assertEqual(self.records(cfg), [], "run %d recorded something" % n)
        r = self.run_timed(cfg)
        self.assertEqual(r.returncode, 0, r.describe())
        by_uid = {rec["uid"]: rec for rec in self.records(cfg)}
        self.assertEqual(sorted(by_uid), [uid, next_uid])
        rec = by_uid[uid]
        sys.stderr.write("\n[hostile] killed twice in its parse, then: %s, %.2f s\n"
                         % (_brief(rec), r.seconds))
        self.assertEqual((rec["size"], rec["sha256"]), (len(raw), sha(raw)))
        self.assertEqual(flagset(rec), {"unparsed"}, _brief(rec))
        self.assertEqual(rec["status"], "review", _brief(rec))
        self.assertEqual(by_uid[next_uid]["status"], "accepted", _brief(by_uid[next_uid]))
        # The note is gone with the run: nothing is left beside the database.
        self.assertFalse(os.path.exists(self.path("puljed.db.parsing")))

    def test_verbatim_nul_and_random(self):
        dc = self.dovecot()
        names = ("nul-headers", "random-bytes")
        raws = dict(corpus())
        appended = {}
        for name in names:
            appended[dc.append("INBOX", raws[name], ON_TIME)] = name
        swaps = []
        for uid, name in appended.items():
            served = dc.fetch_raw(uid)
            self.assertNotEqual(served, raws[name],
                                "%s: Dovecot now serves it byte for byte; the proxy "
                                "is not needed any more" % name)
            swaps.append((served, raws[name]))
        dc.close_client()
        proxy = VerbatimProxy(dc, swaps)
        self.addCleanup(proxy.close)
        cfg = self.config(dc, port=proxy.port, groups=LIMITS)

        r = self.run_timed(cfg)
        sys.stderr.write("\n[hostile] verbatim (NUL bytes and bare LF reach puljed): exit %s, "
                         "%.2f s, peak RSS %.1f MB, literals swapped %d\n" % (
                             r.returncode, r.seconds, r.rss_mb, proxy.replaced))
        if r.stderr.strip():
            sys.stderr.write("[hostile] puljed stderr:\n%s\n" % _indent(_clip_lines(r.stderr)))
        self.assertEqual(r.returncode, 0, r.describe())
        self.assertEqual(proxy.replaced, len(names), "the proxy did not swap every literal")
        recs = self.records(cfg)
        by_uid = {rec["uid"]: rec for rec in recs}
        self.assertEqual(sorted(by_uid), sorted(appended))
        rows = []
        for uid, name in sorted(appended.items()):
            rec = by_uid[uid]
            raw = raws[name]
            with self.subTest(message=name, check="raw"):
                self.assertEqual((rec["size"], rec["sha256"]), (len(raw), sha(raw)),
                                 "%s: the record is not the bytes the server sent" % name)
            with self.subTest(message=name, check="flagged"):
                self.assertTrue(rec["flags"], "%s: not flagged: %s" % (name, _brief(rec)))
                self.assertNotEqual(rec["status"], "accepted", _brief(rec))
            with self.subTest(message=name, check="show"):
                self.show_checks(cfg, rec, name)
            rows.append((name, len(raw), rec))
        sys.stderr.write(_indent(_record_table(rows)) + "\n")
        for name, _, rec in rows:
            sys.stderr.write("    %s: subject %s, applicant %s, from %s <%s>\n" % (
                name, _short(rec["subject"], 90), _short(rec["applicant"]),
                _short(rec["from_name"]), _short(rec["from"])))
        for note in _log_notes(r.stderr):
            sys.stderr.write("    note: %s\n" % note)


# ------------------------------------------------------------------ helpers
def _wait_thread_busy(proc, name, cpu, timeout):
    """Waits until PROC's thread NAME has used CPU seconds of its own (it is
    working, not waiting); the seconds it has used, or 0 when PROC ended or
    TIMEOUT passed first."""
    tick = os.sysconf("SC_CLK_TCK")
    deadline = time.monotonic() + timeout
    while proc.poll() is None and time.monotonic() < deadline:
        try:
            for tid in os.listdir("/proc/%d/task" % proc.pid):
                with open("/proc/%d/task/%s/comm" % (proc.pid, tid)) as f:
                    if f.read().strip() != name:
                        continue
                with open("/proc/%d/task/%s/stat" % (proc.pid, tid)) as f:
                    fields = f.read().rsplit(")", 1)[1].split()
                used = (int(fields[11]) + int(fields[12])) / tick
                if used >= cpu:
                    return used
        except (OSError, IndexError, ValueError):
            pass
        time.sleep(0.02)
    return 0


def _decoded_pdf(raw):
    import email
    import email.policy
    msg = email.message_from_bytes(raw, policy=email.policy.compat32)
    for part in msg.walk():
        if part.get_content_type() == "application/pdf":
            return part.get_payload(decode=True)
    raise AssertionError("no PDF in the message")


def _log_notes(stderr):
    """What is worth saying about puljed's own log lines: very long lines
    (a header value logged whole) and terminal-unsafe characters."""
    notes = []
    lines = stderr.splitlines()
    if lines:
        longest = max(lines, key=len)
        if len(longest) > 4096:
            notes.append("puljed logged a line of %d characters (%s)" % (
                len(longest), _short(longest, 50)))
    bad = unsafe_chars(stderr.encode("utf-8"))
    if bad:
        notes.append("puljed's log carries terminal-unsafe characters: %s" % bad[:5])
    return notes


def _clip_lines(text, width=200, count=40):
    """text's last ``count`` lines, each cut to ``width`` characters."""
    lines = text.strip().splitlines()[-count:]
    return "\n".join(_short(l, width) for l in lines)


def _brief(rec):
    return "status %s, flags %s, reasons %s, attachments %d" % (
        rec.get("status"), rec.get("flags"), rec.get("reasons"),
        len(rec.get("attachments") or []))


def _indent(text):
    return "\n".join("    " + l for l in text.splitlines())


def _short(text, n=60):
    text = "" if text is None else str(text)
    text = "".join(ch if ch.isprintable() else "\\x%02x" % ord(ch) if ord(ch) < 256
                   else "\\u%04x" % ord(ch) for ch in text)
    return text if len(text) <= n else text[:n - 1] + "\u2026"


def _record_table(rows):
    out = ["%-20s %10s  %-9s %-28s %4s  %s" % ("message", "bytes", "status", "flags",
                                             "atts", "reasons")]
    for name, size, rec in rows:
        out.append("%-20s %10d  %-9s %-28s %4d  %s" % (
            name, size, rec["status"], rec["flags"] or "-", len(rec["attachments"] or []),
            _short(",".join(rec.get("reasons") or []), 70)))
    return "\n".join(out)


def _alone_table(rows):
    out = ["%-20s %10s %8s %9s  %-9s %-28s %s" % ("message", "bytes", "seconds", "RSS MB",
                                                 "status", "flags", "exit")]
    for name, size, r, rec in rows:
        out.append("%-20s %10d %8.2f %9.1f  %-9s %-28s %s" % (
            name, size, r.seconds if r.seconds is not None else float("nan"), r.rss_mb,
            rec["status"] if rec else "(none)", (rec["flags"] if rec else None) or "-",
            r.returncode))
    return "\n".join(out)


if __name__ == "__main__":
    unittest.main(verbosity=2)
