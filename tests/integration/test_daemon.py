#!/usr/bin/python3
"""puljed as a service (issue 5): sd_notify, IDLE, signals, reconnects, locking.

Needs PULJED and PULJECTL in the environment (paths of the built binaries).
Run:  PULJED=build/src/puljed PULJECTL=build/src/puljectl \\
      /usr/bin/python3 tests/integration/test_daemon.py [-k name]

Every daemon is started with its output in a file under the test's temp dir
and is SIGKILLed in cleanup if it is still running; every wait is bounded.
"""

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

from harness.silent import SilentServer  # noqa: E402
from harness import messages as M  # noqa: E402
from harness import puljed as P  # noqa: E402
from harness.dovecot import Dovecot, DovecotError, free_port  # noqa: E402
from harness.notify import NotifySocket  # noqa: E402
from harness.daemon import Daemon as HarnessDaemon  # noqa: E402
from harness.testcase import PuljedTestCase  # noqa: E402

ON_TIME = "2022-06-15T10:00:00+02:00"
RECONNECT_RE = re.compile(r"reconnect", re.I)
AUTH_FAIL_RE = re.compile(
    r"^.*(?:login|authenticat).*(?:fail|reject|denied|invalid|wrong|refused).*$|"
    r"^.*(?:fail|reject|denied|invalid|wrong|refused).*(?:login|authenticat).*$",
    re.I | re.M)
RECONNECT_DELAY_RE = re.compile(r"reconnecting in (\d+(?:\.\d+)?)\s*s", re.I)


def say(text):
    sys.stderr.write("\n  [daemon] %s\n" % text)
    sys.stderr.flush()


class PinnedDovecot(Dovecot):
    """A Dovecot that keeps its ports across stop()/start() (the stock
    harness picks new free ports on every start), and can be told which
    ports to use before its first start."""

    def __init__(self, *args, imap_port=None, imaps_port=None, **kw):
        self._pin = (imap_port, imaps_port) if imap_port or imaps_port else None
        super().__init__(*args, **kw)

    def start(self, timeout=20.0):
        if self.proc is not None:
            return self
        if self._pin is None:
            super().start(timeout)
            self._pin = (self.imap_port, self.imaps_port)
            return self
        imap, imaps = self._pin
        self.imap_port = imap or free_port()
        self.imaps_port = (imaps or free_port()) if self.ssl else None
        self._pin = (self.imap_port, self.imaps_port)
        deadline = time.monotonic() + 30.0
        while True:
            self._write_files()
            try:
                self._spawn_and_wait(timeout)
                return self
            except DovecotError:
                self._kill_group()
                try:
                    self.proc.wait(timeout=5)
                except Exception:
                    pass
                self.proc = None
                text = self.log_text() + self._stderr_text()
                if ("Address already in use" in text or "EADDRINUSE" in text) \
                        and time.monotonic() < deadline:
                    time.sleep(0.5)  # the old listener is still going away
                    continue
                raise


class Daemon(HarnessDaemon):
    """One background `puljed --config CFG` (no --once) under a notify socket,
    its log in the test's directory."""

    def __init__(self, test, cfg, name="daemon", **kw):
        super().__init__(cfg, test.path("%s.log" % name), name=name, **kw)
        self.test = test

    def terminate(self, timeout=5.0):
        return super().terminate(timeout)


class DaemonTest(PuljedTestCase):

    def setUp(self):
        super().setUp()
        self.daemons = []
        # Registered after PuljedTestCase's cleanup, so it runs first: the
        # daemons die before Dovecot is stopped and the temp dir removed.
        self.addCleanup(self._cleanup_daemons)

    def _cleanup_daemons(self):
        failed = self._failed()
        for d in self.daemons:
            if failed:
                sys.stderr.write("\n--- %s\n" % d.describe())
            d.close()
        # No secret in any daemon output or notify message, whatever happened.
        for d in self.daemons:
            text = d.output()
            lines = "\n".join(d.notify.lines()) if d.notify else ""
            for secret in self.secrets:
                if secret in text or secret in lines:
                    self.fail("a password leaked in the output or notify "
                              "messages of %s" % d.name)

    # ------------------------------------------------------------ helpers
    def start_daemon(self, cfg, **kw):
        d = Daemon(self, cfg, **kw)
        self.daemons.append(d)
        return d

    def pinned_dovecot(self, **kw):
        dc = PinnedDovecot(**kw)
        self.instances.append(dc)
        self.secrets.append(dc.password)
        return dc

    def count_records(self, cfg, via_db=False):
        """len(puljectl list --json), 0 before the database exists; no
        bookkeeping in self.runs (used in polling loops).  via_db: use
        --db instead of --config (when the config file is broken on purpose)."""
        if not os.path.exists(self.path("puljed.db")):
            return 0
        r = P.puljectl(cfg, "list", "--json",
                       db=self.path("puljed.db") if via_db else None)
        self.check_no_secret(r)
        if r.returncode != 0:
            return -1  # e.g. the daemon holds a write lock; try again
        try:
            return len(json.loads(r.stdout))
        except ValueError:
            return -1

    def wait_records(self, cfg, n, timeout, daemon=None, via_db=False):
        """Wait until at least n records exist; returns (count, seconds)."""
        t0 = time.monotonic()
        deadline = t0 + timeout
        c = 0
        while True:
            c = self.count_records(cfg, via_db)
            if c >= n:
                return c, time.monotonic() - t0
            if time.monotonic() >= deadline:
                return c, time.monotonic() - t0
            if daemon is not None and not daemon.alive:
                return c, time.monotonic() - t0
            time.sleep(0.1)

    def assert_ready(self, d, timeout=5.0):
        m = d.notify.wait_for("READY=1", timeout=timeout)
        self.assertIsNotNone(m, "no READY=1 within %.0f s\n%s" % (timeout, d.describe()))
        return m

    def assert_alive(self, d, what=""):
        self.assertTrue(d.alive, "puljed died %s\n%s" % (what, d.describe()))

    def assert_exactly_once(self, cfg, expected_uids, uidvalidity=None, via_db=False):
        recs = self.records(cfg, db=self.path("puljed.db") if via_db else None)
        keys = [(r["uidvalidity"], r["uid"]) for r in recs]
        self.assertEqual(len(keys), len(set(keys)),
                         "a message was recorded twice: %s" % sorted(keys))
        self.assertEqual(sorted(r["uid"] for r in recs), sorted(expected_uids))
        if uidvalidity is not None:
            self.assertEqual({r["uidvalidity"] for r in recs}, {uidvalidity})
        for r in recs:
            self.assertIsNone(r["duplicate_of"], r)
        return recs

    def assert_watchdog_regular(self, d, what, max_gap=1.5):
        """WATCHDOG=1 kept coming (WATCHDOG_USEC=2 s: every <= 1 s, plus
        slack) from READY=1 until now -- also while waiting to retry."""
        ready = d.notify.first("READY=1")
        self.assertIsNotNone(ready, d.describe())
        times = [ready.time] + [m.time for m in d.notify.find("WATCHDOG=1")
                                if m.time >= ready.time] + [time.monotonic()]
        gaps = [b - a for a, b in zip(times, times[1:])]
        self.assertLess(max(gaps), max_gap,
                        "no WATCHDOG=1 for %.1f s %s (systemd would kill the "
                        "service)\n%s" % (max(gaps), what, d.describe()))

    def stop_ok(self, d, timeout=5.0):
        rc, took = d.terminate(timeout)
        self.assertIsNotNone(rc, "puljed did not exit within %.0f s of SIGTERM\n%s"
                             % (timeout, d.describe()))
        self.assertEqual(rc, 0, "exit after SIGTERM\n" + d.describe())
        self.check_no_secret(d.result())
        return took

    def app(self, i, size=700, seed=None):
        return M.application("Ansoeger %03d" % i, M.fake_pdf(size, seed=i if seed is None else seed))

    # ------------------------------------------------------------ a)
    def test_a_notify_ready_status_watchdog(self):
        dc = self.dovecot()
        uids = [dc.append("INBOX", self.app(i), ON_TIME) for i in range(3)]
        dc.close_client()
        cfg = self.config(dc, poll_interval=60)
        d = self.start_daemon(cfg, watchdog_usec=2_000_000, watchdog_pid_self=True)
        ready = self.assert_ready(d, timeout=10)
        self.assertIsNotNone(d.notify.wait_for("STATUS=", timeout=10),
                             "no STATUS= message\n" + d.describe())
        # At least 3 WATCHDOG=1 in the 4 s after READY=1 (every <= 1 s).
        t_end = ready.time + 4.0
        time.sleep(max(0.0, t_end - time.monotonic()) + 0.05)
        dogs = [m for m in d.notify.find("WATCHDOG=1") if m.time <= t_end]
        self.assertGreaterEqual(len(dogs), 3,
                                "WATCHDOG_USEC=2000000 but only %d WATCHDOG=1 in the 4 s "
                                "after READY=1\n%s" % (len(dogs), d.describe()))
        n, took = self.wait_records(cfg, 3, 20, daemon=d)
        self.assertEqual(n, 3, "the 3 messages were not recorded\n" + d.describe())
        self.assert_exactly_once(cfg, uids)
        # Keep watching: gaps between keep-alives stay within WATCHDOG_USEC/2
        # (plus scheduling slack) while idling.
        time.sleep(3.0)
        times = [m.time for m in d.notify.find("WATCHDOG=1")]
        gaps = [b - a for a, b in zip(times, times[1:])]
        self.assertTrue(gaps, d.describe())
        say("watchdog: %d keep-alives, largest gap %.2f s" % (len(times), max(gaps)))
        self.assertLess(max(gaps), 1.5, "WATCHDOG=1 gap %.2f s > WATCHDOG_USEC/2 "
                        "(+0.5 s slack)\n%s" % (max(gaps), d.describe()))
        # systemd (NotifyAccess=main) only accepts messages from the main pid.
        pids = d.notify.pids() - {None}
        self.assertLessEqual(pids, {d.pid}, "notify messages from other pids than "
                             "the main process %d: %s" % (d.pid, pids))
        self.assert_alive(d)
        # STATUS is kept current in words ("Idle — 3 recorded, last poll ...").
        last = d.notify.statuses()[-1]
        self.assertRegex(last, re.compile(r"idle", re.I), d.describe())
        self.assertRegex(last, r"\b3\b", "the STATUS does not say how many were "
                         "recorded\n" + d.describe())
        self.stop_ok(d)

    # ------------------------------------------------------------ b)
    def test_b_idle_push(self):
        dc = self.dovecot()
        first = dc.append("INBOX", self.app(0), ON_TIME)
        cfg = self.config(dc, poll_interval=300)  # only IDLE can explain < 5 s
        # WATCHDOG_PID names another process: the watchdog is not ours.
        d = self.start_daemon(cfg, watchdog_usec=1_000_000,
                              extra_env={"WATCHDOG_PID": "1"})
        self.assert_ready(d, timeout=10)
        n, _ = self.wait_records(cfg, 1, 20, daemon=d)
        self.assertEqual(n, 1, "the first message was not recorded\n" + d.describe())
        time.sleep(1.5)  # let it settle into IDLE
        uids = [first]
        latencies = []
        for i in (1, 2):  # twice: IDLE must be re-armed after the first EXISTS
            uid = dc.append("INBOX", self.app(i), "2022-06-16T09:00:00+02:00")
            uids.append(uid)
            n, took = self.wait_records(cfg, i + 1, 5.0, daemon=d)
            latencies.append(took)
            self.assertEqual(n, i + 1, "message %d appended while idling was not recorded "
                             "within 5 s (poll_interval = 300, so IDLE did not "
                             "work)\n%s" % (i, d.describe()))
            time.sleep(1.0)
        say("IDLE push latency: %s" % ", ".join("%.2f s" % t for t in latencies))
        self.assertEqual(d.notify.count("WATCHDOG=1"), 0,
                         "WATCHDOG=1 sent although WATCHDOG_PID is another pid\n"
                         + d.describe())
        dc.close_client()
        self.assert_alive(d)
        self.stop_ok(d)
        self.assert_exactly_once(cfg, uids)

    # ------------------------------------------------------------ c)
    def test_c_sigterm_while_idling(self):
        dc = self.dovecot()
        dc.append("INBOX", self.app(0), ON_TIME)
        dc.close_client()
        cfg = self.config(dc, poll_interval=300)
        d = self.start_daemon(cfg)
        self.assert_ready(d, timeout=10)
        n, _ = self.wait_records(cfg, 1, 20, daemon=d)
        self.assertEqual(n, 1, d.describe())
        time.sleep(2.0)
        mark = d.notify.mark()
        took = self.stop_ok(d, timeout=5.0)
        say("SIGTERM while idling: exit 0 after %.2f s" % took)
        self.assertIsNotNone(d.notify.wait_for("STOPPING=1", timeout=0.5, since=mark),
                             "no STOPPING=1 after SIGTERM\n" + d.describe())

    def test_c_sigterm_mid_fetch(self):
        n_msgs = 30
        dc = self.dovecot()
        first = dc.append("INBOX", self.app(0), ON_TIME)
        uidvalidity = dc.uidvalidity()
        cfg = self.config(dc, poll_interval=2)
        d = self.start_daemon(cfg)
        self.assert_ready(d, timeout=10)
        n, _ = self.wait_records(cfg, 1, 20, daemon=d)
        self.assertEqual(n, 1, d.describe())
        rnd = random.Random(5)
        expected = {first: None}
        for i in range(n_msgs):
            data = rnd.randbytes(100 * 1024)
            uid = dc.append("INBOX", M.application("Ansoeger %03d" % i, data,
                                                   filename="bilag-%03d.pdf" % i), ON_TIME)
            expected[uid] = hashlib.sha256(data).hexdigest()
        dc.close_client()
        # Right after the appends: once the daemon has started on them (or 3 s).
        before, _ = self.wait_records(cfg, 2, 3.0, daemon=d)
        mark = d.notify.mark()
        took = self.stop_ok(d, timeout=5.0)
        after = self.count_records(cfg)
        say("SIGTERM mid-fetch: %d records at SIGTERM, %d at exit (of %d); exit 0 "
            "after %.2f s%s" % (before, after, n_msgs + 1, took,
                                "" if after < n_msgs + 1 else
                                " -- NB: the fetch had already finished"))
        self.assertIsNotNone(d.notify.wait_for("STOPPING=1", timeout=0.5, since=mark),
                             d.describe())
        db = self.path("puljed.db")
        self.assertEqual(self.integrity_check(db), "ok")
        self.run_puljed(cfg, "--once", expect=P.EXIT_OK, timeout=300)
        self.assertEqual(self.integrity_check(db), "ok")
        recs = self.assert_exactly_once(cfg, list(expected), uidvalidity)
        for r in recs:
            if expected[r["uid"]] is not None:
                self.assertEqual([a["sha256"] for a in r["attachments"]],
                                 [expected[r["uid"]]], "uid %s" % r["uid"])

    def test_c_sigterm_while_connecting(self):
        # A server that accepts the connection and never says a word: puljed
        # is waiting for the greeting ([imap] timeout 60 s); SIGTERM must
        # still end it within 5 s, with exit 0.
        with SilentServer() as silent:
            dc = self.dovecot(start=False)
            for security in ("tls", "starttls"):
                with self.subTest(security=security):
                    del silent.connections[:]
                    cfg = self.config(dc, port=silent.port, security=security,
                                      poll_interval=60,
                                      groups={"imap": {"timeout": 60}})
                    d = self.start_daemon(cfg, name="daemon-" + security)
                    self.assert_ready(d, timeout=5)
                    deadline = time.monotonic() + 5
                    while not silent.connections and time.monotonic() < deadline:
                        time.sleep(0.05)
                    self.assertTrue(silent.connections, "puljed never connected\n" + d.describe())
                    time.sleep(1.0)
                    # Measure with a long wait, then judge against 5 s.
                    rc, took = d.terminate(timeout=20.0)
                    say("SIGTERM while waiting for a silent server (%s): exit %s "
                        "after %.2f s" % (security, rc, took))
                    self.assertEqual(rc, 0, d.describe())
                    self.assertLess(took, 5.0, "SIGTERM while waiting for the "
                                    "server (%s) took %.1f s\n%s"
                                    % (security, took, d.describe()))

    # ------------------------------------------------------------ d)
    def test_d_sighup_reload(self):
        dc = self.dovecot()
        uids = [dc.append("INBOX", self.app(0), ON_TIME)]
        cfg = self.config(dc, poll_interval=60)
        d = self.start_daemon(cfg)
        self.assert_ready(d, timeout=10)
        n, _ = self.wait_records(cfg, 1, 20, daemon=d)
        self.assertEqual(n, 1, d.describe())

        # A valid change: RELOADING=1, then READY=1, still running.
        self.config(dc, poll_interval=2)
        mark = d.notify.mark()
        d.signal(signal.SIGHUP)
        rl = d.notify.wait_for("RELOADING=1", timeout=5, since=mark)
        self.assertIsNotNone(rl, "no RELOADING=1 after SIGHUP\n" + d.describe())
        rd = d.notify.wait_for("READY=1", timeout=5, since=rl.index + 1)
        self.assertIsNotNone(rd, "no READY=1 after RELOADING=1\n" + d.describe())
        time.sleep(1.0)
        self.assert_alive(d, "after SIGHUP with a valid config")
        uids.append(dc.append("INBOX", self.app(1), ON_TIME))
        n, took = self.wait_records(cfg, 2, 10, daemon=d)
        self.assertEqual(n, 2, "no new mail recorded after the reload\n" + d.describe())

        # A broken config: logged, the old one kept, still recording.
        self.config(dc, poll_interval=2, groups={"imap": {"colour": "blue"}})
        mark = d.notify.mark()
        out_mark = d.output_mark()
        d.signal(signal.SIGHUP)
        m = d.wait_output(r"colour", since=out_mark, timeout=5)
        self.assertIsNotNone(m, "the config error is not in the log\n" + d.describe())
        time.sleep(1.0)
        self.assert_alive(d, "after SIGHUP with a broken config")
        err = d.output(out_mark)
        self.assertIn(cfg, err, "the log line does not name the config file\n" + err)
        # If it told systemd it was reloading, it must say READY=1 again, or
        # the unit stays "reloading" for good.
        rl = d.notify.first("RELOADING=1", since=mark)
        if rl is not None:
            self.assertIsNotNone(d.notify.wait_for("READY=1", timeout=5, since=rl.index + 1),
                                 "RELOADING=1 without a READY=1 after a bad config\n"
                                 + d.describe())
        uids.append(dc.append("INBOX", self.app(2), ON_TIME))
        dc.close_client()
        # (puljectl --config would refuse the broken file: read via --db.)
        n, took = self.wait_records(cfg, 3, 10, daemon=d, via_db=True)
        self.assertEqual(n, 3, "no new mail recorded after a rejected reload\n"
                         + d.describe())
        self.assert_alive(d)
        self.stop_ok(d)
        self.assert_exactly_once(cfg, uids, via_db=True)

    # ------------------------------------------------------------ e)
    def test_e_unreachable_at_start(self):
        port = free_port()
        dc = self.pinned_dovecot(start=False, imaps_port=port)
        cfg = self.config(dc, port=port, security="tls", poll_interval=60)
        d = self.start_daemon(cfg, watchdog_usec=2_000_000)
        self.assert_ready(d, timeout=5)
        self.assertIsNotNone(d.notify.wait_for(lambda m: m.key == "STATUS" and
                                               RECONNECT_RE.search(m.value),
                                               timeout=10),
                             "no STATUS= mentions reconnecting\n" + d.describe())
        # Collect a few reconnect delays (bounded), they should grow.
        delays = []
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            delays = [float(x.group(1)) for x in
                      (RECONNECT_DELAY_RE.search(s) for s in d.notify.statuses()) if x]
            if len(delays) >= 3:
                break
            time.sleep(0.2)
            self.assert_alive(d, "while the server is unreachable")
        say("reconnect delays (server unreachable): %s" % delays)
        self.assert_watchdog_regular(d, "while waiting to reconnect")
        self.assertTrue(delays, "no 'Reconnecting in N s' STATUS\n" + d.describe())
        if len(delays) >= 3:
            self.assertGreater(max(delays[1:]), delays[0],
                               "the reconnect delay does not grow: %s" % delays)

        # Now the server comes up on that port: puljed gets there by itself.
        dc.start()
        self.assertEqual(dc.imaps_port, port)
        uid = dc.append("INBOX", self.app(0), ON_TIME)
        dc.close_client()
        wait = min(120.0, max(30.0, delays[-1] * 1.5 + 10.0))
        n, took = self.wait_records(cfg, 1, wait, daemon=d)
        self.assertEqual(n, 1, "not recorded within %.0f s after the server came up\n%s"
                         % (wait, d.describe()))
        say("recorded %.1f s after the server came up (last delay %s s)"
            % (took, delays[-1]))
        self.assert_alive(d)
        self.stop_ok(d)
        self.assert_exactly_once(cfg, [uid])

    # ------------------------------------------------------------ f)
    def test_f_dovecot_restart(self):
        dc = self.pinned_dovecot()
        uids = [dc.append("INBOX", self.app(i), ON_TIME) for i in range(2)]
        uidvalidity = dc.uidvalidity()
        dc.close_client()
        cfg = self.config(dc, poll_interval=60)
        d = self.start_daemon(cfg)
        self.assert_ready(d, timeout=10)
        n, _ = self.wait_records(cfg, 2, 20, daemon=d)
        self.assertEqual(n, 2, d.describe())
        time.sleep(1.0)
        # One more just before the server goes away (may or may not be
        # fetched before the stop: it must be there exactly once afterwards).
        uids.append(dc.append("INBOX", self.app(2), ON_TIME))
        mark = d.notify.mark()
        dc.stop()
        m = d.notify.wait_for(lambda m: m.key == "STATUS" and RECONNECT_RE.search(m.value),
                              timeout=15, since=mark)
        self.assertIsNotNone(m, "no reconnect STATUS while Dovecot is down\n" + d.describe())
        time.sleep(2.0)
        self.assert_alive(d, "while Dovecot was down")
        dc.start()
        t_up = time.monotonic()
        uids += [dc.append("INBOX", self.app(i), ON_TIME) for i in (3, 4)]
        self.assertEqual(dc.uidvalidity(), uidvalidity)
        dc.close_client()
        n, took = self.wait_records(cfg, 5, 30, daemon=d)
        self.assertEqual(n, 5, "mail appended after the restart not recorded "
                         "within 30 s\n" + d.describe())
        say("recovered: all recorded %.1f s after Dovecot came back"
            % (time.monotonic() - t_up))
        time.sleep(1.0)
        self.assert_alive(d)
        self.stop_ok(d)
        self.assert_exactly_once(cfg, uids, uidvalidity)

    # ------------------------------------------------------------ g)
    def test_g_second_instance_refused(self):
        dc = self.dovecot()
        dc.append("INBOX", self.app(0), ON_TIME)
        dc.close_client()
        cfg = self.config(dc, poll_interval=60)
        d1 = self.start_daemon(cfg, name="first")
        self.assert_ready(d1, timeout=10)
        d2 = self.start_daemon(cfg, name="second")
        rc = d2.wait(10)
        self.assertIsNotNone(rc, "a second puljed on the same database kept running\n"
                             + d2.describe())
        self.assertEqual(rc, 1, d2.describe())
        self.assertRegex(d2.output(), re.compile(r"another puljed", re.I), d2.describe())
        self.assertIsNone(d2.notify.first("READY=1"),
                          "the refused instance said READY=1\n" + d2.describe())
        # Same database through a different config file: refused as well.
        cfg2 = self.config(dc, name="other.conf", poll_interval=30)
        d3 = self.start_daemon(cfg2, name="third")
        self.assertEqual(d3.wait(10), 1, d3.describe())
        self.assertRegex(d3.output(), re.compile(r"another puljed", re.I), d3.describe())
        self.assert_alive(d1, "after a second instance was refused")
        # READY=1 comes before the first poll; under load that poll may
        # still be under way here.  Exactly one record, once it is done.
        n, _ = self.wait_records(cfg, 1, 30, daemon=d1)
        self.assertEqual(n, 1, d1.describe())
        self.stop_ok(d1)
        # Once the first has stopped, a new one may start.
        d4 = self.start_daemon(cfg, name="fourth")
        self.assert_ready(d4, timeout=10)
        time.sleep(0.5)
        self.assert_alive(d4, "after the first instance stopped")
        self.stop_ok(d4)

    # ------------------------------------------------------------ h)
    def test_h_wrong_password_daemon(self):
        dc = self.dovecot()
        dc.append("INBOX", self.app(0), ON_TIME)
        dc.close_client()
        wrong = "Wrong-" + dc.password[::-1]
        self.secrets.append(wrong)
        pwfile = self.path("wrong-password")
        with open(pwfile, "w") as f:
            f.write(wrong + "\n")
        os.chmod(pwfile, 0o600)
        cfg = self.config(dc, password_file=pwfile, poll_interval=60)
        mark = dc.log_mark()
        d = self.start_daemon(cfg, watchdog_usec=2_000_000)
        self.assert_ready(d, timeout=10)
        m = d.wait_output(AUTH_FAIL_RE, timeout=10)
        self.assertIsNotNone(m, "no authentication failure in the log\n" + d.describe())
        window = 8.0
        time.sleep(window)
        self.assert_alive(d, "after an authentication failure")
        fails = [l for l in dc.auth_attempt_lines(mark)
                 if re.search(r"auth failed|Password mismatch|Authentication fail", l)]
        attempts = len([l for l in dc.log_text(mark).splitlines()
                        if "imap-login:" in l and "rip=127.0.0.1," in l
                        and re.search(r"auth failed|Aborted login|Disconnected", l)])
        say("wrong password: %d failed-login log lines in Dovecot, %d login "
            "connections in ~%.0f s; statuses %s"
            % (len(fails), attempts, window + 1, d.notify.statuses()[-3:]))
        self.assertTrue(fails, "Dovecot saw no failed login\n" + dc.log_text(mark))
        self.assertLessEqual(attempts, 4, "authentication retried too often (%d "
                             "attempts in ~%.0f s): expected a long backoff"
                             % (attempts, window + 1))
        self.assertEqual(self.count_records(cfg), 0)
        self.assert_watchdog_regular(d, "while waiting to retry the login")
        out = d.output()
        for secret in (wrong, dc.password):
            self.assertNotIn(secret, out)
            self.assertNotIn(secret, "\n".join(d.notify.lines()))
        self.stop_ok(d)

    # ------------------------------------------------------------ i)
    def test_i_status_exit_code(self):
        dc = self.dovecot()
        dc.append("INBOX", self.app(0), ON_TIME)
        dc.close_client()
        cfg60 = self.config(dc, poll_interval=60)
        cfg1 = self.config(dc, name="fast.conf", poll_interval=1)
        # Before the first poll: no database file, said as such (exit 1).
        r = self.run_ctl(cfg60, "status", expect=1)
        self.assertEqual(r.stderr, "puljectl: no database yet at %s \u2014 puljed has not run\n"
                         % self.path("puljed.db"), r.describe())
        self.assertFalse(os.path.exists(self.path("puljed.db")), "status created the database")
        self.run_puljed(cfg60, "--once", expect=P.EXIT_OK)
        self.run_ctl(cfg60, "status", expect=0)
        self.run_puljed(cfg1, "--once", expect=P.EXIT_OK)
        self.run_ctl(cfg1, "status", expect=0)  # < 3 s after a good poll
        time.sleep(4.0)
        r = self.run_ctl(cfg1, "status", expect=None)
        self.assertEqual(r.returncode, 1, "last success > 3 x poll_interval (1 s) ago "
                         "but status exits %s\n%s" % (r.returncode, r.describe()))
        # The same database is fresh for a 60 s interval, and for --db (60 s).
        self.run_ctl(cfg60, "status", expect=0)
        self.run_ctl(cfg60, "status", expect=0, db=self.path("puljed.db"))
        # A poll brings it back.
        self.run_puljed(cfg1, "--once", expect=P.EXIT_OK)
        self.run_ctl(cfg1, "status", expect=0)


if __name__ == "__main__":
    unittest.main(verbosity=2)
