#!/usr/bin/python3
"""Issue 8: puljectl for the people who decide -- export, report, terminal.

One realistic mailbox is put into a throwaway Dovecot once (setUpClass) and
ingested by one `puljed --once`; every test works on its own copy of that
database (so `decide` in one test is not seen by another):

* ``test_a_mailbox``: the call "Puljeopslag 2022: Styrkelse af digitale
  kompetencer" (deadline 2022-07-01, Europe/Copenhagen) and a second call;
  Danish applicants (Ærø Kommune, Region Sjælland, Københavns Kommune,
  'Foreningen "Æ, Ø & Å"; test', a name that is a spreadsheet formula, a
  name with a line break and a line separator, one with HTML in it), a PDF
  form signed by tests/gen/pdfsign.py, a tampered one, an unsigned one, a
  resubmission, one 10 s late, one without attachment, newsletters (one
  with escape sequences and a bidi override in its subject, one whose
  subject is a formula), an exact duplicate delivery, hostile attachment
  names -- recorded as expected.
* ``test_b_export``: `export` CSV (BOM, ';', CRLF, RFC 4180) parsed back
  with Python's csv module and compared field by field with `applications
  --json`; `--messages` with `list --json`; `--format json` with the CSV;
  `--output FILE`; the filters --call, --status and --since on export, list
  and applications against the unfiltered JSON; `decide`; bad values exit 2
  naming the option.  The CSV is Danish (headers, status words, ja/nej),
  each time a date column in Europe/Copenhagen named in its header plus an
  ISO 8601 column.
* ``test_b_export_libreoffice``: the CSV converted by LibreOffice headless
  (`soffice --convert-to xlsx`, ';', UTF-8, Danish locale) and read with
  openpyxl: the date columns are datetime cells equal to the Danish-time
  arrival, the ISO columns text, the Danish letters intact.  Fails, does
  not skip, without soffice or openpyxl.
* ``test_c_report``: `report --output DIR`: relative links that stay
  inside DIR, no script, no external asset, raw messages byte-identical,
  attachments by hash, safe file names (nothing written outside DIR), the
  names HTML-escaped, deadline, counts, one SVG mark per message; a second
  run into DIR fails and changes nothing; `--call unknown` exits 2.
* ``test_d_chromium``: Debian's headless Chromium renders the page to a PNG
  (decoded here with zlib/struct: 1200x1600, not blank, the deadline red and
  the accepted green drawn as solid marks) and prints it to PDF (pdftotext:
  the Danish words survive).  Fails, does not skip, without chromium.
* ``test_e_terminal``: `list`, `applications` and `show` without a
  terminal: no escape sequence, at most 80 columns; `--color always` colours;
  on a pseudo-terminal colour by default and none with NO_COLOR; control
  characters and bidi overrides from headers never reach the output raw.

Needs PULJED and PULJECTL in the environment (paths of the built binaries),
openssl, /usr/bin/chromium, pdftotext (poppler-utils), soffice
(libreoffice-calc-nogui) and openpyxl (python3-openpyxl).
Run:  PULJED=build/src/puljed PULJECTL=build/src/puljectl \\
      /usr/bin/python3 tests/integration/test_report.py
"""

import csv
import datetime as dt
import fcntl
import hashlib
import html
import html.parser
import io
import json
import os
import re
import select
import shutil
import sqlite3
import stat
import struct
import subprocess
import sys
import tempfile
import termios
import time
import unittest
import urllib.parse
import zlib
import zoneinfo

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
sys.path.insert(0, os.path.join(HERE, "..", "gen"))

from harness import chromium as C  # noqa: E402
from harness import messages as M  # noqa: E402
from harness import puljed as P  # noqa: E402
from harness.dovecot import DEFAULT_CALL, DEFAULT_CALL_NAME, Dovecot  # noqa: E402
from harness.testcase import PuljedTestCase, parse_iso  # noqa: E402
from harness.tree import snapshot  # noqa: E402
import pdfsign  # noqa: E402

CALL = M.CALL_SUBJECT
CALL_ID = DEFAULT_CALL_NAME
CALL2_ID = "sundhedsfremme-2022"
CALL2 = {"subject": "Pulje til sundhedsfremme i kommunerne 2022",
         "deadline": "2022-09-15", "timezone": "Europe/Copenhagen"}
CALLS = {CALL_ID: dict(DEFAULT_CALL), CALL2_ID: dict(CALL2)}
CEST = dt.timezone(dt.timedelta(hours=2))
# --since 2022-07-01 means local midnight in the calls' time zone.
SINCE_DAY = "2022-07-01"
SINCE_INSTANT = dt.datetime(2022, 7, 1, 0, 0, 0, tzinfo=CEST)

SOFFICE = os.environ.get("SOFFICE", "soffice")

# The CSV is in Danish, its times in the calls' zone, named in the headers
# of the date columns (puljectl(1), EXPORT).
CSV_ZONE = "Europe/Copenhagen"
APP_HEADER = ["Opslag", "Ansøger", "Beskeder", "Id'er", "Status", "Rettidig",
              "Første ankomst (Europe/Copenhagen)", "Første ankomst, ISO 8601",
              "Seneste ankomst (Europe/Copenhagen)", "Seneste ankomst, ISO 8601",
              "Skema", "Skemaets underskrift", "Underskriver", "Afgørelse",
              "Underskriften vurderet", "Begrundelse"]
MSG_HEADER = ["Id", "Opslag", "Ansøger", "Status", "Rettidig",
              "Ankomst (Europe/Copenhagen)", "Ankomst, ISO 8601", "Afsender", "Emne",
              "Skema", "Skemaets underskrift", "Underskriver", "Afgørelse", "Dublet af",
              "Mailserverens modtagelse (Europe/Copenhagen)",
              "Mailserverens modtagelse, ISO 8601", "Fristen afgjort af",
              "Underskriften vurderet", "Begrundelse"]
# The stored words as the CSV writes them (the report's status words); a
# word missing here is a KeyError, i.e. a failure.
STATUS_CSV = {"accepted": "Modtaget", "late": "For sent", "review": "Til vurdering",
              "unrelated": "Ikke en ansøgning"}
YES_NO_CSV = {"yes": "ja", "no": "nej"}
SIGNATURE_CSV = {"valid": "gyldig", "invalid": "ugyldig", "none": "ingen"}
DECISION_CSV = {"accept": "Godkendt", "reject": "Afvist"}
DECIDED_BY_CSV = {"edge": "mailserverens tid", "date-header": "afsenderens Date-felt",
                  "arrival": "postkassens tid"}
DATE, ISO_ONLY = "date", "iso"
# The export's JSON keys (unchanged, in order) and the CSV column(s) each is
# written in: a DATE is two columns, "NAME (zone)" and "NAME, ISO 8601".
APP_COLUMNS = [("call", "Opslag", None), ("applicant", "Ansøger", None),
               ("messages", "Beskeder", None), ("ids", "Id'er", None),
               ("status", "Status", STATUS_CSV), ("on_time", "Rettidig", YES_NO_CSV),
               ("first_arrival", "Første ankomst", DATE),
               ("last_arrival", "Seneste ankomst", DATE), ("form", "Skema", YES_NO_CSV),
               ("form_signature", "Skemaets underskrift", SIGNATURE_CSV),
               ("signer", "Underskriver", None), ("decision", "Afgørelse", DECISION_CSV),
               ("form_signature_text", "Underskriften vurderet", None),
               ("why", "Begrundelse", None)]
MSG_COLUMNS = [("id", "Id", None), ("call", "Opslag", None), ("applicant", "Ansøger", None),
               ("status", "Status", STATUS_CSV), ("on_time", "Rettidig", YES_NO_CSV),
               ("arrival", "Ankomst", DATE), ("from", "Afsender", None),
               ("subject", "Emne", None), ("form", "Skema", YES_NO_CSV),
               ("form_signature", "Skemaets underskrift", SIGNATURE_CSV),
               ("signer", "Underskriver", None), ("decision", "Afgørelse", DECISION_CSV),
               ("duplicate_of", "Dublet af", None),
               ("received_at", "Ankomst", ISO_ONLY),
               ("edge_received_at", "Mailserverens modtagelse", DATE),
               ("decided_by", "Fristen afgjort af", DECIDED_BY_CSV),
               ("form_signature_text", "Underskriften vurderet", None),
               ("why", "Begrundelse", None)]


def csv_local(value):
    """An ISO 8601 time as the CSV's date column and ISO column say it."""
    if value is None:
        return None, None
    t = parse_iso(value).astimezone(zoneinfo.ZoneInfo(CSV_ZONE))
    return t.strftime("%Y-%m-%d %H:%M:%S"), t.isoformat()


def csv_fields(columns, values):
    """VALUES (JSON keys -> JSON values) as the CSV writes them: CSV
    header -> value (None for an empty field)."""
    out = {}
    for key, name, conv in columns:
        if key not in values:
            continue
        v = values[key]
        if conv == DATE:
            out[name + " (%s)" % CSV_ZONE], out[name + ", ISO 8601"] = csv_local(v)
        elif conv == ISO_ONLY:
            out[name + ", ISO 8601"] = csv_local(v)[1]
        elif isinstance(conv, dict):
            out[name] = None if v is None else conv[v]
        else:
            out[name] = v
    return out
# A machine reason ("form:none", "subject:fuzzy(0.96)") where a caseworker reads.
RAW_REASON = re.compile(r"\b[a-z-]+:[a-z0-9(]")
STATUSES = ("accepted", "late", "review", "unrelated")
# The page's Danish words for the statuses (the issue: "For sent" printed).
STATUS_DA = {"accepted": "Modtaget", "late": "For sent", "review": "Til vurdering"}
DEADLINE_RED = (0xC6, 0x28, 0x28)
ACCEPTED_GREEN = (0x2E, 0x7D, 0x32)

# Applicant names (exact: the subjects are written as RFC 2047 words by
# M.encoded_subject, which keeps every space).
AEROE = "\u00c6r\u00f8 Kommune"
SJAELLAND = "Region Sj\u00e6lland"
KBH = "K\u00f8benhavns Kommune"
FORENING = 'Foreningen "\u00c6, \u00d8 & \u00c5"; test'
FORMULA = '=HYPERLINK("http://x")'
NEWLINE = "Odder Kommune\nAfd. Nord\u2028Bcc: x@y"
TAGGED = "Brugerr\u00e5det <b>Nord</b> & Co"
NOTE = ('Godkendt trods <script>alert("x")</script> & ugyldig underskrift '
        '\u2013 S\u00f8ren \u00c6r\u00f8')

# Control characters, escape sequences and bidi overrides in a subject.
CTRL_SUBJECT = ("Nyhedsbrev \x1b[31mR\u00d8D\x1b[0m \x1b]0;pwned\x07\x1b[2J slut "
                "\u202eFDP.exe")
FORMULA_SUBJECT = "=SUM(1+1)*cmd|' /C calc'!A0"
# Bidi controls (marks, embeddings, overrides, isolates).
BIDI = set("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
SGR = re.compile(r"\x1b\[[0-9;]*m")


def sha(data):
    return hashlib.sha256(data).hexdigest()


def iso(text):
    return dt.datetime.fromisoformat(text)


def yes_no(value):
    return {True: "yes", False: "no", None: ""}[value]


def blank(value):
    """A JSON value as the CSV writes it: null -> empty, numbers as text."""
    return "" if value is None else str(value)


def neutralised(value):
    """What a CSV field holding value must read back as: a leading = + - @
    gets a leading apostrophe (puljectl(1), EXPORT)."""
    return "'" + value if value[:1] in ("=", "+", "-", "@") else value


def signature_words(att):
    """What the export must say of a form's signature in Danish: "gyldig"
    only when it is intact, covers the document and (with a trust_file)
    the signer is trusted."""
    if att is None:
        return None
    by = " af %s" % att["signer"] if att["signer"] else ""
    sig = att["signature"]
    if sig in (None, "none"):
        return "ingen digital underskrift"
    if sig != "valid":
        return None   # the reason's wording is the report's: checked below by prefix
    if att.get("signature_modified_after_signing"):
        return "dokumentet er ændret efter underskrift (underskriften%s er intakt)" % by
    if att.get("signer_trusted") is False:
        return "underskriften%s er intakt, men underskriveren er ikke betroet" % by
    return "gyldig underskrift%s" % by


class PageParser(html.parser.HTMLParser):
    """Collects the text (entities decoded), every tag with its attributes,
    and the raw markup of every start tag."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.text = []
        self.tags = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_startendtag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.text.append(data)


def parse_page(text):
    p = PageParser()
    p.feed(text)
    p.close()
    return p


# ------------------------------------------------------------------ PNG
def read_png(path):
    """(width, height, rows) of an 8-bit RGB/RGBA/grey PNG, decoded with
    zlib and struct only; rows are lists of (r, g, b) tuples."""
    with open(path, "rb") as f:
        data = f.read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise AssertionError("%s is not a PNG (starts %r)" % (path, data[:8]))
    pos, idat, ihdr = 8, [], None
    while pos + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        crc, = struct.unpack(">I", data[pos + 8 + length:pos + 12 + length])
        if zlib.crc32(kind + body) & 0xFFFFFFFF != crc:
            raise AssertionError("%s: bad CRC in chunk %r" % (path, kind))
        pos += 12 + length
        if kind == b"IHDR":
            ihdr = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat.append(body)
        elif kind == b"IEND":
            break
    if ihdr is None:
        raise AssertionError("%s: no IHDR" % path)
    width, height, depth, ctype, _comp, _filt, interlace = ihdr
    if depth != 8 or interlace != 0 or ctype not in (0, 2, 4, 6):
        raise AssertionError("%s: unsupported PNG (depth %d, colour type %d, interlace %d)"
                             % (path, depth, ctype, interlace))
    bpp = {0: 1, 2: 3, 4: 2, 6: 4}[ctype]
    raw = zlib.decompress(b"".join(idat))
    stride = width * bpp
    if len(raw) != height * (stride + 1):
        raise AssertionError("%s: %d bytes of image data for %dx%d"
                             % (path, len(raw), width, height))
    prev = bytearray(stride)
    rows = []
    i = 0
    for _y in range(height):
        ft = raw[i]
        line = bytearray(raw[i + 1:i + 1 + stride])
        i += 1 + stride
        if ft == 1:
            for x in range(bpp, stride):
                line[x] = (line[x] + line[x - bpp]) & 0xFF
        elif ft == 2:
            line = bytearray((a + b) & 0xFF for a, b in zip(line, prev))
        elif ft == 3:
            for x in range(stride):
                left = line[x - bpp] if x >= bpp else 0
                line[x] = (line[x] + ((left + prev[x]) >> 1)) & 0xFF
        elif ft == 4:
            for x in range(stride):
                a = line[x - bpp] if x >= bpp else 0
                b = prev[x]
                c = prev[x - bpp] if x >= bpp else 0
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pred = a if (pa <= pb and pa <= pc) else (b if pb <= pc else c)
                line[x] = (line[x] + pred) & 0xFF
        elif ft != 0:
            raise AssertionError("%s: bad filter type %d" % (path, ft))
        if ctype == 2:
            px = list(zip(line[0::3], line[1::3], line[2::3]))
        elif ctype == 6:
            px = list(zip(line[0::4], line[1::4], line[2::4]))
        elif ctype == 0:
            px = [(v, v, v) for v in line]
        else:
            px = [(v, v, v) for v in line[0::2]]
        rows.append(px)
        prev = line
    return width, height, rows


def near(px, colour, tol=12):
    return all(abs(a - b) <= tol for a, b in zip(px, colour))


def solid_block(rows, colour, size=4, tol=12):
    """(x, y) of the top-left corner of a size x size block of pixels all
    within tol of colour, or None."""
    hits = [set(x for x, px in enumerate(row) if near(px, colour, tol)) for row in rows]
    for y in range(len(rows) - size + 1):
        for x in hits[y]:
            if all(all((x + dx) in hits[y + dy] for dx in range(size)) for dy in range(size)):
                return x, y
    return None


# ------------------------------------------------------------ terminal
def run_on_pty(argv, env, cols=80, rows=24, timeout=60):
    """Run argv with stdin and stdout on a new pseudo-terminal of cols x rows
    (output post-processing off, so the bytes are the program's own).
    Returns (returncode, stdout bytes, stderr bytes)."""
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
    attrs = termios.tcgetattr(slave)
    attrs[1] &= ~termios.OPOST
    termios.tcsetattr(slave, termios.TCSANOW, attrs)
    proc = subprocess.Popen(P.wrapper() + list(argv), stdin=slave, stdout=slave,
                            stderr=subprocess.PIPE, env=env, start_new_session=True)
    os.close(slave)
    out = bytearray()
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.5)
            if ready:
                try:
                    chunk = os.read(master, 65536)
                except OSError:     # EIO: the slave side is closed
                    break
                if not chunk:
                    break
                out += chunk
            elif proc.poll() is not None:
                break
    finally:
        os.close(master)
        if proc.poll() is None:
            proc.kill()
        proc.wait(10)
    err = proc.stderr.read()
    proc.stderr.close()
    return proc.returncode, bytes(out), err


def bad_characters(text):
    """Characters that must never reach a terminal from mail headers:
    C0/C1 controls (but newline), DEL and bidi controls -- as (index, repr)
    pairs."""
    out = []
    for i, ch in enumerate(text):
        o = ord(ch)
        if ch == "\n":
            continue
        if o < 0x20 or o == 0x7F or 0x80 <= o < 0xA0 or ch in BIDI:
            out.append((i, repr(ch)))
    return out


def context(text, i, width=40):
    return repr(text[max(0, i - width):i + width])


# ------------------------------------------------------------- fixtures
def make_pdfs(directory):
    """(signed, tampered, unsigned) PDF bytes made with tests/gen/pdfsign.py
    (only the three this test needs, not the whole corpus)."""
    pki = pdfsign.make_pki(os.path.join(directory, "pki"))
    base = pdfsign.form_pdf()
    signed, _ = pdfsign.sign_incremental(base, pdfsign.SIGNER_CN, pki.signer_cert,
                                         pki.signer_key, pki.inter_cert)
    # One byte of the signed page text changed, as pdfsign.generate does.
    i = signed.index(b"(Ans\\370gningsskema \\227 Pulje")
    j = signed.index(b"Pulje", i) + 4
    tampered = signed[:j] + b"a" + signed[j + 1:]
    assert len(tampered) == len(signed) and tampered != signed
    unsigned = pdfsign.scanned_pdf(pdfsign.tiny_jpeg())
    return signed, tampered, unsigned


def term_clean(text):
    """What puljectl's term_clean makes of TEXT (src/term.c)."""
    def unsafe(c):
        o = ord(c)
        return (o < 0x20 or 0x7F <= o < 0xA0 or 0x202A <= o <= 0x202E or 0x2066 <= o <= 0x2069
                or o in (0x200E, 0x200F, 0x061C, 0x2028, 0x2029))
    return "".join(" " if unsafe(c) else c for c in text)


def mail(key, subject, idate, from_addr, from_name=None, attachments=(), headers=None,
         body="Hej,\n\nHermed vores ans\u00f8gning.\n\nVenlig hilsen\n"):
    """A message with the given subject byte for byte (RFC 2047 when not
    ASCII or when it holds control characters), Date: = its arrival."""
    raw = M.make_message("placeholder", from_addr=from_addr, from_name=from_name,
                         attachments=list(attachments), extra_headers=headers,
                         message_id="<%s@report.test>" % key, date=iso(idate), body=body)
    if all(0x20 <= ord(c) < 0x7F for c in subject):
        return M.prepend_headers(M.drop_header(raw, "Subject"), [("Subject", subject)])
    return M.with_subject(raw, subject)


def scenario(pdf_signed, pdf_tampered, pdf_unsigned):
    """[(key, raw, INTERNALDATE)] in delivery order, and {key: what is
    expected} for test_a."""
    def pdf(data, name="Ans\u00f8gningsskema.pdf"):
        return (name, "application/pdf", data)

    def app(name):
        return CALL + " \u2013 " + name

    news = {"List-Id": "Nyhedsbrev fra Sundhedsstyrelsen <nyhedsbrev.sst.example.dk>",
            "List-Unsubscribe": "<https://nyhedsbrev.sst.example.dk/afmeld?id=4711>"}
    passwd = b"root:x:0:0:root:/root:/bin/bash\n"
    items = [
        ("aeroe", app(AEROE), "2022-06-10T09:00:00+02:00", "post@aeroe.example.dk",
         [pdf(pdf_signed)], None),
        ("sjaelland", app(SJAELLAND), "2022-06-12T10:00:00+02:00",
         "tilskud@regionsjaelland.example.dk", [pdf(pdf_tampered)], None),
        ("kbh", app(KBH), "2022-06-14T10:00:00+02:00", "puljer@kk.example.dk",
         [pdf(pdf_unsigned, "scannet ans\u00f8gning.pdf")], None),
        ("forening-1", app(FORENING), "2022-06-20T10:00:00+02:00",
         "kasserer@aeoeaa.example.dk", [pdf(pdf_unsigned)], None),
        ("formula", app(FORMULA), "2022-06-21T10:00:00+02:00", "x@formula.example",
         [pdf(pdf_unsigned)], None),
        ("newline", app(NEWLINE), "2022-06-22T10:00:00+02:00", "post@odder.example.dk",
         [pdf(pdf_unsigned)], None),
        ("tagged", app(TAGGED), "2022-06-23T10:00:00+02:00", "raad@nord.example.dk",
         [pdf(pdf_signed)], None),
        ("evil-dotdot", app("Hackerby Kommune"), "2022-06-24T10:00:00+02:00",
         "it@hackerby.example.dk", [pdf(pdf_unsigned, "../../evil.pdf")], None),
        ("evil-absolute", app("Slashby Kommune"), "2022-06-24T11:00:00+02:00",
         "it@slashby.example.dk",
         [("/etc/passwd", "application/octet-stream", passwd), pdf(pdf_unsigned)], None),
        ("review", app("Horsens Kommune"), "2022-06-25T10:00:00+02:00",
         "post@horsens.example.dk", [], None),
        ("newsletter", "Nyhedsbrev juni 2022", "2022-06-26T08:00:00+02:00",
         "nyhedsbrev@sst.example.dk", [], news),
        ("ctrl-news", CTRL_SUBJECT, "2022-06-26T08:05:00+02:00", "nyt@example.dk", [], news),
        ("formula-news", FORMULA_SUBJECT, "2022-06-26T08:10:00+02:00", "spam@example.net",
         [], news),
        ("forening-2", app(FORENING), "2022-06-28T10:00:00+02:00",
         "kasserer@aeoeaa.example.dk", [pdf(pdf_signed)], None),
        ("before-midnight", app("Odense Kommune"), "2022-06-30T23:59:59+02:00",
         "post@odense.example.dk", [pdf(pdf_unsigned)], None),
        # Local midnight written in UTC: on or after --since 2022-07-01.
        ("midnight", app("Aarhus Kommune"), "2022-06-30T22:00:00+00:00",
         "post@aarhus.example.dk", [pdf(pdf_unsigned)], None),
        ("late", app("Vejle Kommune"), "2022-07-02T00:00:10+02:00", "post@vejle.example.dk",
         [pdf(pdf_signed)], None),
        ("call2", CALL2["subject"] + " \u2013 Roskilde Kommune", "2022-08-01T12:00:00+02:00",
         "sundhed@roskilde.example.dk", [pdf(pdf_unsigned)], None),
    ]
    out = [(key, mail(key, subject, idate, frm, attachments=atts, headers=hdrs), idate)
           for key, subject, idate, frm, atts, hdrs in items]
    # An exact duplicate delivery of Ærø Kommune's application (same bytes).
    out.insert(1, ("aeroe-dup", out[0][1], "2022-06-10T09:00:07+02:00"))
    expect = {
        # key: (status, call, applicant or None, form signature or None)
        "aeroe": ("accepted", CALL_ID, AEROE, "valid"),
        "aeroe-dup": ("accepted", CALL_ID, AEROE, "valid"),
        "sjaelland": ("review", CALL_ID, SJAELLAND, "invalid"),  # form:signature-invalid
        "kbh": ("accepted", CALL_ID, KBH, "none"),
        "forening-1": ("accepted", CALL_ID, FORENING, "none"),
        "forening-2": ("accepted", CALL_ID, FORENING, "valid"),
        "formula": ("accepted", CALL_ID, FORMULA, "none"),
        "newline": ("accepted", CALL_ID, None, "none"),
        "tagged": ("accepted", CALL_ID, TAGGED, "valid"),
        "evil-dotdot": ("accepted", CALL_ID, "Hackerby Kommune", "none"),
        "evil-absolute": ("accepted", CALL_ID, "Slashby Kommune", "none"),
        "review": ("review", CALL_ID, "Horsens Kommune", None),
        "newsletter": ("unrelated", None, None, None),
        "ctrl-news": ("unrelated", None, None, None),
        "formula-news": ("unrelated", None, None, None),
        "before-midnight": ("accepted", CALL_ID, "Odense Kommune", "none"),
        "midnight": ("accepted", CALL_ID, "Aarhus Kommune", "none"),
        "late": ("late", CALL_ID, "Vejle Kommune", "valid"),
        "call2": ("accepted", CALL2_ID, "Roskilde Kommune", "none"),
    }
    return out, expect


class ReportTest(PuljedTestCase):
    """The mailbox is ingested once; each test gets a copy of the database."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        t0 = time.monotonic()
        cls.work = tempfile.mkdtemp(prefix="puljed-report-")
        os.chmod(cls.work, 0o755)
        signed, tampered, unsigned = make_pdfs(os.path.join(cls.work, "pdf"))
        cls.pdf = {"signed": signed, "tampered": tampered, "unsigned": unsigned}
        cls.items, cls.expect = scenario(signed, tampered, unsigned)
        cls.dc = Dovecot(workdir=os.path.join(cls.work, "dovecot"), keep=True)
        try:
            cls.uid_key = {}
            for key, raw, idate in cls.items:
                cls.uid_key[cls.dc.append("INBOX", raw, idate)] = key
            # What the server serves (the .eml files must be these bytes).
            cls.served = {cls.uid_key[uid]: cls.dc.fetch_raw(uid) for uid in cls.uid_key}
            cls.dc.close_client()
            cls.db = os.path.join(cls.work, "puljed.db")
            cfg = cls.dc.write_config(os.path.join(cls.work, "puljed.conf"),
                                      database=cls.db, calls=CALLS)
            r = P.puljed(cfg, "--once")
            if r.returncode != P.EXIT_OK:
                raise AssertionError("puljed --once failed\n%s\n--- Dovecot log:\n%s"
                                     % (r.describe(), cls.dc.log_text()[-4000:]))
            cls.ingest_output = r
        finally:
            cls.dc.stop()
        data, r = P.list_json(cfg)
        cls.by_key = {}
        for rec in data:
            cls.by_key[cls.uid_key[rec["uid"]]] = rec
        cls.setup_seconds = time.monotonic() - t0

    @classmethod
    def tearDownClass(cls):
        if os.environ.get("PULJED_KEEP_TMP") in (None, "", "0"):
            cls.dc.cleanup()
            shutil.rmtree(cls.work, ignore_errors=True)
        else:
            sys.stderr.write("kept %s\n" % cls.work)

    def setUp(self):
        super().setUp()
        self.secrets.append(self.dc.password)
        # This test's own copy of the database and a config pointing at it.
        src = sqlite3.connect(self.db)
        dst = sqlite3.connect(self.path("puljed.db"))
        try:
            src.backup(dst)
        finally:
            dst.close()
            src.close()
        self.cfg = self.dc.write_config(self.path("puljed.conf"),
                                        database=self.path("puljed.db"), calls=CALLS)

    # ----------------------------------------------------------- helpers
    def ctl(self, *args, expect=0, env=None):
        """puljectl --config CFG ARGS; Result with .raw (stdout bytes)."""
        argv = P.wrapper() + [self.puljectl_bin, "--config", self.cfg] + list(args)
        try:
            proc = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, timeout=60,
                                  env=env or self.env())
            r = P.Result(argv, proc.returncode, proc.stdout.decode("utf-8", "replace"),
                         proc.stderr.decode("utf-8", "replace"))
            r.raw = proc.stdout
        except subprocess.TimeoutExpired as e:
            r = P.Result(argv, None, (e.stdout or b"").decode("utf-8", "replace"),
                         (e.stderr or b"").decode("utf-8", "replace"), timed_out=True)
            r.raw = e.stdout or b""
        self.runs.append(r)
        self.assertFalse(r.timed_out, "puljectl timed out\n" + r.describe())
        self.check_no_secret(r)
        if expect is not None:
            self.assertEqual(r.returncode, expect, r.describe())
        return r

    def env(self, **extra):
        env = P.clean_env()
        for var in ("NO_COLOR", "COLUMNS", "LINES", "CLICOLOR", "CLICOLOR_FORCE",
                    "FORCE_COLOR"):
            env.pop(var, None)
        env.setdefault("TERM", "xterm-256color")
        env.update(extra)
        return env

    def json_of(self, *args):
        r = self.ctl(*args)
        try:
            return json.loads(r.stdout)
        except ValueError as e:
            self.fail("puljectl %s printed no valid JSON (%s)\n%s"
                      % (" ".join(args), e, r.describe()))

    def recs(self, *filters):
        data = self.json_of("list", "--json", *filters)
        self.assertIsInstance(data, list)
        return data

    def apps(self, *filters):
        data = self.json_of("applications", "--json", *filters)
        self.assertIsInstance(data, list)
        return data

    def parse_csv(self, raw, header, what):
        """Rows (dicts) of CSV bytes, after checking the Excel shape: BOM,
        ';', CRLF after every record, the exact header."""
        self.assertTrue(raw.startswith(b"\xef\xbb\xbf"),
                        "%s does not start with the UTF-8 BOM: %r" % (what, raw[:20]))
        self.assertFalse(raw.startswith(b"\xef\xbb\xbf\xef\xbb\xbf"), "%s: two BOMs" % what)
        self.assertTrue(raw.endswith(b"\r\n"), "%s: last record not ended by CRLF: %r"
                        % (what, raw[-40:]))
        text = raw.decode("utf-8")      # strict: not valid UTF-8 is a failure
        rows = list(csv.reader(io.StringIO(text[1:], newline=""), delimiter=";",
                               strict=True))
        reparsed = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"), newline=""),
                                   delimiter=";", strict=True))
        self.assertEqual(rows, reparsed)
        self.assertTrue(rows, "%s is empty" % what)
        self.assertEqual(rows[0], header, "%s: header row" % what)
        # Every record ends in CRLF; a bare LF or CR only inside quotes.
        unquoted = re.sub(r'"(?:[^"]|"")*"', '""', text[1:])
        self.assertNotIn("\n", unquoted.replace("\r\n", ""),
                         "%s: a bare LF outside quotes" % what)
        self.assertNotIn("\r", unquoted.replace("\r\n", ""),
                         "%s: a bare CR outside quotes" % what)
        self.assertEqual(unquoted.count("\r\n"), len(rows),
                         "%s: %d records but %d CRLFs outside quotes"
                         % (what, len(rows), unquoted.count("\r\n")))
        out = []
        for n, row in enumerate(rows[1:], 2):
            self.assertEqual(len(row), len(header), "%s record %d has %d fields: %r"
                             % (what, n, len(row), row))
            for value in row:
                self.assertNotIn(value[:1], ("=", "+", "-", "@"),
                                 "%s record %d: a field starts with %r (a formula "
                                 "for Excel): %r" % (what, n, value[:1], row))
            out.append(dict(zip(header, row)))
        return out

    def csv_export(self, *args):
        r = self.ctl("export", *args)
        return self.parse_csv(r.raw, MSG_HEADER if "--messages" in args else APP_HEADER,
                              "export " + " ".join(args))

    def assert_field(self, got, want, what):
        """A CSV field against the JSON value it shows: formula-neutralised,
        and with what a terminal must not see raw (C0/C1 controls, DEL, bidi
        overrides and marks, U+2028/9) written as a space."""
        want = term_clean(blank(want))
        self.assertEqual(got, neutralised(want), "%s: CSV %r, JSON says %r" % (what, got, want))

    def expected_app_row(self, app):
        d = app["decision"]
        return csv_fields(APP_COLUMNS, {
            "call": app["call"], "applicant": app["applicant"],
            "messages": app["messages"], "ids": " ".join(str(i) for i in app["ids"]),
            "status": app["status"], "on_time": yes_no(app["on_time"]) or None,
            "first_arrival": app["first_arrival"], "last_arrival": app["last_arrival"],
            "form": yes_no(app["form_attached"]), "form_signature": app["form_signature"],
            "signer": app["signer"], "decision": d["decision"] if d else None,
            "form_signature_text": app["form_signature_text"],
            "why": app["why"],
        })

    def expected_msg_row(self, rec):
        forms = [a for a in rec["attachments"] if a["form"]]
        form = forms[0] if forms else None
        d = rec["decision"]
        return csv_fields(MSG_COLUMNS, {
            "id": rec["id"], "call": rec["call"], "applicant": rec["applicant"],
            "status": rec["status"], "on_time": yes_no(rec["on_time"]) or None,
            "arrival": rec["received_at"], "from": rec["from"], "subject": rec["subject"],
            "form": yes_no(bool(forms)),
            "form_signature": form["signature"] if form else None,
            "signer": form["signer"] if form else None,
            "decision": d["decision"] if d else None,
            "duplicate_of": rec["duplicate_of"],
            "received_at": rec["received_at"], "edge_received_at": rec["edge_received_at"],
            "decided_by": rec["decided_by"],
            "form_signature_text": signature_words(form),
            "why": rec["why"],
        })

    def compare_apps(self, rows, apps, what):
        """CSV rows vs applications --json, one row per application, field
        by field (keyed by call + ids)."""
        self.assertEqual(len(rows), len(apps), "%s: %d rows, applications --json has %d\n%s"
                         % (what, len(rows), len(apps), json.dumps(apps, ensure_ascii=False)))
        by_ids = {(a["call"], " ".join(str(i) for i in a["ids"])): a for a in apps}
        for row in rows:
            key = (row["Opslag"], row["Id'er"])
            self.assertIn(key, by_ids, "%s: a row that is no application: %r" % (what, row))
            want = self.expected_app_row(by_ids.pop(key))
            for field in APP_HEADER:
                self.assert_field(row[field], want[field], "%s %s %s" % (what, key, field))
            self.assertIn(row["Skemaets underskrift"], ("gyldig", "ugyldig", "ingen", ""), row)
            self.assertIn(row["Rettidig"], ("ja", "nej"), row)
            for f in ("Første ankomst", "Seneste ankomst"):
                self.assertIsNotNone(parse_iso(row[f + ", ISO 8601"]).utcoffset(), row)
                self.assertRegex(row[f + " (%s)" % CSV_ZONE],
                                 r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$", row)

    def compare_msgs(self, rows, recs, what):
        self.assertEqual(len(rows), len(recs), "%s: %d rows, list --json has %d"
                         % (what, len(rows), len(recs)))
        by_id = {str(r["id"]): r for r in recs}
        for row in rows:
            self.assertIn(row["Id"], by_id, "%s: unknown record %r" % (what, row))
            want = self.expected_msg_row(by_id.pop(row["Id"]))
            for field in MSG_HEADER:
                if (field == "Underskriften vurderet" and want["Skema"] == "ja"
                        and want[field] is None):
                    # an invalid signature: the words say so, with its reason
                    self.assertTrue(row[field].startswith("UGYLDIG underskrift"), row)
                    continue
                self.assert_field(row[field], want[field],
                                  "%s record %s %s" % (what, row["Id"], field))

    def id_of(self, key):
        return self.by_key[key]["id"]

    # ------------------------------------------------------------ a)
    def test_a_mailbox(self):
        self.assertEqual(set(self.by_key), set(self.expect),
                         "not every appended message was recorded\n"
                         + self.ingest_output.describe())
        for key, (status, call, applicant, sig) in sorted(self.expect.items()):
            rec = self.by_key[key]
            with self.subTest(message=key):
                self.assertEqual(rec["status"], status, rec)
                self.assertEqual(rec["call"], call, rec)
                if applicant is not None:
                    self.assertEqual(rec["applicant"], applicant, rec)
                forms = [a for a in rec["attachments"] if a["form"]]
                if sig is None:
                    self.assertEqual(forms, [], rec)
                else:
                    self.assertEqual(len(forms), 1, rec)
                    self.assertEqual(forms[0]["signature"], sig, rec)
                    if sig == "valid":
                        self.assertEqual(forms[0]["signer"], pdfsign.SIGNER_CN, rec)
                if key != "aeroe-dup":
                    self.assertIsNone(rec["duplicate_of"], rec)
                # The raw message is what the server serves.
                self.assertEqual(rec["sha256"], sha(self.served[key]), rec)
        self.assertEqual(self.by_key["aeroe-dup"]["duplicate_of"], self.id_of("aeroe"))
        self.assertIs(self.by_key["late"]["on_time"], False)
        self.assertEqual(parse_iso(self.by_key["late"]["received_at"]),
                         iso("2022-07-02T00:00:10+02:00"))
        self.assertIs(self.by_key["before-midnight"]["on_time"], True)
        nl = self.by_key["newline"]["applicant"]
        self.assertTrue(nl and nl.startswith("Odder Kommune"), self.by_key["newline"])
        # Applications: the resubmission is one row, the duplicate and the
        # newsletters are none.
        apps = self.apps()
        rows = [a for a in apps if a["applicant"] == FORENING]
        self.assertEqual(len(rows), 1, apps)
        self.assertEqual(sorted(rows[0]["ids"]), sorted([self.id_of("forening-1"),
                                                         self.id_of("forening-2")]))
        self.assertEqual(rows[0]["form_signature"], "valid", rows[0])
        all_ids = [i for a in apps for i in a["ids"]]
        for key in ("aeroe-dup", "newsletter", "ctrl-news", "formula-news"):
            self.assertNotIn(self.id_of(key), all_ids, "%s is in an application" % key)
        self.assertEqual(len(apps), 14, json.dumps(apps, ensure_ascii=False, indent=1))

    # ------------------------------------------------------------ b)
    def test_b_export(self):
        recs = self.recs()
        apps = self.apps()

        # Per application, to stdout and to a file.
        r = self.ctl("export")
        rows = self.parse_csv(r.raw, APP_HEADER, "export")
        self.compare_apps(rows, apps, "export")
        out = self.path("out", "ansøgninger.csv")
        os.makedirs(os.path.dirname(out))
        self.ctl("export", "--output", out)
        with open(out, "rb") as f:
            filed = f.read()
        self.assertEqual(filed, r.raw, "export --output FILE differs from export to stdout")
        self.assertEqual(stat.S_IMODE(os.stat(out).st_mode), 0o640,
                         "puljectl(1): --output writes mode 0640")
        self.assertEqual(os.listdir(os.path.dirname(out)), ["ansøgninger.csv"],
                         "export --output left other files beside FILE")

        # The names come back exactly, Danish letters and all.
        by_app = {row["Ansøger"]: row for row in rows}
        for name in (AEROE, SJAELLAND, KBH, FORENING, TAGGED, "Vejle Kommune"):
            self.assertIn(name, by_app, "applicant %r is not in the export: %s"
                          % (name, sorted(by_app)))
        self.assertIn("'" + FORMULA, by_app, "the formula applicant is not written as "
                      "text with a leading apostrophe: %s" % sorted(by_app))
        self.assertNotIn(FORMULA, by_app)
        self.assertIn(FORENING.encode("utf-8").replace(b'"', b'""'), r.raw,
                      "quotes in a field are not doubled (RFC 4180)")
        fo = by_app[FORENING]
        self.assertEqual((fo["Beskeder"], fo["Skemaets underskrift"], fo["Underskriver"]),
                         ("2", "gyldig", pdfsign.SIGNER_CN), fo)
        self.assertEqual(fo["Id'er"], "%d %d" % (self.id_of("forening-1"),
                                                 self.id_of("forening-2")), fo)
        self.assertEqual(parse_iso(fo["Første ankomst, ISO 8601"]),
                         iso("2022-06-20T10:00:00+02:00"))
        self.assertEqual(parse_iso(fo["Seneste ankomst, ISO 8601"]),
                         iso("2022-06-28T10:00:00+02:00"))
        self.assertEqual(fo["Første ankomst (Europe/Copenhagen)"], "2022-06-20 10:00:00", fo)
        late = by_app["Vejle Kommune"]
        self.assertEqual((late["Status"], late["Rettidig"]), ("For sent", "nej"), late)
        self.assertEqual(late["Første ankomst, ISO 8601"], "2022-07-02T00:00:10+02:00", late)
        self.assertEqual(late["Første ankomst (Europe/Copenhagen)"], "2022-07-02 00:00:10", late)
        self.assertEqual(by_app[SJAELLAND]["Skemaets underskrift"], "ugyldig")
        self.assertEqual(by_app[KBH]["Skemaets underskrift"], "ingen")
        self.assertEqual((by_app["Horsens Kommune"]["Status"],
                          by_app["Horsens Kommune"]["Skema"]), ("Til vurdering", "nej"))
        self.assertEqual(by_app[AEROE]["Beskeder"], "1", "the duplicate delivery counts "
                         "as a message of the application: %r" % by_app[AEROE])
        # Begrundelse: why, in Danish, for what is not plainly accepted.
        self.assertEqual(late["Begrundelse"], "Modtaget 10 sekunder efter fristen", late)
        self.assertEqual(by_app[SJAELLAND]["Begrundelse"],
                         "Ansøgningsskemaets digitale signatur holder ikke", by_app[SJAELLAND])
        self.assertEqual(by_app["Horsens Kommune"]["Begrundelse"], "Ingen vedhæftede filer")
        self.assertEqual(by_app[AEROE]["Begrundelse"], "", by_app[AEROE])
        for row in rows:
            self.assertEqual(row["Begrundelse"] == "", row["Status"] == "Modtaget", row)
            self.assertNotRegex(row["Begrundelse"], RAW_REASON, row)

        # Per message.
        r = self.ctl("export", "--messages")
        mrows = self.parse_csv(r.raw, MSG_HEADER, "export --messages")
        self.compare_msgs(mrows, recs, "export --messages")
        by_id = {row["Id"]: row for row in mrows}
        self.assertEqual(by_id[str(self.id_of("formula-news"))]["Emne"],
                         "'" + FORMULA_SUBJECT)
        self.assertEqual(by_id[str(self.id_of("aeroe-dup"))]["Dublet af"],
                         str(self.id_of("aeroe")))
        self.assertEqual(by_id[str(self.id_of("newsletter"))]["Rettidig"], "")
        self.assertEqual(by_id[str(self.id_of("newsletter"))]["Begrundelse"],
                         "Massemail fra en mailingliste eller et nyhedsbrev")
        self.assertEqual(by_id[str(self.id_of("late"))]["Begrundelse"],
                         "Modtaget 10 sekunder efter fristen")
        for row in mrows:
            self.assertNotRegex(row["Begrundelse"], RAW_REASON, row)
        # list --json and show --json carry the same why beside the reasons.
        for rec in recs:
            self.assertIn("why", rec, rec)
            self.assertIn("reasons", rec, rec)
        late_rec = self.json_of("show", str(self.id_of("late")), "--json")
        self.assertEqual(late_rec["why"], "Modtaget 10 sekunder efter fristen", late_rec)
        self.assertIn("deadline:late(+10s)", late_rec["reasons"], late_rec)

        # JSON: the same rows, as strings or null.
        for args, columns, csv_rows in ((("export",), APP_COLUMNS, rows),
                                        (("export", "--messages"), MSG_COLUMNS, mrows)):
            data = self.json_of(*(args + ("--format", "json")))
            what = " ".join(args) + " --format json"
            self.assertIsInstance(data, list, what)
            self.assertEqual(len(data), len(csv_rows), what)
            for obj, row in zip(data, csv_rows):
                self.assertEqual(list(obj), [c[0] for c in columns],
                                 "%s: keys %r" % (what, list(obj)))
                for k, v in obj.items():
                    self.assertTrue(v is None or isinstance(v, str),
                                    "%s: %s is %r, not a string or null" % (what, k, v))
                    self.assertNotEqual(v, "", "%s: %s is \"\" (null for empty)" % (what, k))
                    for name, want in csv_fields(columns, {k: v}).items():
                        self.assert_field(row[name], want, "%s %s (%s)" % (what, k, name))
            # (--format csv is the default)
            self.assertEqual(self.ctl(*(args + ("--format", "csv"))).raw,
                             self.ctl(*args).raw, what)

        # Filters on export, list and applications, against the unfiltered JSON.
        def msg_ok(rec, status=None, call=None, since=None):
            return ((status is None or rec["status"] in status) and
                    (call is None or rec["call"] == call) and
                    (since is None or parse_iso(rec["received_at"]) >= since))

        cases = [
            ("--call", CALL_ID), ("--call", CALL2_ID), ("--status", "late"),
            ("--status", "accepted,review"), ("--status", "unrelated"),
            ("--since", SINCE_DAY), ("--since", "2022-06-30T22:00:00Z"),
        ]
        for opt, value in cases:
            with self.subTest(filter="%s %s" % (opt, value)):
                status = value.split(",") if opt == "--status" else None
                call = value if opt == "--call" else None
                since = SINCE_INSTANT if opt == "--since" else None
                want_recs = [x for x in recs if msg_ok(x, status, call, since)]
                self.assertTrue(want_recs or opt == "--status", (opt, value))
                got = self.recs(opt, value)
                self.assertEqual(sorted(x["id"] for x in got),
                                 sorted(x["id"] for x in want_recs),
                                 "list --json %s %s" % (opt, value))
                self.compare_msgs(self.csv_export("--messages", opt, value), want_recs,
                                  "export --messages %s %s" % (opt, value))
                # Applications: --call and --since pick the messages that are
                # grouped, --status the applications.
                got_apps = self.apps(opt, value)
                if opt == "--status":
                    want_apps = [a for a in apps if a["status"] in status]
                    self.assertEqual(got_apps, want_apps,
                                     "applications --json %s %s" % (opt, value))
                elif opt == "--call":
                    want_apps = [a for a in apps if a["call"] == call]
                    self.assertEqual(got_apps, want_apps,
                                     "applications --json %s %s" % (opt, value))
                else:
                    grouped = {x["id"] for x in want_recs
                               if x["status"] != "unrelated" and x["duplicate_of"] is None}
                    ids = [i for a in got_apps for i in a["ids"]]
                    self.assertEqual(sorted(ids), sorted(grouped),
                                     "applications --json %s %s: the messages grouped "
                                     "are those that arrived at or after local midnight"
                                     % (opt, value))
                    for a in got_apps:
                        self.assertGreaterEqual(parse_iso(a["first_arrival"]), since, a)
                    want_apps = got_apps
                self.compare_apps(self.csv_export(opt, value), want_apps,
                                  "export %s %s" % (opt, value))
        since = {x["id"] for x in self.recs("--since", SINCE_DAY)}
        self.assertIn(self.id_of("midnight"), since, "arrived at local midnight")
        self.assertNotIn(self.id_of("before-midnight"), since, "arrived at 23:59:59")
        self.assertIn(self.id_of("late"), since)
        both = self.csv_export("--status", "late", "--call", CALL_ID)
        self.assertEqual([row["Ansøger"] for row in both], ["Vejle Kommune"], both)
        # A mistyped call is an error, not an empty export that reads as
        # "no applications".
        for cmd in (("export",), ("export", "--messages"), ("list",), ("applications",)):
            r = self.ctl(*cmd, "--call", "no-such-call", expect=None)
            self.assertEqual(r.returncode, P.EXIT_CONFIG, r.describe())
            self.assertIn('no call "no-such-call"', r.stderr, r.describe())
            self.assertIn(CALL_ID, r.stderr, r.describe())
            self.assertEqual(r.stdout, "", r.describe())

        # decide: the decision shows in every export.
        sid = self.id_of("sjaelland")
        self.ctl("decide", str(sid), "accept", "--note", NOTE)
        rows = self.csv_export()
        self.compare_apps(rows, self.apps(), "export after decide")
        dec = {row["Ansøger"]: row["Afgørelse"] for row in rows}
        self.assertEqual(dec[SJAELLAND], "Godkendt", rows)
        self.assertEqual([a for a, d in dec.items() if d], [SJAELLAND], dec)
        mrows = {row["Id"]: row for row in self.csv_export("--messages")}
        self.assertEqual(mrows[str(sid)]["Afgørelse"], "Godkendt", mrows[str(sid)])
        data = self.json_of("export", "--format", "json")
        self.assertEqual([o["decision"] for o in data if o["applicant"] == SJAELLAND],
                         ["accept"])

        # Bad values: exit 2, a message naming the option, nothing written.
        bad = self.path("bad.csv")
        for args, option in [
                (("export", "--status", "bogus"), "--status"),
                (("export", "--since", "yesterday"), "--since"),
                (("export", "--format", "xml"), "--format"),
                (("export", "--format", "xml", "--output", bad), "--format"),
                (("export", "--status", "accepted,bogus", "--output", bad), "--status"),
                (("list", "--status", "bogus"), "--status"),
                (("applications", "--since", "yesterday"), "--since"),
                (("list", "--messages"), "--messages"),
                (("--color", "sometimes", "list"), "--color")]:
            with self.subTest(bad=" ".join(args)):
                r = self.ctl(*args, expect=None)
                self.assertEqual(r.returncode, P.EXIT_CONFIG, r.describe())
                self.assertIn(option, r.stderr, "the message does not name %s\n%s"
                              % (option, r.describe()))
                self.assertEqual(r.stdout, "", r.describe())
                self.assertFalse(os.path.exists(bad), "a file was written\n" + r.describe())

    # ------------------------------------------------------------ c)
    def check_links(self, outdir, page):
        """Every href/src of the page: relative, inside outdir, existing."""
        real = os.path.realpath(outdir)
        targets = set()
        for tag, attrs in page.tags:
            self.assertNotIn(tag, ("script", "link", "iframe", "object", "embed", "base"),
                             "<%s> in the report: %r" % (tag, attrs))
            for name, value in attrs.items():
                if name.startswith("on"):
                    self.fail("event handler %s=%r on <%s>" % (name, value, tag))
                if name not in ("href", "src", "xlink:href", "srcset", "poster", "data",
                                "action", "formaction"):
                    continue
                value = value or ""
                self.assertNotEqual(name, "src", "<%s src=%r>: no embedded or external "
                                    "assets" % (tag, value))
                parts = urllib.parse.urlsplit(value)
                self.assertEqual((parts.scheme, parts.netloc), ("", ""),
                                 "<%s %s=%r> is not a relative link" % (tag, name, value))
                if not parts.path:
                    continue    # "#fragment" on the page itself
                path = urllib.parse.unquote(parts.path, errors="strict")
                self.assertFalse(path.startswith("/"), "absolute path %r" % value)
                self.assertNotIn("..", path.split("/"), "'..' in link %r" % value)
                self.assertNotIn("\\", path, "backslash in link %r" % value)
                full = os.path.realpath(os.path.join(outdir, path))
                self.assertTrue(full.startswith(real + os.sep),
                                "link %r leaves the report directory" % value)
                self.assertTrue(os.path.isfile(full), "link %r points at no file" % value)
                targets.add(os.path.relpath(full, real))
        return targets

    def soffice_xlsx(self, csv_path):
        """CSV_PATH converted by LibreOffice headless, as Danish Calc
        imports it (';', '"', UTF-8, from line 1, Danish locale); the
        workbook's first sheet as rows of cell values (openpyxl)."""
        self.assertTrue(shutil.which(SOFFICE), "%s is missing: apt-get install "
                        "libreoffice-calc-nogui (scripts/install-deps.sh installs it)" % SOFFICE)
        try:
            import openpyxl
        except ImportError:
            self.fail("openpyxl is missing: apt-get install python3-openpyxl "
                      "(scripts/install-deps.sh installs it)")
        home = self.path("soffice-home")
        outdir = self.path("soffice-out")
        os.makedirs(home, exist_ok=True)
        env = dict(os.environ, HOME=home, LC_ALL="C.UTF-8")
        env.pop("DBUS_SESSION_BUS_ADDRESS", None)
        argv = [SOFFICE, "--headless", "-env:UserInstallation=file://" + urllib.parse.quote(home),
                "--infilter=CSV:59,34,76,1,,1030", "--convert-to", "xlsx", "--outdir", outdir,
                csv_path]
        proc = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, env=env, timeout=120)
        xlsx = os.path.join(outdir, os.path.splitext(os.path.basename(csv_path))[0] + ".xlsx")
        self.assertTrue(os.path.isfile(xlsx), "soffice wrote no %s (exit %d):\n%s"
                        % (xlsx, proc.returncode, proc.stdout.decode("utf-8", "replace")))
        sheet = openpyxl.load_workbook(xlsx).worksheets[0]
        return [list(r) for r in sheet.iter_rows(values_only=True)]

    def test_b_export_libreoffice(self):
        """The CSV as a spreadsheet opens it: LibreOffice Calc reads the date
        columns as dates and times (equal to the Danish-time arrival), the
        ISO 8601 columns as text, and the Danish letters survive."""
        cph = zoneinfo.ZoneInfo(CSV_ZONE)
        for args, header, iso_cols in (
                ((), APP_HEADER, ("Første ankomst", "Seneste ankomst")),
                (("--messages",), MSG_HEADER, ("Ankomst", "Mailserverens modtagelse"))):
            with self.subTest(export=" ".join(args)):
                out = self.path("calc", "ansøgninger%s.csv" % "-".join(args))
                os.makedirs(os.path.dirname(out), exist_ok=True)
                self.ctl("export", *args, "--output", out)
                with open(out, "rb") as f:
                    rows = self.parse_csv(f.read(), header, "export " + " ".join(args))
                cells = self.soffice_xlsx(out)
                self.assertEqual(cells[0], header, "the header as Calc reads it")
                self.assertEqual(len(cells), len(rows) + 1, cells)
                dates = 0
                for row, got in zip(rows, cells[1:]):
                    got = dict(zip(header, got))
                    if not row["Ansøger"].startswith("'"):     # a neutralised formula
                        self.assertEqual(got["Ansøger"] or "", row["Ansøger"], (row, got))
                    for col in iso_cols:
                        local, text = got[col + " (%s)" % CSV_ZONE], got[col + ", ISO 8601"]
                        if not row[col + ", ISO 8601"]:
                            self.assertIsNone(local, (col, got))
                            continue
                        self.assertIsInstance(local, dt.datetime, "%s is no date to Calc: %r"
                                              % (col, got))
                        want = parse_iso(row[col + ", ISO 8601"]).astimezone(cph)
                        self.assertEqual(local, want.replace(tzinfo=None), (col, got))
                        self.assertEqual(text, row[col + ", ISO 8601"], (col, got))
                        dates += 1
                self.assertGreater(dates, len(rows) - 1, "too few dates were checked")
                names = {dict(zip(header, c))["Ansøger"] for c in cells[1:]}
                for name in (AEROE, SJAELLAND, KBH, FORENING):
                    self.assertIn(name, names, "a Danish name did not survive Calc")
                first = "Første ankomst" if not args else "Ankomst"
                late = [dict(zip(header, c)) for c in cells[1:]
                        if dict(zip(header, c))["Ansøger"] == "Vejle Kommune"]
                self.assertTrue(late, cells)
                self.assertEqual(late[0][first + " (%s)" % CSV_ZONE],
                                 dt.datetime(2022, 7, 2, 0, 0, 10), late[0])

    def test_c_report(self):
        recs = self.recs()
        by_id = {r["id"]: r for r in recs}
        shown = {r["id"]: self.json_of("show", str(r["id"]), "--json") for r in recs}
        # A decision whose note is HTML.
        self.ctl("decide", str(self.id_of("sjaelland")), "accept", "--note", NOTE)
        apps = self.apps()
        reported = [r for r in recs if r["status"] != "unrelated" and r["duplicate_of"] is None]
        system = {}
        for p in ("/etc/passwd", "/evil.pdf", "/etc/evil.pdf", "/tmp/evil.pdf"):
            try:
                with open(p, "rb") as f:
                    system[p] = (sha(f.read()), os.stat(p).st_mtime_ns)
            except OSError as e:
                system[p] = e.errno
        out = self.path("work", "deep", "rapport")
        os.makedirs(os.path.dirname(out))
        before = snapshot(self.tmp)

        r = self.ctl("report", "--output", out)
        self.assertTrue(os.path.isfile(os.path.join(out, "index.html")), r.describe())
        after = snapshot(self.tmp, skip=[out])
        changed = {k: v for k, v in after.items() if before.get(k) != v}
        changed.update({k: None for k in before if k not in after})
        self.assertEqual(changed, {}, "report changed things outside DIR: %s"
                         % sorted(changed))
        for p, was in system.items():
            try:
                with open(p, "rb") as f:
                    now = (sha(f.read()), os.stat(p).st_mtime_ns)
            except OSError as e:
                now = e.errno
            self.assertEqual(now, was, "%s was changed by report" % p)

        # Only index.html, messages/ID.eml and attachments/ID/NAME, safe names.
        files = {}
        for dirpath, dirnames, filenames in os.walk(out):
            for n in dirnames + filenames:
                p = os.path.join(dirpath, n)
                st = os.lstat(p)
                rel = os.path.relpath(p, out)
                self.assertFalse(stat.S_ISLNK(st.st_mode), "report made a symlink %s" % rel)
                comps = rel.split(os.sep)
                for c in comps:
                    self.assertNotIn(c, ("", ".", ".."), rel)
                    self.assertFalse(c.startswith((".", "-")), "unsafe name %r" % rel)
                    self.assertEqual(bad_characters(c), [], "control character in %r" % rel)
                    self.assertLessEqual(len(c.encode("utf-8")), 255, rel)
                    self.assertFalse(any(ch in c for ch in '<>:"|?*\\'), "unsafe name %r" % rel)
                if stat.S_ISREG(st.st_mode):
                    with open(p, "rb") as f:
                        files[rel] = f.read()
        layout = re.compile(r"^(index\.html|messages/\d+\.eml|attachments/\d+/[^/]+)$")
        for rel in files:
            self.assertRegex(rel, layout, "unexpected file in the report: %r" % rel)

        # The raw messages: byte for byte (show --json sha256, and what the
        # server serves), one per reported message, nothing else.
        emls = {int(rel[len("messages/"):-4]): data for rel, data in files.items()
                if rel.startswith("messages/")}
        self.assertEqual(sorted(emls), sorted(r["id"] for r in reported),
                         "messages/ should hold exactly the non-unrelated, non-duplicate "
                         "messages")
        key_of = {rec["id"]: key for key, rec in self.by_key.items()}
        for i, data in emls.items():
            self.assertEqual(sha(data), shown[i]["sha256"],
                             "messages/%d.eml is not the raw message" % i)
            self.assertEqual(len(data), shown[i]["size"], "messages/%d.eml" % i)
            self.assertTrue(data == self.served[key_of[i]],
                            "messages/%d.eml is not what the server serves" % i)

        # Attachments: by hash, against list --json; safe names.
        atts = {}
        for rel, data in files.items():
            if rel.startswith("attachments/"):
                _, rid, name = rel.split("/")
                atts.setdefault(int(rid), []).append((name, sha(data)))
        want = {r["id"]: sorted(a["sha256"] for a in r["attachments"])
                for r in reported if r["attachments"]}
        self.assertEqual({i: sorted(h for _n, h in v) for i, v in atts.items()}, want,
                         "attachments/ID/ hashes differ from list --json")
        evil = atts[self.id_of("evil-dotdot")]
        self.assertEqual(len(evil), 1, evil)
        self.assertNotIn("/", evil[0][0])
        slash = dict(atts[self.id_of("evil-absolute")])
        self.assertEqual(len(slash), 2, slash)
        self.assertFalse(os.path.exists(os.path.join(out, "evil.pdf")))
        self.assertFalse(os.path.exists(self.path("work", "evil.pdf")))

        # The page.
        raw = files["index.html"]
        text = raw.decode("utf-8")
        low = text.lower()
        for needle in ("<script", "<link", "javascript:", "@import", "url(http",
                       "url(//", "<iframe", "<img", "<object", "<embed"):
            i = low.find(needle)
            self.assertEqual(i, -1, "the report is not self-contained: %r at %s"
                             % (needle, context(text, i, 120)))
        self.assertIsNone(re.search(r"(src|href)\s*=\s*[\"']?\s*(https?:)?//", low),
                          "a link or asset on another host")
        page = parse_page(text)
        targets = self.check_links(out, page)
        for i in emls:
            self.assertIn("messages/%d.eml" % i, targets, "no link to message %d" % i)
        for i, v in atts.items():
            for name, _h in v:
                self.assertIn("attachments/%d/%s" % (i, name), targets,
                              "no link to attachment %s of message %d" % (name, i))
        page_text = re.sub(r"\s+", " ", "".join(page.text))

        # Names (escaped in the markup, intact in the text).
        for a in apps:
            name = a["applicant"]
            if name is None:
                continue
            with self.subTest(applicant=name):
                shown_name = re.sub(r"\s+", " ", name)
                self.assertTrue(shown_name in page_text or name in "".join(page.text),
                                "applicant %r is not on the page" % name)
                if any(c in name for c in "<>&") and "\n" not in name:
                    self.assertTrue(html.escape(name, quote=False) in text or
                                    html.escape(name, quote=True) in text,
                                    "%r is not HTML-escaped" % name)
        self.assertNotIn("<b>Nord</b>", text, "the applicant's markup reached the page")
        self.assertNotIn(TAGGED, text)
        self.assertIn(NOTE, "".join(page.text), "the decision's note is not on the page")
        self.assertIn(html.escape("<script>", quote=False), text)
        for name in (AEROE, SJAELLAND, KBH):
            self.assertIn(name, text, "Danish letters: %r" % name)

        # The deadline, the counts, the unrelated ones.
        self.assertIn("1. juli 2022", page_text, "the deadline in Danish")
        self.assertIn("15. september 2022", page_text, "the second call's deadline")
        self.assertIn(CALL, page_text)
        self.assertIn(CALL2["subject"], page_text)
        call1 = page_text[page_text.index(CALL):page_text.index(CALL2["subject"])] \
            if page_text.index(CALL) < page_text.index(CALL2["subject"]) \
            else page_text[page_text.index(CALL):]
        for status, word in STATUS_DA.items():
            n_msgs = len([r for r in reported if r["call"] == CALL_ID and r["status"] == status])
            n_apps = len([a for a in apps if a["call"] == CALL_ID and a["status"] == status])
            m = re.search(re.escape(word) + r"\s*:?\s*(\d+)", call1)
            self.assertIsNotNone(m, "no count for %s (%s) in the call's section" % (status, word))
            self.assertIn(int(m.group(1)), (n_msgs, n_apps),
                          "count for %s is %s; %d messages, %d applications"
                          % (status, m.group(1), n_msgs, n_apps))
        # The why beside the status: after the status badge, in Danish,
        # for every reported record that has one; never a raw reason.
        for rec in reported:
            if rec["why"]:
                self.assertIn(html.escape(rec["why"], quote=False), text, rec)
        self.assertRegex(text, r'class="badge s-late">For sent</span><div class="why">'
                         r'Modtaget 10 sekunder efter fristen</div>')
        whys = re.findall(r'<div class="why">(.*?)</div>', text)
        self.assertGreaterEqual(len(whys), 4, whys)
        for w in whys:
            self.assertNotRegex(html.unescape(w), RAW_REASON, whys)
        n_unrelated = len([r for r in recs if r["status"] == "unrelated"])
        self.assertRegex(page_text, r"(?i)(ikke|unrelated|uden)[^.\d]{0,80}\b%d\b" % n_unrelated,
                         "the number of unrelated messages (%d)" % n_unrelated)

        # The timeline: inline SVG, one mark per reported message.
        self.assertIn("<svg", text, "no inline SVG")
        circles = [t for t in page.tags if t[0] == "circle"]
        self.assertEqual(len(circles), len(reported),
                         "one <circle> per non-unrelated, non-duplicate message: %d of %d"
                         % (len(circles), len(reported)))

        # Again into the same directory: refused, nothing changed.
        snap = snapshot(out)
        r = self.ctl("report", "--output", out, expect=None)
        self.assertEqual(r.returncode, 1, r.describe())
        self.assertEqual(snapshot(out), snap, "a second report changed DIR")
        # Unknown call: a usage error, no report.
        other = self.path("work", "other")
        r = self.ctl("report", "--output", other, "--call", "unknown", expect=None)
        self.assertEqual(r.returncode, P.EXIT_CONFIG, r.describe())
        self.assertIn("unknown", r.stderr, r.describe())
        if os.path.exists(other):
            self.assertEqual(os.listdir(other), [], "report --call unknown wrote files")
        # One call only.
        one = self.path("work", "one")
        self.ctl("report", "--output", one, "--call", CALL_ID)
        with open(os.path.join(one, "index.html"), encoding="utf-8") as f:
            text1 = f.read()
        self.assertIn(AEROE, text1)
        self.assertNotIn("Roskilde", text1, "--call %s reported the other call" % CALL_ID)
        self.assertFalse(os.path.exists(os.path.join(
            one, "messages", "%d.eml" % self.id_of("call2"))))

    # ------------------------------------------------------------ d)
    def chromium(self, *args, timeout=90):
        """Run headless Chromium (its own HOME and profile); Result."""
        return C.run(self, *args, timeout=timeout)

    def test_d_chromium(self):
        out = self.path("rapport")
        self.ctl("report", "--output", out)
        url = "file://" + urllib.parse.quote(os.path.join(out, "index.html"))
        png = self.path("page.png")
        # Tall enough for the pool overview above the first call's timeline.
        r = self.chromium("--window-size=1200,3200", "--screenshot=" + png, url)
        self.assertTrue(os.path.isfile(png), "no screenshot\n" + r.describe())
        width, height, rows = read_png(png)
        self.assertEqual((width, height), (1200, 3200), "screenshot size")
        colours = {}
        for row in rows[::2]:
            for px in row[::2]:
                colours[px] = colours.get(px, 0) + 1
        self.assertGreater(len(colours), 50, "the page looks blank: %d colours" % len(colours))
        white = colours.get((255, 255, 255), 0)
        self.assertLess(white, 0.98 * sum(colours.values()), "the page is almost all white")
        red = sum(n for c, n in colours.items() if near(c, DEADLINE_RED))
        green = sum(n for c, n in colours.items() if near(c, ACCEPTED_GREEN))
        self.assertGreater(red, 20, "no deadline red (#c62828) on the page")
        self.assertGreater(green, 20, "no accepted green (#2e7d32) on the page")
        # Solid marks, not just coloured text: the SVG was drawn.
        self.assertIsNotNone(solid_block(rows, ACCEPTED_GREEN),
                             "no solid accepted-green mark (an SVG circle) in the PNG")
        self.assertIsNotNone(solid_block(rows, DEADLINE_RED),
                             "no solid deadline-red mark (the late message) in the PNG")

        pdf = self.path("page.pdf")
        r = self.chromium("--no-pdf-header-footer", "--print-to-pdf=" + pdf, url)
        self.assertTrue(os.path.isfile(pdf) and os.path.getsize(pdf) > 1000,
                        "no PDF\n" + r.describe())
        printed = C.printed_text(self, pdf)
        for word in ("Ans\u00f8gninger", AEROE, "Frist", "For sent", "Sj\u00e6lland",
                     "K\u00f8benhavns", "1. juli 2022"):
            self.assertIn(word, printed, "%r is not in the printed page:\n%s"
                          % (word, printed[:3000]))

    # ------------------------------------------------------------ e)
    def check_clean(self, text, what, width=None, colour=False):
        """No raw control character or bidi override; lines fit width.
        colour: SGR sequences are allowed (and removed before checking)."""
        plain = SGR.sub("", text) if colour else text
        bad = bad_characters(plain)
        self.assertEqual(bad, [], "%s: raw control characters %s, e.g. at %s"
                         % (what, bad[:5], context(plain, bad[0][0]) if bad else ""))
        if width:
            for n, line in enumerate(plain.split("\n"), 1):
                self.assertLessEqual(len(line), width, "%s line %d is %d columns:\n%r"
                                     % (what, n, len(line), line))
        for needle in ("\x1b[31mR\u00d8D", "\x1b]0;pwned", "\x1b[2J", "\u202eFDP"):
            self.assertNotIn(needle, text, "%s: the subject's %r reached the output"
                             % (what, needle))

    def test_e_terminal(self):
        ctrl = str(self.id_of("ctrl-news"))
        commands = [("list",), ("applications",), ("list", "--status", "unrelated"),
                    ("show", ctrl), ("show", str(self.id_of("newline")))]
        # Not a terminal: no escape sequence at all, 80 columns.
        for args in commands:
            with self.subTest(pipe=" ".join(args)):
                r = self.ctl(*args)
                self.assertTrue(r.stdout.strip(), r.describe())
                self.assertNotIn("\x1b", r.stdout, "escape sequence without a terminal\n"
                                 + r.describe())
                self.check_clean(r.stdout, " ".join(args),
                                 width=80 if args[0] != "show" else None)
        listing = self.ctl("list", "--status", "unrelated").stdout
        self.assertIn("Nyhedsbrev", listing, "the unrelated subjects are not listed")
        # --color always: colour, still clean, still 80 columns.
        for args in (("list",), ("applications",)):
            with self.subTest(always=" ".join(args)):
                r = self.ctl("--color", "always", *args)
                self.assertRegex(r.stdout, SGR, "--color always printed no colour\n"
                                 + r.describe())
                self.check_clean(r.stdout, "--color always " + " ".join(args), width=80,
                                 colour=True)
                never = self.ctl("--color", "never", *args).stdout
                self.assertEqual(SGR.sub("", r.stdout), never,
                                 "--color always differs from never in more than colour")
        # On a terminal: colour by default, none with NO_COLOR.
        for args in (("list",), ("applications",), ("show", ctrl)):
            with self.subTest(tty=" ".join(args)):
                argv = [self.puljectl_bin, "--config", self.cfg, "--color", "auto"] + list(args)
                rc, out, err = run_on_pty(argv, self.env(), cols=80)
                self.assertEqual(rc, 0, err)
                out = out.decode("utf-8")
                if args[0] != "show":
                    self.assertRegex(out, SGR, "no colour on a terminal")
                self.check_clean(out, "tty " + " ".join(args),
                                 width=80 if args[0] != "show" else None, colour=True)
                rc, out, err = run_on_pty(argv, self.env(NO_COLOR="1"), cols=80)
                self.assertEqual(rc, 0, err)
                out = out.decode("utf-8")
                self.assertNotIn("\x1b", out, "NO_COLOR=1: escape sequences on a terminal")
                self.check_clean(out, "NO_COLOR tty " + " ".join(args),
                                 width=80 if args[0] != "show" else None)

    def test_f_machine_output_on_terminal(self):
        """Export and --json on a terminal: no raw control characters.

        puljectl(1): control characters and bidi overrides from mail headers
        never reach the terminal -- also when export or --json is printed on
        one (JSON may escape them as \\u001b; CSV must not carry them raw
        to a terminal).  Stricter than the issue's wording; see the report."""
        for args in (("export", "--messages"), ("list", "--json"),
                     ("show", str(self.id_of("ctrl-news")), "--json")):
            with self.subTest(tty=" ".join(args)):
                argv = [self.puljectl_bin, "--config", self.cfg] + list(args)
                rc, out, err = run_on_pty(argv, self.env(), cols=80)
                self.assertEqual(rc, 0, err)
                out = out.decode("utf-8-sig").replace("\r\n", "\n")
                self.check_clean(out, "tty " + " ".join(args))


    # ------------------------------------------------------------ g)
    def expected_summary(self, apps):
        """The overview of `applications --json`, counted here."""
        out = {}
        for a in apps:
            c = out.setdefault(a["call"], {
                "call": a["call"], "applications": 0,
                "by_status": {"accepted": 0, "late": 0, "review": 0},
                "on_time": 0, "late": 0, "on_time_unknown": 0,
                "with_form": 0, "without_form": 0,
                "form_signature": {"valid": 0, "invalid": 0, "none": 0},
                "by_day": {}, "review": [], "undecided": []})
            c["applications"] += 1
            c["by_status"][a["status"]] += 1
            c[{True: "on_time", False: "late", None: "on_time_unknown"}[a["on_time"]]] += 1
            c["with_form" if a["form_attached"] else "without_form"] += 1
            if a["form_attached"]:
                c["form_signature"][a["form_signature"]] += 1
            day = a["first_arrival"][:10]
            c["by_day"][day] = c["by_day"].get(day, 0) + 1
            if a["status"] == "review":
                c["review"].append(a)
            elif a["decision"] is None:
                c["undecided"].append(a)
        for c in out.values():
            c["by_day"] = [{"day": d, "applications": n} for d, n in sorted(c["by_day"].items())]
            c["need_a_person"] = [{"id": a["ids"][0], "applicant": a["applicant"],
                                   "status": a["status"],
                                   "decision": a["decision"] and a["decision"]["decision"],
                                   "why": a["why"]}
                                  for a in c.pop("review") + c.pop("undecided")]
        return out

    def test_g_summary(self):
        """Issue 18 item 8: `summary` and the report's overview agree with
        `applications --json`, count for count; review and undecided first."""
        # One application decided (it leaves the list), one review decided
        # (it stays: review always needs a person).
        apps = self.apps()
        review = [a for a in apps if a["status"] == "review"]
        accepted = [a for a in apps if a["status"] == "accepted" and a["decision"] is None]
        self.assertTrue(review and accepted, "the scenario lacks review or accepted")
        decided = accepted[0]["ids"][0]
        self.ctl("decide", str(decided), "accept", "--note", "ok")
        self.ctl("decide", str(review[0]["ids"][0]), "reject", "--note", "nej")
        apps = self.apps()
        want = self.expected_summary(apps)
        got = self.json_of("summary", "--json")
        self.assertEqual([c["call"] for c in got], sorted(want))
        for c in got:
            with self.subTest(call=c["call"]):
                self.assertEqual(c, want[c["call"]])
                self.assertTrue(c["need_a_person"])
        ids = [p["id"] for c in got for p in c["need_a_person"]]
        self.assertNotIn(decided, ids, "a decided application needs no one")
        self.assertIn(review[0]["ids"][0], ids, "a decided review still needs a person")
        self.assertTrue(sum(c["by_status"]["late"] for c in got), "the scenario has a late one")
        self.assertTrue(sum(c["form_signature"]["valid"] for c in got))
        self.assertTrue(sum(c["form_signature"]["invalid"] for c in got))
        self.assertTrue(sum(c["without_form"] for c in got))

        # --call: that call alone, the same counts.
        one = self.json_of("summary", "--json", "--call", CALL_ID)
        self.assertEqual(one, [want[CALL_ID]])
        self.ctl("summary", "--call", "unknown", expect=2)
        self.ctl("summary", "--status", "review", expect=2)

        # The human form: every call, every count line, the ids listed.
        text = self.ctl("summary").stdout
        for c in got:
            self.assertIn(c["call"], text)
            self.assertIn("valid %d, invalid %d, unsigned %d" % (
                c["form_signature"]["valid"], c["form_signature"]["invalid"],
                c["form_signature"]["none"]), text)
            for p in c["need_a_person"]:
                self.assertIn("#%d " % p["id"], text)
                if p["status"] != "accepted":   # undecided accepted ones may have none
                    self.assertTrue(p["why"], "a review or late application says why: %r" % p)
        self.check_clean(text, "summary", width=80)

        # The report: the overview first on the page, the same numbers.
        out = self.path("rapport-overblik")
        self.ctl("report", "--output", out)
        with open(os.path.join(out, "index.html"), encoding="utf-8") as f:
            page = f.read()
        at = page.find('id="overblik"')
        self.assertGreater(at, 0, "no overview in the report")
        first_call = page.find('<section class="call">')
        self.assertGreater(first_call, at, "the overview is not at the top")
        for c in got:
            with self.subTest(report=c["call"]):
                start = page.find('data-call="%s"' % html.escape(c["call"]), at, first_call)
                self.assertGreater(start, 0)
                end = page.find('<table class="overview" data-call=', start + 1)
                part = page[start:end if end > 0 else first_call]
                cells = dict(re.findall(r'data-k="([^"]+)">(\d+)<', part))
                self.assertEqual(cells, {
                    "applications": str(c["applications"]),
                    "status-accepted": str(c["by_status"]["accepted"]),
                    "status-review": str(c["by_status"]["review"]),
                    "status-late": str(c["by_status"]["late"]),
                    "on_time": str(c["on_time"]), "late": str(c["late"]),
                    "on_time_unknown": str(c["on_time_unknown"]),
                    "with_form": str(c["with_form"]), "without_form": str(c["without_form"]),
                    "form-valid": str(c["form_signature"]["valid"]),
                    "form-invalid": str(c["form_signature"]["invalid"]),
                    "form-none": str(c["form_signature"]["none"])})
                days = re.findall(r'data-day="([^"]+)">(\d+)<', part)
                self.assertEqual(days, [(d["day"], str(d["applications"])) for d in c["by_day"]])
                rows = [int(i) for i in re.findall(r'<tr data-id="(\d+)">', part)]
                self.assertEqual(rows, [p["id"] for p in c["need_a_person"]])

    def test_h_one_time_zone(self):
        """Issue 18 item 2: `show` (recorded at, decisions), `status` and the
        report's "dannet" time are in the calls' zone (Europe/Copenhagen),
        labelled, also when puljectl runs in another zone (TZ=UTC, as on a
        server); --json keeps ISO 8601 with an offset."""
        cph = zoneinfo.ZoneInfo(CSV_ZONE)
        utc = self.env(TZ="UTC")

        def human(iso):
            t = parse_iso(iso).astimezone(cph)
            return t.strftime("%Y-%m-%d %H:%M:%S ") + t.tzname()

        rid = self.id_of("late")
        self.ctl("decide", str(rid), "reject", "--note", "for sent", env=utc)
        shown = json.loads(self.ctl("show", str(rid), "--json", env=utc).stdout)
        self.assertIsNotNone(parse_iso(shown["recorded_at"]).utcoffset(), shown)
        text = self.ctl("show", str(rid), env=utc).stdout
        self.assertRegex(text, r"(?m)^Recorded: +%s$" % re.escape(human(shown["recorded_at"])),
                         "show's Recorded is not in Danish time, labelled:\n" + text)
        decisions = shown.get("decisions") or [shown["decision"]]
        at = decisions[-1]["at"]
        self.assertIsNotNone(parse_iso(at).utcoffset(), shown)
        self.assertIn(" at %s" % human(at), text,
                      "show's decision is not in Danish time, labelled:\n" + text)

        status = json.loads(self.ctl("status", "--json", env=utc, expect=None).stdout)
        self.assertIsNotNone(parse_iso(status["last_poll"]).utcoffset(), status)
        text = self.ctl("status", env=utc, expect=None).stdout
        self.assertRegex(text, r"(?m)^Last poll: +%s" % re.escape(human(status["last_poll"])),
                         "status's Last poll is not in Danish time, labelled:\n" + text)

        out = self.path("rapport-tz")
        before = dt.datetime.now(cph)
        self.ctl("report", "--output", out, env=utc)
        after = dt.datetime.now(cph)
        with open(os.path.join(out, "index.html"), encoding="utf-8") as f:
            page = f.read()
        m = re.search(r"dannet (\d{4}-\d\d-\d\d \d\d:\d\d) \(Europe/Copenhagen\)", page)
        self.assertTrue(m, "the report's time is not named Europe/Copenhagen: %r"
                        % page[page.find("dannet"):][:60])
        made = dt.datetime.strptime(m.group(1), "%Y-%m-%d %H:%M").replace(tzinfo=cph)
        self.assertTrue(before.replace(second=0, microsecond=0) <= made <= after,
                        "dannet %s, but it ran between %s and %s" % (made, before, after))

if __name__ == "__main__":
    unittest.main(verbosity=2)
