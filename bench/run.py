#!/usr/bin/python3
"""puljed benchmark: a full ingest against mbsync, no-op polls, peak memory.

Starts a throwaway Dovecot (tests/harness), fills INBOX with N realistic
applications (a text part and a 50-150 KB PDF, a few mail-client shapes),
then, alternating the order each round, times

  * ``puljed --once`` into an empty database, and
  * ``mbsync`` (Debian's isync) pulling the same mailbox into an empty Maildir

over the same IMAPS port.  Also: a poll that finds nothing new at N and at
20,000 messages, a bare process start, and puljed's peak RSS (/usr/bin/time -v)
during the full ingest and during the ingest of one 25 MB message.

With receipts (the default; ``--no-receipts`` skips it): a throwaway Postfix
(tests/harness/postfix.py: submission with STARTTLS and AUTH, delivering over
LMTP into the same Dovecot, where every applicant address is a user) and the
same full ingest with ``[receipts] send = yes``, ``send = no`` and ``send =
yes`` with nothing listening on the SMTP port (decided, composed, settled
pending, not sent); each round a fresh database, and a ``send = yes`` round
waits until every receipt puljed marked sent is in its applicant's mailbox,
checked by Message-ID.

Not part of ``meson test``.  Run it with ``sh bench/run.sh`` (installs what is
missing, builds) or directly: ``/usr/bin/python3 bench/run.py --help``.
"""

import argparse
import datetime as dt
import json
import os
import platform
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests"))

from harness.dovecot import Dovecot, live_group_members  # noqa: E402
from harness import messages as M  # noqa: E402

TIME = "/usr/bin/time"
MBSYNC = shutil.which("mbsync") or "/usr/bin/mbsync"
UTC = dt.timezone.utc

# ---------------------------------------------------------------- messages

APPLICANTS = [
    "Region Hovedstaden", "Region Sj\u00e6lland", "Region Syddanmark",
    "Region Midtjylland", "Region Nordjylland", "K\u00f8benhavns Kommune",
    "Aarhus Kommune", "Odense Kommune", "Aalborg Kommune", "Esbjerg Kommune",
    "Vejle Kommune", "Randers Kommune", "Viborg Kommune", "Kolding Kommune",
    "Silkeborg Kommune", "Herning Kommune", "Horsens Kommune", "Roskilde Kommune",
    "N\u00e6stved Kommune", "Slagelse Kommune", "Holb\u00e6k Kommune",
    "Br\u00f8nderslev Kommune", "Rigshospitalet", "Aarhus Universitetshospital",
    "Odense Universitetshospital", "Sj\u00e6llands Universitetshospital",
    "Hvidovre Hospital", "Bispebjerg og Frederiksberg Hospitaler",
    "Psykiatrien i Region Sj\u00e6lland", "Nordsj\u00e6llands Hospital",
    "Sygehus Lilleb\u00e6lt", "Regionshospitalet Gødstrup",
    "Sundhedshuset Hj\u00f8rring", "Professionshøjskolen Absalon",
    "VIA University College", "UC SYD", "Københavns Professionshøjskole",
]
DEPARTMENTS = ["Akutafdelingen", "Psykiatrien", "Sundhedsplejen",
               "Hjemmeplejen", "IT og Digitalisering", "HR og Uddannelse"]
FIRST = ["Anne", "Mette", "Lars", "S\u00f8ren", "Jens", "Hanne", "Pia", "Karen",
         "Mads", "Rasmus", "Line", "Camilla", "Niels", "Bo", "Ida", "Maja"]
LAST = ["Jensen", "Nielsen", "Hansen", "Pedersen", "Andersen", "Christensen",
        "Larsen", "S\u00f8rensen", "Rasmussen", "J\u00f8rgensen", "Madsen", "Kristensen"]
PARAGRAPHS = [
    "Hermed fremsendes vores ans\u00f8gning til puljen til styrkelse af digitale "
    "kompetencer i sundhedsv\u00e6senet.",
    "Projektet skal give medarbejdere i plejen og p\u00e5 sygehusene de digitale "
    "f\u00e6rdigheder, der skal til for at bruge nye l\u00f8sninger trygt i hverdagen.",
    "Vi s\u00f8ger om midler til uddannelse af superbrugere, e-l\u00e6ring og "
    "sidemandsoplæring over to \u00e5r, i alt ca. 1.200 medarbejdere.",
    "Ans\u00f8gningsskemaet og budgettet er vedh\u00e6ftet. Skemaet er underskrevet "
    "af direktionen.",
    "Har I sp\u00f8rgsm\u00e5l til ans\u00f8gningen, er I velkomne til at kontakte "
    "mig p\u00e5 telefon eller mail.",
    "Vi ser frem til at h\u00f8re fra jer.",
]
SHAPES = [("outlook", 35), ("plain", 30), ("two-files", 15), ("apple", 10),
          ("octet-stream", 10)]
WINDOW_START = dt.datetime(2022, 5, 2, 6, 0, tzinfo=UTC)
WINDOW_END = dt.datetime(2022, 7, 2, 6, 0, tzinfo=UTC)   # the last ~8 h are late


def slug(text):
    t = text.lower()
    for a, b in (("\u00e6", "ae"), ("\u00f8", "oe"), ("\u00e5", "aa")):
        t = t.replace(a, b)
    return re.sub(r"[^a-z0-9]+", "-", t).strip("-") or "x"


def body_text(rng, name):
    paras = [PARAGRAPHS[0]] + rng.sample(PARAGRAPHS[1:], rng.randint(2, 5))
    return "Kære Sundhedsstyrelse\n\n" + "\n\n".join(paras) + \
        "\n\nMed venlig hilsen\n%s\n" % name


def html_of(text):
    import html
    return "<html><body>" + "".join(
        "<p>%s</p>" % html.escape(p).replace("\n", "<br>")
        for p in text.split("\n\n")) + "</body></html>\n"


def make_application(rng, seq, small=False):
    """(raw bytes with CRLF, arrival datetime, shape) for one realistic
    application.  small: a 2-6 KB PDF and the plain shape."""
    applicant = rng.choice(APPLICANTS)
    if rng.random() < 0.2:
        applicant += " (%s)" % rng.choice(DEPARTMENTS)
    person = "%s %s" % (rng.choice(FIRST), rng.choice(LAST))
    domain = slug(applicant.split(" (")[0]) + ".dk"
    addr = "%s@%s" % (slug(person).replace("-", "."), domain)
    span = (WINDOW_END - WINDOW_START).total_seconds()
    arrival = WINDOW_START + dt.timedelta(seconds=int(rng.random() * span))
    date_hdr = arrival - dt.timedelta(seconds=rng.randint(3, 180))
    size = rng.randint(2000, 6000) if small else rng.randint(50 * 1024, 150 * 1024)
    pdf = M.fake_pdf(size, seed=rng.getrandbits(64))
    shape = "plain" if small else rng.choices([s for s, _ in SHAPES],
                                              [w for _, w in SHAPES])[0]
    text = body_text(rng, person + "\n" + applicant)
    if shape == "outlook":
        entity = M.multipart([
            M.multipart([M.text_part(text), M.text_part(html_of(text), "html")],
                        "alternative"),
            M.file_part(pdf, filename_param="filename*=utf-8''Ans%C3%B8gningsskema.pdf",
                        name_param='name="=?utf-8?B?QW5zw7hnbmluZ3Nza2VtYS5wZGY=?="')])
    elif shape == "plain":
        entity = M.multipart([M.text_part(text),
                              M.file_part(pdf, filename="ansoegning.pdf")])
    elif shape == "two-files":
        budget = rng.randbytes(rng.randint(8 * 1024, 30 * 1024))
        entity = M.multipart([
            M.text_part(text),
            M.file_part(pdf, filename="ansoegningsskema-%s.pdf" % slug(applicant)),
            M.file_part(b"PK\x03\x04" + budget, content_type="application/vnd."
                        "openxmlformats-officedocument.spreadsheetml.sheet",
                        filename="budget.xlsx")])
    elif shape == "apple":
        entity = M.multipart([M.text_part(text),
                              M.file_part(pdf, disposition="inline",
                                          filename="Ansoegning.pdf",
                                          name_param='name="Ansoegning.pdf"')])
    else:  # octet-stream, as some webmailers send a PDF
        entity = M.multipart([M.text_part(text),
                              M.file_part(pdf, content_type="application/octet-stream",
                                          filename="skema.pdf",
                                          name_param='name="skema.pdf"')])
    subject = "%s - %s" % (M.CALL_SUBJECT, applicant)
    raw = M.wrap_message(entity, subject, from_addr=addr, from_name=person,
                         to="puljer@sst.example.dk", date=date_hdr,
                         message_id="<bench-%d.%x@%s>" % (seq, rng.getrandbits(48), domain),
                         extra_headers=[("Organization", applicant)])
    received = ("from mail.%s (mail.%s [192.0.2.%d]) by mx.sst.example.dk with "
                "ESMTPS id %08X for <puljer@sst.example.dk>; %s"
                % (domain, domain, rng.randint(1, 254), rng.getrandbits(32),
                   arrival.strftime("%a, %d %b %Y %H:%M:%S +0000")))
    raw = M.prepend_headers(raw, [("Received", received)])
    return raw, arrival, shape


class MaildirFiller:
    """Writes messages straight into the Dovecot user's Maildir (tmp/ then a
    rename into cur/, owned by the mail user, mtime = INTERNALDATE, with
    S= and W= sizes in the name as Dovecot itself writes them).  Dovecot
    assigns UIDs in file-name (time) order at its next sync."""

    def __init__(self, dc):
        self.root = os.path.join(dc.maildir_root, dc.username)
        st = os.stat(dc.maildir_root)
        self.uid, self.gid = st.st_uid, st.st_gid
        for sub in ("", "cur", "new", "tmp"):
            p = os.path.join(self.root, sub)
            os.makedirs(p, exist_ok=True)
            os.chown(p, self.uid, self.gid)
            os.chmod(p, 0o700)
        self.seq = 0
        self.pid = os.getpid()

    def add(self, raw, arrival):
        self.seq += 1
        lf = raw.replace(b"\r\n", b"\n")
        vsize = len(lf) + lf.count(b"\n")
        ts = int(arrival.timestamp())
        name = "%d.M%06dP%d.bench,S=%d,W=%d:2," % (ts, self.seq, self.pid, len(lf), vsize)
        tmp = os.path.join(self.root, "tmp", name)
        with open(tmp, "wb") as f:
            f.write(lf)
        os.chown(tmp, self.uid, self.gid)
        os.utime(tmp, (ts, ts))
        os.rename(tmp, os.path.join(self.root, "cur", name))
        return vsize


def fill(dc, filler, rng, count, small=False, log=None):
    """count applications into INBOX; returns (total wire bytes, seconds, shapes,
    [arrival epoch])."""
    t0 = time.monotonic()
    total, shapes, arrivals = 0, {}, []
    for i in range(count):
        raw, arrival, shape = make_application(rng, filler.seq + 1, small=small)
        total += filler.add(raw, arrival)
        shapes[shape] = shapes.get(shape, 0) + 1
        arrivals.append(int(arrival.timestamp()))
        if log and (i + 1) % 5000 == 0:
            log("  ... %d/%d written" % (i + 1, count))
    return total, time.monotonic() - t0, shapes, arrivals


def verify_mailbox(dc, expected_count, arrivals):
    """Dovecot sees exactly expected_count messages with the INTERNALDATEs
    we set (this is also the first access: Dovecot indexes the new files)."""
    st = dc.status("INBOX")
    if st["messages"] != expected_count:
        raise SystemExit("Dovecot sees %s messages in INBOX, expected %d"
                         % (st["messages"], expected_count))
    dates = sorted(int(d.timestamp()) for d in dc.fetch_internaldates("INBOX").values())
    if dates != sorted(arrivals):
        bad = sum(1 for a, b in zip(dates, sorted(arrivals)) if a != b)
        raise SystemExit("INTERNALDATE mismatch for %d messages" % bad)
    dc.close_client()


# ------------------------------------------------------------------- runs

def parse_time_v(path):
    out = {}
    try:
        text = open(path).read()
    except OSError:
        return out
    for key, name, conv in (("Maximum resident set size (kbytes)", "max_rss_kb", int),
                            ("User time (seconds)", "user_s", float),
                            ("System time (seconds)", "sys_s", float),
                            ("Voluntary context switches", "vol_cs", int),
                            ("Involuntary context switches", "invol_cs", int),
                            ("Exit status", "exit", int),
                            ("File system outputs", "fs_out_blocks", int)):
        m = re.search(re.escape(key) + r":\s*([0-9.]+)", text)
        if m:
            out[name] = conv(m.group(1))
    return out


def group_cpu_ticks(pgid):
    """utime+stime of every live process in Dovecot's process group, plus the
    children the master has reaped (cutime+cstime): Dovecot's CPU so far.
    The same for Postfix's group (its master is the leader)."""
    total = 0
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % name, "rb") as f:
                stat = f.read()
        except OSError:
            continue
        rest = stat[stat.rfind(b")") + 2:].split()
        if len(rest) < 15 or int(rest[2]) != pgid:
            continue
        utime, stime, cutime, cstime = (int(x) for x in rest[11:15])
        total += utime + stime
        if int(name) == pgid:
            total += cutime + cstime
    return total


CLK_TCK = os.sysconf("SC_CLK_TCK")


def system_busy_ticks():
    """Busy CPU ticks of the whole machine (all CPUs) from /proc/stat."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    # user nice system idle iowait irq softirq steal
    return v[0] + v[1] + v[2] + v[5] + v[6] + (v[7] if len(v) > 7 else 0)


class Bench:
    def __init__(self, args, dc, workdir):
        self.args = args
        self.dc = dc
        self.workdir = workdir
        self.puljed = os.path.abspath(args.puljed)
        self.puljectl = os.path.abspath(args.puljectl or os.path.join(
            os.path.dirname(self.puljed), "puljectl"))
        self.env = dict(os.environ)
        for var in ("CREDENTIALS_DIRECTORY", "SSL_CERT_FILE", "SSL_CERT_DIR",
                    "NOTIFY_SOCKET", "LISTEN_FDS", "LISTEN_PID", "JOURNAL_STREAM"):
            self.env.pop(var, None)
        self.env["LC_ALL"] = "C.UTF-8"
        self.n = 0

    def fresh(self, kind):
        self.n += 1
        d = os.path.join(self.workdir, "run-%03d-%s" % (self.n, kind))
        os.makedirs(d)
        return d

    def run_timed(self, argv, d, timeout, stamp=None):
        """Run argv under /usr/bin/time -v; wall seconds by our own clock,
        CPU and peak RSS from time -v, Dovecot's CPU from /proc.  stamp: a
        regex; then res["stamps"] = [seconds after the start] of each
        stderr line that matches it (read as it is written)."""
        tv = os.path.join(d, "time-v.txt")
        pgid = self.dc.proc.pid
        c0 = group_cpu_ticks(pgid)
        b0 = system_busy_ticks()
        stamps = []
        with open(os.path.join(d, "stdout"), "wb") as so, \
                open(os.path.join(d, "stderr"), "wb") as se:
            t0 = time.monotonic()
            if stamp is None:
                p = subprocess.run([TIME, "-v", "-o", tv] + argv, stdout=so, stderr=se,
                                   stdin=subprocess.DEVNULL, env=self.env, timeout=timeout)
            else:
                rx = re.compile(stamp.encode())
                p = subprocess.Popen([TIME, "-v", "-o", tv] + argv, stdout=so,
                                     stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                                     env=self.env)
                for line in p.stderr:
                    if rx.search(line):
                        stamps.append(time.monotonic() - t0)
                    se.write(line)
                p.wait(timeout=timeout)
            wall = time.monotonic() - t0
        b1 = system_busy_ticks()
        time.sleep(0.3)   # let Dovecot's imap/imap-login processes exit and be reaped
        res = parse_time_v(tv)
        res["wall_s"] = wall
        res["server_cpu_s"] = (group_cpu_ticks(pgid) - c0) / CLK_TCK
        res["returncode"] = p.returncode
        if stamp is not None:
            res["stamps"] = stamps
        # CPU the rest of the machine used meanwhile (a concurrent job competes)
        res["other_cpu_s"] = max(0.0, (b1 - b0) / CLK_TCK - res["server_cpu_s"]
                                 - res.get("user_s", 0) - res.get("sys_s", 0))
        return res

    def fail(self, what, d, res):
        tail = ""
        for f in ("stdout", "stderr"):
            try:
                tail += "--- %s:\n%s\n" % (f, open(os.path.join(d, f), "rb").read()[-3000:]
                                            .decode("utf-8", "replace"))
            except OSError:
                pass
        raise SystemExit("%s failed (exit %s) in %s\n%s" % (what, res.get("returncode"), d, tail))

    # puljed ---------------------------------------------------------------
    def puljed_config(self, d, mailbox="INBOX"):
        cfg = os.path.join(d, "puljed.conf")
        self.dc.write_config(cfg, database=os.path.join(d, "puljed.db"), mailbox=mailbox)
        return cfg

    def puljectl_json(self, cfg, command):
        p = subprocess.run([self.puljectl, "--config", cfg, command, "--json"],
                           capture_output=True, env=self.env, timeout=600)
        try:
            return json.loads(p.stdout)
        except ValueError:
            raise SystemExit("puljectl %s --json: exit %d, %r %r"
                             % (command, p.returncode, p.stdout[-500:], p.stderr[-500:]))

    def puljed_status(self, cfg):
        return self.puljectl_json(cfg, "status")

    def puljed_ingest(self, expected, mailbox="INBOX", cfg=None, keep=False):
        d = os.path.dirname(cfg) if cfg else self.fresh("puljed")
        cfg = cfg or self.puljed_config(d, mailbox)
        res = self.run_timed([self.puljed, "--config", cfg, "--once"], d,
                             timeout=self.args.timeout)
        if res["returncode"] != 0:
            self.fail("puljed --once", d, res)
        st = self.puljed_status(cfg)
        res["recorded"] = st["total"]
        res["by_status"] = st.get("by_status")
        if st["total"] != expected:
            raise SystemExit("puljed recorded %s messages, expected %d (%s)"
                             % (st["total"], expected, d))
        res["db_bytes"] = sum(os.path.getsize(os.path.join(d, f)) for f in os.listdir(d)
                              if f.startswith("puljed.db"))
        if not keep:
            shutil.rmtree(d, ignore_errors=True)
        res["cfg"] = cfg
        return res

    # mbsync ---------------------------------------------------------------
    def mbsync_rc(self, d, box="INBOX"):
        md = os.path.join(d, "Maildir")
        os.makedirs(md)             # the store's root; "Create Near" makes INBOX
        rc = os.path.join(d, "mbsyncrc")
        # isync 1.4 checks the certificate against host *names* only (an IP
        # subjectAltName is not accepted), so "localhost", which resolves to
        # 127.0.0.1 here: the same address and TLS port that puljed uses.
        with open(rc, "w") as f:
            f.write("IMAPAccount bench\n"
                    "Host localhost\n"
                    "Port %d\n"
                    "User %s\n"
                    "PassCmd \"cat %s\"\n"
                    "SSLType IMAPS\n"
                    "CertificateFile %s\n"
                    "\n"
                    "IMAPStore remote\n"
                    "Account bench\n"
                    "\n"
                    "MaildirStore local\n"
                    "Path %s/\n"
                    "Inbox %s/INBOX\n"
                    "\n"
                    "Channel pull\n"
                    "Far :remote:%s\n"
                    "Near :local:INBOX\n"
                    "Sync Pull\n"
                    "Create Near\n"
                    "Expunge None\n"
                    "SyncState *\n"
                    % (self.dc.imaps_port, self.dc.username, self.dc.password_file,
                       self.dc.ca_file, md, md, box))
        return rc, os.path.join(md, "INBOX")

    @staticmethod
    def count_maildir(inbox):
        n = 0
        for sub in ("cur", "new"):
            try:
                n += sum(1 for f in os.listdir(os.path.join(inbox, sub)) if not f.startswith("."))
            except FileNotFoundError:
                pass
        return n

    def mbsync_pull(self, expected, box="INBOX", rc=None, keep=False):
        if rc:
            d = os.path.dirname(rc)
            inbox = os.path.join(d, "Maildir", "INBOX")
        else:
            d = self.fresh("mbsync")
            rc, inbox = self.mbsync_rc(d, box)
        res = self.run_timed([MBSYNC, "-q", "-c", rc, "pull"], d, timeout=self.args.timeout)
        if res["returncode"] != 0:
            self.fail("mbsync", d, res)
        got = self.count_maildir(inbox)
        res["recorded"] = got
        if got != expected:
            raise SystemExit("mbsync left %d messages in %s, expected %d" % (got, inbox, expected))
        if not keep:
            shutil.rmtree(d, ignore_errors=True)
        res["rc"] = rc
        return res

    # quick repeated runs ------------------------------------------------------
    def repeat(self, argv, times):
        out = []
        for _ in range(times):
            t0 = time.monotonic()
            p = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                               stdin=subprocess.DEVNULL, env=self.env, timeout=600)
            out.append(time.monotonic() - t0)
            if p.returncode != 0:
                raise SystemExit("%s: exit %d\n%s" % (" ".join(argv), p.returncode,
                                                      p.stderr[-2000:].decode("utf-8", "replace")))
        return out


# ------------------------------------------------------------------ receipts

RECEIPT_FROM = "Puljesekretariatet <puljer@sum.dk>"


def applicant_addresses():
    """Every address make_application() can put in From: (a receipt's
    recipient): ([address], [domain]), for Dovecot's users and Postfix's
    relay domains."""
    domains = sorted({slug(a) + ".dk" for a in APPLICANTS})
    local = sorted({slug("%s %s" % (f, l)).replace("-", ".") for f in FIRST for l in LAST})
    return ["%s@%s" % (l, d) for d in domains for l in local], domains


def header_of(path, name):
    """The first NAME: header field of a message file (unfolded), or None."""
    want = name.lower().encode() + b":"
    with open(path, "rb") as f:
        head = f.read(65536).split(b"\n\n", 1)[0].replace(b"\r", b"")
    value = None
    for line in head.split(b"\n"):
        if value is not None and line[:1] in (b" ", b"\t"):
            value += line.strip()
        elif value is not None:
            break
        elif line.lower().startswith(want):
            value = line[len(want):].strip()
    return value.decode("ascii", "replace") if value is not None else None


class ReceiptBench:
    """The full ingest with [receipts] send = yes against a real Postfix
    (submission with STARTTLS and AUTH, delivering over LMTP into the same
    Dovecot, into the applicants' own mailboxes), against send = no, and
    against send = yes with SMTP down (nothing listens: every receipt is
    decided, composed and settled 'pending', none sent).  Every round a
    fresh database; a send = yes round waits until Postfix has delivered
    every receipt puljed marked sent and checks their Message-IDs."""

    VARIANTS = ("no", "yes", "down")

    def __init__(self, bench, pf, users):
        self.bench = bench
        self.dc = bench.dc
        self.pf = pf
        self.users = set(users)
        self.root = self.dc.maildir_root
        self.counted = set()       # delivered receipt files already counted
        self.down_port = None

    def group(self, variant):
        pf = self.pf
        g = {"send": "no" if variant == "no" else "yes",
             "smtp_host": pf.host, "smtp_port": pf.submission_port, "security": "starttls",
             "ca_file": pf.ca_file, "username": pf.username,
             "password_file": pf.password_file, "from": RECEIPT_FROM}
        if variant == "down":
            from harness.dovecot import unused_port
            self.down_port = self.down_port or unused_port()
            g["smtp_port"] = self.down_port
        return g

    def postfix_ticks(self):
        """Postfix's CPU so far: its master calls setsid(), so its process
        group is the master's (pid file in the queue directory), not that
        of the start-fg wrapper."""
        pid = getattr(self.pf, "master_pid", None)
        if not pid:
            with open(os.path.join(self.pf.queue_dir, "pid", "master.pid")) as f:
                pid = int(f.read().split()[0])
        return group_cpu_ticks(pid)

    def delivered(self):
        """{file name without flags: path} of every message in an
        applicant's mailbox."""
        out = {}
        for user in os.listdir(self.root):
            if user not in self.users:
                continue
            for sub in ("new", "cur"):
                p = os.path.join(self.root, user, sub)
                try:
                    names = os.listdir(p)
                except FileNotFoundError:
                    continue
                for n in names:
                    out[n.split(":", 1)[0]] = os.path.join(p, n)
        return out

    def new_deliveries(self):
        return {k: v for k, v in self.delivered().items() if k not in self.counted}

    def round(self, variant, expected, timeout):
        b, pf = self.bench, self.pf
        d = b.fresh("receipts-" + variant)
        cfg = os.path.join(d, "puljed.conf")
        self.dc.write_config(cfg, database=os.path.join(d, "puljed.db"),
                             groups={"receipts": self.group(variant)})
        mark = pf.log_mark()
        if self.new_deliveries():
            raise SystemExit("receipts arrived between rounds (%d)" % len(self.new_deliveries()))
        pf0 = self.postfix_ticks()
        dc0 = group_cpu_ticks(self.dc.proc.pid)
        res = b.run_timed([b.puljed, "--config", cfg, "--once"], d, timeout,
                          stamp=r"receipt for #")
        t_end = time.monotonic()
        if res["returncode"] != 0:
            b.fail("puljed --once (receipts %s)" % variant, d, res)
        st = b.puljed_status(cfg)
        if st["total"] != expected:
            raise SystemExit("puljed recorded %s messages, expected %d (%s)"
                             % (st["total"], expected, d))
        res["variant"] = variant
        rj = b.puljectl_json(cfg, "receipts")
        rows = rj.get("receipts", [])
        counts = {}
        for r in rows:
            counts[r["state"]] = counts.get(r["state"], 0) + 1
        res["receipt_counts"] = counts
        res["skipped_why"] = {}
        for r in rows:
            if r["state"] == "skipped":
                k = r.get("rule") or "?"
                res["skipped_why"][k] = res["skipped_why"].get(k, 0) + 1
        sent = {r["message_id"]: r["to"] for r in rows if r["state"] == "sent"}
        st_ = res.get("stamps") or []
        res["first_settle_s"] = st_[0] if st_ else None
        res["last_settle_s"] = st_[-1] if st_ else None
        res["settled_lines"] = len(st_)
        if variant == "no" and rows:
            raise SystemExit("send = no made %d receipt rows" % len(rows))
        if variant == "down" and (counts.get("pending", 0) != len(rows) or not rows):
            raise SystemExit("SMTP down: receipts %s, expected all pending" % counts)
        if variant == "yes":
            if counts.get("pending") or counts.get("failed"):
                raise SystemExit("receipts not all settled: %s (%s)" % (counts, d))
            # Wait for Postfix to hand every one to Dovecot over LMTP.
            deadline = time.monotonic() + max(300, timeout)
            while True:
                new = self.new_deliveries()
                if len(new) >= len(sent):
                    break
                if time.monotonic() > deadline:
                    raise SystemExit("only %d of %d receipts delivered after %.0f s\n%s"
                                     % (len(new), len(sent), time.monotonic() - t_end,
                                        pf.log_text()[-3000:]))
                time.sleep(0.05)
            res["drain_s"] = time.monotonic() - t_end
            if not pf.wait_queue_empty(timeout=60):
                raise SystemExit("Postfix's queue is not empty after the receipts")
            got = {}
            for name, path in new.items():
                user = os.path.basename(os.path.dirname(os.path.dirname(path)))
                mid = header_of(path, "Message-ID")
                if mid in got:
                    raise SystemExit("receipt %s delivered twice" % mid)
                got[mid] = user
                if header_of(path, "Auto-Submitted") != "auto-replied":
                    raise SystemExit("delivered message %s is no receipt" % path)
            if got != sent:
                missing = set(sent) - set(got)
                extra = set(got) - set(sent)
                raise SystemExit("delivered receipts differ from those marked sent: %d missing "
                                 "(e.g. %s), %d unexpected (e.g. %s)"
                                 % (len(missing), sorted(missing)[:3], len(extra),
                                    sorted(extra)[:3]))
            res["delivered"] = len(got)
            self.counted.update(new)
            res["smtp_sessions"] = [l.split(" disconnect from ", 1)[1]
                                    for l in pf.disconnect_lines(mark)]
        else:
            time.sleep(0.3)
            res["delivered"] = len(self.new_deliveries())
            if res["delivered"]:
                raise SystemExit("%d receipts arrived with send = %s" % (res["delivered"], variant))
        # CPU of Postfix and Dovecot from the start until every receipt was in
        # its mailbox (time -v's figures are puljed's alone).
        res["postfix_cpu_s"] = (self.postfix_ticks() - pf0) / CLK_TCK
        res["dovecot_total_cpu_s"] = (group_cpu_ticks(self.dc.proc.pid) - dc0) / CLK_TCK
        # run_timed() counted Postfix among the other processes.
        res["other_cpu_s"] = max(0.0, res["other_cpu_s"] - res["postfix_cpu_s"])
        shutil.rmtree(d, ignore_errors=True)
        return res


def measure_receipts(bench, pf, users, N, rounds, log):
    rb = ReceiptBench(bench, pf, users)
    log("receipts: warm-up (not counted): send = yes")
    w = rb.round("yes", N, bench.args.timeout)
    log("  %.2f s, %d receipts sent, %d delivered %.2f s after puljed's exit"
        % (w["wall_s"], w["receipt_counts"].get("sent", 0), w["delivered"], w["drain_s"]))
    runs = {v: [] for v in ReceiptBench.VARIANTS}
    for r in range(rounds):
        k = r % len(ReceiptBench.VARIANTS)
        order = ReceiptBench.VARIANTS[k:] + ReceiptBench.VARIANTS[:k]
        for v in order:
            res = rb.round(v, N, bench.args.timeout)
            res["round"] = r + 1
            runs[v].append(res)
            log("receipts round %d/%d send=%-4s %7.2f s  cpu %.2f+%.2f s  peak RSS %s  "
                "first/last settle %s/%s  receipts %s%s  postfix cpu %.2f s  dovecot cpu %.2f s  "
                "(other processes' cpu %.2f s)"
                % (r + 1, rounds, v, res["wall_s"], res.get("user_s", 0), res.get("sys_s", 0),
                   fmt_mb(res.get("max_rss_kb")), fmt_s(res["first_settle_s"]),
                   fmt_s(res["last_settle_s"]), res["receipt_counts"] or "-",
                   ", delivered %d (+%.2f s)" % (res["delivered"], res["drain_s"])
                   if v == "yes" else "",
                   res["postfix_cpu_s"], res["dovecot_total_cpu_s"], res["other_cpu_s"]))
    summ = {}
    for v, rs in runs.items():
        walls = [x["wall_s"] for x in rs]
        summ[v] = {
            "median_s": med(walls), "min_s": min(walls), "max_s": max(walls),
            "cpu_s": med([x.get("user_s", 0) + x.get("sys_s", 0) for x in rs]),
            "user_s": med([x.get("user_s", 0) for x in rs]),
            "sys_s": med([x.get("sys_s", 0) for x in rs]),
            "max_rss_kb": max(x.get("max_rss_kb", 0) for x in rs),
            "written_mb": med([x.get("fs_out_blocks", 0) * 512 / 1e6 for x in rs]),
            "vol_cs": med([x.get("vol_cs", 0) for x in rs]),
            "postfix_cpu_s": med([x["postfix_cpu_s"] for x in rs]),
            "dovecot_cpu_s": med([x["dovecot_total_cpu_s"] for x in rs]),
            "other_cpu_s": med([x["other_cpu_s"] for x in rs]),
            "first_settle_s": med([x["first_settle_s"] for x in rs if x["first_settle_s"]]),
            "settle_span_s": med([x["last_settle_s"] - x["first_settle_s"] for x in rs
                                  if x["first_settle_s"]]),
            "settle_each_ms": med([(x["last_settle_s"] - x["first_settle_s"])
                                   / max(1, x["settled_lines"] - 1) * 1000 for x in rs
                                   if x["first_settle_s"]]),
            "receipts": rs[-1]["receipt_counts"],
            "skipped_why": rs[-1]["skipped_why"],
        }
        if v == "yes":
            summ[v]["drain_s"] = med([x["drain_s"] for x in rs])
            summ[v]["delivered"] = [x["delivered"] for x in rs]
            summ[v]["smtp_sessions"] = rs[-1]["smtp_sessions"]
    sent = summ["yes"]["receipts"].get("sent", 0)
    summ["sent"] = sent
    if sent:
        summ["extra_s"] = summ["yes"]["median_s"] - summ["no"]["median_s"]
        summ["extra_ms_per_receipt"] = summ["extra_s"] / sent * 1000
        summ["extra_cpu_ms_per_receipt"] = (summ["yes"]["cpu_s"] - summ["no"]["cpu_s"]) / sent * 1000
        summ["down_extra_s"] = summ["down"]["median_s"] - summ["no"]["median_s"]
    return {"rounds": runs, "summary": summ, "warmup": w}


def profile(bench, N, log):
    """One more full ingest under perf record -a -g.  Samples are told apart
    by process id (a concurrent test run has its own puljed and Dovecot
    processes): this puljed, this Dovecot (every process of its group seen
    during the run), the rest.  Returns the report texts."""
    perf = shutil.which("perf")
    if not perf:
        log("perf not found; --perf skipped")
        return None
    d = bench.fresh("perf")
    cfg = bench.puljed_config(d)
    data = os.path.join(d, "perf.data")
    pidfile = os.path.join(d, "puljed.pid")
    log("perf: one more full ingest under perf record -a -g")
    pgid = bench.dc.proc.pid
    dovecot_pids = set()
    puljed_tids = set()     # perf reports threads: the fetcher and assessor are puljed too
    t0 = time.monotonic()
    with open(os.path.join(d, "stderr"), "wb") as se:
        p = subprocess.Popen([perf, "record", "-q", "-a", "-g", "-F", "499", "-o", data, "--",
                              "sh", "-c", 'echo $$ > "$0"; exec "$@"', pidfile,
                              bench.puljed, "--config", cfg, "--once"],
                             stdout=subprocess.DEVNULL, stderr=se, stdin=subprocess.DEVNULL,
                             env=bench.env)
        while p.poll() is None:
            dovecot_pids.update(live_group_members(pgid))
            try:
                tasks = "/proc/%d/task" % int(open(pidfile).read().strip())
                puljed_tids.update(int(t) for t in os.listdir(tasks))
            except (OSError, ValueError):
                pass
            time.sleep(0.02)
    wall = time.monotonic() - t0
    if p.returncode != 0:
        bench.fail("perf record puljed", d, {"returncode": p.returncode})
    ppid = int(open(pidfile).read().strip())
    puljed_tids.add(ppid)

    def report(sort, pids=None):
        """{key: samples} for --sort pid,<sort>, only the given pids, key =
        (comm, ...the sort keys).  Sample counts, not perf's rounded
        percentages (hundreds of one-sample lines would each round up);
        and the pid filtering is ours (perf 6.1 drops lines when --pid is
        combined with a sort that does not include the pid)."""
        r = subprocess.run([perf, "report", "-i", data, "--stdio", "--no-children", "-g", "none",
                            "-q", "-n", "--sort", "pid," + sort], capture_output=True,
                           text=True, timeout=600)
        agg = {}
        for line in r.stdout.splitlines():
            m = re.match(r"\s*[\d.]+%\s+(\d+)\s+(\d+):(.*?)\s{2,}(.*)$", line.rstrip())
            if not m or (pids is not None and int(m.group(2)) not in pids):
                continue
            key = (m.group(3).strip(),) + tuple(re.split(r"\s{2,}", m.group(4).strip()))
            agg[key] = agg.get(key, 0) + int(m.group(1))
        return agg

    shares = {"puljed": 0, "dovecot": 0, "idle": 0, "other": 0}
    r = subprocess.run([perf, "report", "-i", data, "--stdio", "--no-children", "-g", "none",
                        "-q", "-n", "--sort", "pid"], capture_output=True, text=True, timeout=600)
    for line in r.stdout.splitlines():
        m = re.match(r"\s*[\d.]+%\s+(\d+)\s+(\d+):", line)
        if not m:
            continue
        n, pid = int(m.group(1)), int(m.group(2))
        key = ("puljed" if pid in puljed_tids else "dovecot" if pid in dovecot_pids
               else "idle" if pid == 0 else "other")
        shares[key] += n
    samples = dict(shares)
    all_samples = sum(samples.values()) or 1
    shares = {k: 100.0 * v / all_samples for k, v in samples.items()}
    out = {"wall_s": wall, "shares_pct": shares, "samples": samples}
    print("--- perf: of all samples on both CPUs during a %.1f s ingest: puljed %.1f%%, "
          "this Dovecot %.1f%%, idle %.1f%%, other processes %.1f%%"
          % (wall, shares["puljed"], shares["dovecot"], shares["idle"], shares["other"]))

    def table(agg, total, limit, cols):
        rows = sorted(agg.items(), key=lambda kv: -kv[1])
        lines = []
        for key, pct in rows:
            rel = 100.0 * pct / total if total else 0.0
            if rel < limit or len(lines) >= 25:
                break
            lines.append(("  %6.2f%%  %s" % (rel, "  ".join(
                "%-*s" % (w, k) for w, k in zip(cols, key)))).rstrip())
        return "\n".join(lines)

    for key, sort, pids, total, limit, cols, title in (
            ("puljed_threads", "comm", puljed_tids, samples["puljed"], 0, (16,),
             "% of puljed's samples, by thread"),
            ("puljed_libraries", "dso", puljed_tids, samples["puljed"], 1, (28,),
             "% of puljed's samples, by library"),
            ("puljed_symbols", "dso,sym", puljed_tids, samples["puljed"], 1, (28, 0),
             "% of puljed's samples, by symbol"),
            ("dovecot_libraries", "dso", dovecot_pids, samples["dovecot"], 3, (11, 28),
             "% of this Dovecot's samples, by process and library")):
        agg = report(sort, pids)
        if key.startswith("puljed"):
            # By thread: the sort's comm (a thread's samples before exec
            # say "sh"); otherwise drop the comm, all threads together.
            merged = {}
            for k, v in agg.items():
                k2 = k[-1:] if key == "puljed_threads" else k[1:]
                merged[k2] = merged.get(k2, 0) + v
            agg = merged
        out[key] = table(agg, total, limit, cols)
        print("--- perf report: %s\n%s" % (title, out[key]), flush=True)
        if key == "puljed_symbols":
            # Debian's GLib has no symbols for static functions: GLib's
            # SHA-256 (gchecksum.c) shows as bare addresses, so count them.
            glib = sum(v for k, v in agg.items() if k[0].startswith("libglib-2.0"))
            anon = sum(v for k, v in agg.items() if k[0].startswith("libglib-2.0")
                       and k[1].startswith("[.] 0x"))
            out["glib_pct"] = 100.0 * glib / total if total else 0.0
            out["glib_unnamed_pct"] = 100.0 * anon / total if total else 0.0
            print("--- GLib: %.1f%% of puljed's samples, %.1f%% in unnamed static functions "
                  "(in Debian's GLib 2.74 that is mostly gchecksum.c's SHA-256)"
                  % (out["glib_pct"], out["glib_unnamed_pct"]))
    shutil.rmtree(d, ignore_errors=True)
    return out


# -------------------------------------------------------------- reporting

def machine_facts(puljed):
    def cmd(argv):
        try:
            p = subprocess.run(argv, capture_output=True, text=True, timeout=30)
            return (p.stdout + p.stderr).strip().splitlines()[0]
        except Exception as e:  # pragma: no cover
            return "unavailable (%s)" % e
    cpu = "unknown"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = ""
    try:
        for line in open("/proc/meminfo"):
            if line.startswith("MemTotal"):
                mem = "%.1f GiB" % (int(line.split()[1]) / 1024 / 1024)
    except OSError:
        pass
    try:
        fstype = subprocess.run(["findmnt", "-no", "FSTYPE", "-T", tempfile.gettempdir()],
                                capture_output=True, text=True).stdout.strip()
    except OSError:
        fstype = "?"
    return {
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "memory": mem,
        "kernel": platform.release(),
        "os": cmd(["sh", "-c", ". /etc/os-release && echo $PRETTY_NAME"]),
        "tmp_fs": fstype,
        "dovecot": cmd(["dovecot", "--version"]),
        "mbsync": cmd([MBSYNC, "--version"]),
        "puljed": cmd([puljed, "--version"]),
        "python": platform.python_version(),
        "git": cmd(["sh", "-c", "cd '%s' && git describe --always --dirty=-modified "
                    "2>/dev/null || echo unknown" % ROOT]),
    }


def loadavg():
    try:
        return open("/proc/loadavg").read().split()[:3]
    except OSError:
        return ["?"] * 3


def med(xs):
    return statistics.median(xs) if xs else None


def fmt_s(x):
    if x is None:
        return "-"
    return "%.3f s" % x if x < 10 else "%.1f s" % x


def fmt_ms(x):
    return "-" if x is None else "%.1f ms" % (x * 1000)


def fmt_mb(kb):
    return "-" if kb is None else "%.1f MB" % (kb / 1024)


# ------------------------------------------------------------------- main

def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--messages", type=int, default=2000, metavar="N",
                    help="messages in the mailbox for the timed rounds (default 2000)")
    ap.add_argument("--rounds", type=int, default=5, metavar="R",
                    help="timed rounds, each one puljed and one mbsync run (default 5)")
    ap.add_argument("--puljed", default=os.path.join(ROOT, "build", "src", "puljed"),
                    help="the puljed binary (default build/src/puljed)")
    ap.add_argument("--puljectl", default=None,
                    help="the puljectl binary (default: beside --puljed)")
    ap.add_argument("--no-20k", action="store_true",
                    help="skip the no-op poll at 20,000 messages")
    ap.add_argument("--big-total", type=int, default=20000, metavar="N",
                    help="mailbox size for the second no-op measurement (default 20000)")
    ap.add_argument("--no-25mb", action="store_true", help="skip the 25 MB message")
    ap.add_argument("--noop-runs", type=int, default=10, help="no-op polls to time (default 10)")
    ap.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    ap.add_argument("--seed", type=int, default=2022)
    ap.add_argument("--timeout", type=int, default=3600, help="seconds allowed per run")
    ap.add_argument("--keep", action="store_true", help="keep the work directory")
    ap.add_argument("--receipts", dest="receipts", action="store_true", default=True,
                    help="also time the full ingest with [receipts] send = yes against a "
                         "real Postfix (the default; needs postfix and dovecot-lmtpd)")
    ap.add_argument("--no-receipts", dest="receipts", action="store_false",
                    help="skip the receipts measurement")
    ap.add_argument("--receipt-rounds", type=int, default=None, metavar="R",
                    help="rounds of each receipts variant (default: --rounds, at most 3)")
    ap.add_argument("--perf", action="store_true",
                    help="profile one extra full ingest with perf record -a -g and print "
                         "where the CPU went (needs perf)")
    args = ap.parse_args(argv)

    needed = [(args.puljed, "puljed"), (TIME, "GNU time (apt-get install time)"),
              (MBSYNC, "mbsync (apt-get install isync)")]
    if args.receipts:
        needed += [("/usr/sbin/postfix", "Postfix (apt-get install postfix; or --no-receipts)"),
                   ("/usr/lib/dovecot/lmtp",
                    "Dovecot's LMTP server (apt-get install dovecot-lmtpd; or --no-receipts)")]
    for path, what in needed:
        if not (os.path.isfile(path) and os.access(path, os.X_OK)):
            raise SystemExit("bench: %s not found at %s" % (what, path))
    if args.receipt_rounds is None:
        args.receipt_rounds = min(args.rounds, 3)

    def log(msg):
        print("[%s] %s" % (time.strftime("%H:%M:%S"), msg), flush=True)

    R = {"config": {"messages": args.messages, "rounds": args.rounds, "seed": args.seed,
                    "puljed": os.path.abspath(args.puljed)},
         "machine": machine_facts(os.path.abspath(args.puljed)),
         "loadavg_start": loadavg()}
    log("machine: %(nproc)s CPU (%(cpu)s), %(memory)s, kernel %(kernel)s" % R["machine"])
    log("load average at start: %s" % " ".join(R["loadavg_start"]))
    started = time.monotonic()

    workdir = tempfile.mkdtemp(prefix="puljed-bench-")
    os.chmod(workdir, 0o755)
    rng = random.Random(args.seed)
    try:
        # With receipts: every applicant address a Dovecot user, reached
        # over LMTP (Postfix delivers the receipts into their mailboxes).
        addrs, domains = applicant_addresses() if args.receipts else ([], [])
        dc_opts = ({"lmtp": True, "auth_inet": True, "users": dict.fromkeys(addrs)}
                   if args.receipts else {})
        with Dovecot(workdir=os.path.join(workdir, "dovecot"), keep=True, **dc_opts) as dc:
            dc.stop_grace = 0.5
            bench = Bench(args, dc, workdir)
            filler = MaildirFiller(dc)

            # ---- fill the mailbox
            N = args.messages
            log("writing %d messages into the Maildir ..." % N)
            nbytes, secs, shapes, arrivals = fill(dc, filler, rng, N, log=log)
            t0 = time.monotonic()
            verify_mailbox(dc, N, arrivals)
            R["mailbox"] = {"messages": N, "bytes": nbytes, "avg_kb": nbytes / N / 1024,
                            "shapes": shapes, "write_s": secs,
                            "dovecot_index_s": time.monotonic() - t0}
            log("mailbox: %d messages, %.1f MB (avg %.0f KB), written in %.1f s, "
                "indexed/verified by Dovecot in %.1f s; shapes %s"
                % (N, nbytes / 1e6, nbytes / N / 1024, secs,
                   R["mailbox"]["dovecot_index_s"], shapes))

            # ---- warm-up: one of each, not counted
            log("warm-up (not counted): puljed, mbsync")
            R["warmup"] = {"puljed": bench.puljed_ingest(N), "mbsync": bench.mbsync_pull(N)}
            log("  puljed %.2f s, mbsync %.2f s" % (R["warmup"]["puljed"]["wall_s"],
                                                   R["warmup"]["mbsync"]["wall_s"]))

            # ---- timed rounds
            runs = {"puljed": [], "mbsync": []}
            last = {}
            for r in range(args.rounds):
                order = ["puljed", "mbsync"] if r % 2 == 0 else ["mbsync", "puljed"]
                for tool in order:
                    keep = r == args.rounds - 1
                    res = (bench.puljed_ingest(N, keep=keep) if tool == "puljed"
                           else bench.mbsync_pull(N, keep=keep))
                    res["round"] = r + 1
                    runs[tool].append(res)
                    if keep:
                        last[tool] = res
                    log("round %d/%d %-6s %7.2f s  cpu %.2f+%.2f s  dovecot cpu %.2f s  "
                        "peak RSS %s  (other processes' cpu meanwhile %.2f s)"
                        % (r + 1, args.rounds, tool, res["wall_s"], res.get("user_s", 0),
                           res.get("sys_s", 0), res["server_cpu_s"],
                           fmt_mb(res.get("max_rss_kb")), res["other_cpu_s"]))
            R["rounds"] = runs
            summ = {}
            for tool, rs in runs.items():
                walls = [x["wall_s"] for x in rs]
                summ[tool] = {
                    "median_s": med(walls), "min_s": min(walls), "max_s": max(walls),
                    "per_message_ms": med(walls) / N * 1000,
                    "mb_per_s": nbytes / 1e6 / med(walls),
                    "cpu_s": med([x.get("user_s", 0) + x.get("sys_s", 0) for x in rs]),
                    "server_cpu_s": med([x["server_cpu_s"] for x in rs]),
                    "max_rss_kb": max(x.get("max_rss_kb", 0) for x in rs),
                    "median_rss_kb": med([x.get("max_rss_kb", 0) for x in rs]),
                    "written_mb": med([x.get("fs_out_blocks", 0) * 512 / 1e6 for x in rs]),
                    "other_cpu_s": med([x["other_cpu_s"] for x in rs]),
                }
            summ["ratio_puljed_over_mbsync"] = summ["puljed"]["median_s"] / summ["mbsync"]["median_s"]
            R["full_ingest"] = summ
            if args.perf:
                R["perf"] = profile(bench, N, log)
            R["by_status"] = runs["puljed"][-1].get("by_status")
            R["puljed_db_bytes"] = runs["puljed"][-1].get("db_bytes")

            # ---- receipts: send = yes against a real Postfix, send = no, SMTP down
            if args.receipts:
                from harness.postfix import Postfix
                with Postfix(dc, domains=domains, workdir=os.path.join(workdir, "postfix"),
                             keep=True) as pf:
                    R["machine"]["postfix"] = subprocess.run(
                        ["/usr/sbin/postconf", "-c", pf.conf_dir, "-h", "mail_version"],
                        capture_output=True, text=True).stdout.strip()
                    log("receipts: Postfix %s on 127.0.0.1:%d (STARTTLS, AUTH), LMTP into "
                        "this Dovecot, %d applicant mailboxes possible"
                        % (R["machine"]["postfix"], pf.submission_port, len(addrs)))
                    R["receipts"] = measure_receipts(bench, pf, addrs, N, args.receipt_rounds, log)

            # ---- process start and no-op polls at N
            R["process_start_s"] = bench.repeat([bench.puljed, "--version"], args.noop_runs)
            pcfg, mrc = last["puljed"]["cfg"], last["mbsync"]["rc"]
            noop = {}

            def measure_noop(total):
                pl = bench.repeat([bench.puljed, "--config", pcfg, "--once"], args.noop_runs)
                ml = bench.repeat([MBSYNC, "-q", "-c", mrc, "pull"], args.noop_runs)
                if bench.puljed_status(pcfg)["total"] != total:
                    raise SystemExit("a no-op poll changed the record count")
                if bench.count_maildir(os.path.join(os.path.dirname(mrc), "Maildir",
                                                    "INBOX")) != total:
                    raise SystemExit("a no-op mbsync changed the Maildir")
                d = bench.fresh("noop-rss")
                rss = bench.run_timed([bench.puljed, "--config", pcfg, "--once"], d, 600)
                noop[str(total)] = {"messages": total, "puljed_s": pl, "mbsync_s": ml,
                                    "puljed_median_s": med(pl), "mbsync_median_s": med(ml),
                                    "puljed_rss_kb": rss.get("max_rss_kb")}
                log("no-op poll at %d: puljed median %s, mbsync median %s (of %d)"
                    % (total, fmt_ms(med(pl)), fmt_ms(med(ml)), args.noop_runs))

            log("process start (puljed --version): median %s" % fmt_ms(med(R["process_start_s"])))
            measure_noop(N)

            # ---- 20,000
            if not args.no_20k and args.big_total > N:
                more = args.big_total - N
                log("writing %d more (small) messages ..." % more)
                b2, s2, _sh, arr2 = fill(dc, filler, rng, more, small=True, log=log)
                t0 = time.monotonic()
                verify_mailbox(dc, args.big_total, arrivals + arr2)
                log("  written in %.1f s, indexed/verified by Dovecot in %.1f s"
                    % (s2, time.monotonic() - t0))
                inc_p = bench.puljed_ingest(args.big_total, cfg=pcfg, keep=True)
                inc_m = bench.mbsync_pull(args.big_total, rc=mrc, keep=True)
                R["incremental"] = {"messages": more, "bytes": b2,
                                    "puljed": inc_p, "mbsync": inc_m}
                log("ingest of %d new small messages: puljed %.2f s (%.2f ms/msg, "
                    "peak RSS %s), mbsync %.2f s (%.2f ms/msg)"
                    % (more, inc_p["wall_s"], inc_p["wall_s"] / more * 1000,
                       fmt_mb(inc_p.get("max_rss_kb")), inc_m["wall_s"],
                       inc_m["wall_s"] / more * 1000))
                measure_noop(args.big_total)
            R["noop"] = noop

            # ---- one 25 MB message
            if not args.no_25mb:
                sys.path.insert(0, os.path.join(ROOT, "tests", "gen"))
                import hostile
                raw = dict(hostile.corpus(only=["attachment-25mb"]))["attachment-25mb"]
                dc.append("Big", raw, "2022-06-15T10:00:00+02:00")
                dc.close_client()
                log("one %.1f MB message in mailbox Big" % (len(raw) / 1e6))
                big_p = [bench.puljed_ingest(1, mailbox="Big") for _ in range(3)]
                big_m = [bench.mbsync_pull(1, box="Big") for _ in range(3)]
                R["big"] = {
                    "bytes": len(raw),
                    "puljed": big_p, "mbsync": big_m,
                    "puljed_median_s": med([x["wall_s"] for x in big_p]),
                    "puljed_max_rss_kb": max(x.get("max_rss_kb", 0) for x in big_p),
                    "mbsync_median_s": med([x["wall_s"] for x in big_m]),
                    "mbsync_max_rss_kb": max(x.get("max_rss_kb", 0) for x in big_m),
                    "by_status": big_p[-1].get("by_status"),
                }
                log("25 MB message: puljed %s, peak RSS %s; mbsync %s, peak RSS %s"
                    % (fmt_s(R["big"]["puljed_median_s"]), fmt_mb(R["big"]["puljed_max_rss_kb"]),
                       fmt_s(R["big"]["mbsync_median_s"]), fmt_mb(R["big"]["mbsync_max_rss_kb"])))
    finally:
        if args.keep:
            print("work directory kept: %s" % workdir)
        else:
            shutil.rmtree(workdir, ignore_errors=True)

    R["loadavg_end"] = loadavg()
    R["bench_seconds"] = time.monotonic() - started
    report(R, args)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(R, f, indent=2, default=str)
            f.write("\n")
        print("figures written to %s" % args.json)


def report(R, args):
    m = R["machine"]
    fi = R["full_ingest"]
    mb = R["mailbox"]
    N = mb["messages"]
    p, s = fi["puljed"], fi["mbsync"]
    w = print
    w("")
    w("=" * 78)
    w("puljed benchmark")
    w("=" * 78)
    w("machine   %s x %s, %s RAM, kernel %s, %s (tmp on %s)"
      % (m["nproc"], m["cpu"], m["memory"], m["kernel"], m["os"], m["tmp_fs"]))
    w("versions  %s (git %s); Dovecot %s; %s; Python %s"
      % (m["puljed"], m["git"], m["dovecot"], m["mbsync"], m["python"]))
    w("load avg  %s at start, %s at end (1/5/15 min); the bench took %.0f s"
      % (" ".join(R["loadavg_start"]), " ".join(R["loadavg_end"]), R["bench_seconds"]))
    w("mailbox   %d messages, %.1f MB on the wire (avg %.0f KB), one 50-150 KB PDF each; "
      "shapes: %s" % (N, mb["bytes"] / 1e6, mb["avg_kb"],
                      ", ".join("%s %d" % kv for kv in sorted(mb["shapes"].items()))))
    if R.get("by_status"):
        w("          puljed's verdicts: %s" % ", ".join(
            "%s %d" % kv for kv in R["by_status"].items() if kv[1]))
    w("")
    w("Full ingest, %d rounds alternating (order swapped each round), each into an empty "
      "database / Maildir" % args.rounds)
    hdr = "%-16s %9s %9s %9s %9s %6s %9s %9s %9s %9s" % (
        "", "median", "min", "max", "per msg", "MB/s", "CPU", "Dovecot", "peak RSS", "written")
    w(hdr)
    w("-" * len(hdr))
    for name, x in (("puljed --once", p), ("mbsync (isync)", s)):
        w("%-16s %9s %9s %9s %9s %6.1f %9s %9s %9s %9s" % (
            name, fmt_s(x["median_s"]), fmt_s(x["min_s"]), fmt_s(x["max_s"]),
            "%.2f ms" % x["per_message_ms"], x["mb_per_s"], fmt_s(x["cpu_s"]),
            fmt_s(x["server_cpu_s"]), fmt_mb(x["max_rss_kb"]), "%.0f MB" % x["written_mb"]))
    w("ratio puljed / mbsync (medians): %.2f" % fi["ratio_puljed_over_mbsync"])
    w("other processes used %.1f s (puljed runs) and %.1f s (mbsync runs) of CPU meanwhile "
      "(median; %d CPUs)" % (p["other_cpu_s"], s["other_cpu_s"], m["nproc"]))
    if R.get("puljed_db_bytes"):
        w("puljed's database after a full ingest: %.1f MB" % (R["puljed_db_bytes"] / 1e6))
    w("(CPU = user+sys of the client, Dovecot = CPU of all Dovecot processes during the run,\n"
      " written = the client's file-system writes (time -v), all medians; peak RSS = max)")
    if R.get("receipts"):
        report_receipts(R["receipts"]["summary"], N, args, m)
    w("")
    w("Poll that finds nothing new (median of %d)" % args.noop_runs)
    w("%-22s %12s %12s %14s" % ("", "puljed", "mbsync", "puljed RSS"))
    w("-" * 63)
    for key, x in R["noop"].items():
        w("%-22s %12s %12s %14s" % ("%d messages" % x["messages"],
                                    fmt_ms(x["puljed_median_s"]), fmt_ms(x["mbsync_median_s"]),
                                    fmt_mb(x["puljed_rss_kb"])))
    w("%-22s %12s" % ("process start only", fmt_ms(med(R["process_start_s"]))))
    w("  (puljed --version; the no-op poll includes it, the TLS handshake, LOGIN and EXAMINE)")
    if R.get("incremental"):
        inc = R["incremental"]
        k = inc["messages"]
        w("")
        w("Ingest of %d more small messages (2-6 KB PDF) on top of %d, one run:" % (k, N))
        w("  puljed %s (%.2f ms/msg, peak RSS %s)   mbsync %s (%.2f ms/msg)"
          % (fmt_s(inc["puljed"]["wall_s"]), inc["puljed"]["wall_s"] / k * 1000,
             fmt_mb(inc["puljed"].get("max_rss_kb")), fmt_s(inc["mbsync"]["wall_s"]),
             inc["mbsync"]["wall_s"] / k * 1000))
    w("")
    w("Peak RSS of puljed (/usr/bin/time -v, Maximum resident set size)")
    w("  full ingest of %d messages   %s (max of %d rounds; median %s)"
      % (N, fmt_mb(p["max_rss_kb"]), args.rounds, fmt_mb(p["median_rss_kb"])))
    if R.get("big"):
        b = R["big"]
        w("  one %.1f MB message (25 MiB PDF)   %s, in %s (median of 3); mbsync: %s, %s"
          % (b["bytes"] / 1e6, fmt_mb(b["puljed_max_rss_kb"]), fmt_s(b["puljed_median_s"]),
             fmt_mb(b["mbsync_max_rss_kb"]), fmt_s(b["mbsync_median_s"])))
        if b.get("by_status"):
            w("  (recorded as %s)" % ", ".join("%s %d" % kv for kv in b["by_status"].items() if kv[1]))
    w("  for comparison: mbsync's peak RSS in the full ingest %s" % fmt_mb(s["max_rss_kb"]))
    if R.get("perf"):
        pf = R["perf"]
        sh = pf["shares_pct"]
        w("")
        w("perf, one extra full ingest (%.1f s): of both CPUs' samples puljed %.0f%%, "
          "Dovecot %.0f%%, idle %.0f%%, other processes %.0f%%"
          % (pf["wall_s"], sh["puljed"], sh["dovecot"], sh["idle"], sh["other"]))
        w("  puljed's time by thread (main: the recorder):")
        w("\n".join("  " + l for l in pf["puljed_threads"].splitlines()[:4]))
        w("  puljed's time by library:")
        w("\n".join("  " + l for l in pf["puljed_libraries"].splitlines()[:6]))
        w("  puljed's top symbols (GLib's unnamed static code: %.0f%%):"
          % pf["glib_unnamed_pct"])
        w("\n".join("  " + l for l in pf["puljed_symbols"].splitlines()[:6]))
    w("=" * 78)


def report_receipts(rs, N, args, m):
    w = print
    w("")
    w("Receipts: full ingest of %d messages, %d rounds of each (order rotated), fresh database "
      "each; Postfix %s, LMTP into the same Dovecot" % (N, args.receipt_rounds,
                                                       m.get("postfix", "?")))
    hdr = "%-22s %9s %9s %9s %9s %9s %9s %9s %9s" % (
        "", "median", "min", "max", "CPU", "peak RSS", "written", "Postfix", "Dovecot")
    w(hdr)
    w("-" * len(hdr))
    for v, name in (("no", "send = no"), ("yes", "send = yes"), ("down", "send = yes, SMTP down")):
        x = rs[v]
        w("%-22s %9s %9s %9s %9s %9s %9s %9s %9s" % (
            name, fmt_s(x["median_s"]), fmt_s(x["min_s"]), fmt_s(x["max_s"]), fmt_s(x["cpu_s"]),
            fmt_mb(x["max_rss_kb"]), "%.0f MB" % x["written_mb"], fmt_s(x["postfix_cpu_s"]),
            fmt_s(x["dovecot_cpu_s"])))
    y = rs["yes"]
    w("receipts (send = yes): %s; skipped: %s" % (
        ", ".join("%s %d" % kv for kv in sorted(y["receipts"].items())),
        ", ".join("%s %d" % kv for kv in sorted(y["skipped_why"].items())) or "none"))
    w("delivered into the applicants' mailboxes and checked (Message-ID, Auto-Submitted): %s; "
      "the last %.2f s (median) after puljed's exit" % (
          ", ".join(str(n) for n in y["delivered"]), y["drain_s"]))
    if rs.get("sent"):
        w("extra wall time with receipts: %.2f s, %.2f ms per receipt sent (%d); "
          "extra CPU of puljed %.2f ms per receipt" % (
              rs["extra_s"], rs["extra_ms_per_receipt"], rs["sent"],
              rs["extra_cpu_ms_per_receipt"]))
    for v, name in (("yes", "send = yes"), ("down", "SMTP down")):
        x = rs[v]
        if x.get("first_settle_s") is not None:
            w("%s: first receipt settled %s after the start, the rest in %s (%.2f ms each)"
              % (name, fmt_s(x["first_settle_s"]), fmt_s(x["settle_span_s"]),
                 x["settle_each_ms"]))
    if y.get("smtp_sessions"):
        w("SMTP sessions (Postfix's summary): %s" % "; ".join(y["smtp_sessions"][:3]))
    w("other processes used %s (send = no), %s (send = yes), %s (SMTP down) of CPU meanwhile "
      "(median; kernel threads writing back our data count here too)"
      % (fmt_s(rs["no"]["other_cpu_s"]), fmt_s(rs["yes"]["other_cpu_s"]),
         fmt_s(rs["down"]["other_cpu_s"])))
    w("(CPU = puljed's user+sys; Postfix and Dovecot = their CPU from puljed's start until the "
      "last receipt was delivered)")


if __name__ == "__main__":
    main()
