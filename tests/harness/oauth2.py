"""A tiny OAuth2 token introspection endpoint (RFC 7662) for Dovecot's
oauth2 passdb, on 127.0.0.1, in a thread.

    from harness.oauth2 import IntrospectionServer
    from harness.dovecot import Dovecot

    with IntrospectionServer() as idp:
        token = idp.issue("rbj")                 # a fresh valid token for rbj
        dc = Dovecot(oauth2=idp)                  # passdb oauth2 -> idp.url
        ...
        idp.revoke(token)                         # now Dovecot refuses it
        assert token in idp.seen                  # Dovecot asked about it

Dovecot 2.3 (``introspection_mode = post``) POSTs ``token=TOKEN``
(application/x-www-form-urlencoded) to ``url``; the answer is
``{"active": true, "username": USER}`` for a valid token and
``{"active": false}`` otherwise (HTTP 200 in both cases, as RFC 7662 says).
Modes ``get`` (``?token=`` or the URL's query) and ``auth``
(``Authorization: Bearer``) are understood as well.
"""

import http.server
import json
import secrets
import threading
import urllib.parse


class IntrospectionServer:
    """Attributes: url, port, tokens ({token: username}), seen (every token
    asked about, in order), requests ([(method, path, body)])."""

    path = "/introspect"

    def __init__(self, tokens=None):
        self.tokens = dict(tokens or {})
        self.seen = []
        self.requests = []
        self._lock = threading.Lock()
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, fmt, *args):  # quiet
                pass

            def _answer(self, token):
                with owner._lock:
                    if token is not None:
                        owner.seen.append(token)
                    user = owner.tokens.get(token) if token is not None else None
                body = {"active": True, "username": user} if user else {"active": False}
                data = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _bearer(self):
                auth = self.headers.get("Authorization") or ""
                if auth.lower().startswith("bearer "):
                    return auth[7:].strip()
                return None

            def do_POST(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n) if n else b""
                with owner._lock:
                    owner.requests.append(("POST", self.path, body))
                form = urllib.parse.parse_qs(body.decode("utf-8", "replace"),
                                             keep_blank_values=True)
                token = (form.get("token") or [None])[0]
                self._answer(token if token is not None else self._bearer())

            def do_GET(self):
                with owner._lock:
                    owner.requests.append(("GET", self.path, b""))
                query = urllib.parse.urlsplit(self.path).query
                form = urllib.parse.parse_qs(query, keep_blank_values=True)
                token = (form.get("token") or form.get("access_token") or [None])[0]
                if token is None and query and "=" not in query:
                    token = urllib.parse.unquote(query)
                self._answer(token if token is not None else self._bearer())

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.url = "http://127.0.0.1:%d%s" % (self.port, self.path)
        self._thread = threading.Thread(target=self.httpd.serve_forever,
                                        kwargs={"poll_interval": 0.1}, daemon=True)
        self._thread.start()

    # ----------------------------------------------------------- tokens
    @staticmethod
    def new_token():
        """A distinctive, greppable token (no characters special to HTTP forms
        or SASL)."""
        return "Tok-" + secrets.token_hex(16)

    def issue(self, username, token=None):
        """Make ``token`` (default: a new one) valid for ``username``; return it."""
        token = token or self.new_token()
        with self._lock:
            self.tokens[token] = username
        return token

    add = issue

    def revoke(self, token):
        with self._lock:
            self.tokens.pop(token, None)

    def asked(self, token):
        """How many times Dovecot asked about ``token``."""
        with self._lock:
            return self.seen.count(token)

    def clear(self):
        with self._lock:
            del self.seen[:]
            del self.requests[:]

    # --------------------------------------------------------- lifetime
    def close(self):
        if self.httpd is not None:
            self.httpd.shutdown()
            self.httpd.server_close()
            self._thread.join(timeout=5)
            self.httpd = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False
