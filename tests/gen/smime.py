#!/usr/bin/python3
"""S/MIME test messages made with ``openssl smime -sign``.

Library::

    from gen import pdfsign, smime
    fx = pdfsign.generate(d)
    msgs = smime.generate(d, fx)   # {name: raw bytes}, also written as d/NAME.eml

CLI::

    /usr/bin/python3 tests/gen/smime.py OUTDIR    # runs pdfsign first if needed

Messages (all with Subject CALL_SUBJECT, signed by Mette Hansen with the
intermediate certificate included; the signed content is a multipart/mixed
with a text/plain part and signed_valid.pdf named "Ansøgningsskema
underskrevet.pdf", RFC 2231 encoded):

* ``smime_detached``: multipart/signed; protocol="application/pkcs7-signature"
  (detached, as Thunderbird/Outlook send it) -- signature valid.
* ``smime_detached_x``: the same as OpenSSL writes it
  (application/x-pkcs7-signature) -- valid.
* ``smime_opaque``: application/pkcs7-mime; smime-type=signed-data; name=smime.p7m
  (openssl smime -sign -nodetach) -- valid.
* ``smime_altered``: smime_detached with one character of the text part
  changed after signing -- signature invalid (digest mismatch).
* ``smime_encrypted``: application/pkcs7-mime; smime-type=enveloped-data
  (openssl smime -encrypt to Mette Hansen's certificate): not signed, and
  nothing in it can be read without her key.

Every message is checked with ``openssl smime -verify -noverify`` (the
signature against the certificate in the message, no chain): the valid ones
must verify, the altered one must not.
"""

import base64
import email.utils
import os
import re
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pdfsign  # noqa: E402

CALL_SUBJECT = "Puljeopslag 2022: Styrkelse af digitale kompetencer - Region Midtjylland"
PDF_NAME = "Ans\u00f8gningsskema underskrevet.pdf"
TEXT = ("Kære Sundhedsstyrelse,\r\n\r\n"
        "Hermed fremsendes Region Midtjyllands ansøgning til puljen.\r\n"
        "Ansøgningsskemaet er underskrevet digitalt.\r\n\r\n"
        "Med venlig hilsen\r\nMette Hansen\r\nRegion Midtjylland\r\n")
ALTER_FROM = b"Hermed fremsendes"
ALTER_TO = b"Hermed fremsendas"


def rfc2231(value, charset="utf-8"):
    """filename*=utf-8''... percent-encoding of value."""
    safe = set(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789!#$&+-.^_`|~")
    return charset + "''" + "".join(chr(b) if b in safe else "%%%02X" % b
                                    for b in value.encode(charset))


def b64lines(data):
    s = base64.b64encode(data).decode("ascii")
    return "\r\n".join(s[i:i + 76] for i in range(0, len(s), 76)) + "\r\n"


def qp(text):
    import quopri
    return quopri.encodestring(text.encode("utf-8")).replace(b"\r\n", b"\n") \
        .replace(b"\n", b"\r\n")


def crlf(data):
    return re.sub(rb"(?<!\r)\n", b"\r\n", data)


def inner_entity(pdf, text=TEXT, boundary="=_inner_5f3a9c"):
    """multipart/mixed (CRLF) with a QP text part and the PDF (base64)."""
    out = ("Content-Type: multipart/mixed; boundary=\"%s\"\r\n\r\n" % boundary).encode()
    out += ("--%s\r\n" % boundary).encode()
    out += (b"Content-Type: text/plain; charset=utf-8\r\n"
            b"Content-Transfer-Encoding: quoted-printable\r\n\r\n")
    out += qp(text)
    if not out.endswith(b"\r\n"):
        out += b"\r\n"
    out += ("--%s\r\n" % boundary).encode()
    fn = rfc2231(PDF_NAME)
    out += ("Content-Type: application/pdf; name*=%s\r\n"
            "Content-Transfer-Encoding: base64\r\n"
            "Content-Disposition: attachment; filename*=%s\r\n\r\n" % (fn, fn)).encode()
    out += b64lines(pdf).encode()
    out += ("--%s--\r\n" % boundary).encode()
    return out


def top_headers(subject=CALL_SUBJECT, msgid=None, date=None):
    h = [
        ("From", "Mette Hansen <%s>" % pdfsign.SIGNER_EMAIL),
        ("To", "puljer@sst.example.dk"),
        ("Subject", subject),
        ("Date", date or "Wed, 15 Jun 2022 10:15:00 +0200"),
        ("Message-ID", msgid or email.utils.make_msgid(domain="rm.example.dk")),
    ]
    return "".join("%s: %s\r\n" % kv for kv in h).encode("utf-8")


def smime_sign(content, pki, opaque=False):
    """openssl smime -sign over content (a MIME entity, CRLF); returns the
    output (MIME-Version + Content-Type headers + body), CRLF."""
    with tempfile.TemporaryDirectory(prefix="smime-") as t:
        src = os.path.join(t, "in.eml")
        with open(src, "wb") as f:
            f.write(content)
        args = ["smime", "-sign", "-in", src, "-signer", pki.signer_cert,
                "-inkey", pki.signer_key, "-certfile", pki.inter_cert,
                "-md", "sha256", "-crlfeol"]
        if opaque:
            args.append("-nodetach")
        return crlf(pdfsign.openssl(args))


def smime_verify(raw):
    """True when openssl smime -verify -noverify accepts raw (the signature
    checked with the certificate in the message, chain not checked)."""
    with tempfile.TemporaryDirectory(prefix="smime-v-") as t:
        src = os.path.join(t, "m.eml")
        with open(src, "wb") as f:
            f.write(raw)
        p = subprocess.run([pdfsign.OPENSSL, "smime", "-verify", "-noverify",
                            "-in", src, "-out", os.devnull],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        return p.returncode == 0


def generate(directory, fx=None):
    os.makedirs(directory, exist_ok=True)
    if fx is None:
        fx = pdfsign.generate(directory, run_pdfsig=False)
    pki = fx["pki"]
    pdf = fx["bytes"]["signed_valid"]
    inner = inner_entity(pdf)

    detached_x = smime_sign(inner, pki)
    detached = detached_x.replace(b"application/x-pkcs7-signature",
                                  b"application/pkcs7-signature")
    opaque = smime_sign(inner, pki, opaque=True).replace(
        b"application/x-pkcs7-mime", b"application/pkcs7-mime")
    assert ALTER_FROM in detached
    altered = detached.replace(ALTER_FROM, ALTER_TO, 1)

    with tempfile.TemporaryDirectory(prefix="smime-e-") as t:
        src = os.path.join(t, "in.eml")
        with open(src, "wb") as f:
            f.write(inner)
        encrypted = crlf(pdfsign.openssl(["smime", "-encrypt", "-aes256", "-in", src,
                                          "-crlfeol", pki.signer_cert])).replace(
            b"application/x-pkcs7-mime", b"application/pkcs7-mime")

    msgs = {
        "smime_encrypted": top_headers(msgid="<smime-encrypted@rm.example.dk>") + encrypted,
        "smime_detached": top_headers(msgid="<smime-detached@rm.example.dk>") + detached,
        "smime_detached_x": top_headers(msgid="<smime-detached-x@rm.example.dk>") + detached_x,
        "smime_opaque": top_headers(msgid="<smime-opaque@rm.example.dk>") + opaque,
        "smime_altered": top_headers(msgid="<smime-altered@rm.example.dk>") + altered,
    }
    want = {"smime_encrypted": False, "smime_detached": True, "smime_detached_x": True,
            "smime_opaque": True, "smime_altered": False}
    for name, raw in msgs.items():
        ok = smime_verify(raw)
        if ok is not want[name]:
            raise RuntimeError("self-check: openssl smime -verify says %s for %s, want %s"
                               % (ok, name, want[name]))
        with open(os.path.join(directory, name + ".eml"), "wb") as f:
            f.write(raw)
    return msgs


def main(argv=None):
    import argparse
    ap = argparse.ArgumentParser(prog="smime.py", description=__doc__.split("\n")[0])
    ap.add_argument("outdir", help="directory for the PKI, PDFs and .eml files")
    a = ap.parse_args(argv)
    msgs = generate(a.outdir)
    for name in sorted(msgs):
        print("%-18s %6d bytes  openssl smime -verify: %s" % (
            name, len(msgs[name]), "ok" if smime_verify(msgs[name]) else "FAILS"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
