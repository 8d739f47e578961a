"""A TCP relay on 127.0.0.1 for attacks on the plaintext part of an IMAP
STARTTLS session (the man in the middle is played by the test itself).

``StartTLSProxy(upstream_port, inject=b"...")`` forwards everything between
the client and Dovecot's plain listener unchanged, except that right after
the server's tagged OK to STARTTLS it appends ``inject`` in the same TCP
segment, i.e. *before* the TLS handshake (STARTTLS response injection,
CVE-2011-0411 style).  ``strip_starttls=True`` instead removes STARTTLS from
the server's capability lists (a downgrade attack).

``TlsDripProxy(upstream_port, after=1, interval=0.1)`` relays an implicit-TLS
session and, after the client's first encrypted record(s), passes the
server's bytes one at a time: whole TLS records that trickle below TLS.
"""

import re
import socket
import threading

_STARTTLS_CMD = re.compile(rb"^(\S+) STARTTLS\r?\n", re.I)


class _Relay:
    """Listens on 127.0.0.1 (``port``) and, for each client, connects to
    the upstream and runs ``_client_to_server`` and ``_server_to_client``
    in threads, with a per-connection ``state`` from ``_new_state()``."""

    def __init__(self, upstream_port, upstream_host="127.0.0.1"):
        self.upstream = (upstream_host, upstream_port)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self._stop = threading.Event()
        self._threads = []
        self._socks = []

    def _start(self):
        t = threading.Thread(target=self._accept_loop, daemon=True)
        t.start()
        self._threads.append(t)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def close(self):
        self._stop.set()
        try:
            self.sock.close()
        except OSError:
            pass
        for s in self._socks:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()
        for t in self._threads:
            t.join(timeout=5)

    def _accept_loop(self):
        try:
            self.sock.settimeout(0.2)
        except OSError:
            return  # closed before this thread ran
        while not self._stop.is_set():
            try:
                client, _ = self.sock.accept()
            except OSError:
                continue
            try:
                server = socket.create_connection(self.upstream, timeout=10)
            except OSError:
                client.close()
                continue
            client.settimeout(None)
            server.settimeout(None)
            self._socks += [client, server]
            state = self._new_state()
            for target in (self._client_to_server, self._server_to_client):
                t = threading.Thread(target=target, args=(client, server, state),
                                     daemon=True)
                t.start()
                self._threads.append(t)

    def _pump(self, src, dst, handle):
        """Reads SRC until it ends, handing each chunk to HANDLE (which
        sends what it will to DST; False: stop), then half-closes DST."""
        try:
            while not self._stop.is_set():
                data = src.recv(65536)
                if not data or handle(data) is False:
                    break
        except OSError:
            pass
        finally:
            try:
                dst.shutdown(socket.SHUT_WR)
            except OSError:
                pass


class StartTLSProxy(_Relay):
    def __init__(self, upstream_port, inject=b"", strip_starttls=False,
                 upstream_host="127.0.0.1"):
        super().__init__(upstream_port, upstream_host)
        self.inject = inject
        self.strip_starttls = strip_starttls
        self.injected = 0          # how many times the injection was sent
        self.starttls_seen = 0     # client STARTTLS commands seen
        self.client_lines = []     # plaintext lines the client sent
        self._start()

    def _new_state(self):
        return {"tag": None, "tls": False, "lock": threading.Lock()}

    def _client_to_server(self, client, server, state):
        buf = b""

        def handle(data):
            nonlocal buf
            if state["tls"]:
                server.sendall(data)
                return
            buf += data
            while b"\n" in buf and not state["tls"]:
                line, buf = buf.split(b"\n", 1)
                line += b"\n"
                self.client_lines.append(line)
                m = _STARTTLS_CMD.match(line)
                if m:
                    self.starttls_seen += 1
                    with state["lock"]:
                        state["tag"] = m.group(1)
                server.sendall(line)
            if state["tls"] and buf:
                server.sendall(buf)
                buf = b""
        self._pump(client, server, handle)

    def _server_to_client(self, client, server, state):
        buf = b""

        def handle(data):
            nonlocal buf
            if state["tls"]:
                client.sendall(data)
                return
            buf += data
            while b"\n" in buf and not state["tls"]:
                line, buf = buf.split(b"\n", 1)
                line += b"\n"
                if self.strip_starttls:
                    line = re.sub(rb" STARTTLS\b", b"", line)
                with state["lock"]:
                    tag = state["tag"]
                if tag and line.startswith(tag + b" "):
                    ok = line[len(tag) + 1:].upper().startswith(b"OK")
                    if ok:
                        state["tls"] = True
                        payload = line + self.inject
                        if self.inject:
                            self.injected += 1
                        client.sendall(payload)
                        if buf:
                            client.sendall(buf)
                            buf = b""
                        break
                client.sendall(line)
        self._pump(server, client, handle)


class TlsDripProxy(_Relay):
    """A TCP relay on 127.0.0.1 in front of an implicit-TLS server (Dovecot's
    imaps, Postfix's smtps) that, once the client has sent ``after`` TLS
    application-data records (record type 23; in TLS 1.3 the first is the
    client's Finished), passes what the server sends one byte every
    ``interval`` seconds.  The TLS records stay intact: only their bytes
    trickle, so a client that waits for a whole record with a per-byte
    timeout never times out (what a slow or hostile path does, below TLS).

    ``dripped``: bytes passed at that pace, over all connections.
    """

    def __init__(self, upstream_port, after=1, interval=0.1, upstream_host="127.0.0.1"):
        super().__init__(upstream_port, upstream_host)
        self.after = after
        self.interval = interval
        self.dripped = 0
        self._start()

    def _new_state(self):
        return {"records": 0}

    def _client_to_server(self, client, server, state):
        buf = b""

        def handle(data):
            # Count whole records before passing them on: the server's
            # answer to the one that starts the drip is dripped.
            nonlocal buf
            buf += data
            while len(buf) >= 5 and len(buf) >= 5 + int.from_bytes(buf[3:5], "big"):
                n = 5 + int.from_bytes(buf[3:5], "big")
                if buf[0] == 23:
                    state["records"] += 1
                server.sendall(buf[:n])
                buf = buf[n:]
        self._pump(client, server, handle)

    def _server_to_client(self, client, server, state):
        def handle(data):
            if state["records"] < self.after:
                client.sendall(data)
                return
            for i in range(len(data)):
                if self._stop.wait(self.interval):
                    return False
                client.sendall(data[i:i + 1])
                self.dripped += 1
        self._pump(server, client, handle)
