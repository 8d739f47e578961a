"""Debian's headless Chromium for the tests that render puljectl's HTML
(the report, the list of received applications): a screenshot or a PDF,
and the PDF's text as pdftotext lays it out."""

import os
import signal
import subprocess
import urllib.parse

from . import puljed as P

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
PDFTOTEXT = os.environ.get("PDFTOTEXT", "pdftotext")


def run(tc, *args, timeout=90):
    """Run headless Chromium with ARGS for the PuljedTestCase TC (its own
    HOME and profile under TC's directory); a Result, kept in tc.runs.
    Fails, does not skip, without Chromium."""
    tc.assertTrue(os.access(CHROMIUM, os.X_OK),
                  "%s is missing: apt-get install chromium (CI installs it)" % CHROMIUM)
    home = tc.path("chromium-home")
    os.makedirs(home, exist_ok=True)
    env = dict(os.environ, HOME=home, XDG_CONFIG_HOME=os.path.join(home, ".config"),
               XDG_CACHE_HOME=os.path.join(home, ".cache"), LC_ALL="C.UTF-8")
    env.pop("DBUS_SESSION_BUS_ADDRESS", None)
    argv = [CHROMIUM, "--headless=new", "--no-sandbox", "--disable-gpu",
            "--hide-scrollbars", "--no-first-run", "--disable-extensions",
            "--user-data-dir=" + os.path.join(home, "profile")] + list(args)
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, env=env, start_new_session=True)
    try:
        out, _ = proc.communicate(timeout=timeout)
        r = P.Result(argv, proc.returncode, out.decode("utf-8", "replace"), "")
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, _ = proc.communicate()
        r = P.Result(argv, None, out.decode("utf-8", "replace"), "", timed_out=True)
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)     # helpers left behind
        except ProcessLookupError:
            pass
    tc.runs.append(r)
    tc.assertFalse(r.timed_out, "chromium timed out\n" + r.describe())
    return r


def url(path):
    return "file://" + urllib.parse.quote(path)


def printed_text(tc, pdf):
    """The text of the PDF file PDF as pdftotext -layout gives it."""
    t = subprocess.run([PDFTOTEXT, "-layout", "-enc", "UTF-8", pdf, "-"],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
    tc.assertEqual(t.returncode, 0, t.stderr.decode("utf-8", "replace"))
    return t.stdout.decode("utf-8")
