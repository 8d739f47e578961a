#!/usr/bin/python3
"""Every decoded byte is what the sender sent, or the part is flagged.

    test_decode.py DECODE_DUMP   (meson: suite 'unit', test 'decode')

For every fixtures/mime/*.eml (the decode-* ones written by
tests/gen/decode.py, one per class of decoding damage real mail shows; the
others are the everyday corpus), puljed's MIME walk (tests/decode-dump,
linked with src/mime.c) is compared byte for byte with three independent
decoders:

* Python's email package (policy=default, get_payload(decode=True)), part
  by part: the same part path must hold the same bytes (uuencoded files in
  a text body: Python's binascii.a2b_uu, block by block);
* munpack (Debian package mpack) and uudeview (package uudeview), run on
  the message: each of puljed's attachments must be one of the files the
  tool wrote (they name files their own way);
* and for uuencoded files (x-uuencode, or a block in a text body),
  uudecode (package sharutils), run on each "begin" block of the message.

And the other way: every non-text leaf Python decodes must be one of
puljed's attachments (nothing dropped), unless puljed noted it as an
inline image and an HTML part of its multipart/related refers to it.  The flags puljed sets on
the decode-* fixtures are checked too (FLAGS below; test-mime checks the
others against expected.json).

A disagreement fails the test unless KNOWN, below, says why puljed is right
(and an entry that no longer disagrees fails too, so the table stays true).
Prints TAP.
"""

import glob
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from email import policy
from email.parser import BytesParser

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "oracle"))
from expected import encoded_forward, html_refers_to, uu_blocks  # noqa: E402  (the oracle's: a base64 forward, uuencode in text)

FIXTURES = os.path.join(os.environ.get("PULJED_FIXTURES") or os.path.join(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "fixtures"), "mime")

# The flags puljed must set on each fixture ("" none): damage is flagged
# where bytes are really lost or the structure was guessed, and only there.
FLAGS = {
    "decode-base64-unpadded.eml": "",             # decodable in full: nothing lost
    "decode-base64-lost-bits.eml": "bad-encoding",  # a last group of 6 bits: no byte
    "decode-boundary-eof.eml": "",
    "decode-uuencode-stripped.eml": "",
    "decode-uuencode-in-text.eml": "",
    "decode-no-blank-line.eml": "malformed",
    "decode-no-blank-line-top.eml": "malformed",  # not truncated: the "header" that ran to the end was the body
    "decode-no-blank-line-forward.eml": "malformed",
    "decode-no-blank-line-forward-b64.eml": "malformed",
    "decode-missing-close.eml": "truncated,malformed",
    "decode-mime-headers-only.eml": "",           # MIME headers are headers
    "decode-unnamed-image-mixed.eml": "",
}

# (fixture, attachment file name or part path, decoder) -> why puljed is
# right where that decoder gives other bytes (or none).
KNOWN = {
    ("decode-base64-lost-bits.eml", "2", "python"):
        "the last base64 group is one character (6 bits, no byte): Python gives up and returns the "
        "base64 text itself (InvalidBase64LengthDefect); puljed keeps the whole groups and flags bad-encoding",
    ("decode-base64-lost-bits.eml", "korrupt.bin", "munpack"):
        "munpack drops a last base64 group without '=' padding (300 of 302 bytes; the '!' inside is "
        "flagged bad-encoding, and skipped by all three)",
    ("decode-base64-lost-bits.eml", "korrupt.bin", "uudeview"):
        "uudeview stops at a character outside the base64 alphabet (243 of 302 bytes); Python and "
        "puljed skip it, and puljed flags bad-encoding",
    ("decode-base64-unpadded.eml", "Ansoegning.pdf", "munpack"):
        "munpack drops a last base64 group without '=' padding (522 of 524 bytes); Python's email, "
        "GLib, uudecode's base64 and the issue's mail clients decode it",
    ("decode-base64-unpadded.eml", "bilag.bin", "munpack"):
        "munpack drops a last base64 group without '=' padding (300 of 301 bytes)",
    ("decode-base64-unpadded.eml", "halv.bin", "munpack"):
        "munpack drops the byte of a last group 'xx=' that has one '=' of two (99 of 100 bytes)",
    ("decode-base64-unpadded.eml", "Ansoegning.pdf", "uudeview"):
        "uudeview drops a last base64 group without '=' padding (522 of 524 bytes)",
    ("decode-base64-unpadded.eml", "bilag.bin", "uudeview"):
        "uudeview drops a last base64 group without '=' padding (300 of 301 bytes)",
    ("decode-boundary-eof.eml", "test.pdf", "munpack"):
        "munpack keeps the CRLF before the closing delimiter in the part; RFC 2046 5.1.1: it "
        "belongs to the delimiter (Python agrees)",
    ("decode-boundary-eof.eml", "test.pdf", "uudeview"):
        "uudeview keeps the CR of the CRLF before a closing delimiter that ends the message "
        "without a line break; RFC 2046 5.1.1: it belongs to the delimiter (Python agrees)",
    ("decode-uuencode-stripped.eml", "budget.zip", "munpack"):
        "munpack does not decode Content-Transfer-Encoding x-uuencode: it writes the encoded text",
    ("decode-uuencode-stripped.eml", "budget.zip", "uudeview"):
        "uudeview reads uuencoded lines that lost their trailing spaces as shorter than declared "
        "(450 of 621 bytes, a zip that fails its CRC); Python's binascii.a2b_uu pads them with zero bits, as puljed",
    ("decode-uuencode-in-text.eml", "budget.zip", "munpack"):
        "munpack does not look for uuencoded files in a text body",
    ("decode-uuencode-in-text.eml", "ansoegning.pdf", "munpack"):
        "munpack does not look for uuencoded files in a text body",
    ("decode-uuencode-in-text.eml", "budget.zip", "uudeview"):
        "uudeview writes no file from a text body whose uuencoded lines lost their trailing spaces "
        "(with the spaces it writes the same 621-byte zip); uudecode and Python agree with puljed",
    ("decode-uuencode-in-text.eml", "ansoegning.pdf", "uudeview"):
        "uudeview writes no file from a text body whose uuencoded lines lost their trailing spaces; "
        "uudecode and Python agree with puljed",
    ("decode-uuencode-stripped.eml", "budget.zip", "uudecode"):
        "uudecode (sharutils 4.15) reads a line shorter than it declares past its end, into what the "
        "line before left in its buffer (bytes 454-463 of the zip are not the zeros sent: the zip does "
        "not open); Python's a2b_uu pads with zero bits, as puljed, and gives the zip that was sent",
    ("decode-uuencode-in-text.eml", "budget.zip", "uudecode"):
        "uudecode (sharutils 4.15) reads a line shorter than it declares past its end (see "
        "decode-uuencode-stripped); Python's a2b_uu agrees with puljed",
    ("decode-no-blank-line-top.eml", "Ansoegning.pdf", "uudeview"):
        "uudeview writes no file from a one-part message whose body follows its header with no "
        "blank line; Python's email and munpack keep the body, as puljed",
    ("decode-no-blank-line.eml", "budget.zip", "uudeview"):
        "uudeview drops the body of a part with no blank line after its header (0 bytes); Python's "
        "email and MimeKit keep it",
    ("decode-no-blank-line-forward.eml", "Ansoegning.pdf", "munpack"):
        "munpack does not walk into a forwarded message/rfc822 (it writes the text part only); "
        "Python's bytes of the PDF inside agree",
    ("decode-no-blank-line-forward.eml", "Ansoegning.pdf", "uudeview"):
        "uudeview writes no file from a forward whose one part has no blank line after its header; "
        "Python's bytes of the PDF inside agree",
    ("decode-no-blank-line-forward-b64.eml", "Ansoegning.pdf", "munpack"):
        "munpack does not decode a base64-encoded message/rfc822; Python's bytes of the PDF inside agree",
    ("decode-no-blank-line-forward-b64.eml", "Ansoegning.pdf", "uudeview"):
        "uudeview writes a base64-encoded message/rfc822 whole and does not walk into it; Python's "
        "bytes of the PDF inside agree",
    ("decode-mime-headers-only.eml", "Ansoegning.pdf", "munpack"):
        "munpack does not decode a base64-encoded message/rfc822 (a forward RFC 2046 forbids "
        "encoding, clients encode anyway); Python's bytes of the PDF inside agree",
    ("decode-mime-headers-only.eml", "Ansoegning.pdf", "uudeview"):
        "uudeview writes a base64-encoded message/rfc822 whole and does not walk into it; Python's "
        "bytes of the PDF inside agree",
    ("10-forwarded-rfc822-region-nordjylland.eml", "Ansoegning RN digitale kompetencer.pdf", "munpack"):
        "munpack does not walk into a forwarded message/rfc822; Python's bytes of the PDF inside agree",
    ("10-forwarded-rfc822-region-nordjylland.eml", "Ansoegning RN digitale kompetencer.pdf", "uudeview"):
        "uudeview writes a forwarded message/rfc822 whole as a .eml; Python's bytes of the PDF inside agree",
    ("26-broken-bad-base64.eml", "Roskilde_ansoegning.pdf", "uudeview"):
        "the base64 holds characters outside its alphabet (flagged bad-encoding): uudeview reads them "
        "otherwise (1467 bytes); puljed (GMime) and Python skip them and agree",
    ("33-webmail-edge-rules-frederiksberg-kommune.eml", "3", "munpack"):
        "a text/plain attachment: munpack writes text parts with LF line ends; puljed and Python keep "
        "the CRLF as sent",
    ("33-webmail-edge-rules-frederiksberg-kommune.eml", "3", "uudeview"):
        "a text/plain attachment: uudeview writes text parts with LF line ends; puljed and Python keep "
        "the CRLF as sent",
    ("33-webmail-edge-rules-frederiksberg-kommune.eml", "budget.csv", "munpack"):
        "a text/csv attachment: munpack writes text parts with LF line ends; puljed and Python keep the "
        "CRLF as sent",
    ("33-webmail-edge-rules-frederiksberg-kommune.eml", "budget.csv", "uudeview"):
        "a text/csv attachment: uudeview writes text parts with LF line ends; puljed and Python keep the "
        "CRLF as sent",
}

TOOLS = ("munpack", "uudeview", "uudecode")
SIGNATURES = {"application/pkcs7-signature", "application/x-pkcs7-signature", "application/pgp-signature"}


def sha(data):
    return hashlib.sha256(data).hexdigest()


def python_leaves(part, path, out, parent=None):
    """Part path (puljed's numbering) -> (content type, decoded bytes,
    whether an HTML part of its multipart/related shows it, transfer
    encoding)."""
    ctype = part.get_content_type()
    if part.get_content_maintype() == "message":
        inner = encoded_forward(part) or (part.get_payload(0) if part.is_multipart() else None)
        if inner is not None:
            python_leaves(inner, path, out, part)
            return
    if part.is_multipart():
        for i, sub in enumerate(part.get_payload()):
            python_leaves(sub, "%s.%d" % (path, i + 1) if path else str(i + 1), out, part)
        return
    data = part.get_payload(decode=True)
    cte = part.get("content-transfer-encoding", "").strip().lower()
    # An image an HTML part of its multipart/related shows: inline.
    shown = (parent is not None and parent.get_content_type() == "multipart/related"
             and html_refers_to(parent, part))
    out[path or "1"] = (ctype, data if data is not None else b"", shown, cte)
    if part.get_content_maintype() == "text":
        for i, (_, f) in enumerate(uu_blocks(data or b""), 1):
            out["%s:uu.%d" % (path or "1", i)] = ("application/octet-stream", f, False, "uuencode")


def uudecode_files(eml, out):
    """SHA-256 of each file uudecode writes from a "begin" block of EML
    (it decodes the first block of its input: each is given on its own)."""
    with open(eml, "rb") as f:
        raw = f.read()
    hashes = {}
    starts = [m.start() for m in re.finditer(rb"(?m)^begin [0-7]+ ", raw)]
    for i, start in enumerate(starts):
        block = os.path.join(out, "block%d" % i)
        with open(block, "wb") as f:
            f.write(raw[start:])
        target = os.path.join(out, "file%d" % i)
        subprocess.run(["uudecode", "-o", target, block], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, timeout=60, check=False)
        if os.path.exists(target):
            with open(target, "rb") as f:
                hashes[sha(f.read())] = "file%d" % i
    return hashes


def tool_files(tool, eml, workdir):
    """SHA-256 of each file the Debian tool writes from EML."""
    out = os.path.join(workdir, tool)
    os.mkdir(out)
    if tool == "uudecode":
        return uudecode_files(eml, out)
    if tool == "munpack":
        cmd = ["munpack", "-q", "-t", "-C", out, eml]
    else:
        cmd = ["uudeview", "-i", "-q", "-p", out + "/", eml]
    subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                   timeout=60, check=False)
    hashes = {}
    for name in os.listdir(out):
        with open(os.path.join(out, name), "rb") as f:
            hashes[sha(f.read())] = name
    return hashes


def check(dump, eml, workdir):
    """Disagreements (key, text) and the KNOWN keys that were met."""
    name = os.path.basename(eml)
    outdir = os.path.join(workdir, "puljed")
    os.mkdir(outdir)
    # Under meson test --setup valgrind, decode-dump runs under memcheck.
    wrapper = os.environ.get("PULJED_WRAPPER", "").split()
    res = subprocess.run(wrapper + [dump, eml, outdir], capture_output=True, check=True, timeout=600)
    got = json.loads(res.stdout)
    problems, met = [], set()

    def disagree(key, text):
        if key in KNOWN:
            met.add(key)
        else:
            problems.append("%s: %s" % (key, text))

    if name in FLAGS and got["flags"] != FLAGS[name]:
        problems.append("%s: flags %r, want %r" % (name, got["flags"], FLAGS[name]))
    with open(eml, "rb") as f:
        msg = BytesParser(policy=policy.default).parsebytes(f.read())
    py = {}
    python_leaves(msg, "", py)
    tools = {t: tool_files(t, eml, workdir) for t in TOOLS}
    for a in got["attachments"]:
        with open(os.path.join(outdir, a["file"]), "rb") as f:
            h = sha(f.read())
        assert h == a["sha256"], "decode-dump wrote other bytes than it hashed"
        label = a["filename"] or a["part"]
        want = py.get(a["part"])
        if want is None or sha(want[1]) != h:
            disagree((name, a["part"], "python"), "puljed %d bytes at part %s, Python %s" % (
                a["size"], a["part"], "nothing" if want is None else "%d bytes" % len(want[1])))
        uu = ":uu." in a["part"] or (want is not None and want[3] in ("x-uuencode", "uuencode", "x-uue"))
        for tool, hashes in tools.items():
            if tool == "uudecode" and not uu:
                continue
            if h not in hashes:
                disagree((name, label, tool), "puljed's %d bytes of %s are none of %s's files %s" % (
                    a["size"], label, tool, sorted(hashes.values())))
    attached = {a["part"] for a in got["attachments"]}
    # An image puljed leaves out must be one an HTML body in the same
    # multipart/related can refer to.
    inline = {p["part"] for p in got["parts"] if p["action"] == "inline-image"}
    for path, (ctype, data, shown, _) in sorted(py.items()):
        # (A multipart without a body is no leaf: nothing to decode.)
        if ctype.split("/")[0] in ("text", "multipart") or ctype in SIGNATURES or path in attached:
            continue
        if path in inline and shown:
            continue
        disagree((name, path, "python"), "Python decodes %d bytes of %s at part %s; puljed keeps no attachment "
                 "there" % (len(data), ctype, path))
    return problems, met


def main(argv):
    dump = argv[1]
    for tool in TOOLS:
        if not shutil.which(tool):
            print("Bail out! %s is not installed (scripts/install-deps.sh installs it)" % tool)
            return 1
    files = sorted(glob.glob(os.path.join(FIXTURES, "*.eml")))
    missing = set(FLAGS) - {os.path.basename(f) for f in files}
    print("1..%d" % (len(files) + 1))
    failed = 0
    met_all = set()
    for i, eml in enumerate(files, 1):
        with tempfile.TemporaryDirectory() as workdir:
            problems, met = check(dump, eml, workdir)
        met_all |= met
        name = os.path.basename(eml)
        if name.startswith("decode-") and name not in FLAGS:
            problems.append("%s: no FLAGS entry" % name)
        for p in problems:
            print("# " + p)
        for key in sorted(met):
            print("# known: %s: %s" % (key, KNOWN[key]))
        print("%s %d - %s" % ("not ok" if problems else "ok", i, name))
        failed += bool(problems)
    stale = sorted(set(KNOWN) - met_all)
    for key in stale:
        print("# KNOWN entry no longer disagrees: %s" % (key,))
    for name in sorted(missing):
        print("# fixture missing: %s" % name)
    bad = bool(stale or missing)
    print("%s %d - every KNOWN disagreement still happens, every fixture present" % (
        "not ok" if bad else "ok", len(files) + 1))
    failed += bad
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
