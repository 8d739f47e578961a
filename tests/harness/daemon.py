"""One background `puljed --config CFG` (the polling daemon) for tests.

    d = Daemon(cfg, log_path)              # output (stdout+stderr) to log_path
    d.wait_output(r"recorded UID", timeout=10)
    rc, took = d.terminate()                # SIGTERM, wait
    d.close()                               # SIGKILL if still running

With ``notify=True`` it runs under a harness.notify.NotifySocket (d.notify),
so a test can wait for READY=1.  (tests/integration/test_daemon.py has a
fuller variant with watchdog options.)
"""

import os
import re
import signal
import subprocess
import time

from . import puljed as P
from .notify import NotifySocket


class Daemon:
    def __init__(self, cfg, log_path, notify=True, extra_env=None, name="daemon", watchdog_usec=None,
                 watchdog_pid_self=False, binary=None, cwd=None):
        self.cfg = cfg
        self.name = name
        self.log_path = log_path
        self.notify = NotifySocket() if notify else None
        self._logf = open(log_path, "w+b")
        env = P.clean_env()
        for var in ("JOURNAL_STREAM", "WATCHDOG_USEC", "WATCHDOG_PID", "NOTIFY_SOCKET"):
            env.pop(var, None)
        if self.notify:
            env.update(self.notify.env())
        if watchdog_usec:
            env["WATCHDOG_USEC"] = str(watchdog_usec)
        env.update(extra_env or {})
        argv = P.wrapper() + [binary or P.puljed_path(), "--config", cfg]
        if watchdog_pid_self:
            # Like systemd: WATCHDOG_PID is the daemon's own pid.  exec keeps
            # the shell's pid, so proc.pid is puljed's pid.
            argv = ["/bin/sh", "-c", 'WATCHDOG_PID=$$; export WATCHDOG_PID; exec "$@"', "sh"] + argv
        self.argv = argv
        self.started = time.monotonic()
        self.proc = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL,
                                     stdout=self._logf, stderr=self._logf, env=env, cwd=cwd)
        self.pid = self.proc.pid

    @property
    def alive(self):
        return self.proc.poll() is None

    def output(self, since=0):
        try:
            with open(self.log_path, "rb") as f:
                f.seek(since)
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def output_mark(self):
        try:
            return os.path.getsize(self.log_path)
        except OSError:
            return 0

    def wait_output(self, pattern, since=0, timeout=10.0):
        rx = re.compile(pattern) if isinstance(pattern, str) else pattern
        deadline = time.monotonic() + timeout
        while True:
            m = rx.search(self.output(since))
            if m or time.monotonic() >= deadline or not self.alive:
                return m or rx.search(self.output(since))
            time.sleep(0.1)

    def wait_ready(self, timeout=10.0):
        """The READY=1 message (or None) -- needs notify=True."""
        return self.notify.wait_for("READY=1", timeout=timeout)

    def result(self):
        return P.Result(self.argv, self.proc.returncode, "", self.output())

    def describe(self):
        text = "%s (pid %d): %s\n--- output:\n%s" % (
            self.name, self.pid,
            "running" if self.alive else "exit %s" % self.proc.returncode,
            self.output()[-6000:])
        if self.notify:
            text += "\n" + self.notify.describe(limit=40)
        return text

    def signal(self, sig):
        if self.alive:
            self.proc.send_signal(sig)

    def wait(self, timeout):
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    def terminate(self, timeout=10.0):
        """SIGTERM and wait; (exit code or None, seconds taken)."""
        t0 = time.monotonic()
        if self.alive:
            self.proc.send_signal(signal.SIGTERM)
        rc = self.wait(timeout)
        return rc, time.monotonic() - t0

    def kill(self):
        if self.alive:
            try:
                self.proc.send_signal(signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.wait(10)

    def close(self):
        self.kill()
        try:
            self._logf.close()
        except OSError:
            pass
        if self.notify:
            self.notify.close()
