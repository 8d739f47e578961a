#!/usr/bin/python3
"""Every form from every mail shape, and signed told from unsigned.

End-to-end: fixtures made by tests/gen (a test PKI, signed/unsigned/hostile
PDFs checked with pdfsig, S/MIME messages made with openssl, TNEF
winmail.dat) are put into a throwaway Dovecot, puljed ingests them once, and
`puljectl list/show/extract --json` must report:

* per attachment: signature none|valid|invalid, signer, signed_at,
  signature_covers_whole_file, signer_trusted ([signatures] trust_file),
  form, source mime|tnef|pkcs7, part;
* per message: smime none|valid|invalid;
* show: "parts" -- every MIME part with its action and why;
* extract: hostile file names never escape the target directory.

Needs PULJED and PULJECTL in the environment (paths of the built binaries)
and openssl; pdfsig (poppler-utils) for the cross-check.
Run:  PULJED=build/src/puljed PULJECTL=build/src/puljectl \\
      /usr/bin/python3 tests/integration/test_forms.py
"""

import collections
import datetime as dt
import email
import email.policy
import hashlib
import io
import json
import os
import shutil
import sys
import tempfile
import unittest
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
sys.path.insert(0, os.path.join(HERE, "..", "gen"))

from harness import messages as M  # noqa: E402
from harness import puljed as P  # noqa: E402
from harness.testcase import PuljedTestCase, parse_iso  # noqa: E402
from harness.tree import snapshot  # noqa: E402
import pdfsign  # noqa: E402
import smime  # noqa: E402
import tnef  # noqa: E402

ON_TIME = "2022-06-15T10:00:00+02:00"
CALL = M.CALL_SUBJECT
SIG_M = dt.datetime(2022, 6, 15, 10, 12, 0, tzinfo=dt.timezone(dt.timedelta(hours=2)))
DOCX_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
ACTIONS = {"attachment", "body", "inline-image", "signature", "container", "tnef",
           "pkcs7", "message"}
ATTACHMENT_KEYS = ("filename", "content_type", "size", "sha256", "signature", "signer",
                   "signed_at", "signature_covers_whole_file", "signer_trusted",
                   "form", "source", "part")


def sha(data):
    return hashlib.sha256(data).hexdigest()


def norm_msgid(value):
    return (value or "").strip().strip("<>")


def tiny_png():
    """A valid 1x1 PNG (for inline images)."""
    import struct
    import zlib

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + \
            struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0)) +
            chunk(b"IDAT", zlib.compress(b"\x00\xff")) + chunk(b"IEND", b""))


def make_zip(members):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in members:
            zi = zipfile.ZipInfo(name, date_time=(2022, 6, 14, 12, 0, 0))
            zi.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(zi, data)
    return buf.getvalue()


def make_docx(text):
    """A minimal WordprocessingML document."""
    ct = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
          '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
          '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
          '<Default Extension="xml" ContentType="application/xml"/>'
          '<Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-'
          'officedocument.wordprocessingml.document.main+xml"/></Types>')
    rels = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
            '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
            'relationships/officeDocument" Target="word/document.xml"/></Relationships>')
    doc = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
           '<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main">'
           '<w:body><w:p><w:r><w:t>%s</w:t></w:r></w:p></w:body></w:document>' % text)
    return make_zip([("[Content_Types].xml", ct.encode()), ("_rels/.rels", rels.encode()),
                     ("word/document.xml", doc.encode("utf-8"))])


class FormsTest(PuljedTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.fixdir = tempfile.mkdtemp(prefix="puljed-forms-fixtures-")
        os.chmod(cls.fixdir, 0o755)
        cls.gen_start = dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=5)
        # Without pdfsig only test_a_pdfsig_cross_check fails.
        cls.fx = pdfsign.generate(os.path.join(cls.fixdir, "pdf"),
                                  run_pdfsig=shutil.which(pdfsign.PDFSIG) is not None)
        cls.gen_end = dt.datetime.now(dt.timezone.utc) + dt.timedelta(minutes=5)
        problems = pdfsign.self_check(cls.fx)
        if problems:
            raise AssertionError("fixture self-check failed:\n" + "\n".join(problems))
        cls.pdf = cls.fx["bytes"]
        cls.verdicts = cls.fx["verdicts"] or {}
        cls.trust = cls.fx["pki"].root_cert
        for p in (cls.fixdir, cls.fx["pki"].dir, os.path.dirname(cls.trust)):
            os.chmod(p, 0o755)
        os.chmod(cls.trust, 0o644)
        cls.smime = smime.generate(os.path.join(cls.fixdir, "smime"), cls.fx)
        cls.tnef = tnef.generate(os.path.join(cls.fixdir, "tnef"), cls.pdf["unsigned"])

    @classmethod
    def tearDownClass(cls):
        if os.environ.get("PULJED_KEEP_TMP") in (None, "", "0"):
            shutil.rmtree(cls.fixdir, ignore_errors=True)
        else:
            sys.stderr.write("kept fixtures in %s\n" % cls.fixdir)

    # ----------------------------------------------------------- helpers
    def ingest(self, mails, trust=True, name="puljed.conf", idates=None, trust_file=None):
        """mails: {key: raw bytes} (each with a distinct Message-ID);
        idates: {key: INTERNALDATE} (default ON_TIME).
        Returns (cfg, {key: record}); every message must be recorded."""
        dc = self.dovecot()
        ids = {}
        for key, raw in mails.items():
            dc.append("INBOX", raw, (idates or {}).get(key, ON_TIME))
            msg = email.message_from_bytes(raw, policy=email.policy.compat32)
            ids[norm_msgid(msg["Message-ID"])] = key
        self.assertEqual(len(ids), len(mails), "fixture Message-IDs are not distinct")
        dc.close_client()
        groups = {"signatures": {"trust_file": trust_file or self.trust}} if trust else None
        cfg = self.config(dc, name=name, groups=groups)
        r = self.run_puljed(cfg, "--once")
        self.assertEqual(r.returncode, P.EXIT_OK, r.describe())
        self.assertLess(len(r.stderr), 20000, "puljed was very noisy\n" + r.describe())
        recs = self.records(cfg)
        by_key = {}
        for rec in recs:
            key = ids.get(norm_msgid(rec["message_id"]))
            self.assertIsNotNone(key, "unknown record %r" % rec)
            by_key[key] = rec
        self.assertEqual(sorted(by_key), sorted(mails),
                         "not every message was recorded")
        return cfg, by_key

    def show(self, cfg, rec):
        r = self.run_ctl(cfg, "show", str(rec["id"]), "--json")
        try:
            return json.loads(r.stdout)
        except ValueError as e:
            self.fail("show --json printed no JSON (%s)\n%s" % (e, r.describe()))

    def app(self, key, attachments, applicant=None, subject=None, **kw):
        subject = subject or (CALL + " \u2013 " + (applicant or key))
        return M.make_message(subject, from_name=applicant,
                              attachments=attachments,
                              message_id="<%s@forms.test>" % key, **kw)

    def assert_attachment_shape(self, a, ctx):
        for k in ATTACHMENT_KEYS:
            self.assertIn(k, a, "%s: attachment lacks %r: %r" % (ctx, k, a))
        self.assertIn(a["signature"], ("none", "valid", "invalid"), ctx)
        self.assertIn(a["source"], ("mime", "tnef", "pkcs7"), ctx)
        self.assertIsInstance(a["form"], bool, ctx)
        if a["signature"] == "none":
            self.assertIsNone(a["signature_covers_whole_file"], ctx)
            self.assertIsNone(a["signer"], ctx)
            self.assertIsNone(a["signer_trusted"], ctx)
        if a["signed_at"] is not None:
            self.assertIsNotNone(parse_iso(a["signed_at"]).utcoffset(),
                                 "%s: signed_at without offset: %r" % (ctx, a["signed_at"]))

    def assert_records_shape(self, recs):
        for key, rec in recs.items():
            self.assertIn(rec.get("smime"), ("none", "valid", "invalid"),
                          "%s: smime missing or bad: %r" % (key, rec))
            for a in rec["attachments"]:
                self.assert_attachment_shape(a, key)
            pdfs = [a for a in rec["attachments"]
                    if a["content_type"] in ("application/pdf", DOCX_TYPE)
                    or (a["filename"] or "").lower().endswith((".pdf", ".docx"))]
            forms = [a for a in rec["attachments"] if a["form"]]
            if pdfs:
                self.assertEqual(len(forms), 1, "%s: exactly one form wanted: %r"
                                 % (key, rec["attachments"]))
            else:
                # (a PDF may also be recognised by its bytes alone)
                self.assertLessEqual(len(forms), 1, "%s: more than one form" % key)

    def signed_at_ok(self, value):
        """signed_at is the CMS signingTime (made now) or the /M entry."""
        t = parse_iso(value)
        return t == SIG_M or self.gen_start <= t <= self.gen_end

    # ------------------------------------------------------ a) PDF signatures
    PDF_CASES = ["signed_valid", "signed_single", "signed_tampered", "signed_appended",
                 "signed_mallory", "two_signatures", "unsigned", "form",
                 "byterange_lying", "byterange_huge", "contents_truncated",
                 "byterange_negative", "byterange_overflow", "byterange_gap_wide",
                 "byterange_short", "decoy", "signed_pades", "signed_sha512",
                 "signed_noattr", "signed_contents_first", "signed_hex_lower",
                 "signed_byterange_newlines", "signed_nochain", "signed_forged_chain"]
    # Correctly signed, but /ByteRange leaves out more than /Contents:
    # "invalid", or "valid" that does not cover the whole file.
    PARTIAL = ("byterange_gap_wide", "byterange_short")

    def _pdf_mails(self):
        return {k: self.app(k, [("Ans\u00f8gningsskema %s.pdf" % k, "application/pdf",
                                 self.pdf[k])], applicant="Region %s" % k)
                for k in self.PDF_CASES}

    def test_a_pdf_signatures(self):
        cfg, recs = self.ingest(self._pdf_mails(), trust=True)
        self.assert_records_shape(recs)
        want = {
            # key: (signature, signer, covers_whole_file, trusted)
            "signed_valid": ("valid", "Mette Hansen", True, True),
            "signed_single": ("valid", "Mette Hansen", True, True),
            "signed_tampered": ("invalid", None, None, None),
            "signed_appended": ("valid", "Mette Hansen", False, True),
            "signed_mallory": ("valid", "Mallory", True, False),
            "unsigned": ("none", None, None, None),
            "form": ("none", None, None, None),
            "byterange_lying": ("invalid", None, None, None),
            "byterange_huge": ("invalid", None, None, None),
            "contents_truncated": ("invalid", None, None, None),
            "byterange_negative": ("invalid", None, None, None),
            "byterange_overflow": ("invalid", None, None, None),
            "decoy": ("none", None, None, None),
        }
        for k in ("signed_pades", "signed_sha512", "signed_noattr", "signed_contents_first",
                  "signed_hex_lower", "signed_byterange_newlines"):
            want[k] = ("valid", "Mette Hansen", True, True)
        # No chain to the trusted root: without the intermediate in the CMS,
        # and with a look-alike chain (same DNs, other keys).
        want["signed_nochain"] = ("valid", "Mette Hansen", True, False)
        want["signed_forged_chain"] = ("valid", "Mette Hansen", True, False)
        for key in self.PDF_CASES:
            rec = recs[key]
            with self.subTest(pdf=key):
                self.assertEqual(len(rec["attachments"]), 1, rec)
                a = rec["attachments"][0]
                self.assertEqual(a["sha256"], sha(self.pdf[key]), a)
                self.assertEqual(a["size"], len(self.pdf[key]), a)
                self.assertEqual(a["source"], "mime", a)
                self.assertIs(a["form"], True, a)
                self.assertEqual(rec["smime"], "none", rec)
                self.assertTrue(a["part"], a)
                if key == "two_signatures":
                    self.assertIn(a["signature"], ("valid", "invalid"), a)
                    continue
                if key in self.PARTIAL:
                    self.assertIn(a["signature"], ("valid", "invalid"), a)
                    if a["signature"] == "valid":
                        self.assertIs(a["signature_covers_whole_file"], False,
                                      "the signed ranges leave out more than "
                                      "/Contents: %r" % a)
                    continue
                sig, signer, covers, trusted = want[key]
                self.assertEqual(a["signature"], sig, a)
                if key == "signed_noattr" and a["signed_at"] is None:
                    pass    # no signingTime attribute; /M may or may not be used
                elif sig == "valid":
                    self.assertIsNotNone(a["signed_at"], a)
                    self.assertTrue(self.signed_at_ok(a["signed_at"]),
                                    "signed_at %r is neither the CMS signing time "
                                    "(%s..%s) nor /M" % (a["signed_at"], self.gen_start,
                                                         self.gen_end))
                if sig == "valid":
                    self.assertEqual(a["signer"], signer, a)
                    self.assertIs(a["signature_covers_whole_file"], covers, a)
                    self.assertIs(a["signer_trusted"], trusted, a)
                elif sig == "none":
                    self.assertIsNone(a["signed_at"], a)
                    self.assertIsNone(a["signer_trusted"], a)
                if key == "signed_tampered":
                    # The certificate is there; the digest does not match.
                    self.assertIn(a["signer"], (None, "Mette Hansen"), a)
                # Every verdict says how it was reached; a form whose
                # signature does not hold, or that was changed after
                # signing, is no clean acceptance.
                if sig != "none":
                    self.assertTrue(a["signature_reason"] or sig == "valid", a)
                if sig == "valid":
                    self.assertEqual(a["signature_time_source"], "arrival", a)
                    self.assertEqual(a["signature_validated_at"], rec["received_at"], a)
                    self.assertIs(a["signature_modified_after_signing"], key == "signed_appended", a)
                if key == "signed_tampered":
                    self.assertEqual(a["signature_reason"], "digest mismatch", a)
                if key in ("signed_tampered", "byterange_lying", "contents_truncated"):
                    self.assertEqual(rec["status"], "review", rec)
                    self.assertIn("form:signature-invalid", rec["reasons"], rec)
                elif key == "signed_appended":
                    self.assertEqual(rec["status"], "review", rec)
                    self.assertIn("form:modified-after-signing", rec["reasons"], rec)
                elif key in ("signed_valid", "signed_mallory", "signed_forged_chain"):
                    # An untrusted signer keeps the status, and is shown as such.
                    self.assertEqual(rec["status"], "accepted", rec)

    def test_a_pdfsig_cross_check(self):
        if not self.verdicts:
            self.fail("pdfsig is not installed (apt-get install poppler-utils): "
                      "no cross-check possible")
        cfg, recs = self.ingest(self._pdf_mails(), trust=True)
        checked = 0
        for key in self.PDF_CASES:
            v = self.verdicts[key]
            if v["verdict"] not in ("valid", "invalid", "none"):
                continue
            if key == "two_signatures" or key in self.PARTIAL:
                continue    # pdfsig reports each; the contract names one
            a = recs[key]["attachments"][0]
            with self.subTest(pdf=key):
                self.assertEqual(a.get("signature"), v["verdict"],
                                 "puljed and pdfsig disagree on %s\npdfsig:\n%s\npuljed: %r"
                                 % (key, v["output"], a))
                if v["verdict"] == "valid":
                    sig = v["signatures"][-1]
                    self.assertEqual(a.get("signer"), sig["signer"], a)
                    self.assertIs(a.get("signature_covers_whole_file"),
                                  sig["total_document"], a)
                checked += 1
        self.assertGreaterEqual(checked, 8)

    def test_b_trust_not_configured(self):
        mails = {k: self.app(k, [("ansoegning.pdf", "application/pdf", self.pdf[k])])
                 for k in ("signed_valid", "signed_mallory", "unsigned")}
        cfg, recs = self.ingest(mails, trust=False)
        self.assert_records_shape(recs)
        for key, rec in recs.items():
            a = rec["attachments"][0]
            with self.subTest(pdf=key):
                self.assertIsNone(a["signer_trusted"],
                                  "no trust_file configured, yet signer_trusted=%r"
                                  % a["signer_trusted"])
        self.assertEqual(recs["signed_valid"]["attachments"][0]["signature"], "valid")
        self.assertEqual(recs["signed_mallory"]["attachments"][0]["signer"], "Mallory")
        self.assertEqual(recs["unsigned"]["attachments"][0]["signature"], "none")

    def test_b_trust_file_problems(self):
        dc = self.dovecot()
        dc.append("INBOX", self.app("x", [("a.pdf", "application/pdf", self.pdf["form"])]),
                  ON_TIME)
        dc.close_client()
        rel = self.config(dc, name="rel.conf",
                          groups={"signatures": {"trust_file": "root.pem"}})
        r = self.run_puljed(rel, "--once")
        self.assertEqual(r.returncode, P.EXIT_CONFIG, r.describe())
        self.assertIn("trust_file", r.stderr, r.describe())
        missing = self.config(dc, name="missing.conf",
                              groups={"signatures": {"trust_file": self.path("nope.pem")}})
        r = self.run_puljed(missing, "--once")
        self.assertEqual(r.returncode, P.EXIT_CONFIG, r.describe())
        self.assertIn("trust_file", r.stderr, r.describe())

    # ------------------------------------------------------ c) forwarded
    def test_c_forwarded_twice(self):
        pdf = self.pdf["signed_valid"]
        inner = self.app("fwd-inner", [("Ans\u00f8gningsskema.pdf", "application/pdf", pdf)],
                         applicant="Region Sj\u00e6lland")
        once = M.forward(inner, message_id="<fwd-once@forms.test>")
        twice = M.forward(once, message_id="<fwd-twice@forms.test>",
                          from_addr="sekretariat@sst.example.dk")
        cfg, recs = self.ingest({"twice": twice})
        self.assert_records_shape(recs)
        rec = recs["twice"]
        pdfs = [a for a in rec["attachments"] if a["sha256"] == sha(pdf)]
        self.assertEqual(len(pdfs), 1, rec["attachments"])
        a = pdfs[0]
        self.assertEqual(a["filename"], "Ans\u00f8gningsskema.pdf")
        self.assertEqual(a["size"], len(pdf))
        self.assertEqual(a["signature"], "valid", a)
        self.assertEqual(a["signer"], "Mette Hansen", a)
        self.assertIs(a["form"], True, a)
        self.assertEqual(a["source"], "mime", a)
        # No message/rfc822 part is listed as an attachment of its own.
        self.assertEqual(len(rec["attachments"]), 1, rec["attachments"])
        shown = self.show(cfg, rec)
        self.check_parts(shown, twice)
        actions = collections.Counter(p["action"] for p in shown["parts"])
        self.assertEqual(actions["message"], 2, shown["parts"])

    # ------------------------------------- l) signatures made in the past
    def test_l_past_signatures(self):
        """Signers whose certificates lived days or weeks in 2022 (openssl
        under faketime, tests/gen/pastsig.py), each signing a PDF form and
        an S/MIME message, arriving at a chosen INTERNALDATE: judged at the
        arrival or a signature timestamp, never by today's clock, as
        openssl cms -verify -attime judges them; then an "old database"
        (the verdicts today's clock gave, no reasons) is reclassified."""
        import pastsig
        cases = pastsig.generate(os.path.join(self.fixdir, "past"))
        pki = os.path.join(self.fixdir, "past", "pki")
        for p in (os.path.join(self.fixdir, "past"), pki):
            os.chmod(p, 0o755)
        os.chmod(os.path.join(pki, "root.pem"), 0o644)
        mails, idates = {}, {}
        for name, c in cases.items():
            when = dt.datetime.fromtimestamp(c["arrival"], dt.timezone.utc)
            with open(c["pdf"], "rb") as f:
                mails["pdf-" + name] = self.app("past-" + name, [("Ansøgningsskema.pdf", "application/pdf",
                                                                  f.read())], applicant="Region " + name)
            with open(c["eml"], "rb") as f:
                mails["smime-" + name] = f.read()
            idates["pdf-" + name] = idates["smime-" + name] = when
        cfg, recs = self.ingest(mails, idates=idates, trust_file=os.path.join(pki, "root.pem"))
        for name, c in sorted(cases.items()):
            want, reason, source = c["want"], c["reason"], c["source"]
            with self.subTest(pdf=name):
                rec = recs["pdf-" + name]
                a = [x for x in rec["attachments"] if x["form"]][0]
                self.assertEqual(a["signature"], want, a)
                self.assertIn(reason, a["signature_reason"] or "", a)
                self.assertEqual(a["signature_time_source"], source, a)
                if c["oracle"]:
                    self.assertEqual(want == "valid", c["openssl"], "openssl cms -verify -attime disagrees")
                validated = parse_iso(a["signature_validated_at"]).timestamp()
                if source == "arrival":
                    self.assertEqual(validated, c["arrival"], a)
                else:
                    self.assertLess(validated, c["arrival"], a)
                    self.assertLess(abs(validated - c["openssl_attime"]), 60, a)
                if want == "valid":
                    self.assertIs(a["signer_trusted"], True, a)
                    self.assertEqual(rec["status"], "accepted", rec)
                else:
                    self.assertEqual(rec["status"], "review", rec)
                    self.assertIn("form:signature-invalid", rec["reasons"], rec)
            with self.subTest(smime=name):
                rec = recs["smime-" + name]
                self.assertEqual(rec["smime"], want, rec)
                self.assertIn(reason, rec["smime_reason"] or "", rec)
                self.assertEqual(rec["smime_time_source"], source, rec)
        # show says how, and that revocation is not checked.
        r = self.run_ctl(cfg, "show", str(recs["pdf-expired_since"]["id"]))
        words = " ".join(r.stdout.split())   # show wraps to the terminal
        self.assertIn("certificate expired since (validated at arrival)", words, r.describe())
        self.assertIn("revocation not checked", words, r.describe())
        self.assertIn("gyldig underskrift af Mette Hansen", words, r.describe())
        r = self.run_ctl(cfg, "show", str(recs["smime-expired_before"]["id"]))
        words = " ".join(r.stdout.split())
        self.assertIn("invalid — certificate not valid at 2022-06-15T10:31:00Z", words, r.describe())

        # An old database: the verdicts today's clock gave (every expired
        # certificate invalid, the form's record accepted or not as it
        # was), no reasons or validation times.
        import sqlite3
        db = sqlite3.connect(self.path("puljed.db"))
        old = {recs["pdf-expired_since"]["id"], recs["pdf-timestamped"]["id"]}
        with db:
            db.execute("DELETE FROM signatures")
            db.execute("UPDATE messages SET smime_reason = NULL, smime_validated_at = NULL, "
                       "smime_time_source = NULL")
            for i in old:
                db.execute("UPDATE attachments SET signature = 'invalid' WHERE message = ?", (i,))
                db.execute("UPDATE messages SET status = 'review' WHERE id = ?", (i,))
            db.execute("UPDATE messages SET smime = 'invalid' WHERE id = ?", (recs["smime-expired_since"]["id"],))
        db.close()
        r = self.run_ctl(cfg, "reclassify")
        changed = {int(line.split(":")[0][1:]) for line in r.stdout.splitlines() if line.startswith("#")}
        self.assertEqual(changed, old | {recs["smime-expired_since"]["id"]}, r.describe())
        for line in r.stdout.splitlines():
            if line.startswith("#%d:" % recs["pdf-expired_since"]["id"]):
                self.assertIn("review -> accepted", line)
                self.assertIn("signature 1 invalid -> valid", line)
        after = {rec["id"]: rec for rec in self.records(cfg)}
        for name, c in cases.items():
            rec = after[recs["pdf-" + name]["id"]]
            a = [x for x in rec["attachments"] if x["form"]][0]
            self.assertEqual(a["signature"], c["want"], a)
            self.assertIsNotNone(a["signature_validated_at"], "reclassify filled the facts in: %r" % a)
            self.assertEqual(after[recs["smime-" + name]["id"]]["smime_time_source"], c["source"])
        # Recomputed again: nothing changes (the verdict does not depend
        # on the day it is computed).
        r = self.run_ctl(cfg, "reclassify")
        self.assertNotIn("#", r.stdout, r.describe())

    # ------------------------------------------------------ d) S/MIME
    def test_d_smime(self):
        mails = dict(self.smime)
        opaque = self.smime["smime_opaque"]
        head, _, body = opaque.partition(b"\r\n\r\n")
        lines = body.split(b"\r\n")
        mails["smime_truncated"] = (head.replace(b"smime-opaque@", b"smime-trunc@") +
                                    b"\r\n\r\n" + b"\r\n".join(lines[:len(lines) // 2]) +
                                    b"\r\n")
        mails["smime_garbage"] = (head.replace(b"smime-opaque@", b"smime-garbage@") +
                                  b"\r\n\r\n" + M.b64_body(M.fake_pdf(3000, seed=5)[9:]))
        det = self.smime["smime_detached"]
        i = det.index(b'filename="smime.p7s"')
        j = det.index(b"\r\n\r\n", i) + 4
        k = det.index(b"\r\n--", j)
        mails["smime_badsig"] = (det[:j].replace(b"smime-detached@", b"smime-badsig@") +
                                 M.b64_body(b"not a CMS signature " * 20) + det[k:])
        cfg, recs = self.ingest(mails)
        bad = recs.pop("smime_badsig")
        with self.subTest(message="smime_badsig"):
            self.assertEqual(bad["smime"], "invalid", bad)
            self.assertEqual([a["sha256"] for a in bad["attachments"]],
                             [sha(self.pdf["signed_valid"])], bad)
        for key in ("smime_truncated", "smime_garbage"):
            with self.subTest(message=key):
                # Declared signed-data that cannot be read: a signature that
                # does not verify (as an unreadable smime.p7s is "invalid").
                self.assertEqual(recs[key]["smime"], "invalid", recs[key])
                self.assertEqual(len(recs[key]["attachments"]), 1, recs[key])
        enc = recs.pop("smime_encrypted")
        with self.subTest(message="smime_encrypted"):
            self.assertEqual(enc["smime"], "none", enc)
            self.assertEqual([a["content_type"] for a in enc["attachments"]],
                             ["application/pkcs7-mime"], "kept as it is: %r" % enc)
            self.assertEqual(enc["status"], "review", enc)
            self.assertIn("form:none", enc["reasons"], enc)
        for key in ("smime_truncated", "smime_garbage"):
            recs.pop(key)
        self.assert_records_shape(recs)
        pdf = self.pdf["signed_valid"]
        want = {"smime_detached": ("valid", "mime"), "smime_detached_x": ("valid", "mime"),
                "smime_opaque": ("valid", "pkcs7"), "smime_altered": ("invalid", "mime")}
        for key, (verdict, source) in want.items():
            rec = recs[key]
            with self.subTest(message=key):
                self.assertEqual(rec["smime"], verdict, rec)
                self.assertEqual(len(rec["attachments"]), 1,
                                 "only the PDF is an attachment (no smime.p7s/p7m): %r"
                                 % rec["attachments"])
                a = rec["attachments"][0]
                self.assertEqual(a["sha256"], sha(pdf), a)
                self.assertEqual(a["filename"], smime.PDF_NAME, a)
                self.assertEqual(a["source"], source, a)
                self.assertEqual(a["signature"], "valid", a)
                self.assertEqual(a["signer"], "Mette Hansen", a)
                self.assertIs(a["form"], True, a)
                for b in rec["attachments"]:
                    self.assertNotIn("pkcs7", b["content_type"], b)
                    self.assertNotIn((b["filename"] or "").lower(), ("smime.p7s", "smime.p7m"))
        for key in ("smime_detached", "smime_opaque"):
            shown = self.show(cfg, recs[key])
            self.check_parts(shown, self.smime[key], opaque=(key == "smime_opaque"))
            acts = {p["content_type"]: p["action"] for p in shown["parts"]}
            if key == "smime_detached":
                self.assertEqual(acts.get("application/pkcs7-signature"), "signature", acts)
                self.assertEqual(acts.get("multipart/signed"), "container", acts)
                self.assertEqual(acts.get("application/pdf"), "attachment", acts)
            else:
                self.assertEqual(acts.get("application/pkcs7-mime"), "pkcs7", acts)

    # ------------------------------------------------------ e) TNEF
    def test_e_tnef(self):
        files = self.tnef["files"]
        mails = {"tnef": files["tnef.eml"], "truncated": files["tnef_truncated.eml"],
                 "lying": files["tnef_lying.eml"]}
        cfg, recs = self.ingest(mails)
        self.assert_records_shape(recs)
        rec = recs["tnef"]
        got = {a["filename"]: a for a in rec["attachments"]}
        self.assertEqual(sorted(got), sorted(self.tnef["names"]), rec["attachments"])
        pdf_name, xlsx_name = self.tnef["names"]
        self.assertEqual(got[pdf_name]["sha256"], sha(self.tnef["pdf"]))
        self.assertEqual(got[pdf_name]["size"], len(self.tnef["pdf"]))
        self.assertEqual(got[xlsx_name]["sha256"], sha(self.tnef["xlsx"]))
        for a in got.values():
            self.assertEqual(a["source"], "tnef", a)
        self.assertIs(got[pdf_name]["form"], True)
        self.assertIs(got[xlsx_name]["form"], False)
        self.assertEqual(got[pdf_name]["signature"], "none")
        self.assertEqual(got[xlsx_name]["signature"], "none")
        shown = self.show(cfg, rec)
        self.check_parts(shown, files["tnef.eml"], opaque=True)
        acts = {p["content_type"]: p["action"] for p in shown["parts"]}
        self.assertEqual(acts.get("application/ms-tnef"), "tnef", acts)
        for key, blob in (("truncated", self.tnef["truncated"]), ("lying", self.tnef["lying"])):
            with self.subTest(tnef=key):
                atts = recs[key]["attachments"]
                self.assertEqual(len(atts), 1, atts)
                self.assertEqual(atts[0]["filename"], "winmail.dat", atts)
                self.assertEqual(atts[0]["sha256"], sha(blob), atts)
                self.assertEqual(atts[0]["source"], "mime", atts)
                self.assertEqual(atts[0]["signature"], "none", atts)
        # extract gives the unpacked files byte for byte.
        out = self.path("tnef-out")
        os.mkdir(out)
        self.run_ctl(cfg, "extract", str(rec["id"]), out)
        found = {}
        for n in os.listdir(out):
            with open(os.path.join(out, n), "rb") as f:
                found[sha(f.read())] = n
        self.assertIn(sha(self.tnef["pdf"]), found)
        self.assertIn(sha(self.tnef["xlsx"]), found)

    # ------------------------------------------------------ f) zip, no form
    def test_f_zip_and_no_form(self):
        zipped = make_zip([("Ans\u00f8gningsskema.pdf", self.pdf["signed_valid"]),
                           ("budget.xlsx", self.tnef["xlsx"])])
        jpeg = self.pdf["scan_jpg"]
        mails = {
            "zip": self.app("zip", [("ansoegning.zip", "application/zip", zipped)]),
            "jpeg": self.app("jpeg", [("scan.jpg", "image/jpeg", jpeg)]),
        }
        cfg, recs = self.ingest(mails)
        self.assert_records_shape(recs)
        z = recs["zip"]["attachments"]
        self.assertEqual(len(z), 1, "a zip is stored as it is, never unpacked: %r" % z)
        self.assertEqual(z[0]["content_type"], "application/zip")
        self.assertEqual(z[0]["sha256"], sha(zipped))
        self.assertEqual(z[0]["signature"], "none")
        self.assertEqual(z[0]["source"], "mime")
        j = recs["jpeg"]
        self.assertEqual(j["status"], "review", j)
        self.assertIn("form:none", j["reasons"], j)
        self.assertEqual(len(j["attachments"]), 1, j)
        self.assertEqual(j["attachments"][0]["sha256"], sha(jpeg))
        self.assertIs(j["attachments"][0]["form"], False)
        self.assertEqual(j["attachments"][0]["signature"], "none")

    # ------------------------------------------------------ g) which is the form
    def test_g_form_choice(self):
        scan = self.pdf["unsigned"]          # no text at all
        text_form = self.pdf["form"]         # first page says Ansøgningsskema
        signed = self.pdf["signed_valid"]
        other = M.fake_pdf(1500, seed=11)
        docx = make_docx("Ans\u00f8gningsskema \u2013 Pulje til styrkelse af digitale kompetencer")
        cases = {
            # key: (attachments, filename of the form)
            "signed_wins": ([("ansoegning.pdf", "application/pdf", text_form),
                             ("bilag.pdf", "application/pdf", signed),
                             ("budget.xlsx", "application/vnd.openxmlformats-"
                              "officedocument.spreadsheetml.sheet", self.tnef["xlsx"])],
                            "bilag.pdf"),
            "name_wins": ([("bilag 1.pdf", "application/pdf", scan),
                           ("Ans\u00f8gning.pdf", "application/pdf", other)],
                          "Ans\u00f8gning.pdf"),
            "page_wins": ([("scan0001.pdf", "application/pdf", scan),
                           ("dokument.pdf", "application/pdf", text_form)],
                          "dokument.pdf"),
            "only_pdf": ([("scan0001.pdf", "application/pdf", scan),
                          ("foto.jpg", "image/jpeg", self.pdf["scan_jpg"])],
                         "scan0001.pdf"),
            "docx": ([("bilag.pdf", "application/pdf", scan),
                      ("skema.docx", DOCX_TYPE, docx)],
                     "skema.docx"),
        }
        mails = {k: self.app(k, atts) for k, (atts, _) in cases.items()}
        cfg, recs = self.ingest(mails)
        self.assert_records_shape(recs)
        for key, (atts, form_name) in cases.items():
            with self.subTest(message=key):
                rec = recs[key]
                self.assertEqual(len(rec["attachments"]), len(atts), rec["attachments"])
                forms = [a["filename"] for a in rec["attachments"] if a["form"]]
                self.assertEqual(forms, [form_name], rec["attachments"])
                self.assertNotIn("form:none", rec["reasons"], rec)

    # ------------------------------------------------------ h) show parts
    def check_parts(self, shown, raw, opaque=False):
        """Every MIME part of raw is in show's "parts" with a valid action
        (opaque: parts found inside a container -- p7m, winmail.dat -- may
        be listed too)."""
        self.assertIn("parts", shown, "show --json has no parts")
        parts = shown["parts"]
        self.assertIsInstance(parts, list)
        for p in parts:
            for k in ("part", "content_type", "filename", "size", "action", "why"):
                self.assertIn(k, p, "part lacks %r: %r" % (k, p))
            self.assertIn(p["action"], ACTIONS, p)
            self.assertIsInstance(p["why"], str, p)
            self.assertTrue(p["why"].strip(), p)
            self.assertLess(len(p["why"]), 200, p)
        paths = [p["part"] for p in parts]
        # IMAP-style numbering gives a multipart (or the message inside a
        # message/rfc822) the number of the part that holds it, so only the
        # leaves must have paths of their own.
        leaves = [p["part"] for p in parts if p["action"] not in ("container", "message")]
        self.assertEqual(len(leaves), len(set(leaves)), "part paths repeat: %r" % parts)
        msg = email.message_from_bytes(raw, policy=email.policy.default)
        want = collections.Counter(p.get_content_type() for p in msg.walk())
        got = collections.Counter((p["content_type"] or "").lower() for p in parts)
        if opaque:
            missing = want - got
            self.assertFalse(missing, "parts lack %r: %r" % (missing, parts))
        else:
            self.assertEqual(got, want, "parts: %r" % parts)
        for a in shown.get("attachments", []):
            if a.get("source") == "mime":
                self.assertIn(a.get("part"), paths, a)
        return parts

    def test_h_show_parts(self):
        png = tiny_png()
        html = ('<p>Hermed vores ans\u00f8gning</p><img src="cid:logo@rm">')
        related = M.multipart([M.text_part(html, "html"),
                               M.file_part(png, "image/png", filename="logo.png",
                                           disposition="inline",
                                           extra_headers=[("Content-ID", "<logo@rm>")])],
                              subtype="related")
        alt = M.multipart([M.text_part("Hermed vores ans\u00f8gning\n"), related],
                          subtype="alternative")
        entity = M.multipart([alt, M.file_part(self.pdf["form"], filename="ansoegning.pdf")])
        raw = M.wrap_message(entity, CALL + " \u2013 Region Nordjylland",
                             message_id="<html@forms.test>")
        cfg, recs = self.ingest({"html": raw})
        self.assert_records_shape(recs)
        rec = recs["html"]
        self.assertEqual([a["filename"] for a in rec["attachments"]], ["ansoegning.pdf"],
                         "the inline logo is not an attachment")
        shown = self.show(cfg, rec)
        parts = self.check_parts(shown, raw)
        acts = {p["content_type"]: p["action"] for p in parts}
        self.assertEqual(acts["image/png"], "inline-image", parts)
        self.assertEqual(acts["text/plain"], "body", parts)
        self.assertEqual(acts["multipart/mixed"], "container", parts)
        self.assertEqual(acts["multipart/alternative"], "container", parts)
        self.assertEqual(acts["application/pdf"], "attachment", parts)

    # ------------------------------------------------------ i) extract
    HOSTILE = [
        # (label, Content-Disposition filename parameter text)
        ("dotdot", 'filename="../../etc/passwd"'),
        ("absolute", 'filename="/etc/shadow"'),
        ("nul", "filename*=utf-8''a%00b.pdf"),
        ("encoded-slash", "filename*=utf-8''..%2F..%2Fevil.pdf"),
        ("con", 'filename="CON.pdf"'),
        ("lpt1", 'filename="LPT1"'),
        ("dotdot-only", 'filename=".."'),
        ("dot-only", 'filename="."'),
        ("long", "filename*=utf-8''" + "Ans%C3%B8gning_" + "%C3%B8" * 282 + "x.pdf"),
        ("same-1", 'filename="bilag.pdf"'),
        ("same-2", 'filename="bilag.pdf"'),
        ("symlinked", 'filename="ansoegning.pdf"'),
        ("into-linked-dir", 'filename="etc/passwd"'),
        ("backslash", 'filename="..\\\\..\\\\windows\\\\evil.pdf"'),
        ("empty", 'filename=""'),
        ("newline", "filename*=utf-8''bad%0Aname.pdf"),
        # RFC 2047 in a quoted filename (what many clients send): ../../evil2.pdf
        ("rfc2047", 'filename="=?utf-8?b?Li4vLi4vZXZpbDIucGRm?="'),
        # RFC 2231 continuations that only together spell ../../evil3.pdf
        ("continuation", "filename*0*=utf-8''..%2F; filename*1*=..%2F; filename*2=evil3.pdf"),
        # Only a Content-Type name parameter
        ("ct-name", None, 'name="../../evil4.pdf"'),
        # A name that is a symlink's name plus trailing dots and spaces
        ("trailing", 'filename="ansoegning.pdf. . "'),
    ]

    def test_i_extract_hostile_names(self):
        datas = {h[0]: M.fake_pdf(700 + 37 * i, seed=100 + i)
                 for i, h in enumerate(self.HOSTILE)}
        parts = [M.text_part("Bilag vedlagt.\n")]
        for label, param, *name in self.HOSTILE:
            parts.append(M.file_part(datas[label], "application/pdf", filename_param=param,
                                     name_param=name[0] if name else None))
        # ... and hostile long names inside a winmail.dat.
        tnef_names = ["../../tnef-evil.pdf", "C:\\Windows\\tnef-evil2.pdf",
                      "/etc/tnef-evil3.pdf", "bilag.pdf"]
        for i, n in enumerate(tnef_names):
            datas["tnef-%d" % i] = M.fake_pdf(900 + 13 * i, seed=200 + i)
        winmail = tnef.write_tnef([(n, datas["tnef-%d" % i], "application/pdf", i % 2 == 0)
                                   for i, n in enumerate(tnef_names)])
        parts.append(M.file_part(winmail, "application/ms-tnef",
                                 filename_param='filename="winmail.dat"',
                                 name_param='name="winmail.dat"'))
        raw = M.wrap_message(M.multipart(parts), CALL + " \u2013 Hackerby Kommune",
                             message_id="<hostile@forms.test>")
        cfg, recs = self.ingest({"hostile": raw})
        rec = recs["hostile"]
        self.assertEqual(sorted(a["sha256"] for a in rec["attachments"]),
                         sorted(sha(d) for d in datas.values()),
                         "every hostile-named attachment is stored")
        self.assertEqual(sorted(a["filename"] for a in rec["attachments"]
                                if a["source"] == "tnef"), sorted(tnef_names))

        # The world outside DIR, with bait: a file a symlink points at, a
        # directory a symlink points at, an existing file of the same name.
        outside = self.path("outside")
        os.makedirs(os.path.join(outside, "etc"))
        target = os.path.join(outside, "target.pdf")
        with open(target, "wb") as f:
            f.write(b"do not touch\n")
        out = self.path("work", "out")
        os.makedirs(out)
        os.symlink(target, os.path.join(out, "ansoegning.pdf"))
        os.symlink(os.path.join(outside, "etc"), os.path.join(out, "etc"))
        for n in ("passwd", "shadow", "evil.pdf", "etc_passwd", "_etc_passwd",
                  "etc_shadow", "_etc_shadow", ".._.._etc_passwd", "___etc_passwd",
                  "..%2F..%2Fevil.pdf", "_.._evil.pdf", "CON.pdf", "_CON.pdf", "LPT1",
                  "_LPT1", "ab.pdf", "a_b.pdf", "a%00b.pdf", "badname.pdf", "bad_name.pdf",
                  "evil.pdf"):
            p = os.path.join(out, n)
            if not os.path.lexists(p):
                os.symlink(target, p)
        with open(os.path.join(out, "bilag.pdf"), "wb") as f:
            f.write(b"existing file, keep me\n")
        before_world = snapshot(self.tmp, skip=[out])
        before_out = snapshot(out)
        system = {}
        for p in ("/etc/passwd", "/etc/shadow", "/evil.pdf", "/etc/evil.pdf"):
            try:
                with open(p, "rb") as f:
                    system[p] = (sha(f.read()), os.stat(p).st_mtime_ns)
            except OSError as e:
                system[p] = e.errno

        def system_unchanged():
            for p, was in system.items():
                try:
                    with open(p, "rb") as f:
                        now = (sha(f.read()), os.stat(p).st_mtime_ns)
                except OSError as e:
                    now = e.errno
                self.assertEqual(now, was, "%s was changed by extract" % p)

        def extract():
            r = self.run_ctl(cfg, "extract", str(rec["id"]), out, expect=None)
            self.assertLess(r.returncode if r.returncode is not None else 999, 128,
                            "puljectl crashed\n" + r.describe())
            return r

        r = extract()
        self.assertEqual(r.returncode, 0, r.describe())
        system_unchanged()
        self.assertEqual(snapshot(self.tmp, skip=[out]), before_world,
                         "something outside DIR was created or changed")
        with open(target, "rb") as f:
            self.assertEqual(f.read(), b"do not touch\n")
        self.assertEqual(os.listdir(os.path.join(outside, "etc")), [])
        after = snapshot(out)
        for rel, info in before_out.items():
            self.assertEqual(after.get(rel), info, "pre-existing %s was changed" % rel)
        new = {rel: info for rel, info in after.items() if rel not in before_out}
        files = {rel: info for rel, info in new.items() if info[0] == "file"}
        self.assertFalse([rel for rel, info in new.items() if info[0] == "link"],
                         "extract created symlinks")
        real_out = os.path.realpath(out)
        for rel in files:
            p = os.path.join(out, rel)
            self.assertTrue(os.path.realpath(p).startswith(real_out + os.sep), rel)
            for comp in rel.split(os.sep):
                self.assertNotIn(comp, ("", ".", ".."), rel)
                self.assertLessEqual(len(comp.encode("utf-8", "surrogateescape")), 255, rel)
                self.assertNotIn("\x00", comp)
                self.assertNotIn("\n", comp, rel)
            self.assertNotIn(os.sep, rel, "extract made sub-directories: %r" % rel)
        self.assertEqual(sorted(info[1] for info in files.values()),
                         sorted(sha(d) for d in datas.values()),
                         "extracted files are not exactly the attachments: %r"
                         % sorted(files))
        for rel, info in files.items():
            self.assertFalse(rel.upper().split(".")[0] in ("CON", "LPT1", "PRN", "AUX", "NUL"),
                             "reserved DOS device name kept: %r" % rel)

        # Again into the same directory: nothing is overwritten.
        snap1 = snapshot(out)
        r = extract()
        system_unchanged()
        self.assertEqual(snapshot(self.tmp, skip=[out]), before_world)
        snap2 = snapshot(out)
        for rel, info in snap1.items():
            self.assertEqual(snap2.get(rel), info, "second extract changed %s" % rel)
        if r.returncode == 0:
            added = [rel for rel in snap2 if rel not in snap1]
            self.assertEqual(len(added), len(datas), sorted(added))


    # ------------------------------------------------------ j) deep and wide
    def test_j_deep_and_wide(self):
        pdf = self.pdf["signed_valid"]
        deep = self.app("deep-inner", [("ansoegning.pdf", "application/pdf", pdf)])
        for i in range(120):
            deep = M.forward(deep, subject="VS: " + CALL, message_id="<deep-%d@forms.test>" % i)
        entity = M.file_part(pdf, filename="ansoegning.pdf")
        for i in range(120):
            entity = M.multipart([entity], boundary="=_nest_%d" % i)
        nested = M.wrap_message(entity, CALL + " \u2013 Region Dyb",
                                message_id="<nested@forms.test>")
        wide = M.wrap_message(M.multipart(
            [M.text_part("Mange bilag\n")] +
            [M.file_part(M.fake_pdf(300, seed=1000 + i), filename="bilag-%03d.pdf" % i)
             for i in range(300)] +
            [M.file_part(pdf, filename="Ans\u00f8gningsskema.pdf")]),
            CALL + " \u2013 Region Bred", message_id="<wide@forms.test>")
        cfg, recs = self.ingest({"deep": deep, "nested": nested, "wide": wide})
        for key in ("deep", "nested"):
            rec = recs[key]
            with self.subTest(message=key):
                # A depth limit may stop the walk; then the message says so.
                hashes = [a["sha256"] for a in rec["attachments"]]
                if sha(pdf) not in hashes:
                    self.assertNotEqual(rec["status"], "accepted", rec)
        w = recs["wide"]
        self.assertEqual(len(w["attachments"]), 301, len(w["attachments"]))
        forms = [a["filename"] for a in w["attachments"] if a["form"]]
        self.assertEqual(forms, ["Ans\u00f8gningsskema.pdf"])


    # ------------------------------------------------------ k) PDFs by other names
    def test_k_pdf_found_by_name_or_magic(self):
        pdf = self.pdf["signed_valid"]
        signed_tnef = tnef.write_tnef([("Ans\u00f8gningsskema underskrevet.pdf", pdf, None)])
        mails = {
            "octet-name": self.app("octet-name", [("ansoegning.pdf",
                                                   "application/octet-stream", pdf)]),
            "octet-magic": self.app("octet-magic", [("document",
                                                     "application/octet-stream", pdf)]),
            "tnef-signed": M.wrap_message(M.multipart([
                M.text_part("Se vedh\u00e6ftede.\n"),
                M.file_part(signed_tnef, "application/ms-tnef",
                            filename_param='filename="winmail.dat"',
                            name_param='name="winmail.dat"')]),
                CALL + " \u2013 tnef-signed", message_id="<tnef-signed@forms.test>"),
        }
        cfg, recs = self.ingest(mails)
        self.assert_records_shape(recs)
        for key, source in (("octet-name", "mime"), ("octet-magic", "mime"),
                            ("tnef-signed", "tnef")):
            with self.subTest(message=key):
                atts = recs[key]["attachments"]
                self.assertEqual(len(atts), 1, atts)
                a = atts[0]
                self.assertEqual(a["sha256"], sha(pdf), a)
                self.assertEqual(a["source"], source, a)
                self.assertEqual(a["signature"], "valid", a)
                self.assertEqual(a["signer"], "Mette Hansen", a)
                self.assertIs(a["signer_trusted"], True, a)
                self.assertIs(a["form"], True, a)
                self.assertNotIn("form:none", recs[key]["reasons"])


if __name__ == "__main__":
    unittest.main(verbosity=2)
