"""A scripted plaintext SMTP server for the hostile-server faults a real
Postfix will not produce (standard library only).

``FakeSmtp(fault)`` listens on 127.0.0.1:``port`` and serves one client at a
time, in a thread.  Without a fault it greets, answers EHLO with
STARTTLS and AUTH PLAIN LOGIN, and answers anything else 502.  Faults:

* ``"silent"``          -- accept the connection, never greet
* ``"endless-line"``    -- a greeting line that never ends ("220 " and
                           'x' for ever, until the client goes away or
                           ``stream_limit`` bytes)
* ``"many-lines"``      -- a greeting of endless "220-" continuation lines
* ``"drip"``            -- a valid greeting, one byte every ``drip`` seconds
* ``"starttls-inject"`` -- answers STARTTLS with "220 go ahead" and, in the
                           same plaintext packet, "250 injected" (a man in
                           the middle's reply injection)
* ``"no-starttls"``     -- EHLO offers AUTH but not STARTTLS
* ``"drop-at-starttls"`` -- closes the connection when STARTTLS comes
* ``"refuse-binary"``   -- greets with a 554 whose text has control
                           characters and bytes that are not UTF-8

``lines``: every line the client sent (bytes, without CRLF), per
connection: [[b"EHLO x", ...], ...].  ``close()`` stops it.
"""

import socket
import threading
import time


class FakeSmtp:
    def __init__(self, fault=None, drip=0.5, stream_limit=64 * 1024 * 1024):
        self.fault = fault
        self.drip = drip
        self.stream_limit = stream_limit
        self.lines = []
        self.sent = 0
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(4)
        self._sock.settimeout(0.2)
        self.host = "127.0.0.1"
        self.port = self._sock.getsockname()[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def close(self):
        self._stop.set()
        self._thread.join(timeout=10)
        self._sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def _serve(self):
        while not self._stop.is_set():
            try:
                conn, _addr = self._sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            with conn:
                conn.settimeout(0.2)
                self.lines.append([])
                try:
                    self._session(conn, self.lines[-1])
                except OSError:
                    pass

    def _send(self, conn, data):
        conn.sendall(data)
        self.sent += len(data)

    def _stream(self, conn, first, unit):
        self._send(conn, first)
        chunk = unit * (65536 // len(unit))
        while not self._stop.is_set() and self.sent < self.stream_limit:
            try:
                self._send(conn, chunk)
            except socket.timeout:
                continue

    def _session(self, conn, log):
        f = self.fault
        if f == "silent":
            while not self._stop.is_set():
                try:
                    if not conn.recv(4096):
                        return
                except socket.timeout:
                    continue
            return
        if f == "refuse-binary":
            self._send(conn, b"554-5.3.2 \x1b[31mgo\xff away\r\n554 5.3.2 line two\r\n")
            return
        if f == "endless-line":
            return self._stream(conn, b"220 ", b"x")
        if f == "many-lines":
            return self._stream(conn, b"", b"220-fake.test\r\n")
        if f == "drip":
            for b in b"220 fake.test slow\r\n":
                if self._stop.wait(self.drip):
                    return
                self._send(conn, bytes([b]))
        else:
            self._send(conn, b"220 fake.test ESMTP\r\n")
        buf = b""
        while not self._stop.is_set():
            try:
                data = conn.recv(4096)
            except socket.timeout:
                continue
            if not data:
                return
            buf += data
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                line = line.rstrip(b"\r")
                log.append(line)
                verb = line.split(b" ", 1)[0].upper()
                if verb == b"EHLO":
                    caps = [b"250-fake.test"]
                    if f != "no-starttls":
                        caps.append(b"250-STARTTLS")
                    caps.append(b"250 AUTH PLAIN LOGIN")
                    self._send(conn, b"\r\n".join(caps) + b"\r\n")
                elif verb == b"STARTTLS" and f == "drop-at-starttls":
                    return
                elif verb == b"STARTTLS" and f == "starttls-inject":
                    self._send(conn, b"220 go ahead\r\n250 injected\r\n")
                elif verb == b"QUIT":
                    self._send(conn, b"221 bye\r\n")
                    return
                else:
                    self._send(conn, b"502 not here\r\n")
