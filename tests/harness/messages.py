"""Build test e-mails with the standard email package."""

import email.policy
import email.utils
import hashlib
import os
import random
from email.message import EmailMessage

CALL_SUBJECT = "Puljeopslag 2022: Styrkelse af digitale kompetencer"

_POLICY = email.policy.SMTP  # CRLF line endings, as on the wire


def sha256(data):
    return hashlib.sha256(data).hexdigest()


def fake_pdf(size=2048, seed=None):
    """Bytes that look like a PDF, of roughly ``size`` bytes (deterministic
    for a given seed; random otherwise)."""
    rnd = random.Random(seed) if seed is not None else random.Random(os.urandom(16))
    head = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\n"
    tail = b"\n%%EOF\n"
    body_len = max(0, size - len(head) - len(tail))
    body = bytes(rnd.getrandbits(8) for _ in range(body_len)) if body_len < 4096 \
        else rnd.randbytes(body_len)
    return head + body + tail


def make_message(subject, from_addr="ansoeger@example.org", from_name=None,
                 to="rbj@example.dk", body="Hej,\n\nHermed vores ansøgning.\n",
                 attachments=(), message_id=None, date=None, extra_headers=None):
    """Return raw bytes of a message.

    attachments: iterable of (filename, content_type, data bytes).
    date: aware datetime for the Date: header (default: now).
    """
    msg = EmailMessage(policy=_POLICY)
    msg["From"] = (email.utils.formataddr((from_name, from_addr))
                   if from_name else from_addr)
    msg["To"] = to
    if subject is not None:
        msg["Subject"] = subject
    msg["Date"] = email.utils.format_datetime(date) if date else \
        email.utils.formatdate(localtime=False)
    msg["Message-ID"] = message_id or email.utils.make_msgid(domain="test.example")
    for k, v in (extra_headers or {}).items():
        msg[k] = v
    msg.set_content(body)
    for filename, ctype, data in attachments:
        maintype, _, subtype = ctype.partition("/")
        msg.add_attachment(data, maintype=maintype, subtype=subtype,
                           filename=filename)
    return msg.as_bytes(policy=_POLICY)


def simple(subject="Hello", body="hello\n", **kw):
    return make_message(subject, body=body, **kw)


def application(applicant=None, pdf=None, filename="ansoegning.pdf",
                subject_prefix="", sep=" \u2013 ", **kw):
    """An application for the default call.  Subject is the call subject,
    optionally followed by ``sep`` + applicant; ``pdf`` bytes are attached
    as application/pdf when given."""
    subject = subject_prefix + CALL_SUBJECT + (sep + applicant if applicant else "")
    atts = kw.pop("attachments", None)
    if atts is None:
        atts = [(filename, "application/pdf", pdf)] if pdf is not None else []
    return make_message(subject, from_name=applicant, attachments=atts, **kw)


# ---------------------------------------------------------------------------
# Helpers for tests/integration/test_classify.py (issue 3: fuzzy matching,
# non-applications, deadline evidence).

SUBJECTS_TSV = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                            "data", "subjects.tsv")

_TSV_ESCAPE = None


def unescape_tsv(text):
    r"""Undo the escapes of tests/data/subjects.tsv: \t, \\ and \uXXXX."""
    global _TSV_ESCAPE
    import re
    if _TSV_ESCAPE is None:
        _TSV_ESCAPE = re.compile(r"\\(t|\\|u[0-9A-Fa-f]{4}|.|$)")

    def sub(m):
        g = m.group(1)
        if g == "t":
            return "\t"
        if g == "\\":
            return "\\"
        if len(g) == 5 and g[0] == "u":
            return chr(int(g[1:], 16))
        raise ValueError("bad escape \\%s in %r" % (g, text))
    return _TSV_ESCAPE.sub(sub, text)


def read_subjects(path=None):
    """Parse tests/data/subjects.tsv into a list of dicts
    {line, subject, match, applicant (None for "-"), unsure (bool)}.
    Raises ValueError with the line number on any malformed line."""
    path = path or SUBJECTS_TSV
    out = []
    unsure = False
    with open(path, encoding="utf-8", newline="") as f:
        for no, line in enumerate(f, 1):
            if line.endswith("\n"):
                line = line[:-1]
            if "\r" in line:
                raise ValueError("%s:%d: carriage return in line" % (path, no))
            if line.startswith("#"):
                unsure = unsure or line.startswith("# unsure:")
                continue
            if not line.strip("\t ") and "\t" not in line:
                raise ValueError("%s:%d: blank line" % (path, no))
            fields = line.split("\t")
            if len(fields) != 3:
                raise ValueError("%s:%d: expected 3 TAB-separated fields, got %d"
                                 % (path, no, len(fields)))
            subject, match, applicant = fields
            if match not in ("exact", "fuzzy", "none"):
                raise ValueError("%s:%d: match %r is not exact|fuzzy|none"
                                 % (path, no, match))
            if not applicant:
                raise ValueError("%s:%d: empty applicant field (use -)" % (path, no))
            if match == "none" and applicant != "-":
                raise ValueError("%s:%d: a none row must have applicant -" % (path, no))
            out.append({"line": no, "subject": unescape_tsv(subject), "match": match,
                        "applicant": None if applicant == "-" else unescape_tsv(applicant),
                        "unsure": unsure})
            unsure = False
    return out


def _split_head(raw):
    """(header bytes incl. the final CRLF of the last field, rest)."""
    for sep in (b"\r\n\r\n", b"\n\n"):
        i = raw.find(sep)
        if i >= 0:
            return raw[:i + len(sep) // 2], raw[i + len(sep) // 2:]
    return raw, b""


def prepend_headers(raw, headers):
    """Put header fields [(name, value), ...] on top of raw, in the given
    order (as a relay adds Received: fields: the newest goes first)."""
    top = b"".join(("%s: %s\r\n" % (k, v)).encode("utf-8") for k, v in headers)
    return top + raw


def drop_header(raw, name):
    """raw without any top-level header field called name (and its folded
    continuation lines)."""
    head, rest = _split_head(raw)
    lines = head.splitlines(keepends=True)
    out, skipping = [], False
    want = name.lower().encode("ascii") + b":"
    for line in lines:
        if line[:1] in (b" ", b"\t") and skipping:
            continue
        skipping = line.lower().startswith(want)
        if not skipping:
            out.append(line)
    return b"".join(out) + rest


def delivery_report(original, subject="Undeliverable: " + CALL_SUBJECT,
                    from_addr="MAILER-DAEMON@mx.example.dk",
                    from_name="Mail Delivery System", to="rbj@example.dk",
                    recipient="puljer@sst.example.dk", date=None, message_id=None,
                    auto_submitted=None, extra_headers=None):
    """A realistic RFC 3464 bounce: multipart/report; report-type=delivery-status
    with a human-readable part, a message/delivery-status part and the
    original message as message/rfc822.  auto_submitted: value of an
    Auto-Submitted: field (Postfix adds "auto-replied"), none by default."""
    import datetime as _dtm
    date = date or _dtm.datetime.now(_dtm.timezone.utc)
    boundary = "=_dsn_" + hashlib.sha256(original).hexdigest()[:20]
    orig = original.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    human = ("This is the mail system at host mx.example.dk.\r\n\r\n"
             "I'm sorry to have to inform you that your message could not\r\n"
             "be delivered to one or more recipients. It's attached below.\r\n\r\n"
             "<%s>: host mail.sst.example.dk[192.0.2.25] said: 552 5.2.2\r\n"
             "    Mailbox full (in reply to RCPT TO command)\r\n" % recipient)
    status = ("Reporting-MTA: dns; mx.example.dk\r\n"
              "X-Postfix-Queue-ID: 4LZ3xK0mQbz9sX\r\n"
              "Arrival-Date: %s\r\n"
              "\r\n"
              "Final-Recipient: rfc822; %s\r\n"
              "Original-Recipient: rfc822;%s\r\n"
              "Action: failed\r\n"
              "Status: 5.2.2\r\n"
              "Remote-MTA: dns; mail.sst.example.dk\r\n"
              "Diagnostic-Code: smtp; 552 5.2.2 Mailbox full\r\n"
              % (email.utils.format_datetime(date), recipient, recipient))
    headers = [
        ("Return-Path", "<>"),
        ("From", email.utils.formataddr((from_name, from_addr))),
        ("To", to),
        ("Subject", subject),
        ("Date", email.utils.format_datetime(date)),
        ("Message-ID", message_id or email.utils.make_msgid(domain="mx.example.dk")),
        ("Auto-Submitted", auto_submitted),
        ("MIME-Version", "1.0"),
        ("Content-Type", 'multipart/report; report-type=delivery-status;\r\n'
                         '\tboundary="%s"' % boundary),
    ]
    head = ""
    for k, v in headers:
        if v is not None:
            head += "%s: %s\r\n" % (k, v)
    for k, v in (extra_headers or {}).items():
        head += "%s: %s\r\n" % (k, v)
    parts = [
        b"Content-Description: Notification\r\n"
        b"Content-Type: text/plain; charset=us-ascii\r\n\r\n" + human.encode("ascii"),
        b"Content-Description: Delivery report\r\n"
        b"Content-Type: message/delivery-status\r\n\r\n" + status.encode("ascii"),
        b"Content-Description: Undelivered Message\r\n"
        b"Content-Type: message/rfc822\r\n\r\n" + orig,
    ]
    b = boundary.encode("ascii")
    body = b"This is a MIME-encapsulated message.\r\n\r\n"
    for p in parts:
        body += b"--" + b + b"\r\n" + p
        if not p.endswith(b"\r\n"):
            body += b"\r\n"
    body += b"--" + b + b"--\r\n"
    return head.encode("utf-8") + b"\r\n" + body


def encoded_subject(text, charset="utf-8"):
    """A Subject: field value for any text, byte for byte: RFC 2047 B
    encoded-words (each at most 75 characters, never splitting a UTF-8
    sequence) separated by folding whitespace, which decoders drop.  Python's
    own folding loses the space between two encoded words
    ("K=C3=B8benhavns?= =?utf-8?q?Professions..."), so tests that care about
    exact whitespace use this instead."""
    import base64
    if text == "":
        return ""
    words, chunk = [], b""
    prefix, suffix = "=?%s?b?" % charset, "?="
    room = (75 - len(prefix) - len(suffix)) // 4 * 3
    for ch in text:
        b = ch.encode(charset)
        if len(chunk) + len(b) > room:
            words.append(chunk)
            chunk = b""
        chunk += b
    words.append(chunk)
    return "\r\n ".join(prefix + base64.b64encode(w).decode("ascii") + suffix
                        for w in words)


def with_subject(raw, text):
    """raw with its Subject: replaced by text, encoded by encoded_subject()."""
    return prepend_headers(drop_header(raw, "Subject"),
                           [("Subject", encoded_subject(text))])


# ---------------------------------------------------------------------------
# Helpers for tests/integration/test_forms.py (issue: every form from every
# mail shape, signed told from unsigned).  Raw MIME is written by hand so that
# the exact parameters (RFC 2231, hostile file names) reach the program.

def _crlf(data):
    import re
    if isinstance(data, str):
        data = data.encode("utf-8")
    return re.sub(rb"(?<!\r)\n", b"\r\n", data)


def b64_body(data):
    """data as base64 lines of 76 characters, CRLF, ending with CRLF."""
    import base64
    s = base64.b64encode(data).decode("ascii")
    return ("\r\n".join(s[i:i + 76] for i in range(0, len(s), 76)) + "\r\n").encode("ascii")


def mime_part(headers, body):
    """One MIME entity: headers [(name, value)] (values used verbatim, so
    they may carry RFC 2231 parameters or folding), a blank line, body."""
    head = "".join("%s: %s\r\n" % (k, v) for k, v in headers).encode("utf-8")
    return head + b"\r\n" + _crlf(body)


def text_part(text, subtype="plain"):
    import quopri
    return mime_part([("Content-Type", "text/%s; charset=utf-8" % subtype),
                      ("Content-Transfer-Encoding", "quoted-printable")],
                     quopri.encodestring(text.encode("utf-8")))


def file_part(data, content_type="application/pdf", filename=None,
              disposition="attachment", filename_param=None, name_param=None,
              extra_headers=()):
    """A base64 part.  filename: a plain name, written as filename="..."
    (quotes and backslashes escaped).  filename_param: the raw parameter text
    instead (e.g. "filename*=utf-8''a%00b.pdf").  name_param: raw text for
    the Content-Type name parameter (default: none)."""
    ctype = content_type
    if name_param:
        ctype += "; " + name_param
    disp = disposition
    if filename_param:
        disp += "; " + filename_param
    elif filename is not None:
        disp += '; filename="%s"' % filename.replace("\\", "\\\\").replace('"', '\\"')
    headers = [("Content-Type", ctype), ("Content-Transfer-Encoding", "base64")]
    if disposition:
        headers.append(("Content-Disposition", disp))
    headers += list(extra_headers)
    return mime_part(headers, b64_body(data))


def multipart(parts, subtype="mixed", boundary=None, params=""):
    """A multipart entity (Content-Type header + body) of the given parts."""
    boundary = boundary or "=_b_" + hashlib.sha256(b"".join(parts)).hexdigest()[:24]
    head = 'Content-Type: multipart/%s; boundary="%s"%s\r\n\r\n' % (
        subtype, boundary, ("; " + params) if params else "")
    body = b"This is a multi-part message in MIME format.\r\n"
    for p in parts:
        body += b"\r\n--" + boundary.encode("ascii") + b"\r\n" + p
        if p.endswith(b"\r\n"):
            body = body[:-2]
    body += b"\r\n--" + boundary.encode("ascii") + b"--\r\n"
    return head.encode("ascii") + body


def rfc822_part(raw, filename=None):
    """message/rfc822 part wrapping raw (a whole message)."""
    headers = [("Content-Type", "message/rfc822")]
    if filename:
        headers.append(("Content-Disposition", 'attachment; filename="%s"' % filename))
    else:
        headers.append(("Content-Disposition", "inline"))
    return mime_part(headers, _crlf(raw))


def wrap_message(entity, subject, from_addr="ansoeger@example.org", from_name=None,
                 to="puljer@sst.example.dk", date=None, message_id=None,
                 extra_headers=()):
    """A whole message: top-level headers + MIME-Version + entity (which
    starts with its own Content-Type header)."""
    hdrs = [("From", email.utils.formataddr((from_name, from_addr))
             if from_name else from_addr),
            ("To", to),
            ("Subject", encoded_subject(subject) if any(ord(c) > 127 for c in subject)
             else subject),
            ("Date", email.utils.format_datetime(date) if date else
             email.utils.formatdate(localtime=False)),
            ("Message-ID", message_id or email.utils.make_msgid(domain="test.example")),
            ("MIME-Version", "1.0")] + list(extra_headers)
    head = "".join("%s: %s\r\n" % (k, v) for k, v in hdrs).encode("utf-8")
    return head + _crlf(entity)


def forward(raw, subject=None, from_addr="videresender@example.org", from_name=None,
            note="Videresendt ans\u00f8gning.\n", **kw):
    """raw forwarded as an attachment (message/rfc822) with a short note.
    Subject: "VS: " + the inner subject unless given."""
    if subject is None:
        inner = email.message_from_bytes(raw, policy=email.policy.default)
        subject = "VS: " + str(inner["Subject"] or "")
    entity = multipart([text_part(note), rfc822_part(raw)])
    return wrap_message(entity, subject, from_addr=from_addr, from_name=from_name, **kw)
