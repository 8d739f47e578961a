"""A throwaway Dovecot IMAP server on 127.0.0.1 for puljed's integration tests.

Usage::

    from harness.dovecot import Dovecot

    with Dovecot() as dc:                       # good cert, TLS on both listeners
        uid = dc.append("INBOX", raw_bytes, "2022-07-01T12:00:00+02:00")
        dc.write_config(cfg_path, database=db_path)
        ...
        assert not dc.auth_attempt_lines()

Options: ``cert="good" | "wronghost" | "unknownca"``, ``ssl=False`` (no TLS at all:
STARTTLS not offered, no IMAPS listener), ``drop_capabilities=("MOVE",)`` or
``imap_capability="..."`` (what the server advertises after login; Dovecot still
executes commands it does not advertise), ``auth_mechanisms="plain login"``
(what is advertised as AUTH=), ``oauth2=IntrospectionServer`` (harness.oauth2:
an oauth2 passdb for XOAUTH2/OAUTHBEARER beside the passwd-file one).

For a mail server in front of it (harness.postfix), all opt-in:
``lmtp=True`` (an LMTP listener on 127.0.0.1:``lmtp_port`` delivering into the
users' INBOX), ``auth_inet=True`` (Dovecot's SASL auth service on
127.0.0.1:``auth_port``, for ``smtpd_sasl_type = dovecot``), and
``users={"ansoeger@example.org": "password", ...}`` (more users beside
``username``; None as a password: a generated one, in ``passwords``).
``messages_of(user)`` reads all of a user's messages (raw bytes) over IMAP.

Everything lives in a private temp directory (config, base_dir, state_dir, log,
maildir).  Dovecot runs in the foreground (``dovecot -F``) as a child process in
its own process group; ``stop()`` (also called by ``__exit__`` and at interpreter
exit) terminates the whole group, so no process is leaked when a test fails.
"""

import atexit
import ctypes
import datetime as _dt
import imaplib
import os
import re
import secrets
import signal
import socket
import ssl
import subprocess
import time

from . import certs as _certs
from .logfile import LogFile, read_text, reap_group

DOVECOT = os.environ.get("DOVECOT", "/usr/sbin/dovecot")
DOVEADM = os.environ.get("DOVEADM", "/usr/bin/doveadm")

DEFAULT_CALL_NAME = "digitale-kompetencer-2022"
DEFAULT_CALL = {
    "subject": "Puljeopslag 2022: Styrkelse af digitale kompetencer",
    "deadline": "2022-07-01",
    "timezone": "Europe/Copenhagen",
}

# What Dovecot 2.3.19 advertises after login by default (CAPABILITY_STRING
# plus the LITERAL+ and NOTIFY it appends).  ``imap_capability`` REPLACES the
# whole list, pre-login as well (where Dovecot still appends STARTTLS,
# LOGINDISABLED and AUTH=...), and then nothing is appended: so a Dovecot
# "without MOVE" is given this list without MOVE.  Dovecot still executes
# commands it does not advertise (MOVE works either way).
DEFAULT_IMAP_CAPABILITY = (
    "IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE SORT SORT=DISPLAY "
    "THREAD=REFERENCES THREAD=REFS THREAD=ORDEREDSUBJECT MULTIAPPEND URL-PARTIAL "
    "CATENATE UNSELECT CHILDREN NAMESPACE UIDPLUS LIST-EXTENDED I18NLEVEL=1 "
    "CONDSTORE QRESYNC ESEARCH ESORT SEARCHRES WITHIN CONTEXT=SEARCH LIST-STATUS "
    "BINARY MOVE SNIPPET=FUZZY PREVIEW=FUZZY PREVIEW STATUS=SIZE SAVEDATE "
    "LITERAL+ NOTIFY")


def capabilities_without(*names):
    """Dovecot's default capability list without ``names`` (case-insensitive),
    as a string for ``Dovecot(imap_capability=...)``."""
    drop = {n.upper() for n in names}
    return " ".join(c for c in DEFAULT_IMAP_CAPABILITY.split()
                    if c.upper() not in drop)


_running = set()


def _stop_all():
    for dc in list(_running):
        try:
            dc.stop()
        except Exception:  # pragma: no cover - best effort at exit
            pass


atexit.register(_stop_all)

_PR_SET_PDEATHSIG = 1


def _child_setup():
    """Runs in the forked child: ask the kernel to SIGTERM Dovecot's master if
    the Python process dies without running atexit (e.g. SIGKILL)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    except Exception:
        pass


def free_port(host="127.0.0.1"):
    """Return a currently free TCP port on host."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def _listening(port, host="127.0.0.1"):
    """True if a TCP socket listens on host:port (read from /proc/net/tcp,
    so that checking opens no connection)."""
    want = {"%s:%04X" % ("".join("%02X" % int(b) for b in
                                 reversed(host.split("."))), port),
            "00000000:%04X" % port}
    try:
        with open("/proc/net/tcp") as f:
            next(f)
            for line in f:
                fields = line.split()
                if fields[1] in want and fields[3] == "0A":
                    return True
    except OSError:
        pass
    return False


def unused_port(host="127.0.0.1"):
    """A port nothing listens on (for proving that no network is touched)."""
    return free_port(host)


def to_imap_date(value):
    """Convert an aware datetime or ISO 8601 string into an IMAP date-time
    string (quoted, as imaplib.append wants it)."""
    if value is None:
        return None
    if isinstance(value, str):
        s = value.strip()
        if s.startswith('"'):
            return s
        value = _dt.datetime.fromisoformat(s.replace("Z", "+00:00"))
    if isinstance(value, _dt.datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError("internaldate must be timezone-aware: %r" % (value,))
        return imaplib.Time2Internaldate(value)
    raise TypeError("unsupported internaldate %r" % (value,))


_INTERNALDATE_RE = re.compile(rb'INTERNALDATE "\s*([^"]+)"')
_UID_RE = re.compile(rb"UID (\d+)")
_FLAGS_RE = re.compile(rb"FLAGS \(([^)]*)\)")
_APPENDUID_RE = re.compile(rb"\[APPENDUID (\d+) (\d+)\]")


def parse_internaldate(text):
    """Parse '02-Jul-2022 00:00:10 +0200' into an aware datetime."""
    if isinstance(text, bytes):
        text = text.decode("ascii")
    return _dt.datetime.strptime(text.strip(), "%d-%b-%Y %H:%M:%S %z")


def live_group_members(pgid):
    """PIDs of non-zombie processes in process group ``pgid`` (from /proc)."""
    out = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % name, "rb") as f:
                stat = f.read()
        except OSError:
            continue
        # pid (comm) state ppid pgrp ...  -- comm may contain spaces/parens
        rest = stat[stat.rfind(b")") + 2:].split()
        if len(rest) >= 3 and int(rest[2]) == pgid and rest[0] not in (b"Z", b"X"):
            out.append(int(name))
    return out


def _mail_ids():
    """uid/gid that owns the maildir.  Dovecot refuses uid 0 for mail access
    ("userdb returned 0 as uid") even with first_valid_uid = 0, so as root we
    use nobody:nogroup; otherwise the current user."""
    if os.getuid() != 0:
        return os.getuid(), os.getgid()
    import pwd
    import grp
    try:
        pw = pwd.getpwnam("nobody")
        uid = pw.pw_uid
        try:
            gid = grp.getgrnam("nogroup").gr_gid
        except KeyError:
            gid = pw.pw_gid
        return uid, gid
    except KeyError:
        pw = pwd.getpwnam("dovecot")
        return pw.pw_uid, pw.pw_gid


class DovecotError(RuntimeError):
    pass


class Dovecot(LogFile):
    """A private Dovecot instance.

    Attributes after start(): host, imaps_port (None when ssl=False), imap_port,
    username, password, password_file, ca_file, dir, log_path.
    """

    def __init__(self, cert="good", ssl=True, username="rbj", password=None,
                 certs=None, workdir=None, keep=None, start=True,
                 extra_conf="", mail_max_userip_connections=200,
                 tls_max=None, imap_capability=None, drop_capabilities=(),
                 auth_mechanisms=None, oauth2=None, lmtp=False, auth_inet=False,
                 users=None):
        self.cert_kind = cert
        self.lmtp = bool(lmtp)
        self.auth_inet = bool(auth_inet)
        self.lmtp_port = None
        self.auth_port = None
        self.ssl = bool(ssl)
        self.username = username
        # Distinctive, easily greppable, no characters special to passwd-file.
        self.password = password or ("Pw-" + secrets.token_hex(10))
        self.certs = certs or _certs.default_certs()
        self.ca_file = self.certs.ca_cert
        self.host = "127.0.0.1"
        self.imaps_port = None
        self.imap_port = None
        self.extra_conf = extra_conf
        # Highest TLS version Dovecot offers ("TLSv1.2"); None = OpenSSL's
        # default (TLS 1.3).  Dovecot 2.3 has no ssl_max_protocol, so this is
        # done with an OPENSSL_CONF passed through import_environment.
        self.tls_max = tls_max or os.environ.get("PULJED_TEST_TLS_MAX") or None
        self.max_userip = mail_max_userip_connections
        if drop_capabilities:
            if imap_capability:
                raise ValueError("give imap_capability or drop_capabilities, not both")
            imap_capability = capabilities_without(*drop_capabilities)
        self.imap_capability = imap_capability
        # oauth2: an object with .url (harness.oauth2.IntrospectionServer) or
        # the introspection URL itself.
        self.oauth2_url = getattr(oauth2, "url", oauth2) if oauth2 else None
        if auth_mechanisms is None:
            auth_mechanisms = "plain login" + (
                " xoauth2 oauthbearer" if self.oauth2_url else "")
        self.auth_mechanisms = auth_mechanisms
        # Dovecot's auth process (user dovecot) must be able to traverse
        # the directory (made 0755).
        self._make_dir(workdir, keep, "dovecot")
        self.conf_path = os.path.join(self.dir, "dovecot.conf")
        self.users_path = os.path.join(self.dir, "users")
        self.password_file = os.path.join(self.dir, "imap-password")
        self.maildir_root = os.path.join(self.dir, "mail")
        self.oauth2_conf_path = os.path.join(self.dir, "dovecot-oauth2.conf.ext")
        self.proc = None
        self._admin_conn = None
        self.stop_grace = 1.0
        # Every user's password, the main one first (extra users: opt-in).
        self.passwords = {self.username: self.password}
        for name, pw in (users or {}).items():
            if ":" in name or (pw and ":" in pw):
                raise ValueError("no ':' in passwd-file users or passwords")
            self.passwords[name] = pw or ("Pw-" + secrets.token_hex(10))
        with open(self.password_file, "w") as f:
            f.write(self.password + "\n")
        os.chmod(self.password_file, 0o600)
        if start:
            self.start()

    # ------------------------------------------------------------------ setup
    def _write_files(self):
        uid, gid = _mail_ids()
        with open(self.users_path, "w") as f:
            for name, pw in self.passwords.items():
                f.write("%s:{PLAIN}%s::::::\n" % (name, pw))
        os.chmod(self.users_path, 0o644)
        for sub in (self.maildir_root, os.path.join(self.dir, "home")):
            os.makedirs(sub, exist_ok=True)
            os.chown(sub, uid, gid)
            os.chmod(sub, 0o755)
        cert, key = self.certs.pair(self.cert_kind)
        ssl_lines = ""
        if self.ssl:
            ssl_lines = ("ssl = yes\n"
                         "ssl_cert = <%s\n"
                         "ssl_key = <%s\n"
                         "ssl_min_protocol = TLSv1.2\n" % (cert, key))
        else:
            ssl_lines = "ssl = no\n"
        if self.tls_max:
            ossl = os.path.join(self.dir, "openssl.cnf")
            with open(ossl, "w") as f:
                f.write("openssl_conf = openssl_init\n"
                        "[openssl_init]\nssl_conf = ssl_sect\n"
                        "[ssl_sect]\nsystem_default = system_default_sect\n"
                        "[system_default_sect]\nMaxProtocol = %s\n" % self.tls_max)
            os.chmod(ossl, 0o644)
            ssl_lines += "import_environment = TZ OPENSSL_CONF=%s\n" % ossl
        passdbs = ("passdb {{\n"
                   "  driver = passwd-file\n"
                   "  args = scheme=PLAIN username_format=%u {d}/users\n"
                   "{mechs}"
                   "}}\n")
        if self.oauth2_url:
            # Dovecot 2.3's oauth2 passdb asks the introspection endpoint
            # about the token (POST token=...); the answer's "username" must
            # equal the SASL user and "active" must be true.  No auth cache
            # (auth_cache_size = 0 is the default): a revoked token fails at once.
            with open(self.oauth2_conf_path, "w") as f:
                f.write("introspection_mode = post\n"
                        "introspection_url = %s\n"
                        "force_introspection = yes\n"
                        "username_attribute = username\n"
                        "active_attribute = active\n"
                        "active_value = true\n"
                        "timeout_msecs = 5000\n" % self.oauth2_url)
            os.chmod(self.oauth2_conf_path, 0o644)
            passdbs = passdbs.replace("{mechs}", "  mechanisms = plain login\n")
            passdbs += ("passdb {{\n"
                        "  driver = oauth2\n"
                        "  mechanisms = xoauth2 oauthbearer\n"
                        "  args = %s\n"
                        "}}\n" % self.oauth2_conf_path)
        else:
            passdbs = passdbs.replace("{mechs}", "")
        # Opt-in services for a mail server in front (harness.postfix).
        services = ""
        if self.lmtp:
            services += ("service lmtp {\n"
                         "  inet_listener lmtp {\n"
                         "    address = 127.0.0.1\n"
                         "    port = %d\n"
                         "  }\n"
                         "}\n"
                         "protocol lmtp {\n"
                         "  postmaster_address = postmaster@puljed.test\n"
                         "}\n" % self.lmtp_port)
        if self.auth_inet:
            services += ("service auth {\n"
                         "  inet_listener auth-smtp {\n"
                         "    address = 127.0.0.1\n"
                         "    port = %d\n"
                         "  }\n"
                         "}\n" % self.auth_port)
        capability_line = ""
        if self.imap_capability:
            capability_line = "  imap_capability = %s\n" % self.imap_capability
        conf = """\
# Generated by tests/harness/dovecot.py -- standalone, no !include.
base_dir = {d}/run
state_dir = {d}/state
instance_name = puljed-test-{tag}
log_path = {d}/dovecot.log
info_log_path = {d}/dovecot.log
debug_log_path = {d}/dovecot.log
log_timestamp = "%Y-%m-%d %H:%M:%S "
protocols = imap{lmtp_protocol}
listen = 127.0.0.1
shutdown_clients = yes
default_internal_user = dovecot
default_internal_group = dovecot
default_login_user = dovenull
first_valid_uid = 0
first_valid_gid = 0
{ssl_lines}verbose_ssl = yes
disable_plaintext_auth = yes
auth_mechanisms = {auth_mechanisms}
auth_verbose = yes
auth_verbose_passwords = no
auth_failure_delay = 0
login_greeting = puljed test dovecot ready.
login_trusted_networks = 127.0.0.2/32
mail_location = maildir:{d}/mail/%u
namespace inbox {{
  inbox = yes
  separator = /
  prefix =
}}
mail_privileged_group =
{passdbs}userdb {{
  driver = static
  args = uid={uid} gid={gid} home={d}/home/%u{allow_all}
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {imap_port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {imaps_port}
    ssl = yes
  }}
}}
service imap {{
  process_limit = 256
}}
protocol imap {{
  mail_max_userip_connections = {maxip}
{capability_line}}}
{services}{extra}
""".format(services=services,
           # LMTP's user lookup goes through the passdbs with static userdb,
           # which an oauth2 passdb cannot answer: deliver to any user.
           allow_all=" allow_all_users=yes" if self.lmtp else "", lmtp_protocol=" lmtp" if self.lmtp else "",
           d=self.dir, tag=os.path.basename(self.dir), ssl_lines=ssl_lines,
           uid=uid, gid=gid, imap_port=self.imap_port,
           imaps_port=self.imaps_port or 0, maxip=self.max_userip,
           extra=self.extra_conf, auth_mechanisms=self.auth_mechanisms,
           passdbs=passdbs.format(d=self.dir), capability_line=capability_line)
        with open(self.conf_path, "w") as f:
            f.write(conf)

    def start(self, timeout=20.0):
        if self.proc is not None:
            return self
        last_err = None
        for _attempt in range(4):
            self.imap_port = free_port()
            self.imaps_port = free_port() if self.ssl else None
            while self.imaps_port == self.imap_port:
                self.imaps_port = free_port()
            taken = {self.imap_port, self.imaps_port}
            for attr, wanted in (("lmtp_port", self.lmtp), ("auth_port", self.auth_inet)):
                port = None
                while wanted and (port is None or port in taken):
                    port = free_port()
                setattr(self, attr, port)
                taken.add(port)
            self._write_files()
            try:
                self._spawn_and_wait(timeout)
                return self
            except DovecotError as e:
                last_err = e
                self._kill_group()
                text = self.log_text() + self._stderr_text()
                if "Address already in use" in text or "EADDRINUSE" in text:
                    continue  # port race: try again with new ports
                raise
        raise last_err

    def restart(self, timeout=20.0, port_timeout=30.0):
        """Stop Dovecot and start it again on the SAME ports (clients see a
        dropped connection, then the server back where it was), keeping the
        log (log_mark() offsets stay valid) and the mail.  Retries while the
        old listeners are still going away."""
        imap_port, imaps_port = self.imap_port, self.imaps_port
        lmtp_port, auth_port = self.lmtp_port, self.auth_port
        if imap_port is None:
            return self.start(timeout)
        self.stop()
        self.imap_port, self.imaps_port = imap_port, imaps_port
        self.lmtp_port, self.auth_port = lmtp_port, auth_port
        deadline = time.monotonic() + port_timeout
        while True:
            mark = self.log_mark()
            self._write_files()
            try:
                self._spawn_and_wait(timeout, fresh_log=False)
                return self
            except DovecotError:
                self._kill_group()
                try:
                    self.proc.wait(timeout=5)
                except Exception:
                    pass
                self.proc = None
                _running.discard(self)
                text = self.log_text(mark) + self._stderr_text()
                if ("Address already in use" in text or "EADDRINUSE" in text) \
                        and time.monotonic() < deadline:
                    time.sleep(0.5)
                    continue
                raise

    def _spawn_and_wait(self, timeout, fresh_log=True):
        # Start with a fresh log so each attempt's failure text is its own.
        if fresh_log:
            open(self.log_path, "w").close()
        err = open(self.stderr_path, "wb")
        try:
            self.proc = subprocess.Popen(
                [DOVECOT, "-F", "-c", self.conf_path],
                stdin=subprocess.DEVNULL, stdout=err, stderr=subprocess.STDOUT,
                cwd=self.dir, start_new_session=True, preexec_fn=_child_setup,
                close_fds=True)
        finally:
            err.close()
        _running.add(self)
        deadline = time.monotonic() + timeout
        ports = [p for p in (self.imap_port, self.imaps_port, self.lmtp_port, self.auth_port) if p]
        pending = list(ports)
        while pending:
            if self.proc.poll() is not None:
                raise DovecotError(
                    "dovecot exited with %s during startup\n--- stderr:\n%s\n"
                    "--- log:\n%s" % (self.proc.returncode, self._stderr_text(),
                                      self.log_text()))
            # Look for the listening socket instead of connecting to it: a
            # probe connection to the TLS port logs verbose_ssl lines that
            # carry no client address, and they can land in the log after a
            # test has taken its mark (seen in CI under ASan).
            if _listening(pending[0]):
                pending.pop(0)
                continue
            if time.monotonic() > deadline:
                raise DovecotError(
                    "dovecot did not listen on %r within %.0fs\n--- stderr:\n%s\n"
                    "--- log:\n%s" % (pending, timeout, self._stderr_text(),
                                      self.log_text()))
            time.sleep(0.05)
        # Make sure the login process really answers (greeting) on the plain port.
        self._wait_greeting(self.imap_port, deadline)

    def _wait_greeting(self, port, deadline):
        while True:
            try:
                with socket.create_connection(
                        ("127.0.0.1", port), timeout=2.0,
                        source_address=(ADMIN_SOURCE_IP, 0)) as s:
                    s.settimeout(2.0)
                    data = s.recv(1024)
                    if data.startswith(b"* OK"):
                        try:
                            s.sendall(b"a LOGOUT\r\n")
                        except OSError:
                            pass
                        return
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise DovecotError("no IMAP greeting on port %d\n%s" %
                                   (port, self.log_text()))
            time.sleep(0.05)

    # --------------------------------------------------------------- shutdown
    def _kill_group(self, sig=signal.SIGKILL):
        if self.proc is None:
            return
        try:
            os.killpg(self.proc.pid, sig)
        except (ProcessLookupError, PermissionError):
            pass

    def stop(self, grace=None):
        """Stop Dovecot and every child process; idempotent.  GRACE:
        seconds the master may take to shut down (default stop_grace;
        0 kills at once, as a crash would)."""
        self._close_admin()
        if self.proc is not None:
            pid = self.proc.pid
            if self.proc.poll() is None:
                try:
                    self.proc.send_signal(signal.SIGTERM)
                except ProcessLookupError:
                    pass
                # Dovecot's master often needs ~6 s to finish a graceful
                # shutdown; this is a throwaway server, so give it a short
                # grace period and then kill the whole process group.
                try:
                    self.proc.wait(timeout=self.stop_grace if grace is None else grace)
                except subprocess.TimeoutExpired:
                    self._kill_group(signal.SIGKILL)
            # Whatever is left in the process group (master, imap, auth...)
            # (Zombies do not count: PID 1 in some containers never reaps
            # orphans, so the group may stay non-empty forever.)
            reap_group(pid, live_group_members, 3.0)
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
            self.proc = None
        _running.discard(self)

    # ---------------------------------------------------------------- logging
    def _stderr_text(self):
        return read_text(self.stderr_path)

    # Lines that prove an authentication attempt (successful or not) reached
    # Dovecot.  "no auth attempts" lines are connections WITHOUT an attempt.
    _AUTH_RE = re.compile(
        r"(Login: user=|auth failed|Authentication failure|"
        r"Password mismatch|unknown user|passwd-file\(|"
        r"[1-9][0-9]* attempts? in|disallowed plaintext auth|"
        r"Aborted login|user=<[^>]+>)")
    _NO_AUTH_RE = re.compile(r"no auth attempts")

    def login_lines(self, since=0):
        """imap-login lines naming a client address other than the harness's
        (connections that reached the login process).  verbose_ssl's debug
        lines name no address, so they cannot be told apart from the
        harness's own; every connection also ends in a line that names its
        address (Disconnected, Login), and that one is counted."""
        self.settle_log()
        return [l for l in self.log_text(since).splitlines()
                if "imap-login:" in l and "rip=" in l and not _is_admin_line(l)]

    def auth_attempt_lines(self, since=0):
        """Log lines showing that a client tried to authenticate (LOGIN or
        AUTHENTICATE), successfully or not.  Empty list = no auth attempt."""
        self.settle_log()
        out = []
        for line in self.log_text(since).splitlines():
            if _is_admin_line(line):
                continue
            if self._NO_AUTH_RE.search(line) and "Login:" not in line:
                continue
            if self._AUTH_RE.search(line):
                out.append(line)
        return out

    def connection_lines(self, since=0):
        """imap-login 'Disconnected' / 'Login' lines: one per client connection."""
        self.settle_log()
        return [l for l in self.log_text(since).splitlines()
                if "imap-login:" in l and not _is_admin_line(l)
                and ("Disconnected" in l or "Login:" in l
                     or "Aborted login" in l)]

    # ----------------------------------------------------------- IMAP client
    def client_context(self):
        """SSL context that the harness's own client uses (always trusts what
        this instance serves, whatever the cert mode)."""
        if self.cert_kind in ("good", "server", None):
            return ssl.create_default_context(cafile=self.ca_file)
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        return ctx

    def connect(self, login=True, source_ip=None):
        """A new imaplib connection (IMAPS if available, else plain) logged in
        as the test user.  ``source_ip``: connect from another loopback
        address than ADMIN_SOURCE_IP (Dovecot's auth penalty after a failed
        login is per client IP; log lines from other addresses are NOT told
        apart from those of the program under test)."""
        if self.ssl:
            cls = _AdminIMAP4_SSL
            if source_ip:
                cls = type("_IMAP4_SSL_From", (_AdminIMAP4_SSL,), {"source_ip": source_ip})
            conn = cls("localhost", self.imaps_port,
                       ssl_context=self.client_context(), timeout=30)
        else:
            cls = _AdminIMAP4
            if source_ip:
                cls = type("_IMAP4_From", (_AdminIMAP4,), {"source_ip": source_ip})
            conn = cls("127.0.0.1", self.imap_port, timeout=30)
        if login:
            conn.login(self.username, self.password)
        return conn

    def _admin(self):
        conn = self._admin_conn
        if conn is not None:
            try:
                conn.noop()
                return conn
            except Exception:
                self._close_admin()
        self._admin_conn = self.connect()
        return self._admin_conn

    def _close_admin(self):
        conn, self._admin_conn = self._admin_conn, None
        if conn is not None:
            try:
                conn.logout()
            except Exception:
                pass

    def close_client(self):
        """Log out the harness's cached admin connection (so that later log
        lines come only from the program under test)."""
        self._close_admin()
        self.settle_log()

    def create_mailbox(self, mailbox):
        conn = self._admin()
        typ, data = conn.create(_quote(mailbox))
        if typ != "OK" and b"ALREADYEXISTS" not in b" ".join(
                d for d in data if isinstance(d, bytes)):
            raise DovecotError("CREATE %s failed: %r" % (mailbox, data))

    def delete_mailbox(self, mailbox):
        conn = self._admin()
        typ, data = conn.delete(_quote(mailbox))
        if typ != "OK":
            raise DovecotError("DELETE %s failed: %r" % (mailbox, data))

    def append(self, mailbox, raw, internaldate=None, flags=()):
        """APPEND ``raw`` (bytes) to ``mailbox`` with the given INTERNALDATE
        (aware datetime or ISO 8601 string) and flags; return its UID."""
        if isinstance(raw, str):
            raw = raw.encode("utf-8")
        if isinstance(flags, str):
            flags = [flags] if flags else []
        flag_str = "(%s)" % " ".join(flags) if flags else None
        conn = self._admin()
        if mailbox.upper() != "INBOX":
            self.create_mailbox(mailbox)
        typ, data = conn.append(_quote(mailbox), flag_str,
                                to_imap_date(internaldate), raw)
        if typ != "OK":
            raise DovecotError("APPEND failed: %r" % (data,))
        m = _APPENDUID_RE.search(data[0] or b"")
        if not m:
            raise DovecotError("no APPENDUID in %r" % (data,))
        return int(m.group(2))

    def status(self, mailbox="INBOX"):
        conn = self._admin()
        typ, data = conn.status(_quote(mailbox),
                                "(MESSAGES UIDNEXT UIDVALIDITY)")
        if typ != "OK":
            raise DovecotError("STATUS failed: %r" % (data,))
        text = data[0].decode("ascii", "replace")
        out = {}
        for key in ("MESSAGES", "UIDNEXT", "UIDVALIDITY"):
            m = re.search(key + r" (\d+)", text)
            out[key.lower()] = int(m.group(1)) if m else None
        return out

    def uidvalidity(self, mailbox="INBOX"):
        return self.status(mailbox)["uidvalidity"]

    def uids(self, mailbox="INBOX"):
        conn = self._admin()
        typ, _ = conn.select(_quote(mailbox), readonly=True)
        if typ != "OK":
            raise DovecotError("SELECT %s failed" % mailbox)
        try:
            typ, data = conn.uid("SEARCH", None, "ALL")
            return [int(x) for x in (data[0] or b"").split()]
        finally:
            conn.close()

    def fetch_internaldates(self, mailbox="INBOX"):
        """{uid: aware datetime} for every message in mailbox."""
        conn = self._admin()
        typ, _ = conn.select(_quote(mailbox), readonly=True)
        if typ != "OK":
            raise DovecotError("SELECT %s failed" % mailbox)
        try:
            typ, data = conn.uid("FETCH", "1:*", "(UID INTERNALDATE)")
            out = {}
            for item in data:
                if isinstance(item, tuple):
                    item = item[0]
                if not item:
                    continue
                mu = _UID_RE.search(item)
                md = _INTERNALDATE_RE.search(item)
                if mu and md:
                    out[int(mu.group(1))] = parse_internaldate(md.group(1))
            return out
        finally:
            conn.close()

    def fetch_raw(self, uid, mailbox="INBOX"):
        conn = self._admin()
        conn.select(_quote(mailbox), readonly=True)
        try:
            typ, data = conn.uid("FETCH", str(uid), "(BODY.PEEK[])")
            for item in data:
                if isinstance(item, tuple):
                    return item[1]
            raise DovecotError("no message with UID %s" % uid)
        finally:
            conn.close()

    def messages_of(self, user, mailbox="INBOX"):
        """Every message in ``user``'s ``mailbox`` as raw bytes, in UID order,
        read over IMAP logged in as that user (one of ``passwords``); [] when
        the mailbox does not exist yet (nothing delivered)."""
        conn = self.connect(login=False)
        try:
            conn.login(user, self.passwords[user])
            typ, data = conn.select(_quote(mailbox), readonly=True)
            if typ != "OK":
                return []
            typ, data = conn.uid("FETCH", "1:*", "(UID BODY.PEEK[])")
            out = []
            for item in data:
                if isinstance(item, tuple):
                    mu = _UID_RE.search(item[0])
                    out.append((int(mu.group(1)) if mu else 0, item[1]))
            return [raw for _uid, raw in sorted(out)]
        finally:
            try:
                conn.logout()
            except Exception:
                pass

    def capabilities(self, login=True):
        """The CAPABILITY list (strings, as the server spells them) that a new
        connection sees: after login (default) or before it."""
        conn = self.connect(login=False)
        try:
            if login:
                conn.login(self.username, self.password)
            typ, data = conn.capability()
            if typ != "OK":
                raise DovecotError("CAPABILITY failed: %r" % (data,))
            return data[-1].decode("ascii").split()
        finally:
            try:
                conn.logout()
            except Exception:
                pass

    def flags(self, uid, mailbox="INBOX"):
        """Set of the flags of message ``uid`` (e.g. {"$Puljed", "\\Seen"});
        None when there is no such message.  Read-only (EXAMINE)."""
        return self.all_flags(mailbox).get(uid)

    def all_flags(self, mailbox="INBOX"):
        """{uid: set of flags} for every message in ``mailbox`` (without
        \\Recent, which depends on the session that looks)."""
        conn = self._admin()
        typ, data = conn.select(_quote(mailbox), readonly=True)
        if typ != "OK":
            raise DovecotError("EXAMINE %s failed: %r" % (mailbox, data))
        try:
            typ, data = conn.uid("FETCH", "1:*", "(UID FLAGS)")
            out = {}
            for item in data:
                if isinstance(item, tuple):
                    item = item[0]
                if not item:
                    continue
                mu = _UID_RE.search(item)
                mf = _FLAGS_RE.search(item)
                if mu and mf:
                    out[int(mu.group(1))] = set(
                        mf.group(1).decode("utf-8", "replace").split()) - {"\\Recent"}
            return out
        finally:
            conn.close()

    def store_flags(self, uid, op, flags, mailbox="INBOX"):
        """UID STORE ``uid`` ``op`` (``"+FLAGS.SILENT"``, ``"-FLAGS.SILENT"``,
        ``"FLAGS.SILENT"``) ``flags`` (a string or an iterable of them)."""
        if isinstance(flags, str):
            flags = [flags]
        conn = self._admin()
        typ, data = conn.select(_quote(mailbox))
        if typ != "OK":
            raise DovecotError("SELECT %s failed: %r" % (mailbox, data))
        try:
            typ, data = conn.uid("STORE", str(uid), op, "(%s)" % " ".join(flags))
            if typ != "OK":
                raise DovecotError("UID STORE failed: %r" % (data,))
        finally:
            conn.close()

    def add_flags(self, uid, *flags, mailbox="INBOX"):
        self.store_flags(uid, "+FLAGS.SILENT", flags, mailbox)

    def remove_flags(self, uid, *flags, mailbox="INBOX"):
        self.store_flags(uid, "-FLAGS.SILENT", flags, mailbox)

    def mailboxes(self):
        """Names of all mailboxes, decoded from modified UTF-7."""
        conn = self._admin()
        typ, data = conn.list()
        if typ != "OK":
            raise DovecotError("LIST failed: %r" % (data,))
        out = []
        for item in data:
            if isinstance(item, tuple):
                item = item[0] + b'"' + item[1] + b'"'
            m = re.match(rb'\([^)]*\) (?:"[^"]*"|NIL) (.*)$', item or b"")
            if not m:
                continue
            name = m.group(1).decode("ascii")
            if name.startswith('"') and name.endswith('"'):
                name = name[1:-1].replace('\\"', '"').replace("\\\\", "\\")
            out.append(imap_utf7_decode(name))
        return out

    def expunge_all(self, mailbox="INBOX"):
        conn = self._admin()
        conn.select(_quote(mailbox))
        conn.store("1:*", "+FLAGS.SILENT", r"(\Deleted)")
        conn.expunge()
        conn.close()

    # -------------------------------------------------------- puljed config
    def port_for(self, security):
        return self.imaps_port if security == "tls" else self.imap_port

    def write_config(self, path, database=None, calls=None, extra="",
                     groups=None, **overrides):
        """Write a puljed config pointing at this Dovecot and return its path.

        ``overrides`` set keys of [imap], [daemon] or [store] by name
        (host, port, security, ca_file, username, password_file, mailbox,
        poll_interval, database).  A value of None removes the key.  Use
        ``groups={"group name": {key: value}}`` for anything else (merged),
        ``calls={name: {subject, deadline, timezone}}`` to replace the default
        call, and ``extra`` for raw text appended at the end.
        """
        cfg_dir = os.path.dirname(os.path.abspath(path))
        security = overrides.get("security", "tls")
        imap = {
            "host": self.host,
            "port": self.port_for(security) or self.imap_port,
            "security": security,
            "ca_file": self.ca_file,
            "username": self.username,
            "password_file": self.password_file,
            "mailbox": "INBOX",
        }
        daemon = {"poll_interval": 60}
        store = {"database": database or os.path.join(cfg_dir, "puljed.db")}
        layout = [("imap", imap), ("daemon", daemon), ("store", store)]
        for key, value in overrides.items():
            for _name, grp in layout:
                if key in grp:
                    break
            else:
                grp = imap
            if value is None:
                grp.pop(key, None)
            else:
                grp[key] = value
        if calls is None:
            calls = {DEFAULT_CALL_NAME: dict(DEFAULT_CALL)}
        sections = [(n, g) for n, g in layout]
        sections += [("call %s" % n, c) for n, c in calls.items()]
        for gname, kv in (groups or {}).items():
            for n, g in sections:
                if n == gname:
                    g.update(kv)
                    break
            else:
                sections.append((gname, dict(kv)))
        lines = ["# puljed test config generated by tests/harness/dovecot.py"]
        for name, kv in sections:
            lines.append("")
            lines.append("[%s]" % name)
            for k, v in kv.items():
                if v is None:
                    continue
                lines.append("%s = %s" % (k, v))
        text = "\n".join(lines) + "\n" + (extra or "")
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
        return path


# The harness's own IMAP client connects from 127.0.0.2 (to 127.0.0.1), so its
# log lines (rip=127.0.0.2) are told apart from those of the program under test,
# which connects from 127.0.0.1.  127.0.0.2 is in login_trusted_networks so that
# the harness can also log in when Dovecot runs with ssl = no.
ADMIN_SOURCE_IP = "127.0.0.2"


def _is_admin_line(line):
    return ("rip=%s" % ADMIN_SOURCE_IP) in line or (",%s," % ADMIN_SOURCE_IP) in line


class _AdminIMAP4(imaplib.IMAP4):
    source_ip = ADMIN_SOURCE_IP

    def _create_socket(self, timeout):
        host = None if not self.host else self.host
        return socket.create_connection((host, self.port), timeout,
                                        source_address=(self.source_ip, 0))


class _AdminIMAP4_SSL(imaplib.IMAP4_SSL):
    source_ip = ADMIN_SOURCE_IP

    def _create_socket(self, timeout):
        sock = socket.create_connection((self.host, self.port), timeout,
                                        source_address=(self.source_ip, 0))
        return self.ssl_context.wrap_socket(sock, server_hostname=self.host)


def imap_utf7(name):
    """Encode a mailbox name in IMAP's modified UTF-7 (RFC 3501 5.1.3)."""
    import base64
    out, buf = [], []

    def flush():
        if buf:
            b64 = base64.b64encode("".join(buf).encode("utf-16-be")).decode("ascii")
            out.append("&" + b64.rstrip("=").replace("/", ",") + "-")
            del buf[:]

    for ch in name:
        if 0x20 <= ord(ch) <= 0x7E:
            flush()
            out.append("&-" if ch == "&" else ch)
        else:
            buf.append(ch)
    flush()
    return "".join(out)


def imap_utf7_decode(name):
    """Decode IMAP's modified UTF-7 (the inverse of imap_utf7)."""
    import base64
    out, i = [], 0
    while i < len(name):
        ch = name[i]
        if ch != "&":
            out.append(ch)
            i += 1
            continue
        j = name.index("-", i)
        chunk = name[i + 1:j]
        if not chunk:
            out.append("&")
        else:
            b64 = chunk.replace(",", "/")
            b64 += "=" * (-len(b64) % 4)
            out.append(base64.b64decode(b64).decode("utf-16-be"))
        i = j + 1
    return "".join(out)


def _quote(mailbox):
    mailbox = imap_utf7(mailbox)
    if re.match(r"^[A-Za-z0-9._/-]+$", mailbox):
        return mailbox
    return '"%s"' % mailbox.replace("\\", "\\\\").replace('"', '\\"')
