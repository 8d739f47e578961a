#!/usr/bin/python3
"""Signatures made in the past: signers whose certificates were valid for a
few days or weeks years ago, signing PDFs and S/MIME messages at chosen
times (openssl under ``faketime``), some with an RFC 3161 signature
timestamp (``openssl ts``) embedded as the unsigned attribute
id-aa-signatureTimeStampToken.

Library::

    from gen import pastsig
    cases = pastsig.generate(directory)   # also directory/manifest.json

CLI::

    /usr/bin/python3 tests/gen/pastsig.py OUTDIR

Each case (manifest.json: name -> fields) has:

* ``pdf``: form.pdf signed incrementally with the case's CMS;
  ``eml``: an S/MIME multipart/signed message (the same kind of CMS over
  its first part); ``der``/``content``: the PDF's CMS and what it signs.
* ``arrival``: the server's arrival time to judge it at (Unix time).
* ``want``: "valid" or "invalid"; ``reason``: how the reason starts
  ("" for no constraint); ``source``: "arrival" or "timestamp".
* ``openssl``: whether ``openssl cms -verify -attime T -CAfile pki/root.pem``
  accepts the PDF's CMS at the time puljed must validate it at (T: the
  timestamp's genTime for a timestamped case, else the arrival) -- the
  independent oracle; ``openssl_attime``: that T.  ``oracle``: whether the
  oracle's word must equal the verdict (not for weak digests: openssl does
  not judge a digest by the time a signature was made).

The PKI (pki/): a root and an intermediate valid 2010-2042, a TSA under the
intermediate, and signers "Mette Hansen" with the validity windows named
in CASES.
"""

import base64
import calendar
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pdfsign  # noqa: E402
import smime  # noqa: E402

OPENSSL = pdfsign.OPENSSL


def epoch(text):
    """'2022-06-15 10:30:00' (UTC) as Unix time."""
    return calendar.timegm(time.strptime(text, "%Y-%m-%d %H:%M:%S"))


# Signers: name -> (first day valid, days)
SIGNERS = {
    "june2022": ("2022-06-01 00:00:00", 29),    # 2022-06-01 .. 2022-06-30
    "janfeb2022": ("2022-01-01 00:00:00", 31),  # expired before June 2022
    "july2022": ("2022-07-01 00:00:00", 365),   # not yet valid in June 2022
    "short2022": ("2022-06-14 00:00:00", 5),    # 2022-06-14 .. 2022-06-19
    "long": ("2010-01-01 00:00:00", 11000),     # 2010 .. 2040
}

# name: (signer, signing time, digest, timestamp time or None, arrival,
#        want, reason prefix, source)
CASES = {
    # Valid at signing and arrival, long expired now.
    "expired_since": ("june2022", "2022-06-15 10:30:00", "sha256", None, "2022-06-15 10:31:00",
                      "valid", "certificate expired since (validated at arrival)", "arrival"),
    # Expired before it signed.
    "expired_before": ("janfeb2022", "2022-06-15 10:30:00", "sha256", None, "2022-06-15 10:31:00",
                       "invalid", "certificate not valid at 2022-06-15T10:31:00Z", "arrival"),
    # Not yet valid when it signed and arrived.
    "not_yet_valid": ("july2022", "2022-06-15 10:30:00", "sha256", None, "2022-06-15 10:31:00",
                      "invalid", "certificate not valid at 2022-06-15T10:31:00Z", "arrival"),
    # Timestamped on 15 June; the certificate expired on 19 June; arrived
    # 1 July: valid at the timestamp.
    "timestamped": ("short2022", "2022-06-15 10:30:00", "sha256", "2022-06-15 10:30:30",
                    "2022-07-01 09:00:00", "valid", "", "timestamp"),
    # The same signature without its timestamp: judged at the arrival,
    # after the certificate expired.
    "timestamped_control": ("short2022", "2022-06-15 10:30:00", "sha256", None, "2022-07-01 09:00:00",
                            "invalid", "certificate not valid at 2022-07-01T09:00:00Z", "arrival"),
    # The same, "timestamped" by the signer's own certificate (no
    # time-stamping authority): the timestamp proves nothing.
    "self_timestamped": ("short2022", "2022-06-15 10:30:00", "sha256", "self:2022-06-15 10:30:30",
                         "2022-07-01 09:00:00", "invalid",
                         "signature timestamp ignored: not signed by a time-stamping authority", "arrival"),
    # A signingTime claimed after the arrival: a reason to doubt, noted.
    "claimed_later": ("june2022", "2022-06-20 08:00:00", "sha256", None, "2022-06-15 10:31:00",
                      "valid", "claimed signing time 2022-06-20T08:00:", "arrival"),
    # Weak digests.
    "md5": ("long", "2022-06-15 10:30:00", "md5", None, "2022-06-15 10:31:00",
            "invalid", "weak digest algorithm md5", "arrival"),
    "sha1_2013": ("long", "2013-06-15 10:30:00", "sha1", None, "2013-06-15 10:31:00",
                  "valid", "sha1 digest, acceptable at 2013-06-15T10:31:00Z", "arrival"),
    "sha1_2022": ("long", "2022-06-15 10:30:00", "sha1", None, "2022-06-15 10:31:00",
                  "invalid", "weak digest algorithm sha1", "arrival"),
}


def run(args, at=None, cwd=None, data=None):
    """openssl ARGS (under faketime AT, UTC, when given): pdfsign's runner."""
    return pdfsign.openssl(args, cwd=cwd, data=data, at=at)


_write = pdfsign._write


def make_pki(d):
    os.makedirs(d, exist_ok=True)
    j = lambda n: os.path.join(d, n)  # noqa: E731
    if os.path.exists(j("done")):
        return
    t0 = "2010-01-01 00:00:00"
    run(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-sha256", "-days", "11700",
         "-keyout", "root.key", "-out", "root.pem", "-subj", "/O=puljed tests/CN=puljed past root CA",
         "-set_serial", "1", "-addext", "basicConstraints=critical,CA:TRUE",
         "-addext", "keyUsage=critical,keyCertSign,cRLSign",
         "-addext", "subjectKeyIdentifier=hash"], at=t0, cwd=d)
    _write(j("inter.ext"), "basicConstraints = critical, CA:TRUE, pathlen:0\n"
           "keyUsage = critical, keyCertSign, cRLSign\nsubjectKeyIdentifier = hash\n"
           "authorityKeyIdentifier = keyid, issuer\n")
    run(["req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", "intermediate.key",
         "-out", "intermediate.csr", "-subj", "/O=puljed tests/CN=puljed past intermediate CA"], cwd=d)
    run(["x509", "-req", "-in", "intermediate.csr", "-CA", "root.pem", "-CAkey", "root.key",
         "-set_serial", "2", "-sha256", "-days", "11600", "-extfile", "inter.ext",
         "-out", "intermediate.pem"], at=t0, cwd=d)
    _write(j("tsa.ext"), "basicConstraints = critical, CA:FALSE\nkeyUsage = critical, digitalSignature\n"
           "extendedKeyUsage = critical, timeStamping\nsubjectKeyIdentifier = hash\n")
    run(["req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", "tsa.key", "-out", "tsa.csr",
         "-subj", "/O=puljed tests/CN=puljed past TSA"], cwd=d)
    run(["x509", "-req", "-in", "tsa.csr", "-CA", "intermediate.pem", "-CAkey", "intermediate.key",
         "-set_serial", "3", "-sha256", "-days", "11000", "-extfile", "tsa.ext", "-out", "tsa.pem"],
        at=t0, cwd=d)
    _write(j("signer.ext"), "basicConstraints = critical, CA:FALSE\n"
           "keyUsage = critical, digitalSignature, nonRepudiation\n"
           "extendedKeyUsage = emailProtection\nsubjectKeyIdentifier = hash\n"
           "authorityKeyIdentifier = keyid, issuer\nsubjectAltName = email:%s\n" % pdfsign.SIGNER_EMAIL)
    for serial, (name, (start, days)) in enumerate(sorted(SIGNERS.items()), 10):
        run(["req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", name + ".key", "-out", name + ".csr",
             "-utf8", "-subj", "/C=DK/O=%s/CN=%s/emailAddress=%s"
             % (pdfsign.SIGNER_O, pdfsign.SIGNER_CN, pdfsign.SIGNER_EMAIL)], cwd=d)
        run(["x509", "-req", "-in", name + ".csr", "-CA", "intermediate.pem", "-CAkey", "intermediate.key",
             "-set_serial", str(serial), "-sha256", "-days", str(days), "-extfile", "signer.ext",
             "-out", name + ".pem"], at=start, cwd=d)
    for n in os.listdir(d):
        if n.endswith((".csr", ".ext", ".srl")):
            os.unlink(j(n))
    _write(j("done"), "")


# ---- DER, just enough to add an unsigned attribute to a SignerInfo
def der_len(n):
    if n < 0x80:
        return bytes([n])
    b = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(b)]) + b


def der(tag, content):
    return bytes([tag]) + der_len(len(content)) + content


def tlv(buf, i):
    """(tag, content start, content end) of the DER TLV at i."""
    tag = buf[i]
    n = buf[i + 1]
    j = i + 2
    if n & 0x80:
        k = n & 0x7F
        n = int.from_bytes(buf[j:j + k], "big")
        j += k
    return tag, j, j + n


def children(buf, start, end):
    out = []
    i = start
    while i < end:
        tag, s, e = tlv(buf, i)
        out.append((tag, i, s, e))
        i = e
    return out


def signature_value(cms):
    """The first SignerInfo's signature (OCTET STRING content)."""
    _, s, e = tlv(cms, 0)                          # ContentInfo
    kids = children(cms, s, e)
    _, _, s0, e0 = kids[1]                         # [0] EXPLICIT
    _, s1, e1 = tlv(cms, s0)                       # SignedData
    sd = children(cms, s1, e1)
    _, _, ss, se = sd[-1]                          # signerInfos SET
    _, _, si_s, si_e = children(cms, ss, se)[0]    # SignerInfo
    si = children(cms, si_s, si_e)
    for tag, _, cs, ce in si:
        if tag == 0x04:
            return cms[cs:ce]
    raise ValueError("no signature in the SignerInfo")


def add_unsigned_attr(cms, oid_der, value):
    """CMS with Attribute { oid, SET { value } } as unsignedAttrs [1] of
    its first SignerInfo (which must have none)."""
    _, s, e = tlv(cms, 0)
    ci = children(cms, s, e)
    _, _, s0, e0 = ci[1]
    _, s1, e1 = tlv(cms, s0)
    sd = children(cms, s1, e1)
    _, _, ss, se = sd[-1]
    infos = children(cms, ss, se)
    _, _, si_s, si_e = infos[0]
    attr = der(0x30, oid_der + der(0x31, value))
    si = der(0x30, cms[si_s:si_e] + der(0xA1, attr))
    rest = b"".join(cms[a:ee] for _, a, _, ee in infos[1:])
    signer_infos = der(0x31, si + rest)
    signed_data = der(0x30, b"".join(cms[a:ee] for _, a, _, ee in sd[:-1]) + signer_infos)
    return der(0x30, cms[ci[0][1]:ci[0][3]] + der(0xA0, signed_data))


OID_TST = bytes([0x06, 0x0B, 0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x09, 0x10, 0x02, 0x0E])


def timestamp_token(data, pki_dir, at):
    """An RFC 3161 token over data made by the past TSA at AT."""
    return pdfsign.tsa_token(data, os.path.join(pki_dir, "tsa.pem"), os.path.join(pki_dir, "tsa.key"),
                             os.path.join(pki_dir, "intermediate.pem"), at=at)


def forged_token(data, pki_dir, signer, gen_time):
    """A "timestamp token" over data that SIGNER makes itself: a TSTInfo
    (genTime GEN_TIME) in a CMS signed with the signer's own certificate,
    which is no time-stamping authority's."""
    sha256 = bytes([0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01])
    imprint = der(0x30, der(0x30, sha256 + b"\x05\x00") + der(0x04, hashlib.sha256(data).digest()))
    gen = time.strftime("%Y%m%d%H%M%SZ", time.gmtime(epoch(gen_time))).encode()
    tst = der(0x30, der(0x02, b"\x01") + der(0x06, bytes([0x2A, 0x03, 0x04, 0x01])) + imprint +
              der(0x02, b"\x2A") + der(0x18, gen))
    with tempfile.TemporaryDirectory(prefix="pastsig-forged-") as t:
        src = os.path.join(t, "tst.der")
        with open(src, "wb") as f:
            f.write(tst)
        return run(["cms", "-sign", "-binary", "-nodetach", "-outform", "DER", "-econtent_type",
                    "1.2.840.113549.1.9.16.1.4", "-in", src,
                    "-signer", os.path.join(pki_dir, signer + ".pem"),
                    "-inkey", os.path.join(pki_dir, signer + ".key"),
                    "-certfile", os.path.join(pki_dir, "intermediate.pem")], at=gen_time)


def sign(content, pki_dir, signer, at, md, ts_at):
    """Detached CMS (DER) over content by SIGNER at AT, with a signature
    timestamp made at TS_AT when given."""
    with tempfile.TemporaryDirectory(prefix="pastsig-") as t:
        src = os.path.join(t, "data.bin")
        with open(src, "wb") as f:
            f.write(content)
        cms = run(["cms", "-sign", "-binary", "-outform", "DER", "-md", md, "-in", src,
                   "-signer", os.path.join(pki_dir, signer + ".pem"),
                   "-inkey", os.path.join(pki_dir, signer + ".key"),
                   "-certfile", os.path.join(pki_dir, "intermediate.pem")], at=at)
    if ts_at and ts_at.startswith("self:"):
        tok = forged_token(signature_value(cms), pki_dir, signer, ts_at[5:])
        cms = add_unsigned_attr(cms, OID_TST, tok)
    elif ts_at:
        tok = timestamp_token(signature_value(cms), pki_dir, ts_at)
        cms = add_unsigned_attr(cms, OID_TST, tok)
    return cms


def openssl_accepts(der_bytes, content, root, attime):
    with tempfile.TemporaryDirectory(prefix="pastsig-v-") as t:
        c, s = os.path.join(t, "content"), os.path.join(t, "sig.der")
        with open(c, "wb") as f:
            f.write(content)
        with open(s, "wb") as f:
            f.write(der_bytes)
        p = subprocess.run([OPENSSL, "cms", "-verify", "-binary", "-inform", "DER", "-in", s,
                            "-content", c, "-CAfile", root, "-purpose", "any", "-attime", str(attime),
                            "-out", os.devnull], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        return p.returncode == 0


def smime_message(name, inner, cms):
    """multipart/signed around INNER (CRLF, ending in CRLF) with CMS over
    INNER without its last CRLF (which belongs to the boundary)."""
    b = "----=_past_%s" % name
    out = smime.top_headers(msgid="<past-%s@rm.example.dk>" % name.replace("_", "-"))
    out += ("MIME-Version: 1.0\r\nContent-Type: multipart/signed; "
            "protocol=\"application/pkcs7-signature\"; micalg=\"sha-256\"; boundary=\"%s\"\r\n\r\n"
            "This is an S/MIME signed message\r\n\r\n--%s\r\n" % (b, b)).encode()
    out += inner
    out += ("--%s\r\nContent-Type: application/pkcs7-signature; name=\"smime.p7s\"\r\n"
            "Content-Transfer-Encoding: base64\r\n"
            "Content-Disposition: attachment; filename=\"smime.p7s\"\r\n\r\n" % b).encode()
    out += smime.b64lines(cms).encode()
    out += ("--%s--\r\n" % b).encode()
    return out


def generate(directory):
    os.makedirs(directory, exist_ok=True)
    pki_dir = os.path.join(directory, "pki")
    make_pki(pki_dir)
    root = os.path.join(pki_dir, "root.pem")
    base = pdfsign.form_pdf()
    manifest = {}
    for name, (signer, at, md, ts_at, arrival, want, reason, source) in sorted(CASES.items()):
        got = {}

        def token(signed, got=got):
            got["content"] = signed
            got["der"] = sign(signed, pki_dir, signer, at, md, ts_at)
            return got["der"]

        pdf, _ = pdfsign.sign_incremental(base, pdfsign.SIGNER_CN, None, None, token=token)
        pdf_inner = smime.inner_entity(pdf)
        smime_cms = sign(pdf_inner[:-2], pki_dir, signer, at, md, ts_at)
        eml = smime_message(name, pdf_inner, smime_cms)
        paths = {}
        for kind, data in (("pdf", pdf), ("eml", eml), ("der", got["der"]), ("content", got["content"])):
            paths[kind] = os.path.join(directory, "%s.%s" % (name, kind))
            with open(paths[kind], "wb") as f:
                f.write(data)
        attime = epoch(ts_at) if ts_at and not ts_at.startswith("self:") else epoch(arrival)
        manifest[name] = dict(paths, arrival=epoch(arrival), want=want, reason=reason, source=source,
                              openssl=openssl_accepts(got["der"], got["content"], root, attime),
                              openssl_attime=attime, oracle=md == "sha256",
                              sha256=hashlib.sha256(pdf).hexdigest())
    with open(os.path.join(directory, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1, sort_keys=True)
    return manifest


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        print("usage: pastsig.py OUTDIR", file=sys.stderr)
        return 2
    m = generate(argv[0])
    for name, c in sorted(m.items()):
        print("%-20s want %-7s openssl at %d: %s" % (name, c["want"], c["openssl_attime"], c["openssl"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
