"""Test certificates made with the openssl command line tool.

One set is generated per process (lazily) and removed at exit:

* ``ca.pem``/``ca.key``           -- the test CA that puljed is told to trust
* ``server.pem``/``server.key``   -- leaf for DNS:localhost + IP:127.0.0.1, signed by the test CA
* ``wronghost.pem``/``.key``      -- leaf for DNS:evil.example only, signed by the same test CA
* ``unknown.pem``/``.key``        -- self-signed leaf for localhost + 127.0.0.1 (an unknown CA)
* ``weakrsa.pem``/``.key``        -- leaf for localhost + 127.0.0.1 with an RSA-1024 key, signed by the test CA
"""

import atexit
import os
import shutil
import subprocess
import tempfile
import threading

OPENSSL = os.environ.get("OPENSSL", "openssl")

_lock = threading.Lock()
_default = None


class CertSet:
    """Paths of a generated certificate set (attributes are absolute paths)."""

    def __init__(self, directory):
        self.dir = directory
        self.ca_cert = os.path.join(directory, "ca.pem")
        self.ca_key = os.path.join(directory, "ca.key")
        self.server_cert = os.path.join(directory, "server.pem")
        self.server_key = os.path.join(directory, "server.key")
        self.wronghost_cert = os.path.join(directory, "wronghost.pem")
        self.wronghost_key = os.path.join(directory, "wronghost.key")
        self.unknown_cert = os.path.join(directory, "unknown.pem")
        self.unknown_key = os.path.join(directory, "unknown.key")
        self.weakrsa_cert = os.path.join(directory, "weakrsa.pem")
        self.weakrsa_key = os.path.join(directory, "weakrsa.key")

    def pair(self, kind):
        """Return (cert, key) for kind in 'good', 'wronghost', 'unknownca'."""
        if kind in ("good", "server", None):
            return self.server_cert, self.server_key
        if kind in ("wronghost", "wrong-host", "wrong_host"):
            return self.wronghost_cert, self.wronghost_key
        if kind in ("unknownca", "unknown-ca", "unknown_ca", "selfsigned"):
            return self.unknown_cert, self.unknown_key
        if kind in ("weakrsa", "rsa1024"):
            return self.weakrsa_cert, self.weakrsa_key
        raise ValueError("unknown certificate kind %r" % (kind,))


def _run(args, cwd):
    proc = subprocess.run([OPENSSL] + args, cwd=cwd, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT)
    if proc.returncode != 0:
        raise RuntimeError("openssl %s failed (%d):\n%s" % (
            " ".join(args), proc.returncode,
            proc.stdout.decode("utf-8", "replace")))


def _write(path, text):
    with open(path, "w") as f:
        f.write(text)


def _leaf(d, name, cn, san, ca_cert, ca_key, key_type="rsa:2048"):
    key = name + ".key"
    csr = name + ".csr"
    ext = name + ".ext"
    _write(os.path.join(d, ext),
           "basicConstraints = critical, CA:FALSE\n"
           "keyUsage = critical, digitalSignature, keyEncipherment\n"
           "extendedKeyUsage = serverAuth\n"
           "subjectKeyIdentifier = hash\n"
           "authorityKeyIdentifier = keyid, issuer\n"
           "subjectAltName = %s\n" % san)
    _run(["req", "-new", "-newkey", key_type, "-nodes", "-keyout", key,
          "-out", csr, "-subj", "/O=puljed tests/CN=%s" % cn], d)
    _run(["x509", "-req", "-in", csr, "-CA", ca_cert, "-CAkey", ca_key,
          "-CAcreateserial", "-days", "825", "-sha256",
          "-extfile", ext, "-out", name + ".pem"], d)


def generate(directory):
    """Generate a full certificate set into ``directory`` and return a CertSet."""
    os.makedirs(directory, exist_ok=True)
    d = directory
    # Test CA
    _run(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-sha256",
          "-days", "3650", "-keyout", "ca.key", "-out", "ca.pem",
          "-subj", "/O=puljed tests/CN=puljed test CA",
          "-addext", "basicConstraints=critical,CA:TRUE",
          "-addext", "keyUsage=critical,keyCertSign,cRLSign",
          "-addext", "subjectKeyIdentifier=hash"], d)
    # Good server certificate
    _leaf(d, "server", "localhost", "DNS:localhost, IP:127.0.0.1",
          "ca.pem", "ca.key")
    # Wrong host name, same CA
    _leaf(d, "wronghost", "evil.example", "DNS:evil.example",
          "ca.pem", "ca.key")
    # Right host and CA, but a key too small to trust (RSA-1024)
    _leaf(d, "weakrsa", "localhost", "DNS:localhost, IP:127.0.0.1",
          "ca.pem", "ca.key", key_type="rsa:1024")
    # Self-signed certificate from an unknown CA, valid for localhost
    _write(os.path.join(d, "unknown.ext"), "")
    _run(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-sha256",
          "-days", "825", "-keyout", "unknown.key", "-out", "unknown.pem",
          "-subj", "/O=unknown test issuer/CN=localhost",
          "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
          "-addext", "basicConstraints=critical,CA:FALSE",
          "-addext", "keyUsage=critical,digitalSignature,keyEncipherment",
          "-addext", "extendedKeyUsage=serverAuth"], d)
    for name in os.listdir(d):
        os.chmod(os.path.join(d, name), 0o644 if name.endswith(".pem") else 0o600)
    os.chmod(d, 0o755)
    return CertSet(d)


def default_certs():
    """Per-process shared certificate set (generated on first use)."""
    global _default
    with _lock:
        if _default is None:
            d = tempfile.mkdtemp(prefix="puljed-certs-")
            atexit.register(shutil.rmtree, d, True)
            _default = generate(d)
        return _default
