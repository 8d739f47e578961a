#!/usr/bin/python3
"""Writes fixtures/mime/decode-*.eml: one message per class of decoding
damage that real mail shows (issue 16, part 2), for tests/test_decode.py.

    /usr/bin/python3 tests/gen/decode.py [OUTDIR]   # default fixtures/mime

Deterministic, Python 3 standard library only.  Each fixture is what a
client or a gateway really sends:

* decode-base64-unpadded: base64 whose last group lacks its '=' padding
  (a 524-byte PDF: 2 bytes in the last group; a 1-byte tail; "xx=" with
  one '=' of two).
* decode-base64-lost-bits: a base64 text whose last group is a single
  character: 6 bits, no byte (bad-encoding); and one with a character
  outside the alphabet whose last group lacks its padding.
* decode-boundary-eof: the closing delimiter is the last thing in the
  message, with no line break after it; the last part is binary.
* decode-uuencode-stripped: x-uuencode whose lines lost their trailing
  spaces (a zip: its zero bytes encode as spaces).
* decode-uuencode-in-text: two "begin 644 name" blocks in a text/plain
  body, their lines stripped of trailing spaces too.
* decode-no-blank-line: a part whose body (a base64 zip) follows its
  header with no blank line; decode-no-blank-line-top: a one-part message
  whose body (a base64 PDF) follows its header so;
  decode-no-blank-line-forward: the same one-part message forwarded as
  message/rfc822 beside a text part (its body ends at the delimiter of
  the multipart around the forward), and -forward-b64 forwarded with a
  base64 transfer encoding (its body ends at the end of the decoded bytes).
* decode-missing-close: a multipart whose closing delimiter is missing.
* decode-mime-headers-only: a message whose only header fields are MIME
  ones, and a base64-encoded forward whose only fields are MIME ones.
* decode-unnamed-image-mixed: a photographed, hand-signed form sent as an
  unnamed image/jpeg in multipart/mixed (Apple Mail, phones), beside an
  HTML body in multipart/related with its own referenced logo, and a
  second page in that multipart/related that the HTML does not show.
"""

import base64
import binascii
import hashlib
import io
import os
import sys
import zipfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

HEAD = ("From: Gitte Holm <giho@holb.dk>\r\nTo: Puljer <puljer@sum.dk>\r\n"
        "Subject: Puljeopslag 2022: Styrkelse af digitale kompetencer - {who}\r\n"
        "Date: Thu, 30 Jun 2022 21:44:10 +0200\r\nMessage-ID: <{mid}@holb.dk>\r\nMIME-Version: 1.0\r\n")


def blob(seed, n):
    """N deterministic bytes."""
    out = b""
    i = 0
    while len(out) < n:
        out += hashlib.sha256(b"%s/%d" % (seed.encode(), i)).digest()
        i += 1
    return out[:n]


def pdf(n, seed):
    """A PDF-looking file of exactly N bytes."""
    head = b"%PDF-1.4\n% " + seed.encode() + b"\n"
    tail = b"\n%%EOF\n"
    return head + blob(seed, n - len(head) - len(tail)) + tail


def a_zip(seed):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as z:
        info = zipfile.ZipInfo("budget.txt", date_time=(2022, 6, 30, 12, 0, 0))
        z.writestr(info, b"Budget 2022\n" + blob(seed, 200).hex().encode() + b"\n" + b"\0" * 90)
    return buf.getvalue()


def b64_lines(data, pad=True):
    text = base64.b64encode(data).decode()
    if not pad:
        text = text.rstrip("=")
    return "".join(text[i:i + 76] + "\r\n" for i in range(0, len(text), 76))


def head(who, mid, boundary):
    return HEAD.format(who=who, mid=mid) + 'Content-Type: multipart/mixed; boundary="%s"\r\n\r\n' % boundary


def text_part(boundary, text="Hermed vores ans\u00f8gning."):
    return ("--%s\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n%s\r\n"
            % (boundary, text))


def attach(boundary, ctype, name, body, cte="base64"):
    disp = 'Content-Disposition: attachment; filename="%s"\r\n' % name if name else ""
    nm = '; name="%s"' % name if name else ""
    return ("--%s\r\nContent-Type: %s%s\r\n%sContent-Transfer-Encoding: %s\r\n\r\n%s"
            % (boundary, ctype, nm, disp, cte, body))


def base64_unpadded():
    b = "=_unpadded"
    s = head("Holb\u00e6k Kommune", "unpadded", b) + text_part(b)
    s += attach(b, "application/pdf", "Ansoegning.pdf", b64_lines(pdf(524, "unpadded"), pad=False))
    s += attach(b, "application/octet-stream", "bilag.bin", b64_lines(blob("one", 301), pad=False))
    one_eq = b64_lines(blob("half", 100)).replace("==", "=")
    s += attach(b, "application/octet-stream", "halv.bin", one_eq)
    return s + "--%s--\r\n" % b


def base64_lost_bits():
    b = "=_lost"
    s = head("Holb\u00e6k Kommune", "lostbits", b) + text_part(b)
    s += attach(b, "application/pdf", "Ansoegning.pdf", b64_lines(pdf(300, "lost")) + "Q\r\n")
    # Corrupt (a '!' inside) and unpadded: the last group is still whole bytes.
    text = b64_lines(blob("corrupt", 302), pad=False)
    s += attach(b, "application/octet-stream", "korrupt.bin", text[:40] + "!" + text[40:])
    return s + "--%s--\r\n" % b


def boundary_eof():
    b = "=_eof"
    s = head("Holb\u00e6k Kommune", "eof", b) + text_part(b)
    s += ("--%s\r\nContent-Type: application/pdf; name=\"test.pdf\"\r\n"
          "Content-Disposition: attachment; filename=\"test.pdf\"\r\n\r\n%%PDF-1.4 test\r\n" % b)
    return s + "--%s--" % b


def uu_stripped_text(data, name):
    lines = ["begin 644 %s" % name]
    for i in range(0, len(data), 45):
        lines.append(binascii.b2a_uu(data[i:i + 45], backtick=False).decode().rstrip("\n").rstrip(" "))
    lines += ["`", "end"]
    return "".join(line + "\r\n" for line in lines)


def uuencode_stripped():
    b = "=_uu"
    data = a_zip("uu")
    text = uu_stripped_text(data, "budget.zip")
    # The stripping must matter: some line must have lost characters.
    assert any(len(line) < 61 and line[:1] == "M" for line in text.split("\r\n")), "no stripped line"
    s = head("Holb\u00e6k Kommune", "uu", b) + text_part(b)
    s += attach(b, "application/zip", "budget.zip", text, cte="x-uuencode")
    return s + "--%s--\r\n" % b


def uuencode_in_text():
    # Two files uuencoded in a plain-text body, between lines of prose.
    b = "=_uutext"
    body = ("Hermed vores ans\u00f8gning og budget.\r\n\r\n" + uu_stripped_text(a_zip("uutext"), "budget.zip")
            + "\r\nMed venlig hilsen\r\n\r\n" + uu_stripped_text(pdf(700, "uutext"), "ansoegning.pdf")
            + "\r\nGitte\r\n")
    s = head("Holb\u00e6k Kommune", "uutext", b)
    s += "--%s\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n%s" % (b, body)
    return s + "--%s--\r\n" % b


def no_blank_line():
    b = "=_noblank"
    s = head("Holb\u00e6k Kommune", "noblank", b) + text_part(b)
    s += ("--%s\r\nContent-Type: application/zip; name=\"budget.zip\"\r\n"
          "Content-Transfer-Encoding: base64\r\n%s" % (b, b64_lines(a_zip("noblank"))))
    return s + "--%s--\r\n" % b


def one_part_no_blank(mid, n):
    """A one-part message (a base64 PDF of N bytes) whose body follows its
    header with no blank line."""
    s = HEAD.format(who="Holb\u00e6k Kommune", mid=mid)
    s += ('Content-Type: application/pdf; name="Ansoegning.pdf"\r\nContent-Transfer-Encoding: base64\r\n'
          + b64_lines(pdf(n, mid)))
    return s


def no_blank_line_top():
    # The same in a message that is a single part.
    return one_part_no_blank("noblanktop", 528)


def no_blank_line_forward():
    # A forward of such a message: the single leaf of a message/rfc822,
    # whose end is the delimiter of the multipart around the forward.
    b = "=_fwdnoblank"
    s = head("Holb\u00e6k Kommune", "fwdnoblank", b) + text_part(b, "Videresendt ans\u00f8gning.")
    s += "--%s\r\nContent-Type: message/rfc822\r\n\r\n%s" % (b, one_part_no_blank("fwdinner", 612))
    return s + "--%s--\r\n" % b


def no_blank_line_forward_b64():
    # The same forward, transfer-encoded (clients do, RFC 2046 or not).
    b = "=_fwdnoblank64"
    inner = one_part_no_blank("fwdinner64", 444).encode("utf-8")
    s = head("Holb\u00e6k Kommune", "fwdnoblank64", b) + text_part(b, "Videresendt ans\u00f8gning.")
    s += ("--%s\r\nContent-Type: message/rfc822\r\nContent-Transfer-Encoding: base64\r\n\r\n%s"
          % (b, b64_lines(inner)))
    return s + "--%s--\r\n" % b


def missing_close():
    # The inner multipart/alternative never closes; the outer one does.
    b, a = "=_outer", "=_alt"
    s = head("Holb\u00e6k Kommune", "open", b)
    s += "--%s\r\nContent-Type: multipart/alternative; boundary=\"%s\"\r\n\r\n" % (b, a)
    s += text_part(a) + "--%s\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<p>Hermed</p>\r\n" % a
    s += attach(b, "application/pdf", "Ansoegning.pdf", b64_lines(pdf(400, "open")))
    return s + "--%s--\r\n" % b


def mime_headers_only():
    b = "=_mimeonly"
    inner = ("Content-Type: multipart/mixed; boundary=\"=_in\"\r\n\r\n"
             "--=_in\r\nContent-Type: text/plain\r\n\r\nvideresendt\r\n"
             + attach("=_in", "application/pdf", "Ansoegning.pdf", b64_lines(pdf(333, "fwd")))
             + "--=_in--\r\n")
    s = ("Content-Type: multipart/mixed; boundary=\"%s\"\r\n\r\n" % b) + text_part(b)
    s += ("--%s\r\nContent-Type: message/rfc822\r\nContent-Transfer-Encoding: base64\r\n\r\n%s"
          % (b, b64_lines(inner.encode())))
    return s + "--%s--\r\n" % b


def unnamed_image_mixed():
    b, r = "=_mixed", "=_related"
    jpeg = b"\xff\xd8\xff\xe0\0\x10JFIF\0" + blob("scan", 900) + b"\xff\xd9"
    logo = b"\x89PNG\r\n\x1a\n" + blob("logo", 120)
    page2 = b"\xff\xd8\xff\xe0\0\x10JFIF\0" + blob("page2", 700) + b"\xff\xd9"
    s = head("Slagelse Kommune", "photo", b)
    s += ("--%s\r\nContent-Type: multipart/related; boundary=\"%s\"\r\n\r\n"
          "--%s\r\nContent-Type: text/html; charset=utf-8\r\n\r\n"
          "<p>Underskrevet skema vedh\u00e6ftet.</p><img src=\"cid:logo@holb\">\r\n"
          "--%s\r\nContent-Type: image/png\r\nContent-ID: <logo@holb>\r\nContent-Transfer-Encoding: base64\r\n\r\n%s"
          "--%s\r\nContent-Type: image/jpeg\r\nContent-ID: <side2@holb>\r\nContent-Transfer-Encoding: base64\r\n\r\n%s"
          "--%s--\r\n" % (b, r, r, r, b64_lines(logo), r, b64_lines(page2), r))
    s += ("--%s\r\nContent-Type: image/jpeg\r\nContent-Transfer-Encoding: base64\r\n\r\n%s" % (b, b64_lines(jpeg)))
    return s + "--%s--\r\n" % b


FIXTURES = {
    "decode-base64-unpadded.eml": base64_unpadded,
    "decode-base64-lost-bits.eml": base64_lost_bits,
    "decode-boundary-eof.eml": boundary_eof,
    "decode-uuencode-stripped.eml": uuencode_stripped,
    "decode-uuencode-in-text.eml": uuencode_in_text,
    "decode-no-blank-line.eml": no_blank_line,
    "decode-no-blank-line-top.eml": no_blank_line_top,
    "decode-no-blank-line-forward.eml": no_blank_line_forward,
    "decode-no-blank-line-forward-b64.eml": no_blank_line_forward_b64,
    "decode-missing-close.eml": missing_close,
    "decode-mime-headers-only.eml": mime_headers_only,
    "decode-unnamed-image-mixed.eml": unnamed_image_mixed,
}


def main(argv):
    out = argv[1] if len(argv) > 1 else os.path.join(ROOT, "fixtures", "mime")
    for name, make in FIXTURES.items():
        with open(os.path.join(out, name), "wb") as f:
            f.write(make().encode("utf-8"))
    print("wrote %d fixtures to %s" % (len(FIXTURES), out))


if __name__ == "__main__":
    main(sys.argv)
