#!/usr/bin/python3
"""A composed receipt as a mail reader sees it.

    test_receipt.py RECEIPT_DUMP   (meson: suite 'unit', test 'receipt-email')

tests/receipt-dump composes a receipt from fixed inputs (src/receipt.c);
Python's email package (policy=default) reads it back: every header
decodes to what was put in (RFC 2047 subject and display name), the body
decoded from quoted-printable is the rendered template byte for byte
(UTF-8 æøå intact), lines are CRLF and within 78 (header) and 76 (body)
columns, and nothing is a parse defect.  The same with a template that
uses every placeholder; and signed: `openssl cms -verify` and
`openssl smime -verify` with the test CA accept it, and one changed body
byte makes both refuse.  Prints TAP.
"""

import datetime
import email
import email.policy
import os
import subprocess
import sys
import tempfile

DUMP = sys.argv[1]
SUBJECT = ("Ansøgning: Pulje til styrket indsats for ældre 2022 – Aarhus Kommune, Sundhed og Omsorg "
           "(ansøgning nr. 2 af 2, med bilag)")

# Every placeholder (doc/receipts.md), each on its own line, and literal braces.
ALL_PLACEHOLDERS = """Alle felter {{og klammer}}:
call={call}
call_id={call_id}
subject={subject}
from={from}
arrival={arrival}
clock={clock}
verdict={verdict}
deadline={deadline}
attachments=
{attachments}
signature={signature}
reference={reference}
message_sha256={message_sha256}
"""

EXPECTED_LINES = [
    "Alle felter {og klammer}:",
    "call=Pulje til styrket indsats for ældre 2022",
    "call_id=pulje-2022",
    "subject=" + SUBJECT,
    "from=anna.hansen@aarhus.example",
    "arrival=1. juli 2022 kl. 14:03:12",
    "clock=myndighedens mailserver",
    "verdict=modtaget inden fristen",
    "deadline=1. juli 2022 kl. 23:59:59",
    "attachments=",
    "- Ansøgningsskema – Aarhus.pdf — ansøgningsskema (1.234.567 bytes)",
    "  SHA-256 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
    "- budget æøå ÆØÅ.xlsx (2.048 bytes)",
    "  SHA-256 60303ae22b998861bce3b28f33eec1be758a213c86c93c076dbe9f558c11c752",
    "signature=gyldig underskrift af Mette Ørsted Hansen",
    "reference=PJ-000042",
    "message_sha256=e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
]

results = []


def check(name, cond, detail=""):
    results.append((name, bool(cond), detail))


def dump(*args):
    p = subprocess.run([DUMP] + list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if p.returncode != 0:
        raise RuntimeError("receipt-dump %s: %s" % (" ".join(args), p.stderr.decode()))
    return p.stdout


def lines_ok(raw, name):
    head, _, body = raw.partition(b"\r\n\r\n")
    bare = [i for i in range(len(raw)) if raw[i:i + 1] == b"\n" and raw[i - 1:i] != b"\r"]
    check(name + ": CRLF line ends only", not bare, "bare LF at %r" % bare[:3])
    long_head = [l for l in head.split(b"\r\n") if len(l) > 78]
    check(name + ": header lines <= 78", not long_head, repr(long_head[:2]))
    check(name + ": 7-bit", all(b < 128 for b in raw))


def content(part):
    """The part's text as Python decodes it, its CRLF line breaks as LF."""
    return part.get_content().replace("\r\n", "\n")


def check_plain(raw, text, name):
    """The unsigned receipt RAW and its rendered TEXT."""
    lines_ok(raw, name)
    head, _, body = raw.partition(b"\r\n\r\n")
    long_body = [l for l in body.split(b"\r\n") if len(l) > 76]
    check(name + ": body lines <= 76", not long_body, repr(long_body[:2]))
    m = email.message_from_bytes(raw, policy=email.policy.default)
    check(name + ": no defects", not m.defects, repr(m.defects))
    check(name + ": Subject", str(m["Subject"]) == "Kvittering: " + SUBJECT, repr(str(m["Subject"])))
    addr = m["From"].addresses[0]
    check(name + ": From display name", addr.display_name == "Sundhedsstyrelsen – Puljesekretariatet",
          repr(addr.display_name))
    check(name + ": From address", addr.addr_spec == "puljer@sum.example")
    check(name + ": To", m["To"].addresses[0].addr_spec == "anna.hansen@aarhus.example")
    want_date = datetime.datetime(2022, 7, 1, 12, 3, 20, tzinfo=datetime.timezone.utc)
    check(name + ": Date", m["Date"].datetime == want_date and str(m["Date"]).endswith("+0200"),
          str(m["Date"]))
    check(name + ": Message-ID", m["Message-ID"] == "<receipt.1656666000.42.pulje-2022@sum.example>")
    check(name + ": In-Reply-To", m["In-Reply-To"] == "<app.42@aarhus.example>")
    check(name + ": References", str(m["References"]).split() == ["<earlier.1@aarhus.example>",
                                                                 "<app.42@aarhus.example>"])
    check(name + ": Auto-Submitted", m["Auto-Submitted"] == "auto-replied")
    check(name + ": X-Auto-Response-Suppress", m["X-Auto-Response-Suppress"] == "All")
    check(name + ": MIME-Version", m["MIME-Version"] == "1.0")
    check(name + ": text/plain utf-8", m.get_content_type() == "text/plain"
          and m.get_content_charset() == "utf-8")
    check(name + ": quoted-printable", m["Content-Transfer-Encoding"] == "quoted-printable")
    decoded = m.get_payload(decode=True)
    check(name + ": body is the rendered text", decoded.replace(b"\r\n", b"\n") == text,
          "%r\n!=\n%r" % (decoded[:200], text[:200]))
    check(name + ": get_content() is the text", content(m) == text.decode("utf-8"))
    return m


def openssl_verify(tool, ca, path):
    p = subprocess.run(["openssl", tool, "-verify", "-CAfile", ca, "-in", path, "-out", os.devnull],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    return p.returncode == 0 and b"Verification successful" in p.stdout, p.stdout.decode(errors="replace")


def make_certs(d):
    def run(*args):
        subprocess.run(["openssl"] + list(args), cwd=d, check=True, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
    with open(os.path.join(d, "leaf.ext"), "w") as f:
        f.write("basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,nonRepudiation\n"
                "extendedKeyUsage=emailProtection\nsubjectAltName=email:puljer@sum.example\n")
    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "2",
        "-subj", "/CN=Test CA")
    run("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "leaf.key", "-out", "leaf.csr",
        "-subj", "/CN=Puljesekretariatet")
    run("x509", "-req", "-in", "leaf.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
        "-out", "leaf.pem", "-days", "2", "-extfile", "leaf.ext")


def main():
    with tempfile.TemporaryDirectory(prefix="test-receipt-") as d:
        # The built-in template.
        raw = dump()
        text = dump("--render")
        m = check_plain(raw, text, "default")
        body = content(m)
        check("default: æøå intact", "Vedhæftede filer" in body and "Ansøgningsskemaets" in body)
        check("default: never 'godkendt'", "godkend" not in body.lower())

        # Every placeholder.
        tpl = os.path.join(d, "alle.txt")
        with open(tpl, "w", encoding="utf-8") as f:
            f.write(ALL_PLACEHOLDERS)
        raw = dump("--template", tpl)
        text = dump("--template", tpl, "--render")
        m = check_plain(raw, text, "every placeholder")
        got = content(m).split("\n")
        check("every placeholder: the words", got[:len(EXPECTED_LINES)] == EXPECTED_LINES,
              "\n".join("%r vs %r" % (a, b) for a, b in zip(got, EXPECTED_LINES) if a != b))

        # A template with an unknown placeholder is refused, naming it.
        bad = os.path.join(d, "bad.txt")
        with open(bad, "w") as f:
            f.write("Hej\n\n{modtager}\n")
        p = subprocess.run([DUMP, "--template", bad], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        check("bad template refused", p.returncode == 1 and
              b"unknown placeholder {modtager} on line 3" in p.stderr, p.stderr.decode())

        # Signed.
        make_certs(d)
        raw = dump("--sign", os.path.join(d, "leaf.pem"), os.path.join(d, "leaf.key"), "--now",
                   str(int(datetime.datetime.now().timestamp())))
        text = dump("--render")
        lines_ok(raw, "signed")
        path = os.path.join(d, "signed.eml")
        with open(path, "wb") as f:
            f.write(raw)
        ca = os.path.join(d, "ca.pem")
        for tool in ("cms", "smime"):
            ok, out = openssl_verify(tool, ca, path)
            check("signed: openssl %s -verify accepts it" % tool, ok, out)
        m = email.message_from_bytes(raw, policy=email.policy.default)
        check("signed: multipart/signed", m.get_content_type() == "multipart/signed"
              and m.get_param("protocol") == "application/pkcs7-signature"
              and m.get_param("micalg") == "sha-256", m["Content-Type"])
        check("signed: headers kept", str(m["Subject"]) == "Kvittering: " + SUBJECT
              and m["Auto-Submitted"] == "auto-replied")
        parts = list(m.iter_parts())
        check("signed: two parts", len(parts) == 2 and parts[1].get_content_type() ==
              "application/pkcs7-signature")
        check("signed: first part is the text", content(parts[0]) == text.decode("utf-8"))
        # One body byte changed: "PJ-000042" -> "PJ-000043".
        i = raw.index(b"PJ-000042")
        bad_raw = raw[:i + 8] + b"3" + raw[i + 9:]
        with open(path, "wb") as f:
            f.write(bad_raw)
        for tool in ("cms", "smime"):
            ok, out = openssl_verify(tool, ca, path)
            check("signed: openssl %s -verify refuses one changed byte" % tool, not ok, out)

    print("1..%d" % len(results))
    failed = 0
    for n, (name, ok, detail) in enumerate(results, 1):
        print("%s %d - %s" % ("ok" if ok else "not ok", n, name))
        if not ok:
            failed += 1
            for line in str(detail).splitlines()[:20]:
                print("# " + line)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
