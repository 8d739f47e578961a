#!/usr/bin/python3
"""A small TNEF (winmail.dat) writer after [MS-OXTNEF], and a reader used to
self-check it.

Library::

    from gen import tnef
    blob = tnef.write_tnef([("Ansøgningsskema.pdf", pdf_bytes, "application/pdf"),
                            ("Budget 2022.xlsx", xlsx_bytes, None)])
    tnef.read_tnef(blob)   # -> [{"title", "long_name", "data", ...}]
    fx = tnef.generate(outdir, pdf_bytes)   # files + .eml, see below

CLI::

    /usr/bin/python3 tests/gen/tnef.py OUTDIR [PDF]

Stream layout: TNEFSignature 0x223E9F78, LegacyKey (uint16), then
attributes, each ``level (1) | id (uint32: type<<16 | tag) | length (uint32)
| data | checksum (uint16 = sum of data bytes mod 65536)``, little endian.
Message level: attTnefVersion, attOemCodepage, attMessageClass.  Per
attachment: attAttachRenddata (0x00069002) first, attAttachTitle
(0x00018010, 8.3 name, NUL-terminated), attAttachModifyDate, attAttachData
(0x0006800F), and attAttachment (0x00069005): a MAPI property list with
PR_ATTACH_METHOD, PR_ATTACH_LONG_FILENAME (0x3707; PT_UNICODE or PT_STRING8),
PR_ATTACH_EXTENSION, PR_ATTACH_MIME_TAG, PR_DISPLAY_NAME.

generate() writes:

* ``winmail.dat``: two attachments, "Ansøgningsskema.pdf" (long name as
  PT_UNICODE) and "Budget 2022.xlsx" (long name as PT_STRING8, cp1252).
* ``winmail_truncated.dat``: cut in the middle of the first attAttachData.
* ``winmail_lying.dat``: the first attAttachData's length field says 0xFFFFFFF0.
* ``winmail_zero_checksum.dat``: winmail.dat with every attribute checksum
  written as zero (as some writers do; libytnef only warns): the files
  inside must still come out.
* ``budget.xlsx``: the spreadsheet bytes (a small zip-looking blob).
* ``tnef.eml``, ``tnef_truncated.eml``, ``tnef_lying.eml``: Outlook-style
  messages: multipart/mixed with a text part and winmail.dat as
  application/ms-tnef; name="winmail.dat".
"""

import base64
import os
import struct
import sys
import zlib

TNEF_SIGNATURE = 0x223E9F78
LVL_MESSAGE = 0x01
LVL_ATTACHMENT = 0x02

# attribute ids (type << 16 | tag)
ATT_TNEF_VERSION = 0x00089006
ATT_OEM_CODEPAGE = 0x00069007
ATT_MESSAGE_CLASS = 0x00078008
ATT_SUBJECT = 0x00018004
ATT_ATTACH_RENDDATA = 0x00069002
ATT_ATTACH_TITLE = 0x00018010
ATT_ATTACH_MODIFY_DATE = 0x00038013
ATT_ATTACH_DATA = 0x0006800F
ATT_ATTACHMENT = 0x00069005

PT_LONG = 0x0003
PT_STRING8 = 0x001E
PT_UNICODE = 0x001F
PT_BINARY = 0x0102

PR_ATTACH_METHOD = 0x3705
PR_ATTACH_LONG_FILENAME = 0x3707
PR_ATTACH_EXTENSION = 0x3703
PR_ATTACH_MIME_TAG = 0x370E
PR_DISPLAY_NAME = 0x3001
PR_ATTACH_FILENAME = 0x3704

SUBJECT = "Puljeopslag 2022: Styrkelse af digitale kompetencer - Region Midtjylland"


def checksum(data):
    return sum(data) & 0xFFFF


def attribute(level, att_id, data, length=None):
    """One TNEF attribute.  length overrides the length field (for lies)."""
    n = len(data) if length is None else length
    return struct.pack("<BII", level, att_id, n) + data + \
        struct.pack("<H", checksum(data))


def zero_checksums(blob):
    """blob with every attribute's checksum set to zero (bounds intact)."""
    out, pos = bytearray(blob[:6]), 6
    while pos + 9 <= len(blob):
        ln = struct.unpack_from("<I", blob, pos + 5)[0]
        end = pos + 9 + ln
        out += blob[pos:end] + b"\x00\x00"
        pos = end + 2
    return bytes(out + blob[pos:])


def _pad4(b):
    return b + b"\x00" * (-len(b) % 4)


def mapi_prop(ptype, pid, value):
    head = struct.pack("<HH", ptype, pid)
    if ptype == PT_LONG:
        return head + struct.pack("<I", value)
    if ptype == PT_UNICODE:
        raw = value.encode("utf-16-le") + b"\x00\x00"
    elif ptype == PT_STRING8:
        raw = value.encode("cp1252") + b"\x00"
    elif ptype == PT_BINARY:
        raw = value
    else:
        raise ValueError("unsupported property type %#x" % ptype)
    # single-valued variable-length: count of values (1), length, data, pad
    return head + struct.pack("<II", 1, len(raw)) + _pad4(raw)


def mapi_props(props):
    return struct.pack("<I", len(props)) + b"".join(mapi_prop(*p) for p in props)


def dtr(y, mo, d, h, mi, s):
    """TNEF DTR date (7 uint16: year month day hour minute second weekday)."""
    import datetime
    wd = (datetime.date(y, mo, d).weekday() + 1) % 7
    return struct.pack("<7H", y, mo, d, h, mi, s, wd)


def short_name(long_name, n):
    base, _, ext = long_name.rpartition(".")
    keep = "".join(c for c in base.upper() if c.isascii() and c.isalnum())[:6]
    return "%s~%d.%s" % (keep, n, ext.upper()[:3])


def attachment_attrs(long_name, data, mime=None, unicode_name=True, n=1,
                     data_length=None):
    """Attributes of one attachment; returns (bytes, offset of attAttachData's
    data within them)."""
    rend = struct.pack("<HIHHI", 1, 0xFFFFFFFF, 0xFFFF, 0xFFFF, 0)
    title = short_name(long_name, n).encode("ascii") + b"\x00"
    out = attribute(LVL_ATTACHMENT, ATT_ATTACH_RENDDATA, rend)
    out += attribute(LVL_ATTACHMENT, ATT_ATTACH_TITLE, title)
    out += attribute(LVL_ATTACHMENT, ATT_ATTACH_MODIFY_DATE, dtr(2022, 6, 14, 16, 30, 0))
    data_off = len(out) + 9
    out += attribute(LVL_ATTACHMENT, ATT_ATTACH_DATA, data, length=data_length)
    ext = "." + long_name.rpartition(".")[2]
    props = [
        (PT_LONG, PR_ATTACH_METHOD, 1),
        (PT_UNICODE if unicode_name else PT_STRING8, PR_ATTACH_LONG_FILENAME, long_name),
        (PT_STRING8, PR_ATTACH_FILENAME, short_name(long_name, n)),
        (PT_STRING8, PR_ATTACH_EXTENSION, ext),
        (PT_UNICODE if unicode_name else PT_STRING8, PR_DISPLAY_NAME, long_name),
    ]
    if mime:
        props.append((PT_STRING8, PR_ATTACH_MIME_TAG, mime))
    out += attribute(LVL_ATTACHMENT, ATT_ATTACHMENT, mapi_props(props))
    return out, data_off


def write_tnef(attachments, key=0x4A21, message_class="IPM.Microsoft Mail.Note",
               _info=None):
    """attachments: [(long_name, data, mime or None[, unicode_name])].
    _info (a dict) receives 'data_offsets': absolute offsets of each
    attAttachData value and 'length_offsets' of its length field."""
    out = struct.pack("<IH", TNEF_SIGNATURE, key)
    out += attribute(LVL_MESSAGE, ATT_TNEF_VERSION, struct.pack("<I", 0x00010000))
    out += attribute(LVL_MESSAGE, ATT_OEM_CODEPAGE, struct.pack("<II", 1252, 0))
    out += attribute(LVL_MESSAGE, ATT_MESSAGE_CLASS, message_class.encode("ascii") + b"\x00")
    out += attribute(LVL_MESSAGE, ATT_SUBJECT, SUBJECT.encode("cp1252") + b"\x00")
    offs = []
    for i, a in enumerate(attachments, 1):
        name, data, mime = a[:3]
        uni = a[3] if len(a) > 3 else True
        blob, off = attachment_attrs(name, data, mime, uni, n=i)
        offs.append(len(out) + off)
        out += blob
    if _info is not None:
        _info["data_offsets"] = offs
        _info["length_offsets"] = [o - 4 for o in offs]
    return out


# ------------------------------------------------------------------ reader
class TnefError(ValueError):
    pass


def _parse_props(data):
    (n,), pos, props = struct.unpack_from("<I", data, 0), 4, {}
    for _ in range(n):
        ptype, pid = struct.unpack_from("<HH", data, pos)
        pos += 4
        if ptype == PT_LONG:
            props[pid] = struct.unpack_from("<I", data, pos)[0]
            pos += 4
        elif ptype in (PT_STRING8, PT_UNICODE, PT_BINARY):
            cnt, ln = struct.unpack_from("<II", data, pos)
            if cnt != 1:
                raise TnefError("multi-valued property")
            pos += 8
            raw = data[pos:pos + ln]
            pos += ln + (-ln % 4)
            if ptype == PT_UNICODE:
                props[pid] = raw.decode("utf-16-le").rstrip("\x00")
            elif ptype == PT_STRING8:
                props[pid] = raw.decode("cp1252").rstrip("\x00")
            else:
                props[pid] = raw
        else:
            raise TnefError("property type %#x" % ptype)
    return props


def read_tnef(blob, checksums=True):
    """Strict reader: returns the attachments as dicts; raises TnefError
    (on a checksum mismatch too, unless checksums is false)."""
    if len(blob) < 6 or struct.unpack_from("<I", blob)[0] != TNEF_SIGNATURE:
        raise TnefError("no TNEF signature")
    pos, atts, cur = 6, [], None
    while pos < len(blob):
        if pos + 9 > len(blob):
            raise TnefError("truncated attribute header at %d" % pos)
        level, aid, ln = struct.unpack_from("<BII", blob, pos)
        pos += 9
        if ln > len(blob) - pos - 2:
            raise TnefError("attribute %#x length %d runs past the end" % (aid, ln))
        data = blob[pos:pos + ln]
        pos += ln
        (ck,) = struct.unpack_from("<H", blob, pos)
        pos += 2
        if checksums and ck != checksum(data):
            raise TnefError("bad checksum for %#x" % aid)
        if level == LVL_ATTACHMENT:
            if aid == ATT_ATTACH_RENDDATA:
                cur = {"title": None, "long_name": None, "data": None, "props": {}}
                atts.append(cur)
            elif cur is None:
                raise TnefError("attachment attribute before attAttachRenddata")
            elif aid == ATT_ATTACH_TITLE:
                cur["title"] = data.rstrip(b"\x00").decode("cp1252")
            elif aid == ATT_ATTACH_DATA:
                cur["data"] = data
            elif aid == ATT_ATTACHMENT:
                cur["props"] = _parse_props(data)
                cur["long_name"] = cur["props"].get(PR_ATTACH_LONG_FILENAME)
        elif level != LVL_MESSAGE:
            raise TnefError("bad level %d" % level)
    return atts


# ------------------------------------------------------------------ fixtures
def fake_xlsx(seed=2022):
    """A small blob that starts like an .xlsx (zip local header), deterministic."""
    body = ("Budget 2022;Personale;Drift;I alt\r\n" * 40).encode()
    comp = zlib.compress(body, 9)[2:-4]
    name = b"xl/worksheets/sheet1.xml"
    crc = zlib.crc32(body)
    local = struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, 8, 0, 0x54C1,
                        crc, len(comp), len(body), len(name), 0) + name + comp
    cd = struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0, 8, 0, 0x54C1,
                     crc, len(comp), len(body), len(name), 0, 0, 0, 0, 0, 0) + name
    end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 1, 1, len(cd), len(local), 0)
    return local + cd + end


def outlook_eml(winmail, subject=SUBJECT, msgid="<tnef@rm.example.dk>",
                boundary="_004_DB7PR07MB5C1E2F3A4B5C6D7E8F90EURP_"):
    text = ("Hej,\r\n\r\nHermed vores ans\u00f8gning og budget.\r\n\r\n"
            "Venlig hilsen\r\nJens Outlook\r\nRegion Midtjylland\r\n")
    head = ("From: Jens Outlook <jens.outlook@rm.example.dk>\r\n"
            "To: puljer@sst.example.dk\r\n"
            "Subject: %s\r\n"
            "Date: Wed, 15 Jun 2022 11:02:13 +0200\r\n"
            "Message-ID: %s\r\n"
            "Thread-Topic: %s\r\n"
            "X-MS-Has-Attach: yes\r\n"
            "X-MS-TNEF-Correlator: <DB7PR07MB5C1E2F3A@rm.example.dk>\r\n"
            "Content-Language: da-DK\r\n"
            "MIME-Version: 1.0\r\n"
            "Content-Type: multipart/mixed;\r\n\tboundary=\"%s\"\r\n\r\n"
            % (subject, msgid, subject, boundary))
    b64 = base64.b64encode(winmail).decode("ascii")
    b64 = "\r\n".join(b64[i:i + 76] for i in range(0, len(b64), 76))
    body = ("--%s\r\n"
            "Content-Type: text/plain; charset=\"iso-8859-1\"\r\n"
            "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
            "%s\r\n"
            "--%s\r\n"
            "Content-Type: application/ms-tnef; name=\"winmail.dat\"\r\n"
            "Content-Description: winmail.dat\r\n"
            "Content-Disposition: attachment; filename=\"winmail.dat\"; size=%d;\r\n"
            "\tcreation-date=\"Wed, 15 Jun 2022 09:02:13 GMT\";\r\n"
            "\tmodification-date=\"Wed, 15 Jun 2022 09:02:13 GMT\"\r\n"
            "Content-Transfer-Encoding: base64\r\n\r\n"
            "%s\r\n"
            "--%s--\r\n"
            % (boundary, text.replace("\u00f8", "=F8"), boundary, len(winmail), b64,
               boundary))
    return (head + body).encode("ascii")


def generate(directory, pdf):
    """Write the fixtures (see module doc); return a dict of bytes and names."""
    os.makedirs(directory, exist_ok=True)
    xlsx = fake_xlsx()
    names = ("Ans\u00f8gningsskema.pdf", "Budget 2022.xlsx")
    info = {}
    good = write_tnef([(names[0], pdf, "application/pdf", True),
                       (names[1], xlsx, None, False)], _info=info)
    off = info["data_offsets"][0]
    truncated = good[:off + len(pdf) // 2]
    lenoff = info["length_offsets"][0]
    lying = good[:lenoff] + struct.pack("<I", 0xFFFFFFF0) + good[lenoff + 4:]
    zero = zero_checksums(good)
    # self-check
    assert len(zero) == len(good) and zero != good
    try:
        read_tnef(zero)
    except TnefError:
        pass
    else:
        raise AssertionError("zero checksums read without error by the strict reader")
    assert [(a["long_name"], a["data"]) for a in read_tnef(zero, checksums=False)] == \
        [(names[0], pdf), (names[1], xlsx)]
    got = read_tnef(good)
    assert [(a["long_name"], a["data"]) for a in got] == [(names[0], pdf), (names[1], xlsx)], got
    assert [a["title"] for a in got] == ["ANSGNI~1.PDF", "BUDGET~2.XLS"], got
    for bad in (truncated, lying):
        try:
            read_tnef(bad)
        except TnefError:
            pass
        else:
            raise AssertionError("corrupt TNEF read without error")
    files = {"winmail.dat": good, "winmail_truncated.dat": truncated,
             "winmail_lying.dat": lying, "winmail_zero_checksum.dat": zero,
             "budget.xlsx": xlsx,
             "tnef.eml": outlook_eml(good, msgid="<tnef-good@rm.example.dk>"),
             "tnef_truncated.eml": outlook_eml(truncated, msgid="<tnef-trunc@rm.example.dk>"),
             "tnef_lying.eml": outlook_eml(lying, msgid="<tnef-lying@rm.example.dk>")}
    for fn, data in files.items():
        with open(os.path.join(directory, fn), "wb") as f:
            f.write(data)
    return {"names": names, "pdf": pdf, "xlsx": xlsx, "files": files,
            "winmail": good, "truncated": truncated, "lying": lying,
            "zero_checksum": zero}


def main(argv=None):
    import argparse
    ap = argparse.ArgumentParser(prog="tnef.py", description=__doc__.split("\n")[0])
    ap.add_argument("outdir", help="directory for winmail*.dat and tnef*.eml")
    ap.add_argument("pdf", nargs="?", help="the PDF to pack (default: a scanned-style one)")
    a = ap.parse_args(argv)
    argv = [a.outdir] + ([a.pdf] if a.pdf else [])
    if len(argv) == 2:
        with open(argv[1], "rb") as f:
            pdf = f.read()
    else:
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        import pdfsign
        jpeg = pdfsign.tiny_jpeg()
        pdf = pdfsign.scanned_pdf(jpeg)
    fx = generate(argv[0], pdf)
    for a in read_tnef(fx["winmail"]):
        print("winmail.dat: %-14s %-22r %d bytes" % (a["title"], a["long_name"], len(a["data"])))
    print("winmail_truncated.dat: %d bytes, winmail_lying.dat: %d bytes (both rejected "
          "by the strict reader)" % (len(fx["truncated"]), len(fx["lying"])))
    return 0


if __name__ == "__main__":
    sys.exit(main())
