#!/usr/bin/python3
"""Runs one libFuzzer target for a while from its seeds and prints the
coverage it reached::

    run.py TARGET NAME WORKDIR --time S --min-cov N [--keep] [libFuzzer options...]

Seeds (copied into WORKDIR/seeds; WORKDIR/corpus starts empty each run,
unless --keep: then a long run goes on from the corpus of the last one):

* every target: fixtures/fuzz-NAME/ (fixtures/fuzz/ for ingest): the
  crash inputs found, replayed by fuzz-replay-NAME in every build, and
  hand-written seeds;
* ingest, receipt: fixtures/mime/*.eml;
* pdfsig: the PDFs tests/gen/pdfsign.py writes, the CMS signatures in
  their /Contents, and every PDF and PKCS#7 part of fixtures/mime and
  fixtures/smime; PULJED_FUZZ_TRUST is set to the generated root;
* tnef: the winmail.dat files tests/gen/tnef.py writes and every TNEF
  part of fixtures/mime;
* config: conf/puljed.conf.

Prints "fuzz-NAME: cov N ft M after R runs in S s (corpus C)" and fails
when libFuzzer found a crash (the input is in WORKDIR; add it to
fixtures/fuzz-NAME/) or when the coverage is below --min-cov: the
libraries were then built without -fsanitize=fuzzer-no-link and libFuzzer
ran blind.
"""

import argparse
import email
import email.policy
import glob
import os
import re
import shutil
import subprocess
import sys

SRC = os.environ.get("PULJED_SRCDIR",
                     os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
FIX = os.path.join(SRC, "fixtures")


def copy(paths, seeds, prefix=""):
    for p in paths:
        if os.path.isfile(p):
            shutil.copy(p, os.path.join(seeds, prefix + os.path.basename(p)))


def fixture_parts(types):
    """(name, bytes) of every MIME part of the fixtures whose type is in TYPES."""
    for path in sorted(glob.glob(FIX + "/mime/*.eml") + glob.glob(FIX + "/smime/*.eml")):
        with open(path, "rb") as f:
            msg = email.message_from_binary_file(f, policy=email.policy.compat32)
        for k, part in enumerate(msg.walk()):
            if part.get_content_type() in types and not part.is_multipart():
                data = part.get_payload(decode=True)
                if data:
                    yield "%s-%d" % (os.path.basename(path)[:2], k), data


def gen(script, outdir, *args):
    subprocess.run([sys.executable, os.path.join(SRC, "tests", "gen", script), outdir, *args],
                   check=True, stdout=subprocess.DEVNULL)


def der_length(der):
    """The length of the DER SEQUENCE DER starts with (the /Contents
    placeholder is padded with zeros), or all of it."""
    if len(der) < 2 or der[1] == 0x80:
        return len(der)
    if der[1] < 0x80:
        return 2 + der[1]
    n = der[1] & 0x7F
    return 2 + n + int.from_bytes(der[2:2 + n], "big")


def seeds_pdfsig(seeds, work, env):
    d = os.path.join(work, "gen")
    gen("pdfsign.py", d, "--no-pdfsig")
    env["PULJED_FUZZ_TRUST"] = os.path.join(d, "pki", "root.pem")
    for p in sorted(glob.glob(d + "/*.pdf")):
        shutil.copy(p, seeds)
        with open(p, "rb") as f:
            for k, hexa in enumerate(re.findall(rb"/Contents\s*<([0-9A-Fa-f\s]{64,})>", f.read())):
                der = bytes.fromhex(re.sub(rb"\s", b"", hexa).decode())
                with open(os.path.join(seeds, "%s-%d.der" % (os.path.basename(p), k)), "wb") as o:
                    o.write(der[:der_length(der)])
    for name, data in fixture_parts({"application/pdf", "application/pkcs7-signature",
                                     "application/x-pkcs7-signature", "application/pkcs7-mime",
                                     "application/x-pkcs7-mime"}):
        with open(os.path.join(seeds, "fixture-" + name), "wb") as o:
            o.write(data)


def seeds_tnef(seeds, work, env):
    d = os.path.join(work, "gen")
    gen("tnef.py", d)
    copy(sorted(glob.glob(d + "/*.dat")), seeds)
    for name, data in fixture_parts({"application/ms-tnef", "application/vnd.ms-tnef"}):
        with open(os.path.join(seeds, "fixture-" + name), "wb") as o:
            o.write(data)


def seeds_ingest(seeds, work, env):
    copy(sorted(glob.glob(FIX + "/mime/*.eml")), seeds)


def seeds_config(seeds, work, env):
    copy([os.path.join(SRC, "conf", "puljed.conf")], seeds)


# Where each target's crash inputs are kept (and replayed).
CORPUS = {"ingest": "fuzz"}
SEEDS = {"ingest": seeds_ingest, "pdfsig": seeds_pdfsig, "tnef": seeds_tnef, "config": seeds_config,
         "receipt": seeds_ingest}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("target")
    ap.add_argument("name")
    ap.add_argument("workdir")
    ap.add_argument("--time", type=int, required=True, help="seconds")
    ap.add_argument("--min-cov", type=int, required=True, help="fail below this many edges")
    ap.add_argument("--keep", action="store_true", help="start from WORKDIR/corpus of the last run")
    a, extra = ap.parse_known_args()

    work = os.path.abspath(a.workdir)
    seeds, corpus = os.path.join(work, "seeds"), os.path.join(work, "corpus")
    if not a.keep:
        shutil.rmtree(work, ignore_errors=True)
    shutil.rmtree(seeds, ignore_errors=True)
    os.makedirs(seeds)
    os.makedirs(corpus, exist_ok=True)
    env = dict(os.environ)
    corpus_dir = os.path.join("fixtures", CORPUS.get(a.name, "fuzz-" + a.name))
    copy(sorted(glob.glob(os.path.join(SRC, corpus_dir, "*"))), seeds, "fixture-")
    if a.name in SEEDS:
        SEEDS[a.name](seeds, work, env)
    n_seeds = len(os.listdir(seeds))

    cmd = [a.target, "-max_total_time=%d" % a.time, "-print_final_stats=1",
           "-artifact_prefix=" + work + "/", *extra, corpus, seeds]
    print("$ " + " ".join(cmd), flush=True)
    p = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    out = p.stdout.decode("utf-8", "replace")
    with open(os.path.join(work, "fuzz.log"), "w") as f:
        f.write(out)

    done = re.findall(r"^#(\d+)\s+DONE\s+cov: (\d+) ft: (\d+) corp: (\d+)", out, re.M)
    secs = re.findall(r"^Done \d+ runs in (\d+) second", out, re.M)
    if p.returncode != 0 or not done:
        sys.stdout.write(out[-20000:])
        arts = sorted(glob.glob(work + "/crash-*") + glob.glob(work + "/leak-*") +
                      glob.glob(work + "/timeout-*") + glob.glob(work + "/oom-*"))
        print("fuzz-%s: FAILED (exit %d); input: %s; add it to %s/" %
              (a.name, p.returncode, " ".join(arts) or "none", corpus_dir))
        return 1
    runs, cov, ft, corp = (int(x) for x in done[-1])
    print("fuzz-%s: cov %d ft %d after %d runs in %s s (corpus %d from %d seeds)" %
          (a.name, cov, ft, runs, secs[-1] if secs else "?", corp, n_seeds))
    if cov < a.min_cov:
        print("fuzz-%s: coverage %d is below %d: were the libraries built with "
              "-fsanitize=fuzzer-no-link (meson -Dfuzz=true)?" % (a.name, cov, a.min_cov))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
