"""A scripted IMAP server for faults a real Dovecot will not produce on
demand (standard library only).

``FakeImap`` listens on 127.0.0.1 with implicit TLS (or STARTTLS) using the
harness's test certificates (certs.default_certs(): the "good" leaf, valid
for 127.0.0.1 and localhost, signed by the test CA that puljed is told to
trust).  Without faults it is a small but correct IMAP4rev1 server over one
read-only mailbox: greeting, CAPABILITY, LOGIN, AUTHENTICATE PLAIN,
EXAMINE/SELECT, FETCH and UID FETCH (UID, FLAGS, INTERNALDATE, RFC822.SIZE,
BODY[...] / BODY.PEEK[...] with HEADER, TEXT, partial <o.n>), STATUS, UID
SEARCH ALL, NOOP, IDLE, CHECK, LOGOUT; anything else is answered BAD.

    srv = FakeImap([Message(1, raw1, "15-Jun-2022 10:00:00 +0200"), ...],
                   faults=[Fault("FETCH-BODY", uid=2, cut=mid_literal)])
    ... point puljed at 127.0.0.1:srv.port with ca_file = srv.ca_file ...
    srv.verbs()        # ['CAPABILITY', 'LOGIN', 'EXAMINE', 'UID FETCH', ...]
    srv.fired          # [(point, connection, fault description), ...]
    srv.close()

Every command is logged (``srv.log``: (connection number, command line
without the tag's CRLF; LOGIN / AUTHENTICATE secrets blanked)).

Faults
------
Each command is classified into a *point*: "greeting", "CAPABILITY",
"LOGIN", "AUTHENTICATE", "AUTHENTICATE-CONTINUE" (its "+ " continuation
request), "STARTTLS", "EXAMINE", "SELECT", "FETCH-META" (a
FETCH of no body section), "FETCH-BODY" (BODY[] / BODY.PEEK[]),
"FETCH-HEADER" (a HEADER section), "FETCH" (any other section), "STATUS",
"SEARCH", "NOOP",
"IDLE", "LOGOUT", or the verb for anything else.  The server builds its
correct response, then the first matching ``Fault`` (point, optionally uid,
nth occurrence of the point, connection number) changes how it goes out:

    Fault(point, uid=None, nth=None, connection=None, times=1,
          replace=None,   # bytes ("{tag}" is replaced by the command's tag)
                          # or callable(response, tag) -> bytes
          before=b"",     # sent before the response (untagged garbage ...)
          after=b"",      # sent after the response (an unsolicited BYE ...)
          drip=None,      # seconds between single bytes of what is sent
          cut=None,       # send only this many bytes (int, negative counts
                          # from the end, or callable(data) -> int), then
                          # drop the TCP connection without a TLS close
          close=False,    # drop the connection after sending
          hang=False,     # after sending, say nothing more, ever
          stream=None)    # after sending, bytes (or callable(n) -> bytes)
                          # repeated until ``stream_limit`` bytes or the
                          # client goes away, then close

Helpers build the common ones: silence(point), drip(point, interval),
disconnect_mid_literal(point, uid), bye(point, nth, text),
huge_literal(point, uid, size, stream), garbage(point, data).
``times`` is how often the fault may fire (None: every time); nth counts
occurrences of the point over the server's life (1-based, all
connections); connection numbers start at 1.

``set_mailbox(messages, uidvalidity)`` replaces the mailbox between runs;
``clear_faults()`` / ``add_fault()`` change the script.
"""

import base64
import datetime as dt
import random
import re
import socket
import ssl
import threading

from . import certs as _certs

CAPABILITIES = "IMAP4rev1 IDLE UIDPLUS MOVE AUTH=PLAIN"
GREETING_TEXT = "ready"
SYSTEM_FLAGS = r"\Answered \Flagged \Deleted \Seen \Draft"

_MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct",
           "Nov", "Dec"]


def imap_date(value):
    """An INTERNALDATE string ("15-Jun-2022 10:00:00 +0200") from an aware
    datetime, an ISO 8601 string, or an INTERNALDATE string (kept)."""
    if isinstance(value, str):
        if re.match(r"^\s?\d{1,2}-[A-Za-z]{3}-\d{4} \d\d:\d\d:\d\d [+-]\d{4}$", value):
            return value
        value = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    if value.tzinfo is None:
        raise ValueError("INTERNALDATE needs an aware datetime")
    off = value.utcoffset()
    minutes = int(off.total_seconds() // 60)
    sign = "-" if minutes < 0 else "+"
    minutes = abs(minutes)
    return "%02d-%s-%04d %02d:%02d:%02d %s%02d%02d" % (
        value.day, _MONTHS[value.month - 1], value.year, value.hour, value.minute,
        value.second, sign, minutes // 60, minutes % 60)


class Message:
    """One message of the fake mailbox."""

    def __init__(self, uid, raw, internaldate="15-Jun-2022 10:00:00 +0200", flags=()):
        self.uid = int(uid)
        self.raw = bytes(raw)
        self.internaldate = imap_date(internaldate)
        self.flags = tuple(flags)

    def header(self):
        i = self.raw.find(b"\r\n\r\n")
        return self.raw if i < 0 else self.raw[:i + 4]

    def text(self):
        i = self.raw.find(b"\r\n\r\n")
        return b"" if i < 0 else self.raw[i + 4:]

    def __repr__(self):
        return "<Message uid=%d %d bytes>" % (self.uid, len(self.raw))


def _as_message(m):
    if isinstance(m, Message):
        return m
    return Message(*m)


class Fault:
    """How one response goes wrong; see the module documentation."""

    def __init__(self, point, uid=None, nth=None, connection=None, times=1,
                 replace=None, before=b"", after=b"", drip=None, cut=None,
                 close=False, hang=False, stream=None, stream_limit=16 << 20,
                 name=None):
        self.point = point
        self.uid = uid
        self.nth = nth
        self.connection = connection
        self.times = times
        self.replace = replace
        self.before = before
        self.after = after
        self.drip = drip
        self.cut = cut
        self.close = close
        self.hang = hang
        self.stream = stream
        self.stream_limit = stream_limit
        self.name = name
        self.fired = 0

    def matches(self, point, uid, nth, connection):
        if self.point not in (point, "*"):
            return False
        if self.uid is not None and self.uid != uid:
            return False
        if self.nth is not None and self.nth != nth:
            return False
        if self.connection is not None and self.connection != connection:
            return False
        return self.times is None or self.fired < self.times

    def describe(self):
        if self.name:
            return self.name
        parts = [self.point]
        for k in ("uid", "nth", "connection"):
            if getattr(self, k) is not None:
                parts.append("%s=%s" % (k, getattr(self, k)))
        for k in ("replace", "before", "after", "drip", "cut", "close", "hang", "stream"):
            v = getattr(self, k)
            if v:
                parts.append(k)
        return " ".join(parts)


# ---------------------------------------------------------------- helpers
def silence(point="greeting", **kw):
    """Send nothing in answer (for "greeting": nothing after the handshake)."""
    return Fault(point, replace=b"", hang=True, name="silence at %s" % point, **kw)


def drip(point="greeting", interval=1.0, **kw):
    """The correct response, one byte every ``interval`` seconds."""
    return Fault(point, drip=interval, name="drip at %s" % point, **kw)


def mid_literal(data):
    """cut= offset: half-way through the first literal of ``data``."""
    m = re.search(rb"\{(\d+)\}\r\n", data)
    if not m:
        return len(data) // 2
    return m.end() + int(m.group(1)) // 2


def disconnect_mid_literal(point="FETCH-BODY", uid=None, **kw):
    """The response up to the middle of its literal, then a dropped TCP
    connection (no TLS close_notify)."""
    return Fault(point, uid=uid, cut=mid_literal,
                 name="disconnect mid-literal at %s uid=%s" % (point, uid), **kw)


def bye(point="FETCH-BODY", nth=2, text="shutting down", **kw):
    """After the nth response at ``point``: an unsolicited ``* BYE`` and the
    connection closed."""
    return Fault(point, nth=nth, after=b"* BYE " + text.encode() + b"\r\n", close=True,
                 name="BYE after %s #%s" % (point, nth), **kw)


def garbage(point, data, **kw):
    """``data`` (bytes, a line) sent before the correct response."""
    return Fault(point, before=data, name="garbage at %s: %r" % (point, data[:40]), **kw)


def filler_lines(width=76):
    """stream= callable: mail-like CRLF lines of 'x'."""
    line = b"x" * (width - 2) + b"\r\n"

    def gen(n):
        return line * max(1, n // len(line))
    return gen


def huge_literal(point="FETCH-BODY", uid=None, size=4294967296, stream=None,
                 keep_items=True, **kw):
    """Announce a literal of ``size`` bytes in the FETCH response at
    ``point`` for ``uid``, then stream ``stream`` (default: mail-like lines)
    until the client hangs up or ``stream_limit`` bytes went out.

    For FETCH-BODY/FETCH-HEADER the section's literal is replaced; for
    FETCH-META a ``BODY[] {size}`` item is added to the response for ``uid``
    (the first message when uid is None)."""
    def rewrite(resp, tag):
        if point == "FETCH-META":
            lines = resp.split(b"\r\n")
            for i, line in enumerate(lines):
                m = re.match(rb"^\* \d+ FETCH \((.*)\)$", line)
                if m and (uid is None or re.search(rb"\bUID %d\b" % uid, line)):
                    return b"\r\n".join(lines[:i]) + (b"\r\n" if i else b"") + \
                        line[:-1] + b" BODY[] {%d}\r\n" % size
            raise AssertionError("huge_literal: no FETCH line for uid %s" % uid)
        m = re.search(rb"\{(\d+)\}\r\n", resp)
        if not m:
            raise AssertionError("huge_literal: no literal in the response")
        return resp[:m.start()] + b"{%d}\r\n" % size
    # A metadata FETCH covers many messages: the fault matches the command,
    # the rewrite picks the message.
    return Fault(point, uid=None if point == "FETCH-META" else uid, replace=rewrite,
                 stream=stream or filler_lines(),
                 close=True, name="literal of %d bytes at %s uid=%s" % (size, point, uid),
                 **kw)


# ---------------------------------------------------------------- parsing
class _Closed(Exception):
    pass


_ATOM_SPECIALS = set(b'(){ %*"\\]') | set(range(0, 32)) | {127}


class _Tokens:
    """Tokens of an assembled command (literals already inline)."""

    def __init__(self, data):
        self.data = data
        self.i = 0

    def skip_space(self):
        while self.i < len(self.data) and self.data[self.i] == 0x20:
            self.i += 1

    def at_end(self):
        self.skip_space()
        return self.i >= len(self.data)

    def astring(self):
        self.skip_space()
        d, i = self.data, self.i
        if i >= len(d):
            raise ValueError("missing argument")
        if d[i] == 0x22:  # quoted
            out = bytearray()
            i += 1
            while i < len(d) and d[i] != 0x22:
                if d[i] == 0x5c and i + 1 < len(d):
                    i += 1
                out.append(d[i])
                i += 1
            if i >= len(d):
                raise ValueError("unterminated quoted string")
            self.i = i + 1
            return bytes(out)
        m = re.match(rb"\{(\d+)\+?\}\r\n", d[i:])
        if m:
            n = int(m.group(1))
            start = i + m.end()
            self.i = start + n
            return d[start:start + n]
        j = i
        while j < len(d) and (d[j] not in _ATOM_SPECIALS or d[j] == 0x5d):
            j += 1
        if j == i:
            raise ValueError("bad atom at %r" % d[i:i + 10])
        self.i = j
        return d[i:j]

    def word(self):
        """Up to the next space (a sequence set such as 1:*)."""
        self.skip_space()
        j = self.data.find(b" ", self.i)
        j = len(self.data) if j < 0 else j
        w, self.i = self.data[self.i:j], j
        if not w:
            raise ValueError("missing argument")
        return w

    def rest(self):
        self.skip_space()
        r = self.data[self.i:]
        self.i = len(self.data)
        return r


_FETCH_ITEM = re.compile(
    rb"(BODY\.PEEK|BODY|BINARY\.PEEK|BINARY)\[([^\]]*)\](?:<(\d+)(?:\.(\d+))?>)?"
    rb"|[A-Za-z0-9.]+", re.I)


def _parse_fetch_items(spec):
    spec = spec.strip()
    if spec.startswith(b"(") and spec.endswith(b")"):
        spec = spec[1:-1]
    items = []
    pos = 0
    spec = spec.strip()
    while pos < len(spec):
        if spec[pos] == 0x20:
            pos += 1
            continue
        m = _FETCH_ITEM.match(spec, pos)
        if not m:
            raise ValueError("bad fetch item at %r" % spec[pos:pos + 20])
        if m.group(1):
            items.append(("BODY", m.group(1).upper().endswith(b"PEEK"),
                          m.group(2).upper().decode(),
                          None if m.group(3) is None else int(m.group(3)),
                          None if m.group(4) is None else int(m.group(4))))
        else:
            name = m.group(0).upper().decode()
            macros = {"ALL": ["FLAGS", "INTERNALDATE", "RFC822.SIZE", "ENVELOPE"],
                      "FAST": ["FLAGS", "INTERNALDATE", "RFC822.SIZE"],
                      "FULL": ["FLAGS", "INTERNALDATE", "RFC822.SIZE", "ENVELOPE", "BODY"]}
            for n in macros.get(name, [name]):
                items.append((n,))
        pos = m.end()
    return items


def _parse_set(text, largest):
    """Numbers in an IMAP sequence set; '*' is ``largest``."""
    out = []
    for part in text.split(","):
        if not part:
            raise ValueError("empty set element")
        a, _, b = part.partition(":")

        def num(x):
            if x == "*":
                return largest
            if not x.isdigit() or int(x) == 0:
                raise ValueError("bad number %r" % x)
            return int(x)
        lo = num(a)
        hi = num(b) if b else lo
        if lo > hi:
            lo, hi = hi, lo
        out.append((lo, hi))
    return out


def _in_set(n, ranges):
    return any(lo <= n <= hi for lo, hi in ranges)


# ---------------------------------------------------------------- server
class _Conn:
    def __init__(self, number, sock):
        self.number = number
        self.sock = sock
        self.raw = sock
        self.buf = b""
        self.authenticated = False
        self.selected = None
        self.tls = False


class FakeImap:
    """Attributes: port, host, ca_file, username, password, log, fired,
    connections (count), messages, uidvalidity, mailbox."""

    def __init__(self, messages=(), faults=(), uidvalidity=1655280000, uidnext=None,
                 mailbox="INBOX", username="rbj", password="Pw-fake-4711",
                 security="tls", certset=None, capabilities=CAPABILITIES,
                 read_timeout=300):
        self.certs = certset or _certs.default_certs()
        self.ca_file = self.certs.ca_cert
        cert, key = self.certs.pair("good")
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.load_cert_chain(cert, key)
        self.security = security
        self.capabilities = capabilities
        self.username = username
        self.password = password
        self.mailbox = mailbox
        self.read_timeout = read_timeout
        self.log = []
        self.fired = []
        self.connections = 0
        self.errors = []  # exceptions in connection threads (bugs of the fake)
        self._lock = threading.RLock()
        self._faults = list(faults)
        self._counts = {}
        self._stop = threading.Event()
        self._conns = []
        self._threads = []
        self.set_mailbox(messages, uidvalidity, uidnext)
        self.srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.srv.bind(("127.0.0.1", 0))
        self.srv.listen(16)
        self.srv.settimeout(0.2)
        self.host = "127.0.0.1"
        self.port = self.srv.getsockname()[1]
        t = threading.Thread(target=self._accept_loop, daemon=True, name="fakeimap-accept")
        t.start()
        self._threads.append(t)

    # ------------------------------------------------------------ control
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def set_mailbox(self, messages, uidvalidity=None, uidnext=None):
        msgs = sorted((_as_message(m) for m in messages), key=lambda m: m.uid)
        uids = [m.uid for m in msgs]
        if len(set(uids)) != len(uids):
            raise ValueError("duplicate UIDs in the fake mailbox")
        with self._lock:
            self.messages = msgs
            if uidvalidity is not None:
                self.uidvalidity = uidvalidity
            self.uidnext = uidnext or ((uids[-1] + 1) if uids else 1)

    def add_fault(self, fault):
        with self._lock:
            self._faults.append(fault)
        return fault

    def clear_faults(self):
        with self._lock:
            self._faults = []
            self._counts = {}

    def close(self):
        self._stop.set()
        try:
            self.srv.close()
        except OSError:
            pass
        with self._lock:
            conns = list(self._conns)
        for c in conns:
            self._drop(c)
        for t in self._threads:
            t.join(timeout=5)

    # ------------------------------------------------------------ queries
    def commands(self, connection=None, since=0):
        """Logged command lines without their tags (from log index SINCE:
        take len(srv.log) before a run to see only that run's commands)."""
        with self._lock:
            return [line.split(" ", 1)[1] if " " in line else line
                    for n, line in self.log[since:] if connection in (None, n)]

    def verbs(self, connection=None, since=0):
        out = []
        for c in self.commands(connection, since):
            w = c.split(" ")
            out.append(" ".join(w[:2]).upper() if w[0].upper() == "UID" and len(w) > 1
                       else w[0].upper())
        return out

    def fetched_bodies(self, since=0):
        """UIDs whose whole body was asked for (BODY[] / BODY.PEEK[]), in
        order, a command for several counting each of its UIDs."""
        out = []
        for c in self.commands(since=since):
            m = re.match(r"UID FETCH ([0-9:,]+) \(.*BODY(?:\.PEEK)?\[\]", c, re.I)
            if m:
                for lo, hi in _parse_set(m.group(1), 0):
                    out.extend(range(lo, hi + 1))
        return out

    def logins(self):
        return sum(1 for v in self.verbs() if v in ("LOGIN", "AUTHENTICATE"))

    # ------------------------------------------------------------ network
    def _accept_loop(self):
        while not self._stop.is_set():
            try:
                s, _ = self.srv.accept()
            except OSError:
                continue
            with self._lock:
                self.connections += 1
                number = self.connections
            t = threading.Thread(target=self._serve, args=(s, number), daemon=True,
                                 name="fakeimap-%d" % number)
            t.start()
            self._threads.append(t)

    def _drop(self, c):
        """End a connection at the TCP level (no TLS close_notify)."""
        for s in (c.raw, c.sock):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        for s in (c.sock, c.raw):
            try:
                s.close()
            except OSError:
                pass

    def _send(self, c, data):
        if not data:
            return
        c.sock.settimeout(60)
        try:
            c.sock.sendall(data)
        except (OSError, ssl.SSLError) as e:
            raise _Closed() from e

    def _read_line(self, c, limit=1 << 20):
        while b"\n" not in c.buf:
            if len(c.buf) > limit:
                raise _Closed()
            c.buf += self._recv(c)
        line, c.buf = c.buf.split(b"\n", 1)
        return line + b"\n"

    def _read_exact(self, c, n):
        while len(c.buf) < n:
            c.buf += self._recv(c)
        data, c.buf = c.buf[:n], c.buf[n:]
        return data

    def _recv(self, c):
        c.sock.settimeout(0.2)
        waited = 0.0
        while not self._stop.is_set():
            try:
                data = c.sock.recv(65536)
            except socket.timeout:
                waited += 0.2
                if waited > self.read_timeout:
                    raise _Closed()
                continue
            except (OSError, ssl.SSLError, ValueError) as e:
                raise _Closed() from e
            if not data:
                raise _Closed()
            return data
        raise _Closed()

    def _wait_closed(self, c):
        """Say nothing more: read and discard until the client hangs up."""
        try:
            while True:
                c.buf = b""
                self._recv(c)
        except _Closed:
            pass

    def _read_command(self, c):
        """One command with its literals inline (synchronizing literals get
        a continuation request)."""
        data = b""
        while True:
            line = self._read_line(c)
            data += line
            m = re.search(rb"\{(\d+)(\+?)\}\r?\n$", line)
            if not m:
                return data
            n = int(m.group(1))
            if n > (1 << 20):
                raise _Closed()
            if not m.group(2):
                self._send(c, b"+ Ready for literal data\r\n")
            data += self._read_exact(c, n)

    def _serve(self, sock, number):
        c = _Conn(number, sock)
        with self._lock:
            self._conns.append(c)
        try:
            if self.security == "tls":
                sock.settimeout(10)
                c.sock = self.ctx.wrap_socket(sock, server_side=True)
                c.tls = True
            caps = self._caps(c)
            greeting = b"* OK [CAPABILITY %s] %s\r\n" % (caps.encode(), GREETING_TEXT.encode())
            if not self._respond(c, "greeting", None, None, greeting):
                return
            while not self._stop.is_set():
                cmd = self._read_command(c)
                if not self._handle(c, cmd):
                    return
        except _Closed:
            pass
        except (OSError, ssl.SSLError):
            pass
        except Exception as e:  # a bug in the fake: keep it for the test
            with self._lock:
                self.errors.append(repr(e))
            raise
        finally:
            self._drop(c)
            with self._lock:
                if c in self._conns:
                    self._conns.remove(c)

    def _caps(self, c):
        caps = self.capabilities
        if self.security == "starttls" and not c.tls:
            caps += " STARTTLS"
        return caps

    # ------------------------------------------------------------ faults
    def _respond(self, c, point, uid, tag, response):
        """Send RESPONSE, as changed by the first matching fault.  Returns
        False when the connection is to end."""
        with self._lock:
            nth = self._counts[point] = self._counts.get(point, 0) + 1
            fault = None
            for f in self._faults:
                if f.matches(point, uid, nth, c.number):
                    f.fired += 1
                    fault = f
                    self.fired.append((point, c.number, f.describe()))
                    break
        if fault is None:
            self._send(c, response)
            return True
        data = response
        tagb = tag or b"*"
        if fault.replace is not None:
            if callable(fault.replace):
                data = fault.replace(response, tagb)
            else:
                data = fault.replace.replace(b"{tag}", tagb)
        data = (fault.before or b"").replace(b"{tag}", tagb) + data + \
            (fault.after or b"").replace(b"{tag}", tagb)
        if fault.cut is not None:
            at = fault.cut(data) if callable(fault.cut) else fault.cut
            data = data[:at]
        if fault.drip:
            for i in range(len(data)):
                if self._stop.is_set():
                    return False
                self._send(c, data[i:i + 1])
                if self._stop.wait(fault.drip):
                    return False
        else:
            self._send(c, data)
        if fault.stream is not None:
            sent = 0
            chunk = fault.stream(65536) if callable(fault.stream) else fault.stream
            while sent < fault.stream_limit and not self._stop.is_set():
                try:
                    self._send(c, chunk)
                except _Closed:
                    return False
                sent += len(chunk)
        if fault.cut is not None or fault.close or fault.stream is not None:
            return False
        if fault.hang:
            self._wait_closed(c)
            return False
        return True

    # ------------------------------------------------------------ commands
    def _handle(self, c, cmd):
        text = cmd.rstrip(b"\r\n")
        tok = _Tokens(text)
        try:
            tag = tok.astring()
            verb = tok.astring().upper().decode("ascii", "replace")
        except ValueError:
            self._log(c, text.decode("latin-1"))
            return self._respond(c, "garbage", None, None, b"* BAD Invalid tag or command\r\n")
        if verb == "UID" and not tok.at_end():
            sub = tok.astring().upper().decode("ascii", "replace")
            verb = "UID " + sub
        if verb in ("LOGIN",):
            try:
                user = tok.astring()
                self._log(c, "%s LOGIN %s ***" % (tag.decode("latin-1"), user.decode("latin-1")))
                password = tok.astring()
            except ValueError:
                return self._respond(c, "LOGIN", None, tag, tag + b" BAD Invalid arguments\r\n")
            return self._login(c, tag, user, password, "LOGIN")
        if verb == "AUTHENTICATE":
            self._log(c, "%s AUTHENTICATE %s" % (tag.decode("latin-1"),
                                                tok.rest().split(b" ")[0].decode("latin-1")))
            return self._authenticate(c, tag, text)
        self._log(c, text.decode("latin-1"))
        handler = {
            "CAPABILITY": self._capability, "NOOP": self._noop, "CHECK": self._noop,
            "LOGOUT": self._logout, "STARTTLS": self._starttls,
            "EXAMINE": self._examine, "SELECT": self._select,
            "FETCH": self._fetch, "UID FETCH": self._fetch, "IDLE": self._idle,
            "STATUS": self._status, "UID SEARCH": self._search,
        }.get(verb)
        if handler is None:
            return self._respond(c, verb, None, tag, tag + b" BAD Unknown command\r\n")
        try:
            return handler(c, tag, verb, tok)
        except ValueError as e:
            return self._respond(c, verb, None, tag,
                                 tag + b" BAD " + str(e).encode("ascii", "replace") + b"\r\n")

    def _log(self, c, line):
        with self._lock:
            self.log.append((c.number, line))

    def _capability(self, c, tag, verb, tok):
        return self._respond(c, "CAPABILITY", None, tag,
                             b"* CAPABILITY %s\r\n%s OK Capability completed.\r\n"
                             % (self._caps(c).encode(), tag))

    def _status(self, c, tag, verb, tok):
        """STATUS mailbox (MESSAGES UIDNEXT UIDVALIDITY UNSEEN RECENT)."""
        if not c.authenticated:
            return self._respond(c, verb, None, tag, tag + b" BAD Not logged in\r\n")
        name = tok.astring()
        atts = tok.rest().strip(b"() ").upper().split()
        with self._lock:
            values = {b"MESSAGES": len(self.messages), b"UIDNEXT": self.uidnext,
                      b"UIDVALIDITY": self.uidvalidity, b"UNSEEN": 0, b"RECENT": 0}
        items = b" ".join(b"%s %d" % (a, values[a]) for a in atts if a in values)
        return self._respond(c, "STATUS", None, tag,
                             b"* STATUS %s (%s)\r\n%s OK Status completed.\r\n"
                             % (name, items, tag))

    def _search(self, c, tag, verb, tok):
        """UID SEARCH ALL (the only key puljed sends)."""
        if not c.selected:
            return self._respond(c, verb, None, tag, tag + b" BAD No mailbox selected\r\n")
        if tok.rest().strip().upper() != b"ALL":
            raise ValueError("only SEARCH ALL is supported")
        with self._lock:
            uids = [m.uid for m in self.messages]
        line = b"* SEARCH" + b"".join(b" %d" % u for u in uids) + b"\r\n"
        return self._respond(c, "SEARCH", None, tag, line + tag + b" OK Search completed.\r\n")

    def _noop(self, c, tag, verb, tok):
        return self._respond(c, verb, None, tag, tag + b" OK %s completed.\r\n" % verb.encode())

    def _logout(self, c, tag, verb, tok):
        self._respond(c, "LOGOUT", None, tag,
                      b"* BYE Logging out\r\n" + tag + b" OK Logout completed.\r\n")
        return False

    def _starttls(self, c, tag, verb, tok):
        if self.security != "starttls" or c.tls:
            return self._respond(c, "STARTTLS", None, tag, tag + b" BAD TLS is already active\r\n")
        if not self._respond(c, "STARTTLS", None, tag, tag + b" OK Begin TLS negotiation now.\r\n"):
            return False
        c.sock.settimeout(10)
        c.buf = b""
        c.sock = self.ctx.wrap_socket(c.sock, server_side=True)
        c.tls = True
        return True

    def _login(self, c, tag, user, password, how):
        if user.decode("utf-8", "replace") == self.username and \
                password.decode("utf-8", "replace") == self.password:
            c.authenticated = True
            return self._respond(c, how, None, tag,
                                 tag + b" OK [CAPABILITY %s] Logged in\r\n" % self._caps(c).encode())
        return self._respond(c, how, None, tag,
                             tag + b" NO [AUTHENTICATIONFAILED] Authentication failed.\r\n")

    def _authenticate(self, c, tag, text):
        parts = text.split(b" ")
        if len(parts) < 3 or parts[2].upper() != b"PLAIN":
            return self._respond(c, "AUTHENTICATE", None, tag,
                                 tag + b" NO Unsupported authentication mechanism.\r\n")
        if len(parts) > 3:
            payload = parts[3]
        else:
            if not self._respond(c, "AUTHENTICATE-CONTINUE", None, tag, b"+ \r\n"):
                return False
            payload = self._read_line(c).rstrip(b"\r\n")
        try:
            _authz, user, password = base64.b64decode(payload, validate=True).split(b"\0")
        except (ValueError, TypeError):
            return self._respond(c, "AUTHENTICATE", None, tag,
                                 tag + b" BAD Invalid base64 data\r\n")
        return self._login(c, tag, user, password, "AUTHENTICATE")

    def _open(self, c, tag, verb, tok):
        if not c.authenticated:
            return self._respond(c, verb, None, tag, tag + b" BAD Not logged in\r\n")
        name = tok.astring().decode("utf-8", "replace")
        same = (name.upper() == "INBOX" and self.mailbox.upper() == "INBOX") or \
            name == self.mailbox
        if not same:
            c.selected = None
            return self._respond(c, verb, None, tag,
                                 tag + b" NO [NONEXISTENT] Mailbox doesn't exist: %s\r\n"
                                 % name.encode())
        c.selected = name
        c.read_only = verb == "EXAMINE"
        with self._lock:
            exists = len(self.messages)
            uidvalidity, uidnext = self.uidvalidity, self.uidnext
        perm = b"()" if c.read_only else b"(" + SYSTEM_FLAGS.encode() + b" \\*)"
        resp = (b"* FLAGS (" + SYSTEM_FLAGS.encode() + b")\r\n"
                b"* OK [PERMANENTFLAGS " + perm + b"] Flags permitted.\r\n"
                b"* %d EXISTS\r\n"
                b"* 0 RECENT\r\n"
                b"* OK [UIDVALIDITY %d] UIDs valid\r\n"
                b"* OK [UIDNEXT %d] Predicted next UID\r\n"
                b"%s OK [%s] %s completed.\r\n") % (
                    exists, uidvalidity, uidnext, tag,
                    b"READ-ONLY" if c.read_only else b"READ-WRITE", verb.encode())
        return self._respond(c, verb, None, tag, resp)

    _examine = _open
    _select = _open

    def _fetch(self, c, tag, verb, tok):
        if not c.selected:
            return self._respond(c, verb, None, tag, tag + b" BAD No mailbox selected\r\n")
        use_uid = verb.startswith("UID")
        set_text = tok.word().decode("ascii", "replace")
        items = _parse_fetch_items(tok.rest())
        if not items:
            raise ValueError("no fetch items")
        with self._lock:
            msgs = list(self.messages)
        if use_uid:
            ranges = _parse_set(set_text, msgs[-1].uid if msgs else 0)
            chosen = [(i + 1, m) for i, m in enumerate(msgs) if _in_set(m.uid, ranges)]
            if not any(it[0] == "UID" for it in items):
                items = [("UID",)] + items
        else:
            ranges = _parse_set(set_text, len(msgs))
            if any(hi > len(msgs) for _lo, hi in ranges):
                return self._respond(c, "FETCH", None, tag,
                                     tag + b" BAD Error in IMAP command: Invalid messageset\r\n")
            chosen = [(i + 1, m) for i, m in enumerate(msgs) if _in_set(i + 1, ranges)]
        bodies = [it for it in items if it[0] == "BODY"]
        if not bodies:
            point = "FETCH-META"
        elif any(b[2] == "" for b in bodies):
            point = "FETCH-BODY"
        elif all(b[2] == "HEADER" for b in bodies):
            point = "FETCH-HEADER"
        else:
            point = "FETCH"
        out = []
        for seq, m in chosen:
            out.append(b"* %d FETCH (" % seq + b" ".join(self._item(m, it) for it in items) + b")\r\n")
        done = tag + b" OK Fetch completed.\r\n"
        if point == "FETCH-BODY" and len(chosen) > 1:
            # Bodies of several messages: each response is a point of its
            # own (uid and nth as if each had been asked for alone; the
            # last one carries the tagged OK, as a single one does), so a
            # fault hits the same message whether the client asks for one
            # body per command or for several at once.
            last = len(chosen) - 1
            for i, ((_seq, m), resp) in enumerate(zip(chosen, out)):
                if not self._respond(c, point, m.uid, tag, resp + (done if i == last else b"")):
                    return False
            return True
        uid = chosen[0][1].uid if len(chosen) == 1 else None
        return self._respond(c, point, uid, tag, b"".join(out) + done)

    def _item(self, m, it):
        name = it[0]
        if name == "UID":
            return b"UID %d" % m.uid
        if name == "FLAGS":
            return b"FLAGS (" + " ".join(m.flags).encode() + b")"
        if name == "INTERNALDATE":
            return b'INTERNALDATE "' + m.internaldate.encode() + b'"'
        if name == "RFC822.SIZE":
            return b"RFC822.SIZE %d" % len(m.raw)
        if name in ("RFC822", "RFC822.HEADER", "RFC822.TEXT"):
            data = {"RFC822": m.raw, "RFC822.HEADER": m.header(), "RFC822.TEXT": m.text()}[name]
            return name.encode() + b" {%d}\r\n" % len(data) + data
        if name == "BODY":
            _n, _peek, section, origin, length = it
            data = {"": m.raw, "HEADER": m.header(), "TEXT": m.text()}.get(section)
            if data is None:
                raise ValueError("unsupported section [%s]" % section)
            label = b"BODY[" + section.encode() + b"]"
            if origin is not None:
                data = data[origin:origin + length] if length is not None else data[origin:]
                label += b"<%d>" % origin
            return label + b" {%d}\r\n" % len(data) + data
        raise ValueError("unsupported fetch item %s" % name)

    def _idle(self, c, tag, verb, tok):
        if not self._respond(c, "IDLE", None, tag, b"+ idling\r\n"):
            return False
        line = self._read_line(c)
        self._log(c, line.rstrip(b"\r\n").decode("latin-1"))
        if line.strip().upper() != b"DONE":
            return self._respond(c, "IDLE", None, tag, tag + b" BAD Expected DONE.\r\n")
        self._send(c, tag + b" OK Idle completed.\r\n")
        return True


def random_line(seed=0, length=120):
    """A line of random bytes (no CR, LF or NUL), CRLF-terminated, that is
    not an IMAP response."""
    rnd = random.Random(seed)
    body = bytes(b for b in rnd.randbytes(length * 2) if b not in (0, 10, 13))[:length]
    return b"\xff" + body + b"\r\n"
