#!/usr/bin/env python3
"""conf/puljed-token-m365 against a local OAuth2 token endpoint: the
client-credentials request it sends, the token file it writes (atomically,
mode 0640, token + newline), and that a refused request leaves the old token
in place and prints neither the secret nor a token."""
import http.server
import os
import stat
import subprocess
import sys
import tempfile
import threading
import unittest
import urllib.parse

SRC = os.environ.get("PULJED_SRCDIR", os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
HELPER = os.path.join(SRC, "conf", "puljed-token-m365")
SECRET = "cl1ent~secret+with&odd=chars"


class Endpoint(http.server.BaseHTTPRequestHandler):
    requests = []
    answer = (200, b'{"token_type":"Bearer","expires_in":3599,"access_token":"eyJ0eXAi.eyJhdWQi.c2ln"}')

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        Endpoint.requests.append((self.path, urllib.parse.parse_qs(body.decode())))
        code, payload = Endpoint.answer
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args):
        pass


class TokenHelperTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = http.server.HTTPServer(("127.0.0.1", 0), Endpoint)
        threading.Thread(target=cls.server.serve_forever, daemon=True).start()

    @classmethod
    def tearDownClass(cls):
        cls.server.shutdown()

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="puljed-token-")
        self.secret = os.path.join(self.dir, "secret")
        with open(self.secret, "w") as f:
            f.write(SECRET + "\n")
        self.token = os.path.join(self.dir, "imap-token")
        Endpoint.requests.clear()

    def run_helper(self, **extra):
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"),
               "M365_TENANT": "contoso.onmicrosoft.com", "M365_CLIENT_ID": "1111-2222",
               "M365_CLIENT_SECRET_FILE": self.secret, "TOKEN_FILE": self.token,
               "M365_TOKEN_URL": "http://127.0.0.1:%d/contoso/oauth2/v2.0/token" % self.server.server_port}
        env.update(extra)
        return subprocess.run(["sh", HELPER], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True, timeout=60)

    def test_writes_token(self):
        Endpoint.answer = (200, b'{"token_type":"Bearer","expires_in":3599,"access_token":"eyJ0eXAi.eyJhdWQi.c2ln"}')
        r = self.run_helper()
        self.assertEqual(r.returncode, 0, r.stderr)
        with open(self.token) as f:
            self.assertEqual(f.read(), "eyJ0eXAi.eyJhdWQi.c2ln\n")
        self.assertEqual(stat.S_IMODE(os.stat(self.token).st_mode), 0o640)
        self.assertEqual(len(Endpoint.requests), 1)
        path, form = Endpoint.requests[0]
        self.assertEqual(path, "/contoso/oauth2/v2.0/token")
        self.assertEqual(form["grant_type"], ["client_credentials"])
        self.assertEqual(form["client_id"], ["1111-2222"])
        self.assertEqual(form["client_secret"], [SECRET])  # newline stripped, URL-encoded intact
        self.assertEqual(form["scope"], ["https://outlook.office365.com/.default"])
        for text in (r.stdout, r.stderr):
            self.assertNotIn(SECRET, text)
            self.assertNotIn("eyJ0eXAi", text)
        # No temporary file left beside the token.
        self.assertEqual(sorted(os.listdir(self.dir)), ["imap-token", "secret"])

    def test_refused_keeps_old_token(self):
        with open(self.token, "w") as f:
            f.write("old-token\n")
        Endpoint.answer = (401, b'{"error":"invalid_client","error_description":"AADSTS7000215: Invalid client secret"}')
        r = self.run_helper()
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("HTTP 401", r.stderr)
        self.assertIn("invalid_client", r.stderr)
        self.assertNotIn(SECRET, r.stderr + r.stdout)
        with open(self.token) as f:
            self.assertEqual(f.read(), "old-token\n")

    def test_missing_settings(self):
        r = self.run_helper(M365_CLIENT_ID="")
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("M365_CLIENT_ID", r.stderr)
        self.assertEqual(Endpoint.requests, [])
        r = self.run_helper(M365_CLIENT_SECRET_FILE=os.path.join(self.dir, "nope"))
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("client secret", r.stderr)
        self.assertFalse(os.path.exists(self.token))


if __name__ == "__main__":
    unittest.main(verbosity=2)
