"""A throwaway Postfix (Debian's) on 127.0.0.1 for puljed's SMTP tests.

Usage::

    from harness.dovecot import Dovecot
    from harness.postfix import Postfix

    with Dovecot(lmtp=True, auth_inet=True,
                 users={"ansoeger@example.org": None}) as dc, \\
         Postfix(dc) as pf:
        # submit to pf.host:pf.submission_port with STARTTLS, AUTH as
        # dc.username / dc.password (or pf.username / pf.password_file),
        # trusting pf.ca_file
        raws = pf.wait_delivered("ansoeger@example.org", 1)

Needs root (the master runs as root, its daemons as user postfix) and
Debian's postfix package (scripts/install-deps.sh); a missing one fails
loudly (PostfixError), it is never skipped.

``Postfix(dovecot, cert="good", smtps=True, domains=..., start=True,
workdir=None, keep=None)`` runs its own instance: config directory, queue
directory, data directory and log file in a private temp directory, the
master in the foreground (``postfix -c DIR start-fg``) in its own process
group, so that ``stop()`` (also at ``__exit__`` and interpreter exit) ends
every process of it.  ``dovecot`` must have been made with ``lmtp=True`` and
``auth_inet=True``: AUTH is Dovecot's (``smtpd_sasl_type = dovecot`` over
``inet:127.0.0.1:dovecot.auth_port``, so Dovecot's users and passwords are
the submission accounts) and every accepted recipient in ``domains``
(default ``DOMAINS``: example.org, example.dk, sum.dk, puljed.test) is
delivered over LMTP into Dovecot (``dovecot.lmtp_port``); read it with
``delivered(user)`` / ``wait_delivered(user, n)``.

Listeners (attributes, all on ``host`` = 127.0.0.1; fresh ports at the first
start, the same ports after ``stop()``/``start()``):

* ``submission_port`` -- STARTTLS required before anything but EHLO/QUIT
  (``smtpd_tls_security_level = encrypt``), AUTH PLAIN and LOGIN offered only
  after STARTTLS, relaying only for authenticated clients.
* ``smtps_port`` -- implicit TLS (``smtpd_tls_wrappermode``), AUTH as above;
  None with ``smtps=False``.
* ``plain_port`` -- no STARTTLS offered at all, AUTH PLAIN/LOGIN advertised
  in plaintext: a client must refuse it before sending anything.
* ``wronghost_port`` -- STARTTLS with a certificate from the same test CA
  but for DNS:evil.example only: a client must refuse it (host name).
  ``cert=`` (``"good"``, ``"wronghost"``, ``"unknownca"``) sets the
  certificate of the other listeners; to test a wrong CA, give the client
  another CA file (e.g. ``certs.unknown_cert``).

Credentials: ``username``/``password`` are Dovecot's main user,
``password_file`` a file with that password; ``ca_file`` the test CA.
``receipts_group(security="starttls", **overrides)``: puljed's [receipts]
keys for this server, for ``dovecot.write_config(groups={"receipts": ...})``.

Fault knobs:

* ``set_recipient(addr, "450 4.2.0 try later")`` / ``"550 5.1.1 no such
  user"`` -- what RCPT TO:<addr> is answered (a Postfix access table, checked
  for authenticated clients too); ``clear_recipient(addr)``,
  ``clear_recipients()``.  Takes effect for the next connection (the table
  is rewritten atomically and Postfix reloaded; every smtpd serves one
  client, so it reads the table afresh).
* ``stop()`` / ``start()`` -- SMTP down (nothing listens: connection
  refused), then up again on the same ports, with the same queue and log.
* ``log_text(since=0)``, ``log_mark()``, ``wait_for_log(regex, since)``,
  ``log_lines(since)``: Postfix's own log (``maillog_file`` via postlogd).
  ``auth_attempt_lines(since)``: lines that show a client tried AUTH
  (``auth=`` in smtpd's disconnect summary, or a SASL failure), [] when none.
  ``disconnect_lines(since)``: smtpd's per-connection summaries, e.g.
  ``disconnect from localhost[127.0.0.1] ehlo=2 starttls=1 auth=1 mail=1
  rcpt=1 data=1 quit=1 commands=8``.
* ``delivered(user, mailbox="INBOX")`` -- every message delivered to a
  Dovecot user, raw bytes in order, read over IMAP as that user;
  ``wait_delivered(user, n, timeout)`` waits until there are at least n;
  ``queue_empty()`` / ``wait_queue_empty()`` for "nothing left to deliver".
"""

import atexit
import os
import re
import signal
import subprocess
import time

from . import certs as _certs
from .dovecot import _child_setup, _listening, free_port, live_group_members
from .logfile import LogFile, read_text, reap_group

POSTFIX = os.environ.get("POSTFIX", "/usr/sbin/postfix")
POSTQUEUE = os.environ.get("POSTQUEUE", "/usr/sbin/postqueue")

DOMAINS = ("example.org", "example.dk", "sum.dk", "puljed.test")

_running = set()


def _stop_all():
    for pf in list(_running):
        try:
            pf.stop()
        except Exception:  # pragma: no cover - best effort at exit
            pass


atexit.register(_stop_all)


class PostfixError(RuntimeError):
    pass


def _master_of(pid, conf_dir):
    """True when PID is a live Postfix master of the instance in CONF_DIR."""
    try:
        with open("/proc/%d/environ" % pid, "rb") as f:
            env = f.read().split(b"\0")
        with open("/proc/%d/stat" % pid, "rb") as f:
            state = f.read().rsplit(b")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in (b"Z", b"X") and ("MAIL_CONFIG=%s" % conf_dir).encode() in env


def _kill_session(pid, conf_dir, grace=3.0):
    """SIGTERM the master PID's process group (the master and its daemons),
    then SIGKILL what is left after GRACE seconds."""
    if not _master_of(pid, conf_dir):
        return
    try:
        os.killpg(pid, signal.SIGTERM)
    except (ProcessLookupError, PermissionError):
        return
    reap_group(pid, live_group_members, grace)


_ACCESS_RE = re.compile(r"^[45]\d\d [0-9]\.[0-9]{1,3}\.[0-9]{1,3} \S.*$|^[45]\d\d \S.*$")


class Postfix(LogFile):
    """A private Postfix instance in front of a harness Dovecot (see the
    module's docstring for the whole API)."""

    def __init__(self, dovecot, cert="good", smtps=True, domains=DOMAINS,
                 certs=None, workdir=None, keep=None, start=True):
        if not (dovecot.lmtp and dovecot.auth_inet):
            raise ValueError("Postfix needs Dovecot(lmtp=True, auth_inet=True)")
        self.dovecot = dovecot
        self.cert_kind = cert
        self.smtps = bool(smtps)
        self.domains = tuple(domains)
        self.certs = certs or dovecot.certs or _certs.default_certs()
        self.ca_file = self.certs.ca_cert
        self.host = "127.0.0.1"
        self.username = dovecot.username
        self.password = dovecot.password
        self.password_file = dovecot.password_file
        self.submission_port = self.smtps_port = None
        self.plain_port = self.wronghost_port = None
        # Postfix's daemons (user postfix) must traverse to their queue.
        self._make_dir(workdir, keep, "postfix")
        self.conf_dir = os.path.join(self.dir, "etc")
        self.queue_dir = os.path.join(self.dir, "queue")
        self.data_dir = os.path.join(self.dir, "data")
        self.access_path = os.path.join(self.conf_dir, "recipient_access")
        self._access = {}
        self.proc = None
        self.master_pid = None
        if start:
            self.start()

    # ------------------------------------------------------------------ setup
    def ports(self):
        return [p for p in (self.submission_port, self.smtps_port,
                            self.plain_port, self.wronghost_port) if p]

    def _pick_ports(self):
        taken = set()
        for attr, wanted in (("submission_port", True), ("smtps_port", self.smtps),
                             ("plain_port", True), ("wronghost_port", True)):
            port = None
            while wanted and (port is None or port in taken):
                port = free_port()
            setattr(self, attr, port)
            taken.add(port)

    def _write_access(self):
        tmp = self.access_path + ".tmp"
        with open(tmp, "w") as f:
            for addr, answer in sorted(self._access.items()):
                f.write("%s %s\n" % (addr, answer))
        os.chmod(tmp, 0o644)
        os.replace(tmp, self.access_path)

    def _write_files(self):
        for d in (self.conf_dir, self.queue_dir):
            os.makedirs(d, exist_ok=True)
            os.chmod(d, 0o755)
        cert, key = self.certs.pair(self.cert_kind)
        bad_cert, bad_key = self.certs.pair("wronghost")
        dc = self.dovecot
        lmtp = "lmtp:inet:127.0.0.1:%d" % dc.lmtp_port
        with open(os.path.join(self.conf_dir, "transport"), "w") as f:
            for dom in self.domains:
                f.write("%s %s\n" % (dom, lmtp))
        self._write_access()
        main = """\
# Generated by tests/harness/postfix.py
compatibility_level = 3.6
config_directory = {c}
queue_directory = {q}
data_directory = {data}
mail_owner = postfix
setgid_group = postdrop
myhostname = mx.puljed.test
mydomain = puljed.test
myorigin = $myhostname
mydestination =
inet_interfaces = loopback-only
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
maillog_file = {log}
maillog_file_prefixes = {d}
smtputf8_enable = no
biff = no
alias_maps =
alias_database =
local_transport = error:5.1.1 no local delivery here
relay_domains = {domains}
relay_recipient_maps =
transport_maps = texthash:{c}/transport
default_transport = error:5.7.1 no delivery outside the test domains
smtp_dns_support_level = disabled
lmtp_host_lookup = native
bounce_queue_lifetime = 0
maximal_queue_lifetime = 1h
queue_run_delay = 5s
minimal_backoff_time = 5s
maximal_backoff_time = 10s
smtpd_banner = $myhostname ESMTP puljed test postfix
smtpd_tls_cert_file = {cert}
smtpd_tls_key_file = {key}
smtpd_tls_security_level = encrypt
smtpd_tls_auth_only = yes
smtpd_tls_loglevel = 1
smtpd_tls_received_header = yes
smtpd_sasl_auth_enable = yes
smtpd_sasl_type = dovecot
smtpd_sasl_path = inet:127.0.0.1:{auth}
smtpd_sasl_authenticated_header = no
smtpd_relay_restrictions = check_recipient_access texthash:{c}/recipient_access, permit_sasl_authenticated, reject
smtpd_recipient_restrictions =
smtpd_client_restrictions =
smtpd_helo_required = yes
smtpd_error_sleep_time = 0
smtpd_soft_error_limit = 100
smtpd_hard_error_limit = 100
smtpd_client_connection_rate_limit = 0
anvil_rate_time_unit = 60s
broken_sasl_auth_clients = no
""".format(c=self.conf_dir, q=self.queue_dir, data=self.data_dir, log=self.log_path,
           d=self.dir, domains=", ".join(self.domains), cert=cert, key=key,
           auth=dc.auth_port)
        with open(os.path.join(self.conf_dir, "main.cf"), "w") as f:
            f.write(main)
        # Every smtpd serves one client (max_use=1): the next connection
        # gets a fresh process that reads the access table afresh.
        smtpd = "127.0.0.1:%d inet n - n - - smtpd -o max_use=1"
        listeners = [smtpd % self.submission_port]
        if self.smtps:
            listeners.append(smtpd % self.smtps_port + " -o smtpd_tls_wrappermode=yes")
        listeners.append(smtpd % self.plain_port +
                         " -o smtpd_tls_security_level=none -o smtpd_tls_auth_only=no")
        listeners.append(smtpd % self.wronghost_port +
                         " -o smtpd_tls_cert_file=%s -o smtpd_tls_key_file=%s"
                         % (bad_cert, bad_key))
        master = "\n".join(listeners) + """
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
proxywrite unix -       -       n       -       1       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
lmtp      unix  -       -       n       -       -       lmtp
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
"""
        with open(os.path.join(self.conf_dir, "master.cf"), "w") as f:
            f.write(master)
        for name in ("main.cf", "master.cf", "transport"):
            os.chmod(os.path.join(self.conf_dir, name), 0o644)

    # -------------------------------------------------------------- lifecycle
    def _postfix(self, *args, check=True, timeout=30):
        p = subprocess.run([POSTFIX, "-c", self.conf_dir] + list(args),
                           stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=timeout)
        if check and p.returncode != 0:
            raise PostfixError("postfix %s failed (%d):\n%s\n--- log:\n%s" % (
                " ".join(args), p.returncode, p.stdout.decode("utf-8", "replace"),
                self.log_text()[-4000:]))
        return p

    def start(self, timeout=30.0):
        """Start (first time: on fresh ports; after stop(): on the same
        ports, waiting while the old listeners go away)."""
        if self.proc is not None:
            return self
        fresh = self.submission_port is None
        deadline = time.monotonic() + timeout
        while True:
            if fresh:
                self._pick_ports()
            self._write_files()
            try:
                self._spawn_and_wait(deadline)
                return self
            except PostfixError:
                self._stop_proc()
                text = self.log_text() + self._stderr_text()
                if ("Address already in use" in text or "bind" in text) \
                        and time.monotonic() < deadline:
                    time.sleep(0.3)
                    continue
                raise

    def _spawn_and_wait(self, deadline):
        err = open(self.stderr_path, "ab")
        try:
            self.proc = subprocess.Popen(
                [POSTFIX, "-c", self.conf_dir, "start-fg"],
                stdin=subprocess.DEVNULL, stdout=err, stderr=subprocess.STDOUT,
                cwd=self.dir, start_new_session=True, preexec_fn=_child_setup,
                close_fds=True)
        finally:
            err.close()
        _running.add(self)
        pending = list(self.ports())
        pid_file = os.path.join(self.queue_dir, "pid", "master.pid")
        while self.master_pid is None or pending:
            if self.master_pid is None:
                # The master calls setsid(): it leaves our process group,
                # and is stopped by its own (pid = pgid = its session).
                try:
                    with open(pid_file) as f:
                        pid = int(f.read().strip() or 0)
                    if pid and _master_of(pid, self.conf_dir):
                        self.master_pid = pid
                except (OSError, ValueError):
                    pass
            if self.proc.poll() is not None:
                raise PostfixError(
                    "postfix exited with %s during startup\n--- stderr:\n%s\n--- log:\n%s"
                    % (self.proc.returncode, self._stderr_text(), self.log_text()[-4000:]))
            if pending and _listening(pending[0]):
                pending.pop(0)
                continue
            if time.monotonic() > deadline:
                raise PostfixError(
                    "postfix did not listen on %r\n--- stderr:\n%s\n--- log:\n%s"
                    % (pending, self._stderr_text(), self.log_text()[-4000:]))
            time.sleep(0.05)

    def _stop_proc(self):
        if self.master_pid is not None:
            _kill_session(self.master_pid, self.conf_dir)
            self.master_pid = None
        if self.proc is None:
            return
        pid = self.proc.pid
        if self.proc.poll() is None:
            try:
                os.killpg(pid, signal.SIGTERM)
            except (ProcessLookupError, PermissionError):
                pass
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
        reap_group(pid, live_group_members, 5.0)
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
        self.proc = None
        _running.discard(self)

    def stop(self):
        """Stop the master and every daemon; nothing listens afterwards
        (connection refused).  Idempotent; start() brings it back."""
        self._stop_proc()
        for port in self.ports():
            deadline = time.monotonic() + 5.0
            while _listening(port) and time.monotonic() < deadline:
                time.sleep(0.05)

    def reload(self):
        """postfix reload: the daemons re-read main.cf, master.cf and tables."""
        self._postfix("reload")

    def receipts_group(self, security="starttls", **overrides):
        """The keys of puljed's [receipts] group for this server, as a dict
        (for Dovecot.write_config(groups={"receipts": ...})): send, smtp_host,
        smtp_port (submission_port, or smtps_port for security="tls"),
        security, ca_file, username, password_file, auth = plain, from.
        OVERRIDES replace keys; a value of None removes one."""
        g = {
            "send": "yes",
            "smtp_host": self.host,
            "smtp_port": self.smtps_port if security == "tls" else self.submission_port,
            "security": security,
            "ca_file": self.ca_file,
            "username": self.username,
            "password_file": self.password_file,
            "auth": "plain",
            "from": "Puljesekretariatet <puljer@sum.dk>",
        }
        g.update(overrides)
        return {k: v for k, v in g.items() if v is not None}

    # ----------------------------------------------------------- fault knobs
    def set_recipient(self, addr, answer):
        """Answer RCPT TO:<addr> with ``answer`` ("450 4.2.0 try later",
        "550 5.1.1 no such user", or an access(5) action such as "OK")
        from the next connection on."""
        if not _ACCESS_RE.match(answer) and answer not in ("OK", "DUNNO", "REJECT", "DEFER"):
            raise ValueError("not an access(5) answer: %r" % (answer,))
        if any(c.isspace() for c in addr) or not addr:
            raise ValueError("bad address %r" % (addr,))
        self._access[addr.lower()] = answer
        self._apply_access()

    def clear_recipient(self, addr):
        self._access.pop(addr.lower(), None)
        self._apply_access()

    def clear_recipients(self):
        self._access.clear()
        self._apply_access()

    def _apply_access(self):
        self._write_access()
        if self.running:
            self.reload()

    # ---------------------------------------------------------------- logging
    def _stderr_text(self):
        return read_text(self.stderr_path)

    def log_lines(self, since=0):
        return self.log_text(since).splitlines()

    def disconnect_lines(self, since=0, settle=True):
        """smtpd's summary line of every client connection since ``since``."""
        if settle:
            self.settle_log()
        return [l for l in self.log_lines(since) if "smtpd[" in l and " disconnect from " in l]

    _AUTH_RE = re.compile(r"( auth=\d| SASL \S+ authentication failed|sasl_method=|sasl_username=)")

    def auth_attempt_lines(self, since=0):
        """Lines showing that a client sent AUTH (successful or not); []: none."""
        self.settle_log()
        return [l for l in self.log_lines(since) if self._AUTH_RE.search(l)]

    # ------------------------------------------------------------- delivery
    def delivered(self, user, mailbox="INBOX"):
        """Raw bytes of every message in ``user``'s mailbox (Dovecot, IMAP)."""
        return self.dovecot.messages_of(user, mailbox)

    def wait_delivered(self, user, n=1, timeout=20.0, mailbox="INBOX"):
        """Wait until ``user`` has at least ``n`` messages; return them all.
        Raises PostfixError (with the log's tail) on timeout."""
        deadline = time.monotonic() + timeout
        while True:
            got = self.delivered(user, mailbox)
            if len(got) >= n:
                return got
            if time.monotonic() > deadline:
                raise PostfixError("%s has %d of %d messages after %.0fs\n--- log:\n%s" % (
                    user, len(got), n, timeout, self.log_text()[-4000:]))
            time.sleep(0.1)

    def queue_empty(self):
        p = subprocess.run([POSTQUEUE, "-c", self.conf_dir, "-j"], stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
        return p.returncode == 0 and not p.stdout.strip()

    def wait_queue_empty(self, timeout=20.0):
        deadline = time.monotonic() + timeout
        while not self.queue_empty():
            if time.monotonic() > deadline:
                return False
            time.sleep(0.1)
        return True
