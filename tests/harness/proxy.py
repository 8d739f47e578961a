"""A TCP relay on 127.0.0.1 for attacks on the plaintext part of an IMAP
STARTTLS session (the man in the middle is played by the test itself).

``StartTLSProxy(upstream_port, inject=b"...")`` forwards everything between
the client and Dovecot's plain listener unchanged, except that right after
the server's tagged OK to STARTTLS it appends ``inject`` in the same TCP
segment, i.e. *before* the TLS handshake (STARTTLS response injection,
CVE-2011-0411 style).  ``strip_starttls=True`` instead removes STARTTLS from
the server's capability lists (a downgrade attack).
"""

import re
import socket
import threading

_STARTTLS_CMD = re.compile(rb"^(\S+) STARTTLS\r?\n", re.I)


class StartTLSProxy:
    def __init__(self, upstream_port, inject=b"", strip_starttls=False,
                 upstream_host="127.0.0.1"):
        self.upstream = (upstream_host, upstream_port)
        self.inject = inject
        self.strip_starttls = strip_starttls
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.injected = 0          # how many times the injection was sent
        self.starttls_seen = 0     # client STARTTLS commands seen
        self.client_lines = []     # plaintext lines the client sent
        self._stop = threading.Event()
        self._threads = []
        self._socks = []
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
        self.sock.settimeout(0.2)
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
            state = {"tag": None, "tls": False, "lock": threading.Lock()}
            for target in (self._client_to_server, self._server_to_client):
                t = threading.Thread(target=target, args=(client, server, state),
                                     daemon=True)
                t.start()
                self._threads.append(t)

    def _client_to_server(self, client, server, state):
        buf = b""
        try:
            while True:
                data = client.recv(65536)
                if not data:
                    break
                if not state["tls"]:
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
                else:
                    server.sendall(data)
        except OSError:
            pass
        finally:
            for s in (server,):
                try:
                    s.shutdown(socket.SHUT_WR)
                except OSError:
                    pass

    def _server_to_client(self, client, server, state):
        buf = b""
        try:
            while True:
                data = server.recv(65536)
                if not data:
                    break
                if state["tls"]:
                    client.sendall(data)
                    continue
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
        except OSError:
            pass
        finally:
            try:
                client.shutdown(socket.SHUT_WR)
            except OSError:
                pass
