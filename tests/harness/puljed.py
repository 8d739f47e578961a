"""Running the puljed / puljectl binaries from tests.

Binary paths come from the environment: PULJED and PULJECTL (set by meson
test or by hand).  When they are missing the tests FAIL with a clear message
rather than being skipped.
"""

import json
import os
import signal
import subprocess
import time

EXIT_OK = 0
EXIT_OTHER = 1
EXIT_CONFIG = 2
EXIT_NETWORK = 3
EXIT_TLS = 4
EXIT_AUTH = 5


class MissingBinary(AssertionError):
    pass


def binary(var):
    path = os.environ.get(var)
    hint = ("set %s to the built binary, e.g. %s=$PWD/build/src/%s "
            "(meson test sets it)" % (var, var, var.lower()))
    if not path:
        raise MissingBinary("environment variable %s is not set: %s" % (var, hint))
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        raise MissingBinary("%s=%s is not an executable file: %s" % (var, path, hint))
    return os.path.abspath(path)


def puljed_path():
    return binary("PULJED")


def puljectl_path():
    return binary("PULJECTL")


def crashtest_path():
    """puljed-crashtest (the daemon with crash points armable from the
    environment): PULJED_CRASHTEST, else beside PULJED."""
    path = os.path.abspath(os.environ.get("PULJED_CRASHTEST") or os.path.join(
        os.path.dirname(puljed_path()), "puljed-crashtest"))
    if not os.access(path, os.X_OK):
        raise MissingBinary("puljed-crashtest not found at %s (set PULJED_CRASHTEST)" % path)
    return path


def crash_env(crash_at=None, disk_limit=None, report=False, full_after=None):
    """clean_env() arming puljed-crashtest: SIGKILL at durable step
    CRASH_AT, a full disk after DISK_LIMIT bytes or from the step named
    FULL_AFTER on, REPORT: print the number of steps at the end."""
    env = clean_env()
    if full_after:
        env["PULJED_DISK_FULL_AFTER"] = full_after
    if crash_at:
        env["PULJED_CRASH_AT"] = str(crash_at)
    if disk_limit:
        env["PULJED_DISK_LIMIT"] = str(disk_limit)
    if report:
        env["PULJED_CRASH_REPORT"] = "1"
    return env


def clean_env():
    """Environment for the binaries: no systemd credentials, no OpenSSL trust
    overrides (the "system trust store" tests must see the real one)."""
    env = dict(os.environ)
    for var in ("CREDENTIALS_DIRECTORY", "SSL_CERT_FILE", "SSL_CERT_DIR",
                "NOTIFY_SOCKET", "LISTEN_FDS", "LISTEN_PID"):
        env.pop(var, None)
    env.setdefault("LC_ALL", "C.UTF-8")
    return env


class Result:
    """Outcome of one run: argv, returncode, stdout, stderr (text)."""

    def __init__(self, argv, returncode, stdout, stderr, timed_out=False):
        self.argv = argv
        self.returncode = returncode
        self.stdout = stdout
        self.stderr = stderr
        self.timed_out = timed_out

    @property
    def output(self):
        return self.stdout + self.stderr

    def describe(self):
        return ("command: %s\nexit: %s%s\n--- stdout:\n%s\n--- stderr:\n%s" % (
            " ".join(self.argv), self.returncode,
            " (TIMED OUT)" if self.timed_out else "", self.stdout[-4000:],
            self.stderr[-4000:]))

    def __repr__(self):
        return "<Result rc=%s argv=%r>" % (self.returncode, self.argv)


def wrapper():
    """PULJED_WRAPPER, e.g. "valgrind --error-exitcode=99 ...": prefixed to
    every puljed and puljectl run (the valgrind test setup)."""
    return os.environ.get("PULJED_WRAPPER", "").split()


def run(argv, timeout=120, env=None, stdin=subprocess.DEVNULL):
    if argv and argv[0] in (os.environ.get("PULJED"), os.environ.get("PULJECTL"),
                            os.path.abspath(os.environ.get("PULJED") or "/nonexistent"),
                            os.path.abspath(os.environ.get("PULJECTL") or "/nonexistent")):
        argv = wrapper() + list(argv)
    try:
        proc = subprocess.run(argv, stdin=stdin, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, timeout=timeout,
                              env=env or clean_env())
        return Result(argv, proc.returncode,
                      proc.stdout.decode("utf-8", "replace"),
                      proc.stderr.decode("utf-8", "replace"))
    except subprocess.TimeoutExpired as e:
        return Result(argv, None,
                      (e.stdout or b"").decode("utf-8", "replace"),
                      (e.stderr or b"").decode("utf-8", "replace"),
                      timed_out=True)


def puljed(config, *args, timeout=120):
    args = args or ("--once",)
    return run([puljed_path(), "--config", config] + list(args), timeout=timeout)


def spawn_puljed(config, *args, stdout=None, stderr=None):
    """Start puljed in the background: spawn_puljed(cfg, "--once") for one
    cycle (the kill -9 test), spawn_puljed(cfg) for the polling daemon."""
    return subprocess.Popen(wrapper() + [puljed_path(), "--config", config] + list(args),
                            stdin=subprocess.DEVNULL,
                            stdout=stdout or subprocess.PIPE,
                            stderr=stderr or subprocess.PIPE,
                            env=clean_env())


def puljectl(config, *args, timeout=60, db=None):
    """puljectl --config CONFIG ARGS... (or --db DB when db is given)."""
    if db:
        argv = [puljectl_path(), "--db", db] + list(args)
    else:
        argv = [puljectl_path(), "--config", config] + list(args)
    return run(argv, timeout=timeout)


def list_json(config, db=None):
    """Parsed `puljectl list --json`; raises AssertionError with details on
    failure."""
    r = puljectl(config, "list", "--json", db=db)
    if r.returncode != 0:
        raise AssertionError("puljectl list --json failed\n" + r.describe())
    try:
        data = json.loads(r.stdout)
    except ValueError as e:
        raise AssertionError("puljectl list --json printed no valid JSON (%s)\n%s"
                             % (e, r.describe()))
    if not isinstance(data, list):
        raise AssertionError("puljectl list --json: expected a JSON array\n"
                             + r.describe())
    return data, r


def kill9(proc):
    try:
        proc.send_signal(signal.SIGKILL)
    except ProcessLookupError:
        pass


def sigterm_timed(proc, argv, grace):
    """SIGTERM to PROC (started from ARGV with stdout and stderr piped), then
    up to GRACE seconds for it to end: (seconds from the signal to its exit,
    Result).  The seconds are None when it did not end in time; it is
    killed then."""
    t0 = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    took = None
    try:
        out, err = proc.communicate(timeout=grace)
        took = time.monotonic() - t0
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
    return took, Result(argv, proc.returncode, out.decode("utf-8", "replace"),
                        err.decode("utf-8", "replace"))
