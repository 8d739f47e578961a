#!/usr/bin/python3
"""Independent oracle for the MIME fixtures.

Parses every fixtures/mime/*.eml with Python's own email package
(BytesParser, policy=email.policy.default) and writes
fixtures/mime/expected.json: decoded subject, From address, Message-ID,
the call-match verdict and the list of "application attachments".

    /usr/bin/python3 tests/oracle/expected.py          # (re)write expected.json
    /usr/bin/python3 tests/oracle/expected.py --check  # exit 1 if it is stale

Python 3 standard library only.  The rules below are written out here on
purpose and share no code with the daemon.
"""

import base64
import binascii
import hashlib
import json
import mimetypes
import os
import re
import sys
import unicodedata
from email import policy
from email.header import decode_header, make_header
from email.parser import BytesParser

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MIME_DIR = os.path.join(ROOT, "fixtures", "mime")
OUT = os.path.join(MIME_DIR, "expected.json")

# Fixtures where Python and a C MIME library may legitimately disagree about
# the attachment list.  Value None: attachments deliberately not asserted.
BROKEN = {
    "25-broken-missing-closing-boundary.eml": None,  # outer close delimiter missing
    "26-broken-bad-base64.eml": None,                # garbage inside the PDF's base64
    "27-headers-only-no-body.eml": "assert",         # multipart header, no body at all
    # tests/gen/decode.py: flagged, and Python agrees on every byte but one
    "decode-base64-lost-bits.eml": None,             # Python returns the base64 text itself
    "decode-missing-close.eml": "assert",            # inner multipart never closed: truncated
    "decode-no-blank-line.eml": "assert",            # body right after the header: malformed
    "decode-no-blank-line-top.eml": "assert",        # the same in a one-part message
    "decode-no-blank-line-forward.eml": "assert",    # ... forwarded as message/rfc822
    "decode-no-blank-line-forward-b64.eml": "assert",  # ... forwarded, transfer-encoded
}

SIGNATURE_TYPES = {
    "application/pkcs7-signature",
    "application/x-pkcs7-signature",
    "application/pgp-signature",
}

CALL = "puljeopslag 2022: styrkelse af digitale kompetencer"
REPLY_PREFIX = re.compile(r"(?:re|sv|vs|fwd|fw|aw|wg):", re.IGNORECASE)
QUOTES = "\"\u201c\u201d\u201e"                       # " “ ” „
APPLICANT_TRIM = " \t-\u2013\u2014:,;/" + QUOTES + "'"  # whitespace - – — : , ; / " “ ” „ '


def balanced(s):
    depth = 0
    for ch in s:
        if ch in "([":
            depth += 1
        elif ch in ")]":
            depth -= 1
            if depth < 0:
                return False
    return depth == 0


def trim_applicant(s):
    """Separators and quotes off both ends; brackets only as an enclosing
    pair or when unmatched ("Region X (Psykiatrien)" keeps its bracket)."""
    while True:
        s = s.strip(APPLICANT_TRIM)
        if not s:
            return s
        opening, closing = s[0] in "([", s[-1] in ")]"
        if opening and closing and len(s) >= 2 and balanced(s[1:-1]):
            s = s[1:-1]
        elif opening and not balanced(s) and balanced(s[1:]):
            s = s[1:]
        elif closing and not balanced(s) and balanced(s[:-1]):
            s = s[:-1]
        else:
            return s


# ------------------------------------------------------------------ headers

def raw_to_text(value):
    """Header source as stored by the parser (8-bit bytes are surrogate
    escaped) -> text.  Raw 8-bit header bytes: UTF-8 if they are valid
    UTF-8, else Windows-1252 (ISO-8859-1 for the five bytes cp1252 lacks)."""
    data = value.encode("ascii", "surrogateescape")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("cp1252")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def header(msg, name):
    """First `name` header of msg, parsed by the default policy's header
    registry after 8-bit repair; None when absent."""
    for k, v in msg.raw_items():
        if k.lower() == name:
            text = re.sub(r"\r?\n", "", raw_to_text(v))     # RFC 5322 unfolding
            return policy.default.header_factory(k, text)
    return None


def decode_ew(s):
    """Left-over RFC 2047 encoded-words (e.g. inside a quoted parameter)."""
    if s and "=?" in s:
        try:
            return str(make_header(decode_header(s)))
        except Exception:
            return s
    return s


def subject_of(msg):
    h = header(msg, "subject")
    return None if h is None else str(h)


def from_of(msg):
    h = header(msg, "from")
    if h is None or not h.addresses:
        return None, None
    a = h.addresses[0]
    return (a.addr_spec or None), (a.display_name or None)


def message_id_of(msg):
    for k, v in msg.raw_items():
        if k.lower() == "message-id":
            text = re.sub(r"\s+", " ", raw_to_text(v)).strip()
            m = re.search(r"<([^>]*)>", text)
            return (m.group(1) if m else text) or None
    return None


# -------------------------------------------------------------- call match

def display_form(subject):
    """NFC, whitespace collapsed, leading reply/forward prefixes and
    surrounding quotes stripped (repeatedly, in any interleaving); case kept."""
    s = " ".join(unicodedata.normalize("NFC", subject).split())
    while True:
        before = s
        m = REPLY_PREFIX.match(s)
        if m:
            s = s[m.end():].strip()
        s = s.strip(QUOTES).strip()
        if s == before:
            return s


def call_match(subject):
    if subject is None:
        return False, None
    s = display_form(subject)
    # find the shortest original-case prefix whose casefold equals CALL
    folded = ""
    cut = None
    for i, ch in enumerate(s):
        folded += ch.casefold()
        if len(folded) >= len(CALL):
            cut = i + 1 if folded == CALL else None
            break
    if cut is None:
        return False, None
    if cut < len(s) and s[cut].isalnum():
        return False, None
    applicant = trim_applicant(s[cut:])
    return True, (applicant or None)


# ------------------------------------------------------------- attachments

def filename_of(part):
    fn = None
    cd = header(part, "content-disposition")
    if cd is not None:
        fn = cd.params.get("filename")
    if not fn:
        ct = header(part, "content-type")
        if ct is not None:
            fn = ct.params.get("name")
    fn = decode_ew(fn)
    return fn or None


def disposition_of(part):
    cd = header(part, "content-disposition")
    return None if cd is None else (cd.content_disposition or None)


def encoded_forward(part):
    """A message/rfc822 sent base64-encoded (RFC 2046 forbids it; clients
    do it): Python parses the base64 text as a message without header.
    Returns the decoded message when its bytes start with a header."""
    if (part.get("content-transfer-encoding", "").strip().lower() != "base64"
            or not part.is_multipart() or len(part.get_payload()) != 1):
        return None
    sub = part.get_payload(0)
    if sub.keys() or sub.is_multipart():
        return None
    try:
        data = base64.b64decode("".join(sub.get_payload().split()))
    except (binascii.Error, ValueError):
        return None
    inner = BytesParser(policy=policy.default).parsebytes(data)
    return inner if inner.keys() else None


def uu_blocks(text):
    """The files uuencoded in a text body ("begin 644 name" ... "end"):
    [(name, bytes)], line by line with binascii.a2b_uu, the decoder
    Python's email uses for x-uuencode, and the workaround for short lines
    (gateways strip trailing spaces) that it takes from the uu module."""
    files, cur, name = [], None, None
    for line in text.split(b"\n"):
        line = line.rstrip(b"\r")
        if cur is None:
            m = re.match(rb"begin [0-7]+ (.+)", line)
            if m:
                cur, name = [], m.group(1).decode("utf-8", "replace")
            continue
        if line.rstrip() == b"end":
            files.append((name, b"".join(cur)))
            cur = None
        elif line:
            try:
                cur.append(binascii.a2b_uu(line))
            except binascii.Error:
                cur.append(binascii.a2b_uu(line[:(((line[0] - 32) & 63) * 4 + 5) // 3]))
    if cur is not None:
        files.append((name, b"".join(cur)))
    return files


def html_refers_to(related, image):
    """Does an HTML part in the multipart/related refer to IMAGE (cid:
    and its Content-ID, or its Content-Location)?"""
    cid = (image.get("content-id") or "").strip().strip("<>")
    loc = (image.get("content-location") or "").strip()
    needles = [n.encode() for n in (("cid:" + cid) if cid else "", loc) if n]
    for sub in related.walk():
        if sub.get_content_type() == "text/html":
            html = sub.get_payload(decode=True) or b""
            if any(n in html for n in needles):
                return True
    return False


def walk(part, parent_type, out, parent=None):
    ctype = part.get_content_type()
    maintype = ctype.split("/")[0]
    inner = encoded_forward(part) if maintype == "message" else None
    if inner is not None:
        walk(inner, ctype, out, part)
        return
    if maintype == "message" and part.is_multipart():
        # message/rfc822 (forwarded) — descend, the container itself is not counted
        for sub in part.get_payload():
            walk(sub, ctype, out, part)
        return
    if part.is_multipart():
        for sub in part.get_payload():
            walk(sub, ctype, out, part)
        return
    if maintype == "multipart":
        return                      # multipart header without a usable body
    if ctype in SIGNATURE_TYPES:
        return
    fname = filename_of(part)
    disp = disposition_of(part)
    data = part.get_payload(decode=True)
    if data is None:
        data = b""
    is_pdf = (ctype == "application/pdf"
              or (fname is not None and fname.lower().endswith(".pdf"))
              or data.startswith(b"%PDF-"))
    if is_pdf:
        keep = True
    elif (maintype == "image" and parent_type == "multipart/related" and disp != "attachment"
          and html_refers_to(parent, part)):
        keep = False                # inline image (signature logo etc.) its HTML shows
    elif disp == "attachment" or fname is not None:
        keep = True
    elif maintype == "text":
        keep = False                # body text
    elif maintype == "image":
        keep = True                 # nameless image outside multipart/related: a photographed form
    else:
        keep = True                 # application/*, audio/*, video/* leaf
    if maintype == "text" and not keep:
        for name, f in uu_blocks(data):
            out.append({
                "filename": name,
                "content_type": mimetypes.guess_type(name)[0] or "application/octet-stream",
                "size": len(f),
                "sha256": hashlib.sha256(f).hexdigest(),
            })
    if keep:
        out.append({
            "filename": fname,
            "content_type": ctype,
            "size": len(data),
            "sha256": hashlib.sha256(data).hexdigest(),
        })


def attachments_of(msg):
    out = []
    walk(msg, None, out)
    return out


# -------------------------------------------------------------------- main

def check_crlf(name, raw):
    bare_lf = raw.count(b"\n") - raw.count(b"\r\n")
    bare_cr = raw.count(b"\r") - raw.count(b"\r\n")
    if bare_lf or bare_cr:
        sys.exit("%s: %d bare LF, %d bare CR (fixtures must be CRLF)" % (name, bare_lf, bare_cr))


def expected_for(name, raw):
    msg = BytesParser(policy=policy.default).parsebytes(raw)
    subject = subject_of(msg)
    addr, display = from_of(msg)
    matches, applicant = call_match(subject)
    rec = {
        "file": name,
        "subject": subject,
        "from": addr,
        "from_name": display,
        "message_id": message_id_of(msg),
        "matches": matches,
        "applicant": applicant,
        "broken": name in BROKEN,
        "attachments": attachments_of(msg),
    }
    if name in BROKEN and BROKEN[name] is None:
        rec["attachments"] = None
    return rec


def build():
    records = []
    for name in sorted(os.listdir(MIME_DIR)):
        if not name.endswith(".eml"):
            continue
        with open(os.path.join(MIME_DIR, name), "rb") as f:
            raw = f.read()
        check_crlf(name, raw)
        records.append(expected_for(name, raw))
    text = json.dumps(records, indent=1, sort_keys=True, ensure_ascii=False) + "\n"
    return records, text


def main(argv):
    records, text = build()
    n_att = sum(len(r["attachments"] or []) for r in records)
    if "--check" in argv:
        try:
            with open(OUT, encoding="utf-8") as f:
                current = f.read()
        except FileNotFoundError:
            current = None
        if current != text:
            print("expected.json is stale; run tests/oracle/expected.py", file=sys.stderr)
            return 1
        print("expected.json up to date: %d fixtures, %d attachments" % (len(records), n_att))
        return 0
    with open(OUT, "w", encoding="utf-8", newline="\n") as f:
        f.write(text)
    print("wrote %s: %d fixtures, %d attachments, %d matching the call"
          % (os.path.relpath(OUT, ROOT), len(records), n_att, sum(r["matches"] for r in records)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
