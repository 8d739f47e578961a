"""Catch what a program sends to the systemd journal, without journald.

``python3 -m harness.journal OUT.json PROGRAM ARGS...`` -- run under
``unshare --mount`` (root): a private tmpfs on /run holds
/run/systemd/journal/socket, bound here; PROGRAM runs with its stderr in
OUT.json.stderr and JOURNAL_STREAM naming that file, so sd-journal's
native protocol comes to us; every entry is written to OUT.json as a dict
of its fields, and the program's exit status is ours.  ``run()`` does the
whole from a test.
"""

import json
import os
import socket
import struct
import subprocess
import sys


def parse_entry(data):
    """One datagram of the native protocol: KEY=VALUE lines, or KEY, a
    newline, a 64-bit little-endian length, the value and a newline."""
    fields = {}
    i = 0
    while i < len(data):
        nl = data.index(b"\n", i)
        line = data[i:nl]
        if b"=" in line:
            k, v = line.split(b"=", 1)
            i = nl + 1
        else:
            k = line
            (n,) = struct.unpack("<Q", data[nl + 1:nl + 9])
            v = data[nl + 9:nl + 9 + n]
            i = nl + 9 + n + 1
        fields[k.decode()] = v.decode("utf-8", "replace")
    return fields


def _catch(out_path, argv):
    subprocess.run(["mount", "-t", "tmpfs", "puljed-test-run", "/run"], check=True)
    os.makedirs("/run/systemd/journal")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind("/run/systemd/journal/socket")
    sock.settimeout(0.1)
    with open(out_path + ".stderr", "wb") as err:
        st = os.fstat(err.fileno())
        env = dict(os.environ, JOURNAL_STREAM="%d:%d" % (st.st_dev, st.st_ino))
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=err, env=env)
        entries = []
        while True:
            try:
                entries.append(parse_entry(sock.recv(1 << 20)))
                continue
            except socket.timeout:
                pass
            if proc.poll() is not None:
                try:
                    while True:
                        entries.append(parse_entry(sock.recv(1 << 20)))
                except socket.timeout:
                    break
    with open(out_path, "w") as f:
        json.dump(entries, f)
    return proc.returncode


def run(out_path, argv, env=None, timeout=120):
    """Run ARGV with its journal caught: (exit status, entries, stderr)."""
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    p = subprocess.run(["unshare", "--mount", "--propagation", "private", sys.executable,
                        "-c", "import sys; sys.path.insert(0, %r); from harness import journal; "
                        "sys.exit(journal._catch(sys.argv[1], sys.argv[2:]))" % here,
                        out_path] + list(argv),
                       stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       env=env, timeout=timeout)
    try:
        with open(out_path) as f:
            entries = json.load(f)
    except (OSError, ValueError):
        raise AssertionError("the journal catcher failed (%d):\n%s" % (
            p.returncode, p.stderr.decode("utf-8", "replace")))
    with open(out_path + ".stderr", "rb") as f:
        stderr = f.read().decode("utf-8", "replace")
    return p.returncode, entries, stderr
