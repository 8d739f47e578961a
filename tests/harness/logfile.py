"""What the harness's servers (Dovecot, Postfix) share: a mixin for their
log file (``log_path``) and life cycle (``proc``, ``start()``, ``stop()``,
``dir``, ``_own_dir``, ``keep``), and the wait for a process group to go
away."""

import os
import re
import shutil
import tempfile
import signal
import time


def read_text(path, since=0):
    """Text of the file at PATH from byte offset SINCE ("" when unreadable)."""
    try:
        with open(path, "rb") as f:
            f.seek(since)
            return f.read().decode("utf-8", "replace")
    except OSError:
        return ""


def reap_group(pgid, members, grace):
    """Waits up to GRACE seconds for the process group PGID to empty
    (MEMBERS(pgid) lists its live processes), then SIGKILLs what is left
    and waits at most 3 s more."""
    deadline = time.monotonic() + grace
    while members(pgid):
        if time.monotonic() > deadline:
            try:
                os.killpg(pgid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            if time.monotonic() > deadline + 3.0:
                break
        time.sleep(0.05)


class LogFile:
    """log_text / log_mark / settle_log / wait_for_log over ``self.log_path``;
    cleanup(), the context manager, ``running``."""

    def log_text(self, since=0):
        """Text of the log (optionally from byte offset ``since``)."""
        return read_text(self.log_path, since)

    def log(self, since=0):
        return self.log_text(since)

    def log_mark(self):
        """Byte offset of the log's current end (pass to log_text(since=...))."""
        self.settle_log()
        try:
            return os.path.getsize(self.log_path)
        except OSError:
            return 0

    def settle_log(self, quiet=0.3, timeout=3.0):
        """Wait until the log stops growing for ``quiet`` seconds (the
        servers' log processes write asynchronously; disconnect lines come
        slightly late)."""
        deadline = time.monotonic() + timeout
        last = -1
        stable_since = time.monotonic()
        while time.monotonic() < deadline:
            try:
                size = os.path.getsize(self.log_path)
            except OSError:
                size = 0
            if size != last:
                last = size
                stable_since = time.monotonic()
            elif time.monotonic() - stable_since >= quiet:
                return
            time.sleep(0.05)

    def wait_for_log(self, pattern, since=0, timeout=5.0):
        """Wait until regex ``pattern`` matches the log; return the match or None."""
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        while True:
            m = rx.search(self.log_text(since))
            if m or time.monotonic() > deadline:
                return m
            time.sleep(0.05)

    # ---- life cycle

    def _make_dir(self, workdir, keep, name):
        """Sets dir (WORKDIR or a new /tmp/puljed-NAME-*, mode 0755), keep
        (KEEP, or PULJED_KEEP_TMP when None), log_path (NAME.log) and
        stderr_path (NAME.stderr)."""
        self.keep = (os.environ.get("PULJED_KEEP_TMP") not in (None, "", "0")
                     if keep is None else keep)
        self._own_dir = workdir is None
        self.dir = workdir or tempfile.mkdtemp(prefix="puljed-%s-" % name)
        os.makedirs(self.dir, exist_ok=True)
        os.chmod(self.dir, 0o755)
        self.log_path = os.path.join(self.dir, name + ".log")
        self.stderr_path = os.path.join(self.dir, name + ".stderr")

    def cleanup(self):
        """stop() and remove the temp dir (unless keep / PULJED_KEEP_TMP)."""
        self.stop()
        if self._own_dir and not self.keep:
            shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        if self.proc is None:
            self.start()
        return self

    def __exit__(self, *exc):
        self.cleanup()
        return False

    @property
    def running(self):
        return self.proc is not None and self.proc.poll() is None
