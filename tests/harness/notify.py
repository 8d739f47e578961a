"""A stand-in for systemd's notification socket (sd_notify) in tests.

    from harness.notify import NotifySocket

    with NotifySocket() as ns:
        env["NOTIFY_SOCKET"] = ns.path          # or env.update(ns.env())
        proc = subprocess.Popen([...], env=env)
        assert ns.wait_for("READY=1", timeout=5)
        mark = ns.mark()
        proc.send_signal(signal.SIGHUP)
        r = ns.wait_for("RELOADING=1", since=mark)
        ns.wait_for("READY=1", since=r.index + 1)
        ns.count("WATCHDOG=1"), ns.statuses(), ns.all()

A temporary AF_UNIX SOCK_DGRAM socket is bound to a path in a private temp
directory.  A background thread receives datagrams, splits them into
newline-separated KEY=VALUE lines and keeps each line as a Message with its
arrival time (time.monotonic()), its index and -- when the kernel passes
credentials (SO_PASSCRED, as systemd uses) -- the sender's pid.

Matching (wait_for, count, find): a string ending in "=" matches any line
with that key ("STATUS="); any other string matches the whole line exactly
("READY=1"); a compiled regular expression is searched in the line; a
callable gets the Message and returns a truth value.
"""

import os
import re
import shutil
import socket
import struct
import tempfile
import threading
import time

_SO_PASSCRED = getattr(socket, "SO_PASSCRED", 16)
_SCM_CREDENTIALS = getattr(socket, "SCM_CREDENTIALS", 2)
_CRED = struct.Struct("iII")  # struct ucred: pid_t pid; uid_t uid; gid_t gid


class Message:
    """One KEY=VALUE line: index, time (monotonic), line, key, value, pid."""

    __slots__ = ("index", "time", "line", "key", "value", "pid", "datagram")

    def __init__(self, index, when, line, pid, datagram):
        self.index = index
        self.time = when
        self.line = line
        key, sep, value = line.partition("=")
        self.key = key if sep else None
        self.value = value if sep else line
        self.pid = pid
        self.datagram = datagram

    def __repr__(self):
        return "<%d +%.3f pid=%s %r>" % (self.index, self.time, self.pid, self.line)


def _matcher(what):
    if callable(what) and not isinstance(what, str):
        return what
    if hasattr(what, "search"):
        return lambda m: what.search(m.line) is not None
    if isinstance(what, str):
        if what.endswith("="):
            return lambda m: m.line.startswith(what)
        return lambda m: m.line == what
    raise TypeError("cannot match notify lines with %r" % (what,))


class NotifySocket:
    """Collects sd_notify messages sent to ``path`` (see the module docs)."""

    def __init__(self, directory=None):
        self._own_dir = directory is None
        self.dir = directory or tempfile.mkdtemp(prefix="puljed-notify-")
        os.chmod(self.dir, 0o755)
        self.path = os.path.join(self.dir, "notify.sock")
        if os.path.exists(self.path):
            os.unlink(self.path)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        try:
            self.sock.setsockopt(socket.SOL_SOCKET, _SO_PASSCRED, 1)
            self.passcred = True
        except OSError:
            self.passcred = False
        self.sock.bind(self.path)
        os.chmod(self.path, 0o777)
        self.sock.settimeout(0.1)
        self.started = time.monotonic()
        self._messages = []
        self.datagrams = 0
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="notify-socket",
                                        daemon=True)
        self._thread.start()

    # ------------------------------------------------------------ receiving
    def _run(self):
        cmsg_space = socket.CMSG_SPACE(_CRED.size)
        while not self._stop.is_set():
            try:
                data, anc, _flags, _addr = self.sock.recvmsg(65536, cmsg_space)
            except socket.timeout:
                continue
            except OSError:
                if self._stop.is_set():
                    return
                time.sleep(0.01)
                continue
            when = time.monotonic()
            pid = None
            for level, typ, cdata in anc:
                if level == socket.SOL_SOCKET and typ == _SCM_CREDENTIALS and \
                        len(cdata) >= _CRED.size:
                    pid = _CRED.unpack_from(cdata)[0]
            text = data.decode("utf-8", "replace")
            with self._cond:
                dg = self.datagrams
                self.datagrams += 1
                for line in text.split("\n"):
                    if line == "":
                        continue
                    self._messages.append(Message(len(self._messages), when,
                                                  line, pid, dg))
                self._cond.notify_all()

    # -------------------------------------------------------------- queries
    def env(self):
        """{"NOTIFY_SOCKET": path}, to merge into a child's environment."""
        return {"NOTIFY_SOCKET": self.path}

    def all(self, since=0):
        """Every Message received so far (from index ``since``)."""
        with self._cond:
            return list(self._messages[since:])

    messages = all

    def lines(self, since=0):
        return [m.line for m in self.all(since)]

    def mark(self):
        """Index of the next message (pass as ``since=`` to later calls)."""
        with self._cond:
            return len(self._messages)

    def find(self, what, since=0):
        """Messages matching ``what`` (from index ``since``)."""
        match = _matcher(what)
        return [m for m in self.all(since) if match(m)]

    def count(self, what, since=0):
        return len(self.find(what, since))

    def first(self, what, since=0):
        found = self.find(what, since)
        return found[0] if found else None

    def last(self, what, since=0):
        found = self.find(what, since)
        return found[-1] if found else None

    def statuses(self, since=0):
        """The STATUS= texts, in order."""
        return [m.value for m in self.find("STATUS=", since)]

    def pids(self):
        """Sender pids seen (None when no credentials were passed)."""
        return {m.pid for m in self.all()}

    def wait_for(self, what, timeout=5.0, since=0):
        """The first Message at index >= ``since`` that matches ``what``,
        waiting up to ``timeout`` seconds; None on timeout."""
        match = _matcher(what)
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for m in self._messages[since:]:
                    if match(m):
                        return m
                since = max(since, len(self._messages))
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self._cond.wait(min(left, 0.2))

    def wait_count(self, what, n, timeout=5.0, since=0):
        """Wait until ``n`` messages match; return the count reached."""
        deadline = time.monotonic() + timeout
        while True:
            c = self.count(what, since)
            if c >= n or time.monotonic() >= deadline:
                return c
            with self._cond:
                self._cond.wait(0.1)

    def describe(self, since=0, limit=200):
        """Human-readable dump of the received lines (for failure messages)."""
        msgs = self.all(since)
        out = ["notify messages (%d%s):" % (len(msgs), ", last %d" % limit
                                            if len(msgs) > limit else "")]
        for m in msgs[-limit:]:
            out.append("  +%7.3fs pid=%s %s" % (m.time - self.started, m.pid, m.line))
        return "\n".join(out)

    # ------------------------------------------------------------- teardown
    def close(self):
        self._stop.set()
        self._thread.join(timeout=2)
        try:
            self.sock.close()
        except OSError:
            pass
        if self._own_dir:
            shutil.rmtree(self.dir, ignore_errors=True)
        else:
            try:
                os.unlink(self.path)
            except OSError:
                pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False


if __name__ == "__main__":  # quick self-test
    with NotifySocket() as ns:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        s.sendto(b"READY=1\nSTATUS=hello\n", ns.path)
        s.sendto(b"WATCHDOG=1", ns.path)
        assert ns.wait_for("READY=1", 2)
        assert ns.wait_count("WATCHDOG=1", 1, 2) == 1
        assert ns.statuses() == ["hello"], ns.statuses()
        assert ns.first(re.compile("^STAT")).value == "hello"
        assert ns.pids() in ({os.getpid()}, {None}), ns.pids()
        print(ns.describe())
        print("ok")
