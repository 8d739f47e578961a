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
