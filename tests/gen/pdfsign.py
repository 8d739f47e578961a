#!/usr/bin/python3
"""Test PDFs, signed and unsigned, and the PKI that signs them.

Library::

    from gen import pdfsign
    fx = pdfsign.generate(directory)      # -> dict name -> absolute path
    fx["signed_valid"], fx["verdicts"], fx["pki"].root_cert, ...

CLI::

    /usr/bin/python3 tests/gen/pdfsign.py OUTDIR [--no-pdfsig]

Writes into OUTDIR:

* ``pki/``: ``root.pem``/``.key`` (CN=puljed test root CA), ``intermediate.pem``
  (CN=puljed test intermediate CA), ``signer.pem``/``.key`` ("CN=Mette Hansen,
  O=Region Midtjylland", RSA 2048, SHA-256, issued by the intermediate),
  ``mallory.pem``/``.key`` (self-signed CN=Mallory, not under the root),
  ``chain.pem`` (intermediate + root).  An existing pki/ is reused.
* ``form.pdf``: a one-page PDF 1.7 with the text "Ansøgningsskema — Pulje til
  styrkelse af digitale kompetencer" (Helvetica, WinAnsi, octal escapes,
  uncompressed content stream), no signature.
* ``signed_valid.pdf``: form.pdf + an incremental update adding an AcroForm
  signature field whose /V is an adbe.pkcs7.detached signature by Mette Hansen
  (CMS made by ``openssl cms -sign -binary`` over the /ByteRange bytes).
* ``signed_tampered.pdf``: signed_valid.pdf with one byte of the page text
  changed (same length): the digest no longer matches.
* ``signed_appended.pdf``: signed_valid.pdf followed by a further incremental
  update (a new /Info): the signature is valid but does not cover the file.
* ``signed_mallory.pdf``: like signed_valid.pdf, signed by the self-signed
  Mallory certificate.
* ``signed_single.pdf``: a single-revision signed file (signature written
  together with everything else), signed by Mette Hansen.
* ``two_signatures.pdf``: signed_valid.pdf + a second signature (Mallory) in a
  second incremental update; the first no longer covers the whole file.
* ``unsigned.pdf``: a "scanned" PDF: one page showing a tiny DCT (JPEG) image.
* ``byterange_lying.pdf``: /ByteRange whose last range runs past end of file.
* ``byterange_huge.pdf``: /ByteRange [0 99999999999 ...].
* ``contents_truncated.pdf``: /Contents holds a CMS cut short (invalid DER).
* ``byterange_negative.pdf``: /ByteRange [0 -1 ...].
* ``byterange_overflow.pdf``: the second range starts at 2^64-1.
* ``byterange_gap_wide.pdf``: correctly signed, but the gap of /ByteRange
  is 30 bytes wider than the /Contents string (hides " /M (...)").
* ``byterange_short.pdf``: correctly signed, but the last 200 bytes (xref,
  trailer) are outside /ByteRange.
* ``signed_nochain.pdf``: valid signature by Mette Hansen, but the CMS does
  not carry the intermediate: no chain to the root.
* ``signed_forged_chain.pdf``: valid signature by a "Mette Hansen" whose
  intermediate and root have the real DNs but other keys (pki/forged/).
* ``decoy.pdf``: unsigned; the page text spells out a /Sig dictionary.
* valid signatures by Mette Hansen written as other signers write them:
  ``signed_pades.pdf`` (/SubFilter /ETSI.CAdES.detached, CMS with
  signingCertificateV2: ``openssl cms -cades``), ``signed_sha512.pdf``,
  ``signed_noattr.pdf`` (no signed attributes, so no signingTime),
  ``signed_contents_first.pdf`` (/Contents before /ByteRange),
  ``signed_hex_lower.pdf`` (lower-case hex digits),
  ``signed_byterange_newlines.pdf`` (newlines between the
  /ByteRange numbers), ``signed_subfilter_sha1.pdf`` (/SubFilter
  /adbe.pkcs7.sha1: the CMS encapsulates the SHA-1 digest of the byte
  ranges), ``signed_big_contents_first.pdf`` (/Contents before /ByteRange,
  with almost 2 MiB of hex digits reserved: a 1 MiB signature).
* ``signed_doc_timestamp.pdf``: signed_valid.pdf + a PAdES-LTA document
  timestamp (/Type /DocTimeStamp, /SubFilter /ETSI.RFC3161: an RFC 3161
  token from ``openssl ts`` by pki/tsa.pem over the new byte ranges);
  ``signed_doc_timestamp_altered.pdf``: the same with one byte inside the
  timestamp's ranges (after the signature's) changed.
* ``signed_keyid_chain.pdf``: valid, the signer named by
  subjectKeyIdentifier (``openssl cms -keyid``) among several certificates
  (pdfsig, NSS, says invalid).
* ``unsigned_title_byterange.pdf``: unsigned; /Info strings mention
  "/ByteRange" and "/ByteRange [0 1 2 3]".
* ``signed_dangling.pdf``: signed by Mette Hansen, the signed page's
  /Contents also naming an object 45 the file does not define (not
  cross-checked with pdfsig).
* ``scan.jpg``: the JPEG used by unsigned.pdf.
* ``verdicts.json``: {name: {"verdict": "valid"|"invalid"|"none"|null,
  "signatures": [...], "returncode": n, "output": "..."}} from pdfsig
  (verdict of the LAST signature; null when pdfsig gave none, e.g. when it
  is missing or refused the file).

Everything except key material and the CMS signing time is deterministic.
"""

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

OPENSSL = os.environ.get("OPENSSL", "openssl")
FAKETIME = os.environ.get("FAKETIME", "faketime")
# The test PKI's certificates are issued at this time (under faketime), so
# that mail "arriving" in 2022 (the integration tests' INTERNALDATE) finds
# them valid: signatures are judged at the arrival (cms.h).  They last
# 7300 days, to 2039.
PKI_EPOCH = "2020-01-01 00:00:00"
PDFSIG = os.environ.get("PDFSIG", "pdfsig")

SIGNER_CN = "Mette Hansen"
SIGNER_O = "Region Midtjylland"
SIGNER_EMAIL = "mette.hansen@rm.example.dk"
MALLORY_CN = "Mallory"
MALLORY_EMAIL = "mallory@evil.example"
PAGE_TEXT = "Ans\u00f8gningsskema \u2014 Pulje til styrkelse af digitale kompetencer"
SIG_M = "D:20220615101200+02'00'"
PLACEHOLDER_HEX = 16384          # hex digits reserved for the CMS
BYTERANGE_WIDTH = 64             # characters reserved inside [ ... ]

EXPECTED = {
    # name: (pdfsig verdict of the last signature, covers whole file)
    "form": ("none", None),
    "unsigned": ("none", None),
    "signed_valid": ("valid", True),
    "signed_single": ("valid", True),
    "signed_tampered": ("invalid", True),
    "signed_appended": ("valid", False),
    "signed_mallory": ("valid", True),
    "two_signatures": ("valid", True),
    "byterange_lying": ("invalid", None),
    "byterange_huge": ("invalid", None),
    "contents_truncated": ("invalid", None),
    "byterange_negative": ("invalid", None),
    "byterange_overflow": ("invalid", None),
    "byterange_gap_wide": ("valid", False),
    "byterange_short": ("valid", False),
    "decoy": ("none", None),
    "signed_pades": ("valid", True),
    "signed_sha512": ("valid", True),
    "signed_noattr": ("valid", True),
    "signed_contents_first": ("valid", True),
    "signed_hex_lower": ("valid", True),
    "signed_byterange_newlines": ("valid", True),
    "signed_nochain": ("valid", True),
    "signed_forged_chain": ("valid", True),
    "signed_subfilter_sha1": ("valid", True),
    "signed_big_contents_first": ("valid", True),
    # The verdict of the last signature pdfsig verifies: it does not verify
    # document timestamps ("Signature has not yet been verified.").
    "signed_doc_timestamp": ("valid", False),
    "signed_doc_timestamp_altered": ("valid", False),
    # NSS does not find a signer named by subjectKeyIdentifier ("Unknown
    # Validation Failure."); puljed does.
    "signed_keyid_chain": ("invalid", None),
    "unsigned_title_byterange": ("none", None),
    # poppler reports "Digest Mismatch." for an indefinite-length (BER) CMS
    # that openssl cms -verify (above) and puljed verify.
    "signed_ber": ("invalid", None),
    "signed_ber_tampered": ("invalid", None),
}


# ----------------------------------------------------------------- PKI
class PKI:
    def __init__(self, d):
        self.dir = d
        j = lambda n: os.path.join(d, n)  # noqa: E731
        self.root_cert, self.root_key = j("root.pem"), j("root.key")
        self.inter_cert, self.inter_key = j("intermediate.pem"), j("intermediate.key")
        self.signer_cert, self.signer_key = j("signer.pem"), j("signer.key")
        self.mallory_cert, self.mallory_key = j("mallory.pem"), j("mallory.key")
        self.chain = j("chain.pem")
        self.tsa_cert, self.tsa_key = j("tsa.pem"), j("tsa.key")

    def complete(self):
        return all(os.path.exists(p) for p in (
            self.root_cert, self.root_key, self.inter_cert, self.inter_key,
            self.signer_cert, self.signer_key, self.mallory_cert,
            self.mallory_key, self.chain))


def openssl(args, cwd=None, data=None, at=None):
    """openssl ARGS; under faketime AT (UTC) when given."""
    cmd = [OPENSSL] + list(args)
    env = None
    if at:
        if not shutil.which(FAKETIME):
            raise RuntimeError("faketime is needed to make the test PKI (Debian package faketime)")
        cmd = [FAKETIME, at] + cmd
        env = dict(os.environ, TZ="UTC")
    proc = subprocess.run(cmd, cwd=cwd, input=data, env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if proc.returncode != 0:
        raise RuntimeError("openssl %s failed (%d):\n%s" % (
            " ".join(args), proc.returncode,
            proc.stderr.decode("utf-8", "replace")))
    return proc.stdout


def _write(path, text):
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)


def make_pki(d):
    """Create (or reuse) the test PKI in directory d; return a PKI."""
    os.makedirs(d, exist_ok=True)
    pki = PKI(d)
    if pki.complete():
        return pki
    days = ["-days", "7300"]
    # Root CA (self-signed)
    openssl(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-sha256"] + days +
            ["-keyout", "root.key", "-out", "root.pem",
             "-subj", "/O=puljed tests/CN=puljed test root CA",
             "-set_serial", "1",
             "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign",
             "-addext", "subjectKeyIdentifier=hash"], cwd=d, at=PKI_EPOCH)
    # Intermediate CA
    _write(os.path.join(d, "inter.ext"),
           "basicConstraints = critical, CA:TRUE, pathlen:0\n"
           "keyUsage = critical, keyCertSign, cRLSign\n"
           "subjectKeyIdentifier = hash\n"
           "authorityKeyIdentifier = keyid, issuer\n")
    openssl(["req", "-new", "-newkey", "rsa:2048", "-nodes", "-sha256",
             "-keyout", "intermediate.key", "-out", "intermediate.csr",
             "-subj", "/O=puljed tests/CN=puljed test intermediate CA"], cwd=d)
    openssl(["x509", "-req", "-in", "intermediate.csr", "-CA", "root.pem",
             "-CAkey", "root.key", "-set_serial", "2", "-sha256"] + days +
            ["-extfile", "inter.ext", "-out", "intermediate.pem"], cwd=d, at=PKI_EPOCH)
    # Signer: Mette Hansen, Region Midtjylland
    _write(os.path.join(d, "signer.ext"),
           "basicConstraints = critical, CA:FALSE\n"
           "keyUsage = critical, digitalSignature, nonRepudiation\n"
           "extendedKeyUsage = emailProtection\n"
           "subjectKeyIdentifier = hash\n"
           "authorityKeyIdentifier = keyid, issuer\n"
           "subjectAltName = email:%s\n" % SIGNER_EMAIL)
    openssl(["req", "-new", "-newkey", "rsa:2048", "-nodes", "-sha256",
             "-keyout", "signer.key", "-out", "signer.csr", "-utf8",
             "-subj", "/C=DK/O=%s/CN=%s/emailAddress=%s"
             % (SIGNER_O, SIGNER_CN, SIGNER_EMAIL)], cwd=d)
    openssl(["x509", "-req", "-in", "signer.csr", "-CA", "intermediate.pem",
             "-CAkey", "intermediate.key", "-set_serial", "3", "-sha256"] + days +
            ["-extfile", "signer.ext", "-out", "signer.pem"], cwd=d, at=PKI_EPOCH)
    # Mallory: self-signed, not under the root
    openssl(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-sha256"] + days +
            ["-keyout", "mallory.key", "-out", "mallory.pem",
             "-subj", "/CN=%s/emailAddress=%s" % (MALLORY_CN, MALLORY_EMAIL),
             "-set_serial", "666",
             "-addext", "basicConstraints=critical,CA:FALSE",
             "-addext", "keyUsage=critical,digitalSignature,nonRepudiation",
             "-addext", "extendedKeyUsage=emailProtection",
             "-addext", "subjectAltName=email:%s" % MALLORY_EMAIL], cwd=d, at=PKI_EPOCH)
    with open(pki.chain, "w") as out:
        for p in (pki.inter_cert, pki.root_cert):
            with open(p) as f:
                out.write(f.read())
    for n in os.listdir(d):
        if n.endswith((".csr", ".ext", ".srl")):
            os.unlink(os.path.join(d, n))
    # Sanity: the chain verifies, Mallory does not.
    openssl(["verify", "-CAfile", pki.root_cert, "-untrusted", pki.inter_cert,
             pki.signer_cert])
    return pki


def make_tsa(pki):
    """A time-stamping authority under the intermediate (pki/tsa.pem)."""
    if os.path.exists(pki.tsa_cert) and os.path.exists(pki.tsa_key):
        return
    d = pki.dir
    _write(os.path.join(d, "tsa.ext"),
           "basicConstraints = critical, CA:FALSE\n"
           "keyUsage = critical, digitalSignature\n"
           "extendedKeyUsage = critical, timeStamping\n"
           "subjectKeyIdentifier = hash\n")
    openssl(["req", "-new", "-newkey", "rsa:2048", "-nodes", "-sha256",
             "-keyout", "tsa.key", "-out", "tsa.csr", "-subj", "/O=puljed tests/CN=puljed test TSA"],
            cwd=d)
    openssl(["x509", "-req", "-in", "tsa.csr", "-CA", "intermediate.pem",
             "-CAkey", "intermediate.key", "-set_serial", "4", "-sha256", "-days", "7300",
             "-extfile", "tsa.ext", "-out", "tsa.pem"], cwd=d, at=PKI_EPOCH)
    for n in ("tsa.csr", "tsa.ext"):
        os.unlink(os.path.join(d, n))


def rfc3161_token(data, pki):
    """An RFC 3161 timestamp token (DER CMS over a TSTInfo) for data."""
    make_tsa(pki)
    return tsa_token(data, pki.tsa_cert, pki.tsa_key, pki.inter_cert)


def tsa_token(data, tsa_cert, tsa_key, chain, at=None):
    """An RFC 3161 token over data from the TSA TSA_CERT/TSA_KEY (CHAIN: its
    issuer), made at AT (faketime, UTC) when given."""
    with tempfile.TemporaryDirectory(prefix="pdfsign-ts-") as t:
        j = lambda n: os.path.join(t, n)  # noqa: E731
        with open(j("data.bin"), "wb") as f:
            f.write(data)
        _write(j("tsa.cnf"), "[ tsa ]\ndefault_tsa = tsa1\n[ tsa1 ]\n"
               "serial = %s\ncrypto_device = builtin\nsigner_digest = sha256\n"
               "default_policy = 1.2.3.4.1\ndigests = sha256\naccuracy = secs:1\n"
               "ordering = yes\ntsa_name = no\ness_cert_id_chain = no\n"
               "ess_cert_id_alg = sha256\n" % j("serial"))
        _write(j("serial"), "01\n")
        openssl(["ts", "-query", "-data", j("data.bin"), "-sha256", "-cert",
                 "-out", j("q.tsq")])
        openssl(["ts", "-reply", "-config", j("tsa.cnf"), "-queryfile", j("q.tsq"),
                 "-signer", tsa_cert, "-inkey", tsa_key, "-chain", chain,
                 "-token_out", "-out", j("t.tok")], at=at)
        with open(j("t.tok"), "rb") as f:
            return f.read()


def make_forged_pki(d):
    """A look-alike chain in d: root and intermediate with exactly the DNs
    of the real ones (but their own keys), and a "Mette Hansen, Region
    Midtjylland" signer under them.  Returns (signer cert, key, intermediate).
    A verifier that chains by names alone would trust it."""
    os.makedirs(d, exist_ok=True)
    j = lambda n: os.path.join(d, n)  # noqa: E731
    if all(os.path.exists(j(n)) for n in ("signer.pem", "signer.key", "intermediate.pem")):
        return j("signer.pem"), j("signer.key"), j("intermediate.pem")
    days = ["-days", "7300"]
    openssl(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-sha256"] + days +
            ["-keyout", "root.key", "-out", "root.pem",
             "-subj", "/O=puljed tests/CN=puljed test root CA", "-set_serial", "1",
             "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign",
             "-addext", "subjectKeyIdentifier=hash"], cwd=d, at=PKI_EPOCH)
    _write(j("inter.ext"), "basicConstraints = critical, CA:TRUE, pathlen:0\n"
           "keyUsage = critical, keyCertSign, cRLSign\n"
           "subjectKeyIdentifier = hash\nauthorityKeyIdentifier = keyid, issuer\n")
    openssl(["req", "-new", "-newkey", "rsa:2048", "-nodes", "-sha256",
             "-keyout", "intermediate.key", "-out", "intermediate.csr",
             "-subj", "/O=puljed tests/CN=puljed test intermediate CA"], cwd=d)
    openssl(["x509", "-req", "-in", "intermediate.csr", "-CA", "root.pem",
             "-CAkey", "root.key", "-set_serial", "2", "-sha256"] + days +
            ["-extfile", "inter.ext", "-out", "intermediate.pem"], cwd=d, at=PKI_EPOCH)
    _write(j("signer.ext"), "basicConstraints = critical, CA:FALSE\n"
           "keyUsage = critical, digitalSignature, nonRepudiation\n"
           "extendedKeyUsage = emailProtection\n"
           "subjectKeyIdentifier = hash\nauthorityKeyIdentifier = keyid, issuer\n"
           "subjectAltName = email:%s\n" % SIGNER_EMAIL)
    openssl(["req", "-new", "-newkey", "rsa:2048", "-nodes", "-sha256",
             "-keyout", "signer.key", "-out", "signer.csr", "-utf8",
             "-subj", "/C=DK/O=%s/CN=%s/emailAddress=%s"
             % (SIGNER_O, SIGNER_CN, SIGNER_EMAIL)], cwd=d)
    openssl(["x509", "-req", "-in", "signer.csr", "-CA", "intermediate.pem",
             "-CAkey", "intermediate.key", "-set_serial", "3", "-sha256"] + days +
            ["-extfile", "signer.ext", "-out", "signer.pem"], cwd=d, at=PKI_EPOCH)
    for n in os.listdir(d):
        if n.endswith((".csr", ".ext", ".srl")):
            os.unlink(j(n))
    return j("signer.pem"), j("signer.key"), j("intermediate.pem")


def cms_sign(data, cert, key, certfile=None, md="sha256", extra=()):
    """Detached CMS SignedData (DER) over data, with signed attributes
    (contentType, signingTime, messageDigest, ...).  extra: more openssl
    cms options (-noattr, -cades, ...)."""
    with tempfile.TemporaryDirectory(prefix="pdfsign-") as t:
        src = os.path.join(t, "data.bin")
        with open(src, "wb") as f:
            f.write(data)
        args = ["cms", "-sign", "-binary", "-outform", "DER", "-md", md,
                "-in", src, "-signer", cert, "-inkey", key] + list(extra)
        if certfile:
            args += ["-certfile", certfile]
        return openssl(args)


# ----------------------------------------------------------------- PDF
def pdf_string_winansi(text):
    """A PDF literal string (without the parentheses) for text in
    WinAnsiEncoding, every non-ASCII byte as an octal escape."""
    raw = text.encode("cp1252")
    out = []
    for b in raw:
        if b in b"()\\" or b < 0x20 or b > 0x7E:
            out.append("\\%03o" % b)
        else:
            out.append(chr(b))
    return "".join(out)


def obj(num, body, stream=None):
    if isinstance(body, str):
        body = body.encode("latin-1")
    out = b"%d 0 obj\n" % num + body
    if stream is not None:
        out += b"\nstream\n" + stream + b"\nendstream"
    return out + b"\nendobj\n"


def _xref_and_trailer(objs_offsets, size, startxref, extra_trailer=b"",
                      prev=None, full=False):
    """Classic xref table.  objs_offsets: {num: offset}."""
    out = b"xref\n"
    if full:
        n = size
        out += b"0 %d\n" % n
        out += b"0000000000 65535 f\r\n"
        for i in range(1, n):
            out += b"%010d 00000 n\r\n" % objs_offsets[i]
    else:
        for num in sorted(objs_offsets):
            out += b"%d 1\n%010d 00000 n\r\n" % (num, objs_offsets[num])
    tr = b"trailer\n<< /Size %d /Root 1 0 R" % size
    if prev is not None:
        tr += b" /Prev %d" % prev
    tr += extra_trailer + b" >>\n"
    return out + tr + b"startxref\n%d\n%%%%EOF\n" % startxref


def write_pdf(objects, extra_trailer=b""):
    """objects: list of bytes for objects 1..n in order.  Returns PDF bytes."""
    out = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n"
    offs = {}
    for i, o in enumerate(objects, 1):
        offs[i] = len(out)
        out += o
    return out + _xref_and_trailer(offs, len(objects) + 1, len(out),
                                   extra_trailer, full=True)


def append_update(base, objects, size, extra_trailer=b""):
    """Incremental update: base + objects ({num: bytes}) + xref section
    with /Prev pointing at base's last xref."""
    m = list(re.finditer(rb"startxref\s+(\d+)", base))
    prev = int(m[-1].group(1))
    out = base if base.endswith(b"\n") else base + b"\n"
    offs = {}
    for num in sorted(objects):
        offs[num] = len(out)
        out += objects[num]
    return out + _xref_and_trailer(offs, size, len(out), extra_trailer, prev=prev)


FONT = "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>"


def content_stream(lines=(PAGE_TEXT,)):
    s = "BT\n/F1 14 Tf\n56 780 Td\n16 TL\n"
    for ln in lines:
        s += "(%s) Tj T*\n" % pdf_string_winansi(ln)
    s += "ET\n"
    return s.encode("latin-1")


def _catalog(acroform=None):
    if acroform:
        return "<< /Type /Catalog /Pages 2 0 R /AcroForm %s >>" % acroform
    return "<< /Type /Catalog /Pages 2 0 R >>"


def _page(annots=None):
    a = " /Annots [%s]" % annots if annots else ""
    return ("<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] "
            "/Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R%s >>" % a)


def _info(title="Ans\u00f8gningsskema"):
    return ("<< /Title (%s) /Producer (puljed tests/gen/pdfsign.py) "
            "/CreationDate (D:20220614120000+02'00') >>" % pdf_string_winansi(title))


def form_pdf(lines=(PAGE_TEXT,)):
    """The plain one-page form (objects 1-6; 6 is /Info)."""
    cs = content_stream(lines)
    objs = [
        obj(1, _catalog()),
        obj(2, "<< /Type /Pages /Kids [3 0 R] /Count 1 >>"),
        obj(3, _page()),
        obj(4, FONT),
        obj(5, "<< /Length %d >>" % len(cs), cs),
        obj(6, _info()),
    ]
    return write_pdf(objs, b" /Info 6 0 R")


def sig_dict(name, subfilter="adbe.pkcs7.detached", contents_first=False,
             placeholder=None, sig_type="Sig"):
    br = "/ByteRange [%s]" % "0 0 0 0".ljust(BYTERANGE_WIDTH)
    contents = "/Contents <%s>" % ("0" * (placeholder or PLACEHOLDER_HEX))
    first, second = (contents, br) if contents_first else (br, contents)
    return ("<< /Type /%s /Filter /Adobe.PPKLite /SubFilter /%s "
            "%s %s /M (%s) /Name (%s) "
            "/Reason (Ans\\370gning underskrevet) >>"
            % (sig_type, subfilter, first, second, SIG_M, pdf_string_winansi(name)))


def _sig_field(num_sig, page_num=3, field_name="Signature1"):
    return ("<< /Type /Annot /Subtype /Widget /FT /Sig /F 132 /T (%s) "
            "/Rect [0 0 0 0] /P %d 0 R /V %d 0 R >>" % (field_name, page_num, num_sig))


def _find_last_sig(data):
    """(contents_start, contents_end, byterange_start, byterange_end) of the
    last signature placeholder (offsets of '<' and just past '>', and of the
    text inside /ByteRange [ ])."""
    i = data.rfind(b"/Contents <" + b"0" * 64)
    if i < 0:
        raise ValueError("no /Contents placeholder")
    lt = i + len(b"/Contents ")
    gt = data.index(b">", lt) + 1
    j = data.rfind(b"/ByteRange [", 0, i)
    k = data.find(b"/ByteRange [", i)
    if k >= 0 and (j < 0 or data.rfind(b"obj", 0, i) > j):
        j = k            # /Contents comes first in this dictionary
    bs = j + len(b"/ByteRange [")
    be = data.index(b"]", bs)
    return lt, gt, bs, be


def fill_signature(data, cert, key, certfile=None, cms_hook=None,
                   byterange=None, sign_ranges=None, md="sha256", cms_extra=(),
                   hex_lower=False, hex_wrap=None, br_sep=" ", sha1_content=False,
                   token=None):
    """Compute /ByteRange for the last placeholder, sign, write /Contents.
    sha1_content: sign the SHA-1 digest of the ranges, encapsulated
    (adbe.pkcs7.sha1).  token: f(signed bytes) -> DER to write instead of a
    CMS signature (a timestamp token).
    byterange: override the numbers written (after signing the real ranges).
    sign_ranges: f(real ranges) -> the ranges written AND signed over."""
    lt, gt, bs, be = _find_last_sig(data)
    width = be - bs
    real = [0, lt, gt, len(data) - gt]
    if sign_ranges:
        real = sign_ranges(real)
    br = br_sep.join(str(x) for x in real).ljust(width).encode("ascii")
    assert len(br) == width
    data = data[:bs] + br + data[be:]
    signed = data[real[0]:real[0] + real[1]] + data[real[2]:real[2] + real[3]]
    if token:
        der = token(signed)
    elif sha1_content:
        der = cms_sign(hashlib.sha1(signed).digest(), cert, key, certfile, md="sha1",
                       extra=["-nodetach"] + list(cms_extra))
    else:
        der = cms_sign(signed, cert, key, certfile, md=md, extra=cms_extra)
    if cms_hook:
        der = cms_hook(der)
    hx = der.hex().encode("ascii")
    hx = hx if hex_lower else hx.upper()
    if hex_wrap:
        hx = b"\n".join(hx[i:i + hex_wrap] for i in range(0, len(hx), hex_wrap)) + b"\n"
    if len(hx) > gt - lt - 2:
        raise ValueError("CMS (%d hex digits) does not fit the placeholder" % len(hx))
    hx = hx.ljust(gt - lt - 2, b"0")
    data = data[:lt + 1] + hx + data[gt - 1:]
    if byterange is not None:
        br = " ".join(str(x) for x in byterange(real)).ljust(width).encode("ascii")
        assert len(br) == width, "byterange override too wide"
        data = data[:bs] + br + data[be:]
    return data


def sign_incremental(base, name, cert, key, certfile=None, field_name="Signature1",
                     existing_fields=(), subfilter="adbe.pkcs7.detached",
                     contents_first=False, placeholder=None, sig_type="Sig", **kw):
    """base (objects 1..n-1, /Size n) + incremental update: new Catalog
    with AcroForm, new Page with /Annots, field widget, /Sig dictionary."""
    size = int(re.findall(rb"/Size (\d+)", base)[-1])
    field, sig = size, size + 1
    fields = " ".join("%d 0 R" % f for f in list(existing_fields) + [field])
    objs = {
        1: obj(1, _catalog("<< /Fields [%s] /SigFlags 3 >>" % fields)),
        3: obj(3, _page(fields)),
        field: obj(field, _sig_field(sig, field_name=field_name)),
        sig: obj(sig, sig_dict(name, subfilter, contents_first, placeholder, sig_type)),
    }
    data = append_update(base, objs, size + 2, b" /Info 6 0 R")
    return fill_signature(data, cert, key, certfile, **kw), field


def sign_dangling(base, name, cert, key, certfile=None):
    """Like sign_incremental, but the signed page's /Contents also names
    object 45, which the file does not define (a reader shows nothing for
    it): whatever is appended later as object 45 would show on the page."""
    size = int(re.findall(rb"/Size (\d+)", base)[-1])
    field, sig = size, size + 1
    page = _page("%d 0 R" % field).replace("/Contents 5 0 R", "/Contents [5 0 R 45 0 R]")
    objs = {
        1: obj(1, _catalog("<< /Fields [%d 0 R] /SigFlags 3 >>" % field)),
        3: obj(3, page),
        field: obj(field, _sig_field(sig)),
        sig: obj(sig, sig_dict(name)),
    }
    data = append_update(base, objs, size + 2, b" /Info 6 0 R")
    return fill_signature(data, cert, key, certfile)


def sign_single(name, cert, key, certfile=None):
    """A single-revision signed file (objects 1..8)."""
    cs = content_stream()
    objs = [
        obj(1, _catalog("<< /Fields [7 0 R] /SigFlags 3 >>")),
        obj(2, "<< /Type /Pages /Kids [3 0 R] /Count 1 >>"),
        obj(3, _page("7 0 R")),
        obj(4, FONT),
        obj(5, "<< /Length %d >>" % len(cs), cs),
        obj(6, _info()),
        obj(7, _sig_field(8)),
        obj(8, sig_dict(name)),
    ]
    return fill_signature(write_pdf(objs, b" /Info 6 0 R"), cert, key, certfile)


# ----------------------------------------------------------------- JPEG
def tiny_jpeg(gray=235, w=8, h=8):
    """A valid baseline grayscale JPEG of one 8x8 block (uniform colour),
    scaled by the header to w x h is NOT done: w, h must be <= 8.
    Hand-made Huffman tables: DC has one symbol (the category of the DC
    value), AC has one symbol (EOB), both with the 1-bit code '0'."""
    assert 1 <= w <= 8 and 1 <= h <= 8
    dc = 8 * (gray - 128) // 8       # F(0,0) = 8 * (v - 128); quantiser 8
    cat = abs(dc).bit_length()
    bits = "0"                        # DC code for category `cat`
    if cat:
        v = dc if dc > 0 else dc + (1 << cat) - 1
        bits += format(v, "0%db" % cat)
    bits += "0"                       # AC: EOB
    bits += "1" * (-len(bits) % 8)
    scan = bytes(int(bits[i:i + 8], 2) for i in range(0, len(bits), 8))
    scan = scan.replace(b"\xff", b"\xff\x00")

    def seg(marker, payload):
        return b"\xff" + bytes([marker]) + (len(payload) + 2).to_bytes(2, "big") + payload

    jfif = seg(0xE0, b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00")
    dqt = seg(0xDB, b"\x00" + bytes([8] * 64))
    sof = seg(0xC0, b"\x08" + h.to_bytes(2, "big") + w.to_bytes(2, "big") +
              b"\x01" + b"\x01\x11\x00")
    counts_one = b"\x01" + b"\x00" * 15          # one code of length 1
    dht = seg(0xC4, b"\x00" + counts_one + bytes([cat]) +
              b"\x10" + counts_one + b"\x00")
    sos = seg(0xDA, b"\x01\x01\x00\x00\x3f\x00")
    return b"\xff\xd8" + jfif + dqt + sof + dht + sos + scan + b"\xff\xd9"


def scanned_pdf(jpeg):
    cs = b"q 595 0 0 842 0 0 cm /Im1 Do Q\n"
    objs = [
        obj(1, _catalog()),
        obj(2, "<< /Type /Pages /Kids [3 0 R] /Count 1 >>"),
        obj(3, "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] "
               "/Resources << /XObject << /Im1 4 0 R >> >> /Contents 5 0 R >>"),
        obj(4, "<< /Type /XObject /Subtype /Image /Width 8 /Height 8 "
               "/ColorSpace /DeviceGray /BitsPerComponent 8 /Filter /DCTDecode "
               "/Length %d >>" % len(jpeg), jpeg),
        obj(5, "<< /Length %d >>" % len(cs), cs),
        obj(6, "<< /Producer (puljed tests scanner) /Title (Scan 0001) >>"),
    ]
    return write_pdf(objs, b" /Info 6 0 R")


# ----------------------------------------------------------------- pdfsig
def pdfsig(path):
    """Run pdfsig on path; return a dict (see module doc)."""
    exe = shutil.which(PDFSIG)
    res = {"verdict": None, "signatures": [], "returncode": None, "output": ""}
    if not exe:
        res["output"] = "pdfsig not installed"
        return res
    try:
        p = subprocess.run([exe, "-no-ocsp", path], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=60)
    except subprocess.TimeoutExpired:
        res["output"] = "pdfsig timed out"
        return res
    text = p.stdout.decode("utf-8", "replace")
    res["returncode"] = p.returncode
    res["output"] = text
    cur = None
    for line in text.splitlines():
        if re.match(r"^Signature #\d+:", line):
            cur = {"signer": None, "validation": None, "certificate": None,
                   "total_document": None, "signing_time": None}
            res["signatures"].append(cur)
            continue
        if cur is None:
            continue
        s = line.strip().lstrip("- ").strip()
        if s.startswith("Signer Certificate Common Name:"):
            cur["signer"] = s.split(":", 1)[1].strip()
        elif s.startswith("Signature Validation:"):
            cur["validation"] = s.split(":", 1)[1].strip()
        elif s.startswith("Certificate Validation:"):
            cur["certificate"] = s.split(":", 1)[1].strip()
        elif s.startswith("Signing Time:"):
            cur["signing_time"] = s.split(":", 1)[1].strip()
        elif s == "Total document signed":
            cur["total_document"] = True
        elif s == "Not total document signed":
            cur["total_document"] = False
    if "does not contain any signatures" in text:
        res["verdict"] = "none"
    elif res["signatures"]:
        # The last signature pdfsig verified: it does not verify document
        # timestamps ("Signature has not yet been verified.").
        done = [s for s in res["signatures"]
                if s["validation"] and "not yet been verified" not in s["validation"]]
        v = (done or res["signatures"])[-1]["validation"] or ""
        if v == "Signature is Valid.":
            res["verdict"] = "valid"
        elif v and "not yet been verified" not in v:
            # "Digest Mismatch.", "Signature is Invalid.", "Unknown
            # Validation Failure.", "Document isn't signed or corrupted
            # with data.", ...  ("not yet been verified" is no verdict.)
            res["verdict"] = "invalid"
    return res


# ----------------------------------------------------------------- all
def generate(directory, run_pdfsig=True):
    """Generate every file into directory; return {name: path, 'pki': PKI,
    'verdicts': {...} or None, 'bytes': {name: bytes}}."""
    os.makedirs(directory, exist_ok=True)
    pki = make_pki(os.path.join(directory, "pki"))
    files = {}
    base = form_pdf()
    files["form"] = base

    valid, field1 = sign_incremental(base, SIGNER_CN, pki.signer_cert,
                                     pki.signer_key, pki.inter_cert)
    files["signed_valid"] = valid

    # One byte of the page text ("Pulje" -> "Pulja") inside the signed range.
    i = valid.index(b"(Ans\\370gningsskema \\227 Pulje")
    j = valid.index(b"Pulje", i) + 4
    tampered = valid[:j] + b"a" + valid[j + 1:]
    assert len(tampered) == len(valid) and tampered != valid
    files["signed_tampered"] = tampered

    size = int(re.findall(rb"/Size (\d+)", valid)[-1])
    info2 = obj(size, _info("Ans\u00f8gningsskema (\u00e6ndret efter underskrift)"))
    files["signed_appended"] = append_update(valid, {size: info2}, size + 1,
                                             b" /Info %d 0 R" % size)

    files["signed_mallory"], _ = sign_incremental(base, MALLORY_CN, pki.mallory_cert,
                                                  pki.mallory_key)
    files["signed_single"] = sign_single(SIGNER_CN, pki.signer_cert, pki.signer_key,
                                         pki.inter_cert)
    files["two_signatures"], _ = sign_incremental(
        valid, MALLORY_CN, pki.mallory_cert, pki.mallory_key,
        field_name="Signature2", existing_fields=[field1])

    jpeg = tiny_jpeg()
    files["scan_jpg"] = jpeg
    files["unsigned"] = scanned_pdf(jpeg)

    files["byterange_lying"], _ = sign_incremental(
        base, SIGNER_CN, pki.signer_cert, pki.signer_key, pki.inter_cert,
        byterange=lambda r: [r[0], r[1], r[2], r[3] + 100000])
    files["byterange_huge"], _ = sign_incremental(
        base, SIGNER_CN, pki.signer_cert, pki.signer_key, pki.inter_cert,
        byterange=lambda r: [0, 99999999999, r[2], r[3]])
    files["contents_truncated"], _ = sign_incremental(
        base, SIGNER_CN, pki.signer_cert, pki.signer_key, pki.inter_cert,
        cms_hook=lambda der: der[:len(der) // 3])

    # More hostile /ByteRange values (written after signing the real ranges).
    files["byterange_negative"], _ = sign_incremental(
        base, SIGNER_CN, pki.signer_cert, pki.signer_key, pki.inter_cert,
        byterange=lambda r: [0, -1, r[2], r[3]])
    files["byterange_overflow"], _ = sign_incremental(
        base, SIGNER_CN, pki.signer_cert, pki.signer_key, pki.inter_cert,
        byterange=lambda r: [0, r[1], 18446744073709551615, r[3] + 1])
    # Signed correctly, but over less than "everything but /Contents":
    # the gap also hides " /M (...)" after the hex string ...
    files["byterange_gap_wide"], _ = sign_incremental(
        base, SIGNER_CN, pki.signer_cert, pki.signer_key, pki.inter_cert,
        sign_ranges=lambda r: [0, r[1], r[2] + 30, r[3] - 30])
    # ... or the last 200 bytes (xref and trailer) are left out.
    files["byterange_short"], _ = sign_incremental(
        base, SIGNER_CN, pki.signer_cert, pki.signer_key, pki.inter_cert,
        sign_ranges=lambda r: [0, r[1], r[2], r[3] - 200])
    # Valid variants written the ways other signers write them.
    mette = (SIGNER_CN, pki.signer_cert, pki.signer_key, pki.inter_cert)
    files["signed_pades"], _ = sign_incremental(
        base, *mette, subfilter="ETSI.CAdES.detached", cms_extra=["-cades"])
    files["signed_sha512"], _ = sign_incremental(base, *mette, md="sha512")
    files["signed_noattr"], _ = sign_incremental(base, *mette, cms_extra=["-noattr"])
    files["signed_contents_first"], _ = sign_incremental(base, *mette, contents_first=True)
    files["signed_hex_lower"], _ = sign_incremental(base, *mette, hex_lower=True)
    files["signed_byterange_newlines"], _ = sign_incremental(base, *mette, br_sep="\n")
    files["signed_subfilter_sha1"], _ = sign_incremental(
        base, *mette, subfilter="adbe.pkcs7.sha1", sha1_content=True)
    # /Contents first, nearly 2 MiB of hex digits reserved (a 1 MiB CMS).
    files["signed_big_contents_first"], _ = sign_incremental(
        base, *mette, contents_first=True, placeholder=2 * (1 << 20) - 4096)
    files["signed_keyid_chain"], _ = sign_incremental(base, *mette, cms_extra=["-keyid"])
    # Indefinite-length BER, as "openssl cms -stream" and some signing
    # libraries write the CMS; and the same with one signed byte altered.
    files["signed_ber"], _ = sign_incremental(base, *mette, cms_extra=["-stream"])
    i = files["signed_ber"].index(b"(Ans\\370gningsskema \\227 Pulje")
    j = files["signed_ber"].index(b"Pulje", i) + 4
    files["signed_ber_tampered"] = files["signed_ber"][:j] + b"a" + files["signed_ber"][j + 1:]

    # PAdES-LTA: the signed file, then a document timestamp over it all.
    ts, _ = sign_incremental(
        valid, "TSA", None, None, field_name="Timestamp1", existing_fields=[field1],
        subfilter="ETSI.RFC3161", sig_type="DocTimeStamp",
        token=lambda signed: rfc3161_token(signed, pki))
    files["signed_doc_timestamp"] = ts
    # One byte inside the timestamp's ranges, after the signature's, altered.
    i = ts.rindex(b"/Name (TSA)") + len(b"/Name (TS")
    files["signed_doc_timestamp_altered"] = ts[:i] + b"B" + ts[i + 1:]

    # Unsigned, but /Info's strings speak of /ByteRange.
    files["unsigned_title_byterange"] = write_pdf([
        obj(1, _catalog()), obj(2, "<< /Type /Pages /Kids [3 0 R] /Count 1 >>"),
        obj(3, _page()), obj(4, FONT),
        obj(5, "<< /Length %d >>" % len(content_stream()), content_stream()),
        obj(6, "<< /Title (How to fill /ByteRange and /Contents) "
               "/Subject (/ByteRange [0 1 2 3] \\(see /Contents <30>\\)) >>")],
        b" /Info 6 0 R")

    # Trust: Mette's certificate without the intermediate in the CMS (no
    # chain to the root can be built), and a forged look-alike chain.
    files["signed_nochain"], _ = sign_incremental(base, SIGNER_CN, pki.signer_cert,
                                                  pki.signer_key)
    fcert, fkey, finter = make_forged_pki(os.path.join(directory, "pki", "forged"))
    files["signed_forged_chain"], _ = sign_incremental(base, SIGNER_CN, fcert, fkey, finter)

    # Unsigned, but the page's content stream carries the words of a
    # signature dictionary (a decoy for text scanners).
    decoy_text = ("<< /Type /Sig /Filter /Adobe.PPKLite /SubFilter "
                  "/adbe.pkcs7.detached /ByteRange [0 10 20 30] /Contents <3082> >>")
    files["decoy"] = form_pdf((PAGE_TEXT, decoy_text))

    out = {"pki": pki, "bytes": {}}
    for name, data in files.items():
        fn = "scan.jpg" if name == "scan_jpg" else name + ".pdf"
        path = os.path.join(directory, fn)
        with open(path, "wb") as f:
            f.write(data)
        out[name] = path
        out["bytes"][name] = data
    verdicts = None
    if run_pdfsig:
        verdicts = {}
        for name in files:
            if name == "scan_jpg":
                continue
            verdicts[name] = pdfsig(out[name])
            verdicts[name]["sha256"] = hashlib.sha256(files[name]).hexdigest()
        with open(os.path.join(directory, "verdicts.json"), "w") as f:
            json.dump(verdicts, f, indent=1, sort_keys=True)
        out["verdicts_path"] = os.path.join(directory, "verdicts.json")
    out["verdicts"] = verdicts
    # Not cross-checked with pdfsig (a dangling reference is the point).
    dangling = sign_dangling(base, SIGNER_CN, pki.signer_cert, pki.signer_key, pki.inter_cert)
    out["signed_dangling"] = os.path.join(directory, "signed_dangling.pdf")
    with open(out["signed_dangling"], "wb") as f:
        f.write(dangling)
    out["bytes"]["signed_dangling"] = dangling
    return out


def signed_ranges(data):
    """(bytes covered by the last /ByteRange, CMS DER) or None."""
    m = list(re.finditer(rb"/ByteRange\s*\[\s*(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s*\]", data))
    if not m:
        return None
    a, b, c, d = (int(x) for x in m[-1].groups())
    if a + b > len(data) or c + d > len(data):
        return None
    hx = data[a + b + 1:c - 1]
    der = bytes.fromhex(hx.decode("ascii"))
    if not hx.upper().startswith(b"3080"):
        # DER: the zero padding goes, by the outer length (stripping "0"s
        # would also cut a signature that ends in a 00 byte, one in 256);
        # indefinite-length BER ends in 00 00 itself and openssl reads past
        # the padding after it.
        der = der[:_der_length(der)]
    return data[a:a + b] + data[c:c + d], der


def _der_length(der):
    """The length of the DER TLV at the start of DER (header included)."""
    if len(der) < 2:
        return len(der)
    n = der[1]
    if n < 0x80:
        return 2 + n
    k = n & 0x7F
    return 2 + k + int.from_bytes(der[2:2 + k], "big")


def openssl_verify(data, trust):
    """True when openssl cms -verify accepts the last signature of data
    with trust (a PEM file of roots) -- an independent cross-check."""
    got = signed_ranges(data)
    if not got:
        return False
    content, der = got
    with tempfile.TemporaryDirectory(prefix="pdfsign-v-") as t:
        c, s = os.path.join(t, "content"), os.path.join(t, "sig.der")
        open(c, "wb").write(content)
        open(s, "wb").write(der)
        p = subprocess.run([OPENSSL, "cms", "-verify", "-binary", "-inform", "DER",
                            "-in", s, "-content", c, "-CAfile", trust,
                            "-purpose", "any", "-out", os.devnull],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        return p.returncode == 0


def self_check(fx):
    """Compare pdfsig's verdicts with EXPECTED; return a list of problems."""
    problems = []
    root = fx["pki"].root_cert
    for name, want in (("signed_valid", True), ("signed_single", True),
                       ("signed_appended", True), ("signed_mallory", False),
                       ("signed_tampered", False), ("contents_truncated", False),
                       ("signed_nochain", False), ("signed_forged_chain", False),
                       ("signed_ber", True), ("signed_ber_tampered", False)):
        if openssl_verify(fx["bytes"][name], root) is not want:
            problems.append("%s: openssl cms -verify against the test root: %s, want %s"
                            % (name, not want, want))
    v = fx.get("verdicts")
    if v is None:
        return problems     # pdfsig was not run: the openssl checks only
    for name, (want, covers) in EXPECTED.items():
        got = v[name]
        if got["verdict"] is None:
            # pdfsig refused the file: acceptable only for hostile ones
            if want != "invalid":
                problems.append("%s: pdfsig gave no verdict (want %s)\n%s"
                                % (name, want, got["output"]))
            continue
        if got["verdict"] != want:
            problems.append("%s: pdfsig says %s, want %s\n%s"
                            % (name, got["verdict"], want, got["output"]))
        done = [s for s in got["signatures"]
                if s["validation"] and "not yet been verified" not in s["validation"]]
        if covers is not None and done and done[-1]["total_document"] is not covers:
            problems.append("%s: total document signed = %s, want %s"
                            % (name, done[-1]["total_document"], covers))
    return problems


def main(argv=None):
    import argparse
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("outdir")
    ap.add_argument("--no-pdfsig", action="store_true")
    a = ap.parse_args(argv)
    fx = generate(a.outdir, run_pdfsig=not a.no_pdfsig)
    problems = self_check(fx)
    if fx["verdicts"] is not None:
        for name in sorted(fx["verdicts"]):
            s = fx["verdicts"][name]
            sig = s["signatures"][-1] if s["signatures"] else {}
            print("%-20s pdfsig: %-8s %s" % (name, s["verdict"],
                                             "; ".join("%s=%s" % kv for kv in sig.items())))
    for p in problems:
        print("SELF-CHECK FAILED: " + p, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
