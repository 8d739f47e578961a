#!/usr/bin/python3
"""A hostile corpus for puljed: messages built to hurt a MIME parser.

Library::

    from gen import hostile
    for name, raw in hostile.corpus():          # deterministic (seeded)
        ...
    hostile.corpus(large=False)                 # without the 25 MB one
    hostile.NAMES, hostile.CONTRACT, hostile.EXTRA

CLI::

    /usr/bin/python3 tests/gen/hostile.py OUTDIR [--seed N] [--no-large] [--only NAME ...]

writes OUTDIR/NAME.eml for each message.  Nothing here is committed: the
25 MB attachment in particular is made at test time (about 36 MB on the wire).

The messages (CRLF line endings unless the point is otherwise):

Contract (issue "hostile corpus"):

* ``deep-300``: multipart/mixed nested 300 levels, a PDF at the bottom.
* ``parts-20000``: one multipart/mixed with 20,000 parts: a text body, a PDF
  and 19,998 tiny named application/octet-stream parts.
* ``subject-1mb``: a Subject: field of 1 MiB, folded at 76 columns, starting
  with the call's subject; a text body and a PDF.
* ``nul-headers``: NUL bytes inside header names and values (From, Subject,
  Message-ID, X- fields, the PDF part's Content-Disposition file name).
* ``bad-base64``: a PDF whose base64 has invalid characters, padding in the
  middle and a truncated final quantum.
* ``no-closing-boundary``: multipart/mixed (text + PDF) without its final
  ``--boundary--`` line.
* ``random-bytes``: 64 KiB of random bytes, no header structure.
* ``headers-only``: a header block (with a multipart Content-Type) and no
  blank line and no body.
* ``attachment-25mb``: a valid application with a 25 MiB PDF (base64, 76
  columns: about 36 MB on the wire).  Valid: the honest result is an
  accepted, unflagged record whose attachment decodes byte for byte.

Extra shapes:

* ``long-boundary``: a 210-character boundary (RFC 2046 allows 70) made of a
  70-character unit repeated, and a text part of 20,000 decoy lines that are
  prefixes of the delimiter; then a PDF.
* ``header-line-2mb``: one unfolded header line of 2 MiB (RFC 5322 allows 998
  octets), otherwise a valid application.
* ``received-10000``: 10,000 Received: fields (a mail loop), otherwise a valid
  application.
* ``deep-rfc822-300``: message/rfc822 inside message/rfc822, 300 levels, a
  PDF in the innermost message.
* ``ctrl-headers``: terminal escape sequences, C1 controls and bidi overrides
  in Subject (raw and RFC 2047), From display name and the attachment's
  file name.

Memory shapes (``MEMORY``: not in ``corpus()``, built by name): structure
that GMime would keep in memory at 30-50 times its size.

* ``headers-300000``: 300,000 header fields (about 21 MB), then a valid
  application's Content-Type and parts.
* ``parts-100000``: one multipart/mixed with 100,000 tiny parts (about 4 MB).
* ``deep-100000``: multipart/mixed nested 100,000 levels (about 7 MB).
* ``part-fields-999``: 999 parts of 999 header fields each (about 10 MB):
  within max_mime_parts and max_header_fields, over the totals.
* ``content-type-60mb``: a multipart/mixed Content-Type field of 60 MB (a
  parameter of 60 MB before the boundary), then the application's parts.
* ``slow-parse-66mb``: 31 nested multiparts around a text part of 66 MB of
  lines that begin like a boundary and are none: the longest parse within
  the limits (every line is held against 31 boundaries), about 3 s here.
"""

import argparse
import base64
import os
import random
import sys

CALL_SUBJECT = "Puljeopslag 2022: Styrkelse af digitale kompetencer"
DATE = "Wed, 15 Jun 2022 09:58:00 +0200"
SEED = 20220701
MIB = 1024 * 1024

CONTRACT = ("deep-300", "parts-20000", "subject-1mb", "nul-headers", "bad-base64",
            "no-closing-boundary", "random-bytes", "headers-only", "attachment-25mb")
EXTRA = ("long-boundary", "header-line-2mb", "received-10000", "deep-rfc822-300",
         "ctrl-headers")
NAMES = CONTRACT + EXTRA
LARGE = ("attachment-25mb",)
MEMORY = ("headers-300000", "parts-100000", "deep-100000", "part-fields-999",
          "content-type-60mb")
SLOW = ("slow-parse-66mb",)

_WORDS = ("kommune", "region", "sundhed", "digital", "kompetence", "ansøgning",
          "projekt", "plejecenter", "uddannelse", "sygehus", "borger", "data",
          "velfærd", "teknologi", "samarbejde", "medarbejder", "læring", "pulje")


# --------------------------------------------------------------- building blocks
def pdf_bytes(size, rng):
    """Bytes that start like a PDF and end with %%EOF, ``size`` long."""
    head = (b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\n"
            b"endobj\n2 0 obj\n<< /Type /Pages /Kids [] /Count 0 >>\nendobj\n"
            b"3 0 obj\n<< /Length " + str(max(0, size - 160)).encode() + b" >>\nstream\n")
    tail = b"\nendstream\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n"
    n = max(0, size - len(head) - len(tail))
    return head + rng.randbytes(n) + tail


def b64_lines(data, width=76):
    s = base64.b64encode(data)
    return b"".join(s[i:i + width] + b"\r\n" for i in range(0, len(s), width))


def head(subject=None, msgid=None, from_=b"Ans\xc3\xb8ger <ansoeger@example.org>",
         extra=(), content_type=None):
    """Top-level header block (bytes, ending with CRLF, no blank line)."""
    lines = [b"From: " + from_, b"To: puljer@sst.example.dk"]
    if subject is not None:
        lines.append(b"Subject: " + (subject if isinstance(subject, bytes)
                                     else subject.encode("utf-8")))
    lines += [b"Date: " + DATE.encode(), b"Message-ID: <%s@hostile.test.example>" %
              msgid.encode(), b"MIME-Version: 1.0"]
    lines += list(extra)
    if content_type:
        lines.append(b"Content-Type: " + content_type)
    return b"".join(l + b"\r\n" for l in lines)


def text_part(text="Hej,\r\n\r\nHermed vores ans\u00f8gning.\r\n"):
    body = text.encode("utf-8") if isinstance(text, str) else text
    return (b"Content-Type: text/plain; charset=utf-8\r\n"
            b"Content-Transfer-Encoding: 8bit\r\n\r\n" + body)


def pdf_part(data, filename=b"ansoegning.pdf", b64=None):
    return (b"Content-Type: application/pdf; name=\"" + filename + b"\"\r\n"
            b"Content-Transfer-Encoding: base64\r\n"
            b"Content-Disposition: attachment; filename=\"" + filename + b"\"\r\n\r\n"
            + (b64 if b64 is not None else b64_lines(data)))


def multipart_body(boundary, parts, close=True):
    """The body of a multipart: preamble, each part after its delimiter, and
    (when ``close``) the close delimiter."""
    out = [b"This is a multi-part message in MIME format.\r\n"]
    for p in parts:
        out.append(b"\r\n--" + boundary + b"\r\n")
        out.append(p[:-2] if p.endswith(b"\r\n") else p)
    if close:
        out.append(b"\r\n--" + boundary + b"--\r\n")
    else:
        out.append(b"\r\n")
    return b"".join(out)


def mixed(boundary, parts, close=True):
    return (b"multipart/mixed; boundary=\"" + boundary + b"\"",
            multipart_body(boundary, parts, close))


def application(msgid, applicant, parts_boundary, parts, extra=(), subject=None,
                close=True):
    ctype, body = mixed(parts_boundary, parts, close)
    subj = subject if subject is not None else CALL_SUBJECT + " - " + applicant
    return head(subj, msgid, extra=extra, content_type=ctype) + b"\r\n" + body


# --------------------------------------------------------------- the messages
def deep_300(rng, depth=300):
    pdf = pdf_bytes(4000, rng)
    bnd = [b"=_deep_%03d" % i for i in range(depth)]
    out = [head(CALL_SUBJECT + " - Dybde Kommune", "deep-300",
                content_type=b"multipart/mixed; boundary=\"" + bnd[0] + b"\""),
           b"\r\nThis is a multi-part message in MIME format.\r\n"]
    for i in range(depth):
        out.append(b"\r\n--" + bnd[i] + b"\r\n")
        if i == 0:
            out.append(text_part()[:-2])
            out.append(b"\r\n--" + bnd[i] + b"\r\n")
        if i + 1 < depth:
            out.append(b"Content-Type: multipart/mixed; boundary=\"" + bnd[i + 1] +
                       b"\"\r\n\r\n")
        else:
            out.append(pdf_part(pdf)[:-2])
    for i in reversed(range(depth)):
        out.append(b"\r\n--" + bnd[i] + b"--")
    out.append(b"\r\n")
    return b"".join(out)


def parts_20000(rng, n=20000):
    parts = [text_part(), pdf_part(pdf_bytes(3000, rng))]
    for i in range(n - 2):
        parts.append(b"Content-Type: application/octet-stream; name=\"del-%05d.bin\"\r\n"
                     b"Content-Transfer-Encoding: base64\r\n\r\n" % i
                     + b64_lines(rng.randbytes(12)))
    return application("parts-20000", "Mange Dele ApS", b"=_parts_20000", parts)


def subject_1mb(rng, size=MIB):
    words = [CALL_SUBJECT, "-", "Region", "Nordjylland"]
    line, lines = b"Subject:", []
    total = 0
    i = 0
    while True:
        w = words[i] if i < len(words) else rng.choice(_WORDS)
        i += 1
        w = w.encode("utf-8")
        if len(line) + 1 + len(w) > 76 and line != b"Subject:":
            lines.append(line)
            total += len(line) + 2
            line = b""
            if total >= size:
                break
        line += b" " + w
    field = b"\r\n".join(lines) + b"\r\n"
    # field already starts with "Subject: "; build the rest of the header by hand
    rest = head(None, "subject-1mb", content_type=b"multipart/mixed; boundary=\"=_s1mb\"")
    body = multipart_body(b"=_s1mb", [text_part(), pdf_part(pdf_bytes(3000, rng))])
    return field + rest + b"\r\n" + body


def nul_headers(rng):
    pdf = pdf_bytes(3000, rng)
    extra = [b"X-Nul\x00Name: value after a NUL in the name",
             b"X-\x00: \x00\x00\x00",
             b"X-Value: before\x00after",
             b"Organization: Region\x00 Midt"]
    h = (b"From: \"Ans\x00oeger\" <ansoeger\x00@example.org>\r\n"
         b"To: puljer@sst.example.dk\r\n"
         b"Subject: " + CALL_SUBJECT.encode() + b" - Region\x00 Nordjylland\r\n"
         b"Date: " + DATE.encode() + b"\r\n"
         b"Message-ID: <nul\x00headers@hostile.test.example>\r\n"
         b"MIME-Version: 1.0\r\n" + b"".join(e + b"\r\n" for e in extra) +
         b"Content-Type: multipart/mixed; boundary=\"=_nul\"\r\n")
    part = (b"Content-Type: application/pdf; name=\"ans\x00oegning.pdf\"\r\n"
            b"Content-Transfer-Encoding: base64\r\n"
            b"Content-Dispo\x00sition: attachment\r\n"
            b"Content-Disposition: attachment; filename=\"ans\x00oegning.pdf\"\r\n\r\n"
            + b64_lines(pdf))
    return h + b"\r\n" + multipart_body(b"=_nul", [text_part(), part])


def bad_base64(rng):
    pdf = pdf_bytes(6000, rng)
    lines = b64_lines(pdf).split(b"\r\n")[:-1]
    bad = []
    for i, l in enumerate(lines):
        if i % 7 == 3:                       # invalid characters
            l = l[:20] + b"!*@#$%" + l[20:]
        elif i % 11 == 5:                    # padding in the middle of the data
            l = l[:30] + b"==" + l[32:]
        elif i == 9:
            l = b"A==="                      # wrong padding on its own line
        bad.append(l)
    bad = bad[:-3]                           # truncated ...
    bad.append(lines[-3][:37])               # ... inside a quantum
    b64 = b"\r\n".join(bad) + b"\r\n"
    return application("bad-base64", "Region Syddanmark", b"=_badb64",
                       [text_part(), pdf_part(pdf, b64=b64)])


def no_closing_boundary(rng):
    return application("no-closing-boundary", "Aalborg Kommune", b"=_noclose",
                       [text_part(), pdf_part(pdf_bytes(3000, rng))], close=False)


def random_bytes(rng, size=64 * 1024):
    return rng.randbytes(size)


def headers_only(rng):
    return head(CALL_SUBJECT + " - Kun Hoveder Kommune", "headers-only",
                content_type=b"multipart/mixed; boundary=\"=_never_seen\"")


def attachment_25mb(rng, size=25 * MIB):
    return application("attachment-25mb", "Region Hovedstaden", b"=_25mb",
                       [text_part(), pdf_part(pdf_bytes(size, rng),
                                              filename=b"ansoegningsskema.pdf")])


def long_boundary(rng, decoys=20000):
    unit = b"=_" + b"".join(rng.choice(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")
                             .to_bytes(1, "big") for _ in range(68))
    bnd = unit * 3                           # 210 characters
    lines = []
    for i in range(decoys):
        cut = 1 + (i * 37) % (len(bnd) - 1)  # a strict prefix: never the delimiter
        lines.append(b"--" + bnd[:cut])
    text = text_part(b"Hej,\r\n\r\n" + b"\r\n".join(lines) + b"\r\n")
    return application("long-boundary", "Lang Gr\u00e6nse Kommune", bnd,
                       [text, pdf_part(pdf_bytes(3000, rng))])


def header_line_2mb(rng, size=2 * MIB):
    alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    blob = bytes(alphabet[b & 63] for b in rng.randbytes(size))
    return application("header-line-2mb", "Region Sj\u00e6lland", b"=_h2mb",
                       [text_part(), pdf_part(pdf_bytes(3000, rng))],
                       extra=[b"X-Blob: " + blob])


def received_10000(rng, n=10000):
    extra = []
    for i in range(n):
        extra.append(b"Received: from hop%05d.loop.example (hop%05d.loop.example "
                     b"[192.0.2.%d])\r\n\tby mx.sst.example.dk with ESMTPS id %08x;\r\n"
                     b"\tWed, 15 Jun 2022 09:%02d:%02d +0200"
                     % (i, i, i % 250 + 1, rng.getrandbits(32), 58 - i * 58 // n,
                        59 - i % 60))
    raw = application("received-10000", "Odense Kommune", b"=_rcvd",
                      [text_part(), pdf_part(pdf_bytes(3000, rng))])
    return b"".join(e + b"\r\n" for e in extra) + raw


def deep_rfc822_300(rng, depth=300):
    inner = application("deep-rfc822-bottom", "Inderst Kommune", b"=_rfc_bottom",
                        [text_part(), pdf_part(pdf_bytes(3000, rng))])
    for i in reversed(range(depth)):
        msgid = "deep-rfc822-300" if i == 0 else "deep-rfc822-%03d" % i
        subj = CALL_SUBJECT + " - Videresendt Kommune" if i == 0 else "Fwd: level %d" % i
        bnd = b"=_rfc_%03d" % i
        fwd = (b"Content-Type: message/rfc822\r\n"
               b"Content-Disposition: attachment; filename=\"level%03d.eml\"\r\n\r\n" % (i + 1)
               + inner)
        ctype, body = mixed(bnd, [text_part("Videresendt.\r\n"), fwd])
        inner = head(subj, msgid, content_type=ctype) + b"\r\n" + body
    return inner


def ctrl_headers(rng):
    esc_subject = (CALL_SUBJECT + " - Region\x1b[2J\x1b[31m R\u00f8d\x07"
                   "\x1b]0;pwned\x07 \u202eenummoK\u202c \u009b31m").encode("utf-8")
    encoded = b"=?utf-8?q?=1B[1;31mAlarm=07=C2=9B?= =?utf-8?b?" + \
        base64.b64encode("\u202e\u2066x\u2069\x1b[0m".encode("utf-8")) + b"?="
    from_ = b"=?utf-8?q?Evil=1B=5B8m_Name=E2=80=AE=07?= <evil@example.org>"
    h = (b"From: " + from_ + b"\r\n"
         b"To: puljer@sst.example.dk\r\n"
         b"Subject: " + esc_subject + b"\r\n"
         b"Comments: " + encoded + b"\r\n"
         b"Organization: \x1b[5mBlink\x1b[0m\r\n"
         b"Date: " + DATE.encode() + b"\r\n"
         b"Message-ID: <ctrl-headers\x1b[2J@hostile.test.example>\r\n"
         b"MIME-Version: 1.0\r\n"
         b"Content-Type: multipart/mixed; boundary=\"=_ctrl\"\r\n")
    part = (b"Content-Type: application/pdf\r\n"
            b"Content-Transfer-Encoding: base64\r\n"
            b"Content-Disposition: attachment;\r\n"
            b" filename*=utf-8''ans%1B%5B2J%E2%80%AEfdp.exe%07%0D%0A.pdf\r\n\r\n"
            + b64_lines(pdf_bytes(3000, rng)))
    return h + b"\r\n" + multipart_body(b"=_ctrl", [text_part(), part])


def headers_300000(rng, n=300000):
    extra = [b"X-Loop-%06d: hop %06d via relay%03d.loop.example id %08x"
             % (i, i, i % 997, rng.getrandbits(32)) for i in range(n)]
    return application("headers-300000", "Odense Kommune", b"=_h300k",
                       [text_part(), pdf_part(pdf_bytes(3000, rng))], extra=extra)


def parts_100000(rng, n=100000):
    parts = [text_part(), pdf_part(pdf_bytes(3000, rng))]
    parts += [b"Content-Type: text/plain\r\n\r\nx\r\n"] * (n - 2)
    return application("parts-100000", "Mange Dele ApS", b"=_p100k", parts)


def deep_100000(rng, n=100000):
    out = [head(CALL_SUBJECT + " - Dybt Nede Kommune", "deep-100000",
                content_type=b"multipart/mixed; boundary=\"d0\""), b"\r\n"]
    for i in range(n):
        out.append(b"--d%d\r\nContent-Type: multipart/mixed; boundary=\"d%d\"\r\n\r\n" % (i, i + 1))
    out.append(b"--d%d\r\n" % n + pdf_part(pdf_bytes(3000, rng)))
    for i in reversed(range(n + 1)):
        out.append(b"--d%d--\r\n" % i)
    return b"".join(out)


def part_fields_999(rng, n=999, fields=999):
    block = b"".join(b"X-F%03d: v\r\n" % j for j in range(fields))
    parts = [b"Content-Type: text/plain\r\n" + block + b"\r\nx\r\n"] * n
    return application("part-fields-999", "Felter A/S", b"=_pf999", parts)


def content_type_60mb(rng, size=60 * MIB):
    ctype = (b"multipart/mixed; x-pad=\"" + b"p" * size + b"\";\r\n boundary=\"=_ct60\"")
    return (head(CALL_SUBJECT + " - Stor Type Kommune", "content-type-60mb", content_type=ctype)
            + b"\r\n" + multipart_body(b"=_ct60", [text_part(), pdf_part(pdf_bytes(3000, rng))]))


def slow_parse_66mb(rng, size=66000000, depth=30):
    out = [head(CALL_SUBJECT + " - Langsom Kommune", "slow-parse-66mb",
                content_type=b"multipart/mixed; boundary=\"s0\""), b"\r\n"]
    for i in range(depth):
        out.append(b"--s%d\r\nContent-Type: multipart/mixed; boundary=\"s%d\"\r\n\r\n" % (i, i + 1))
    out.append(b"--s%d\r\nContent-Type: text/plain\r\n\r\n" % depth)
    tail = b"".join(b"--s%d--\r\n" % i for i in reversed(range(depth + 1)))
    n = size - sum(len(x) for x in out) - len(tail)
    out.append(b"--s3x\r\n" * (n // 7) + b"x" * (n % 7))
    out.append(tail)
    return b"".join(out)


_BUILDERS = {
    "content-type-60mb": content_type_60mb,
    "slow-parse-66mb": slow_parse_66mb,
    "headers-300000": headers_300000,
    "parts-100000": parts_100000,
    "deep-100000": deep_100000,
    "part-fields-999": part_fields_999,
    "deep-300": deep_300,
    "parts-20000": parts_20000,
    "subject-1mb": subject_1mb,
    "nul-headers": nul_headers,
    "bad-base64": bad_base64,
    "no-closing-boundary": no_closing_boundary,
    "random-bytes": random_bytes,
    "headers-only": headers_only,
    "attachment-25mb": attachment_25mb,
    "long-boundary": long_boundary,
    "header-line-2mb": header_line_2mb,
    "received-10000": received_10000,
    "deep-rfc822-300": deep_rfc822_300,
    "ctrl-headers": ctrl_headers,
}


def build(name, seed=SEED):
    """One message by name; each has its own RNG so that any subset is
    byte-identical to the same messages in the full corpus."""
    rng = random.Random("%d/%s" % (seed, name))
    return _BUILDERS[name](rng)


def corpus(seed=SEED, large=True, only=None):
    """[(name, raw bytes)] in NAMES order; ``large=False`` leaves out the
    25 MB message, ``only`` keeps just the given names."""
    out = []
    for name in NAMES + (tuple(n for n in MEMORY + SLOW if n in only) if only else ()):
        if only is not None and name not in only:
            continue
        if not large and name in LARGE:
            continue
        out.append((name, build(name, seed)))
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("outdir")
    ap.add_argument("--seed", type=int, default=SEED)
    ap.add_argument("--no-large", action="store_true", help="leave out attachment-25mb")
    ap.add_argument("--only", nargs="+", choices=NAMES + MEMORY + SLOW, metavar="NAME")
    args = ap.parse_args(argv)
    os.makedirs(args.outdir, exist_ok=True)
    for name, raw in corpus(args.seed, large=not args.no_large, only=args.only):
        path = os.path.join(args.outdir, name + ".eml")
        with open(path, "wb") as f:
            f.write(raw)
        print("%-22s %10d bytes  %s" % (name, len(raw), path))
    return 0


if __name__ == "__main__":
    sys.exit(main())
