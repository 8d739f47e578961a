"""A TLS-terminating IMAP proxy that records what the client says.

The program under test connects to ``recorder.port`` with implicit TLS (the
proxy presents the harness's good server certificate, valid for 127.0.0.1 and
localhost and signed by the test CA, so puljed's verification passes), and
the proxy connects on to Dovecot's IMAPS port (from 127.0.0.1, so Dovecot's
log still shows rip=127.0.0.1 for the program under test).  Every line the
client sends is kept, so a test can see the commands themselves: LOGIN or
AUTHENTICATE PLAIN, EXAMINE or SELECT, UID MOVE or UID COPY + UID EXPUNGE.

    rec = ImapRecorder(dc, strip_capabilities=("AUTH=PLAIN",))
    cfg = dc.write_config(path, port=rec.port, security="tls")
    ... run puljed ...
    rec.verbs()          # ['CAPABILITY', 'LOGIN', 'EXAMINE', 'UID FETCH', ...]
    rec.commands("UID MOVE")   # ['UID MOVE 1:3 Behandlet']
    rec.close()

``strip_capabilities`` removes capability names from every CAPABILITY list
the server sends (greeting, untagged CAPABILITY, [CAPABILITY ...] codes), to
make a server that lacks them (e.g. AUTH=PLAIN, which Dovecot cannot drop
without also disabling the LOGIN command).

``tls_version`` (an ``ssl.TLSVersion``) makes the proxy offer that one
version only, e.g. ``ssl.TLSVersion.TLSv1`` for a server that knows nothing
newer; ``ciphers`` (OpenSSL names) limits the TLS 1.2 cipher suites, e.g.
``"AES128-GCM-SHA256"`` for static-RSA key exchange only;
``server_pair=certs.pair("weakrsa")`` presents an RSA-1024 key.

Credentials pass through the proxy: the raw lines are kept, but commands()
and verbs() blank the arguments of LOGIN and AUTHENTICATE and of SASL
continuation lines; use sasl_responses() to look at the SASL payloads.
"""

import asyncio
import base64
import re
import ssl
import threading

_CMD_RE = re.compile(rb"^([^\s()]+) ([A-Za-z]+)(?: ([A-Za-z]+))?")
_CAPA_LINE_RE = re.compile(rb"^(\* CAPABILITY |\S+ OK \[CAPABILITY |\* OK \[CAPABILITY )",
                           re.I)


class ImapRecorder:
    """Attributes: port, connections (number accepted), lines (list of lists:
    the raw client lines of each connection, CRLF stripped)."""

    def __init__(self, dc, strip_capabilities=(), server_pair=None, tls_version=None, ciphers=None):
        if not dc.imaps_port:
            raise ValueError("ImapRecorder needs a Dovecot with TLS (imaps_port)")
        self.upstream = ("127.0.0.1", dc.imaps_port)
        self.strip = [c.upper().encode() for c in strip_capabilities]
        self.connections = 0
        self.lines = []
        self._lock = threading.Lock()
        cert, key = server_pair or dc.certs.pair("good")
        self._server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        if tls_version is not None or server_pair is not None or ciphers:
            # An old server: OpenSSL 3's default security level refuses
            # TLS 1.0/1.1 and keys under 2048 bits on the server side too.
            self._server_ctx.set_ciphers((ciphers or "DEFAULT") + "@SECLEVEL=0")
        if tls_version is not None:
            self._server_ctx.minimum_version = tls_version
            self._server_ctx.maximum_version = tls_version
        self._server_ctx.load_cert_chain(cert, key)
        self._client_ctx = ssl.create_default_context(cafile=dc.ca_file)
        self._loop = asyncio.new_event_loop()
        self._tasks = set()
        self._writers = set()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self._server = asyncio.run_coroutine_threadsafe(
            self._start(), self._loop).result(timeout=10)
        self.port = self._server.sockets[0].getsockname()[1]
        self.host = "127.0.0.1"

    async def _start(self):
        return await asyncio.start_server(self._handle, "127.0.0.1", 0,
                                          ssl=self._server_ctx)

    # ------------------------------------------------------------ relay
    async def _handle(self, reader, writer):
        task = asyncio.current_task()
        self._tasks.add(task)
        self._writers.add(writer)
        with self._lock:
            self.connections += 1
            mine = []
            self.lines.append(mine)
        up_w = None
        try:
            up_r, up_w = await asyncio.open_connection(
                self.upstream[0], self.upstream[1], ssl=self._client_ctx,
                server_hostname="localhost")
            self._writers.add(up_w)
            a = asyncio.ensure_future(self._pump(reader, up_w, mine, True))
            b = asyncio.ensure_future(self._pump(up_r, writer, None, False))
            done, pending = await asyncio.wait({a, b},
                                               return_when=asyncio.FIRST_COMPLETED)
            # One side ended: let the other side's last bytes through briefly.
            if pending:
                await asyncio.wait(pending, timeout=2)
            for t in pending:
                t.cancel()
        except (OSError, ssl.SSLError, asyncio.CancelledError):
            pass
        finally:
            for w in (writer, up_w):
                if w is None:
                    continue
                try:
                    w.close()
                    await asyncio.wait_for(w.wait_closed(), 2)
                except BaseException:
                    w.transport.abort()
                self._writers.discard(w)
            self._tasks.discard(task)

    async def _pump(self, reader, writer, record, from_client):
        buf = b""
        try:
            while True:
                data = await reader.read(65536)
                if not data:
                    break
                buf += data
                out = []
                while b"\n" in buf:
                    line, buf = buf.split(b"\n", 1)
                    line += b"\n"
                    if from_client:
                        with self._lock:
                            record.append(line.rstrip(b"\r\n"))
                    elif self.strip and _CAPA_LINE_RE.match(line):
                        line = self._strip_caps(line)
                    out.append(line)
                if len(buf) > 65536:  # a long literal: no line to look at
                    out.append(buf)
                    buf = b""
                if out:
                    writer.write(b"".join(out))
                    await writer.drain()
            if buf:
                if from_client:
                    with self._lock:
                        record.append(buf.rstrip(b"\r\n"))
                writer.write(buf)
                await writer.drain()
        except (OSError, ssl.SSLError, ConnectionError):
            pass
        finally:
            try:
                if writer.can_write_eof():
                    writer.write_eof()
            except Exception:
                pass

    def _strip_caps(self, line):
        body = line.rstrip(b"\r\n")
        words = body.split(b" ")
        kept = []
        for w in words:
            core = w.rstrip(b"]")
            if core.upper() in self.strip:
                if w.endswith(b"]") and kept:
                    kept[-1] += b"]"
                continue
            kept.append(w)
        return b" ".join(kept) + b"\r\n"

    # ----------------------------------------------------------- queries
    def raw_lines(self):
        """Every client line of every connection, in order (NOT redacted)."""
        with self._lock:
            return [l for conn in self.lines for l in conn]

    def _parsed(self):
        """[(connection index, tag, verb, redacted text)] for command lines."""
        out = []
        with self._lock:
            conns = [list(c) for c in self.lines]
        for ci, conn in enumerate(conns):
            in_sasl = False
            for line in conn:
                m = _CMD_RE.match(line)
                if in_sasl:
                    # SASL continuation responses are bare base64 (or "*");
                    # they end with the tagged reply, which we do not see, so
                    # anything that looks like a command ends the exchange.
                    if m is None:
                        continue
                    in_sasl = False
                if m is None:
                    continue
                tag = m.group(1).decode("ascii", "replace")
                verb = m.group(2).decode("ascii", "replace").upper()
                text = line.decode("utf-8", "replace")
                if verb == "UID" and m.group(3):
                    verb = "UID " + m.group(3).decode("ascii").upper()
                if verb == "LOGIN":
                    text = "%s LOGIN ***" % tag
                elif verb == "AUTHENTICATE":
                    parts = text.split(" ")
                    mech = parts[2].upper() if len(parts) > 2 else ""
                    text = "%s AUTHENTICATE %s%s" % (tag, mech,
                                                     " ***" if len(parts) > 3 else "")
                    in_sasl = len(parts) <= 3
                out.append((ci, tag, verb, text))
        return out

    def verbs(self, connection=None):
        """Command names in order, ``UID x`` counted as one ("UID MOVE")."""
        return [v for ci, _t, v, _x in self._parsed()
                if connection is None or ci == connection]

    def commands(self, verb=None):
        """Command lines without their tags (credentials blanked), optionally
        only those whose verb is ``verb`` (e.g. "UID STORE")."""
        out = []
        for _ci, tag, v, text in self._parsed():
            if verb is None or v == verb.upper():
                out.append(text[len(tag) + 1:])
        return out

    def sasl_responses(self):
        """Decoded SASL payloads the client sent (initial responses of
        AUTHENTICATE and continuation lines), as bytes."""
        out = []
        with self._lock:
            conns = [list(c) for c in self.lines]
        for conn in conns:
            in_sasl = False
            for line in conn:
                m = _CMD_RE.match(line)
                if m and m.group(2).upper() == b"AUTHENTICATE":
                    parts = line.split(b" ")
                    if len(parts) > 3:
                        out.append(_b64(parts[3]))
                        in_sasl = False
                    else:
                        in_sasl = True
                    continue
                if in_sasl:
                    if m is not None and b" " in line:
                        in_sasl = False
                        continue
                    out.append(_b64(line.strip()))
        return out

    # ---------------------------------------------------------- lifetime
    def close(self):
        if self._loop is None:
            return

        async def shutdown():
            self._server.close()
            tasks = list(self._tasks)
            for t in tasks:
                t.cancel()
            if tasks:
                await asyncio.wait(tasks, timeout=3)
            for w in list(self._writers):
                w.transport.abort()
            await self._server.wait_closed()
            await asyncio.sleep(0)

        try:
            asyncio.run_coroutine_threadsafe(shutdown(), self._loop).result(timeout=5)
        except Exception:
            pass
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)
        if not self._thread.is_alive():
            self._loop.close()
        self._loop = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False


def _b64(data):
    if data in (b"*", b"="):
        return data
    try:
        return base64.b64decode(data + b"=" * (-len(data) % 4))
    except Exception:
        return data
