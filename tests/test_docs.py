#!/usr/bin/env python3
"""The manual pages and the bash completion against the programs.

    test_docs.py PULJECTL PULJED DOC_BUILD_DIR SOURCE_ROOT

Checks, failing loudly (every failure is printed, then exit status 1):

- puljed.8, puljectl.1 and puljed.conf.5 were generated (a build that
  should have made them and did not is a failure) and render with
  "man --warnings -l" at 80 columns without a single warning; a build
  that makes no pages (-Dman=disabled, or no scdoc) passes --no-man-pages,
  and the test exits 77, which meson counts as a skip;
- puljectl --help and puljectl(1) name the same commands with the same
  arguments and options, the same long and short options, the same exit
  statuses and the same default configuration file, in both directions;
  the same for puljed --help and puljed(8);
- every key src/config.c accepts, every key in conf/puljed.conf and every
  key in README.md's configuration examples is documented in puljed.conf(5),
  under its group; README.md has no configuration table of its own (the
  reference is puljed.conf(5)), is at most 250 lines, and every file it
  names exists;
- completion/puljectl.bash and completion/puljed.bash complete commands,
  options per command, option values, call ids from the configuration file
  and positional arguments, with and without bash-completion loaded.

Python standard library only.
"""
import os
import re
import subprocess
import sys
import tempfile

PAGES = ("puljed.8", "puljectl.1", "puljed.conf.5")
BASH_COMPLETION = "/usr/share/bash-completion/bash_completion"

failures = []


def fail(what):
    failures.append(what)
    print("FAIL - " + what, flush=True)


def ok(what):
    print("ok - " + what, flush=True)


def check(cond, what, detail=""):
    if cond:
        ok(what)
    else:
        fail(what + (": " + detail if detail else ""))
    return cond


def run(argv, env=None, cwd=None, timeout=60):
    return subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=cwd,
                          timeout=timeout, text=True, encoding="utf-8", errors="replace")


# ---- the manual pages as roff ----

def roff_text(line):
    """One line of scdoc's roff output as plain text."""
    line = re.sub(r"\\f[BIRP]", "", line)
    line = re.sub(r"\\f\[[A-Z]*\]", "", line)
    line = line.replace("\\&", "").replace("\\-", "-").replace("\\e", "\\")
    line = re.sub(r"\\\((\w\w)", lambda m: {"em": "—", "en": "–", "bu": "•"}.get(m.group(1), ""), line)
    line = re.sub(r"\\\[(\w+)\]", "", line)
    return line


class Page:
    """A generated page: its sections, and per section the term lines (the
    lines scdoc turns into an indented definition) and the whole text."""

    def __init__(self, path):
        self.path = path
        self.name = os.path.basename(path)
        with open(path, encoding="utf-8") as f:
            self.roff = f.read()
        self.sections = {}   # name -> {"terms": [...], "text": str}
        current = None
        lines = self.roff.split("\n")
        for i, line in enumerate(lines):
            if line.startswith(".SH "):
                current = roff_text(line[4:]).strip().strip('"')
                self.sections[current] = {"terms": [], "text": ""}
                continue
            if current is None:
                continue
            sec = self.sections[current]
            if line.startswith(".RS") and i > 0 and not lines[i - 1].startswith("."):
                sec["terms"].append(roff_text(lines[i - 1]).strip())
            if not line.startswith("."):
                sec["text"] += roff_text(line) + "\n"
        self.text = "\n".join(s["text"] for s in self.sections.values())

    def section(self, name):
        if name not in self.sections:
            fail("%s has no section %s (it has: %s)" % (self.name, name, ", ".join(self.sections)))
            return {"terms": [], "text": ""}
        return self.sections[name]


def long_options(text):
    return set(re.findall(r"(?<![\w-])--[a-z][a-z-]*[a-z]", text))


def short_pairs(text):
    return set(re.findall(r"(?<![\w-])(-[a-zA-Z]), (--[a-z][a-z-]*[a-z])", text))


def norm(s):
    return " ".join(s.split())


def check_rendering(doc_dir):
    pages = {}
    missing = [p for p in PAGES if not os.path.isfile(os.path.join(doc_dir, p))]
    if missing:
        fail("manual pages not generated in %s: %s — scdoc is required for this test "
             "(apt-get install scdoc; meson setup -Dman=enabled)" % (doc_dir, ", ".join(missing)))
    env = dict(os.environ, MANWIDTH="80", LC_ALL="C.UTF-8", MANPAGER="cat", PAGER="cat")
    env.pop("MANOPT", None)
    for p in PAGES:
        path = os.path.join(doc_dir, p)
        if p in missing:
            continue
        try:
            r = run(["man", "--warnings", "-E", "UTF-8", "-l", path], env=env)
        except FileNotFoundError:
            fail("man(1) is not installed (apt-get install man-db)")
            return pages
        check(r.returncode == 0, "%s: man -l exits 0" % p, "exit %d: %s" % (r.returncode, r.stderr.strip()))
        check(r.stderr.strip() == "", "%s: man --warnings -l prints no warning" % p, "\n" + r.stderr.strip())
        check(len(r.stdout.splitlines()) > 20, "%s: renders to a page" % p, "%d lines" % len(r.stdout.splitlines()))
        leftover = sorted(set(re.findall(r"@[A-Z_]+@", r.stdout)))
        check(not leftover, "%s: every @PLACEHOLDER@ was substituted" % p, " ".join(leftover))
        pages[p] = Page(path)
        for sec in ("NAME", "SYNOPSIS", "DESCRIPTION", "FILES", "SEE ALSO"):
            check(sec in pages[p].sections, "%s: has a %s section" % (p, sec))
    return pages


# ---- --help against the pages ----

def help_text(binary, name):
    r = run([binary, "--help"])
    if not check(r.returncode == 0 and r.stdout.startswith("Usage: " + name),
                 "%s --help exits 0 and prints a usage" % name, "exit %d, %r" % (r.returncode, r.stdout[:200])):
        return None
    return r.stdout


def help_exit_codes(help_out):
    m = re.search(r"Exit status:(.*)", help_out, re.S)
    return set(re.findall(r"\b(\d)\b ", m.group(1))) if m else set()


def man_exit_codes(page):
    return {t for t in page.section("EXIT STATUS")["terms"] if re.fullmatch(r"\d+", t)}


def both_ways(what_help, help_set, what_man, man_set, label):
    check(not (help_set - man_set), "%s: everything in %s is in %s" % (label, what_help, what_man),
          "missing from %s: %s" % (what_man, ", ".join(sorted(help_set - man_set))))
    check(not (man_set - help_set), "%s: everything in %s is in %s" % (label, what_man, what_help),
          "not in %s: %s" % (what_help, ", ".join(sorted(man_set - help_set))))


def help_commands(help_out):
    """puljectl --help's commands: name -> its usage ("export [--format csv|json] ...")."""
    cmds = {}
    block = re.search(r"^Commands:\n(.*?)\n\n", help_out, re.S | re.M)
    if not block:
        fail("puljectl --help has no 'Commands:' block")
        return cmds
    for line in block.group(1).split("\n"):
        m = re.match(r"^  ([a-z][a-z-]*)\b(.*)$", line)
        if m:
            usage = re.split(r"\s{2,}", (m.group(1) + m.group(2)).strip())[0]
            cmds[m.group(1)] = norm(usage)
    return cmds


def check_puljectl_help(binary, page, default_config):
    out = help_text(binary, "puljectl")
    if out is None:
        return None
    cmds = help_commands(out)
    check(len(cmds) >= 8, "puljectl --help lists its commands", repr(cmds))
    if page is None:
        return cmds, out

    man_cmds = {}
    for term in page.section("COMMANDS")["terms"]:
        man_cmds[term.split()[0]] = norm(term)
    both_ways("--help", set(cmds), "COMMANDS of puljectl(1)", set(man_cmds), "puljectl commands")
    for name, usage in sorted(cmds.items()):
        if name in man_cmds:
            check(man_cmds[name] == usage, "puljectl %s: the same usage in --help and puljectl(1)" % name,
                  "--help %r, puljectl(1) %r" % (usage, man_cmds[name]))
    synopsis = page.section("SYNOPSIS")["text"]
    for name in cmds:
        check(re.search(r"\bpuljectl\b[^\n]*\b%s\b" % re.escape(name), synopsis),
              "puljectl %s is in the SYNOPSIS" % name)

    documented = long_options(synopsis)
    for sec in ("COMMANDS", "FILTERS", "OPTIONS"):
        documented |= long_options("\n".join(page.section(sec)["terms"]))
    both_ways("--help", long_options(out), "SYNOPSIS/COMMANDS/FILTERS/OPTIONS of puljectl(1)", documented,
              "puljectl long options")
    both_ways("--help", short_pairs(out), "OPTIONS of puljectl(1)",
              short_pairs("\n".join(page.section("OPTIONS")["terms"])), "puljectl short options")
    for sec in ("FILTERS", "OPTIONS"):
        terms = "\n".join(page.section(sec)["terms"])
        for opt in sorted(long_options(terms)):
            check(opt in out, "puljectl(1) %s %s is in --help" % (sec, opt))
    both_ways("--help", help_exit_codes(out), "EXIT STATUS of puljectl(1)", man_exit_codes(page),
              "puljectl exit statuses")
    check(default_config in out and default_config in page.text,
          "puljectl: --help and puljectl(1) name the same default configuration %s" % default_config)
    check("NO_COLOR" in page.section("ENVIRONMENT")["text"], "puljectl(1) ENVIRONMENT names NO_COLOR")
    return cmds, out


def check_puljed_help(binary, page):
    out = help_text(binary, "puljed")
    if out is None or page is None:
        return
    usage = norm(out.split("\n", 1)[0][len("Usage: "):])
    check(usage in norm(page.section("SYNOPSIS")["text"]), "puljed: the --help usage is the SYNOPSIS",
          "%r not in %r" % (usage, page.section("SYNOPSIS")["text"]))
    documented = long_options(page.section("SYNOPSIS")["text"]) | \
        long_options("\n".join(page.section("OPTIONS")["terms"]))
    both_ways("--help", long_options(out), "SYNOPSIS/OPTIONS of puljed(8)", documented, "puljed long options")
    both_ways("--help", short_pairs(out), "OPTIONS of puljed(8)",
              short_pairs("\n".join(page.section("OPTIONS")["terms"])), "puljed short options")
    both_ways("--help", help_exit_codes(out), "EXIT STATUS of puljed(8)", man_exit_codes(page),
              "puljed exit statuses")
    m = re.search(r"default (/\S+?)\)", out)
    if check(m, "puljed --help names its default configuration"):
        check(m.group(1) in page.text, "puljed(8) names the default configuration %s" % m.group(1))
    env = page.section("ENVIRONMENT")["text"]
    check("CREDENTIALS_DIRECTORY" in env, "puljed(8) ENVIRONMENT names CREDENTIALS_DIRECTORY")
    for sec in ("OPTIONS", "SIGNALS", "EXIT STATUS", "EXAMPLES"):
        check(sec in page.sections, "puljed(8) has a %s section" % sec)
    return m.group(1) if m else None


# ---- configuration keys ----

def config_c_keys(src_root):
    path = os.path.join(src_root, "src", "config.c")
    with open(path, encoding="utf-8") as f:
        src = f.read()
    m = re.search(r"known_keys\s*\[\s*\]\s*=\s*\{(.*?)\n\};", src, re.S)
    if not m:
        fail("cannot find the known_keys table in src/config.c (update test_docs.py)")
        return set()
    keys = set(re.findall(r'\{\s*"([a-z_]+)"\s*,\s*"([a-z_]+)"\s*\}', m.group(1)))
    check(len(keys) >= 20 and ("imap", "host") in keys and ("call", "deadline") in keys,
          "src/config.c: %d keys parsed from known_keys" % len(keys), repr(sorted(keys)))
    return keys


def conf_file_keys(src_root):
    keys = set()
    group = None
    with open(os.path.join(src_root, "conf", "puljed.conf"), encoding="utf-8") as f:
        for line in f:
            g = re.match(r"^\s*\[([^\]]+)\]", line)
            if g:
                group = g.group(1).split()[0]
                continue
            k = re.match(r"^\s*#?\s*([a-z_]+)\s*=", line)   # commented-out keys too
            if k and group:
                keys.add((group, k.group(1)))
    check(len(keys) >= 5, "conf/puljed.conf: %d keys" % len(keys))
    return keys


def readme_keys(src_root):
    """The keys of README.md's ```ini examples, under their groups."""
    keys = set()
    with open(os.path.join(src_root, "README.md"), encoding="utf-8") as f:
        text = f.read()
    blocks = re.findall(r"^```ini\n(.*?)^```", text, re.M | re.S)
    check(blocks, "README.md has a configuration example (```ini)")
    for block in blocks:
        group = None
        for line in block.split("\n"):
            g = re.match(r"^\s*\[([^\]]+)\]", line)
            if g:
                group = g.group(1).split()[0]
                continue
            k = re.match(r"^\s*#?\s*([a-z_]+)\s*=", line)
            if k and group:
                keys.add((group, k.group(1)))
    required = {("imap", "host"), ("imap", "username"), ("call", "subject"), ("call", "deadline")}
    check(required <= keys, "README.md's configuration example sets every required key",
          "missing: " + ", ".join("[%s] %s" % gk for gk in sorted(required - keys)))
    return keys


def check_readme(src_root):
    """README.md is a README: short, no second configuration reference, and
    every file it points to exists."""
    path = os.path.join(src_root, "README.md")
    with open(path, encoding="utf-8") as f:
        text = f.read()
    lines = text.count("\n")
    check(lines <= 250, "README.md is at most 250 lines", "%d lines" % lines)
    check(not re.search(r"^\| group \| key \|", text, re.M),
          "README.md has no configuration table (puljed.conf(5) is the reference)")
    named = set(re.findall(r"`((?:doc|tests|bench|scripts|fixtures|conf|systemd|completion|src)/[\w./-]*[\w/])`", text))
    check(len(named) >= 5, "README.md names %d files to read on" % len(named))
    missing = sorted(n for n in named if not os.path.exists(os.path.join(src_root, n)))
    check(not missing, "every file README.md names exists", ", ".join(missing))


def check_config_keys(page, src_root):
    if page is None:
        return
    documented = set()
    for name, sec in page.sections.items():
        g = re.fullmatch(r"\[(\w+)(?: ID)?\]", name)
        if not g:
            continue
        for term in sec["terms"]:
            k = re.match(r"([a-z_]+) = ", term)
            if k:
                documented.add((g.group(1), k.group(1)))
    check(len(documented) >= 20, "puljed.conf(5): %d keys documented under their groups" % len(documented))
    for origin, keys in (("src/config.c", config_c_keys(src_root)), ("conf/puljed.conf", conf_file_keys(src_root)),
                         ("README.md", readme_keys(src_root))):
        missing = sorted("[%s] %s" % gk for gk in keys - documented)
        check(not missing, "puljed.conf(5) documents every key of %s" % origin, "missing: " + ", ".join(missing))
    accepted = config_c_keys(src_root)
    if accepted:
        extra = sorted("[%s] %s" % gk for gk in documented - accepted)
        check(not extra, "puljed.conf(5) documents no key src/config.c refuses", ", ".join(extra))
    text = page.text
    for example in ("64M", "15m"):
        check(example in text, "puljed.conf(5) shows the value syntax %s" % example)
    check("EXAMPLES" in page.sections and "[call digitale-kompetencer-2022]" in page.section("EXAMPLES")["text"],
          "puljed.conf(5) EXAMPLES carries conf/puljed.conf")


# ---- bash completion ----

COMPLETE_SH = r'''
set -u
if [[ $1 == yes && -r "$2" ]]; then
    . "$2" || exit 90
fi
. "$3" || exit 91
declare -F "$4" >/dev/null || { echo "$3 defines no function $4" >&2; exit 92; }
func=$4
shift 4
COMP_WORDS=("$@")
COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 ))
COMP_LINE="${COMP_WORDS[*]}"
COMP_POINT=${#COMP_LINE}
COMPREPLY=()
"$func" "${COMP_WORDS[0]}" "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
printf '%s\n' "${COMPREPLY[@]}"
'''


class Completer:
    def __init__(self, src_root, cwd):
        self.src_root = src_root
        self.cwd = cwd

    def __call__(self, prog, words, with_bc):
        script = os.path.join(self.src_root, "completion", prog + ".bash")
        r = run(["bash", "--norc", "--noprofile", "-c", COMPLETE_SH, "complete",
                 "yes" if with_bc else "no", BASH_COMPLETION, script, "_" + prog] + words,
                cwd=self.cwd, env=dict(os.environ, HOME=self.cwd, LC_ALL="C.UTF-8"))
        line = " ".join(words)
        where = "%s (%s)" % (line + "<TAB>", "bash-completion" if with_bc else "plain bash")
        if r.returncode != 0 or r.stderr.strip():
            fail("%s: exit %d, stderr %r" % (where, r.returncode, r.stderr.strip()))
        return [w for w in r.stdout.split("\n") if w], where


def check_completion(src_root, cmds, puljectl_help):
    modes = [False]
    if os.path.isfile(BASH_COMPLETION):
        modes.insert(0, True)
    else:
        print("# %s not installed: the completion is tested without it only" % BASH_COMPLETION)
    with tempfile.TemporaryDirectory() as tmp:
        conf = os.path.join(tmp, "two calls.conf")
        with open(conf, "w", encoding="utf-8") as f:
            f.write("[imap]\nhost = imap.example.dk\nusername = x\n\n"
                    "[call digitale-kompetencer-2022]\nsubject = Puljeopslag 2022: Noget\n"
                    "deadline = 2022-07-01\n\n[call sundhed.2023]   \nsubject = Puljeopslag 2023\n"
                    "deadline = 2023-03-01 # a comment\n")
        os.mkdir(os.path.join(tmp, "rapport"))
        os.mkdir(os.path.join(tmp, "bilag"))
        open(os.path.join(tmp, "rapport.csv"), "w").close()
        complete = Completer(src_root, tmp)

        commands = set(cmds) if cmds else {"status", "list", "show", "applications", "extract", "reclassify",
                                           "decide", "reconcile", "export", "report"}
        global_opts = set()
        if puljectl_help:
            opts_block = puljectl_help.split("\nOptions:", 1)[-1]
            global_opts = long_options(opts_block)

        def expect(prog, words, want, exact=True, bc=None):
            for with_bc in ([bc] if bc is not None else modes):
                got, where = complete(prog, words, with_bc)
                good = set(got) == set(want) if exact else set(want) <= set(got)
                check(good, where + " gives " + " ".join(sorted(want)) + ("" if exact else " (at least)"),
                      "got: " + " ".join(got))

        expect("puljectl", ["puljectl", ""], commands)
        expect("puljectl", ["puljectl", "ex"], {c for c in commands if c.startswith("ex")})
        expect("puljectl", ["puljectl", "--db", "x.db", ""], commands)
        expect("puljectl", ["puljectl", "export", "--format", ""], {"csv", "json"})
        expect("puljectl", ["puljectl", "export", "--format=j"], {"json"})
        expect("puljectl", ["puljectl", "list", "--status", ""], {"accepted", "late", "review", "unrelated"})
        expect("puljectl", ["puljectl", "list", "--status", "review,"],
               {"review,accepted", "review,late", "review,review", "review,unrelated"})
        expect("puljectl", ["puljectl", "--color", ""], {"auto", "always", "never"})
        expect("puljectl", ["puljectl", "--config", conf, "list", "--call", ""],
               {"digitale-kompetencer-2022", "sundhed.2023"})
        expect("puljectl", ["puljectl", "report", "-c", conf, "--call", "s"], {"sundhed.2023"})
        expect("puljectl", ["puljectl", "--config", os.path.join(tmp, "nonexistent.conf"), "list", "--call", ""],
               set())
        expect("puljectl", ["puljectl", "decide", "3", ""], {"accept", "reject"})
        expect("puljectl", ["puljectl", "decide", "3", "accept", ""], set())
        expect("puljectl", ["puljectl", "extract", "3", ""], {"rapport", "bilag"}, exact=False)
        expect("puljectl", ["puljectl", "report", "--output", "rap"], {"rapport"})
        expect("puljectl", ["puljectl", "export", "--output", "rap"], {"rapport", "rapport.csv"})
        expect("puljectl", ["puljectl", "--config", "rapport."], {"rapport.csv"})
        expect("puljectl", ["puljectl", "--"], global_opts or {"--config", "--db", "--help", "--version"})

        # Each command's options, as --help gives them, plus the global ones.
        for name, usage in sorted((cmds or {}).items()):
            want = long_options(usage) | global_opts
            if "FILTERS" in usage:
                want |= {"--status", "--call", "--since"}
            expect("puljectl", ["puljectl", name, "--"], want)

        expect("puljed", ["puljed", "--"], {"--config", "--once", "--check-config", "--help", "--version"})
        expect("puljed", ["puljed", "--once", "--"], {"--config"})
        expect("puljed", ["puljed", "--config", "rapport."], {"rapport.csv"})


def main():
    args = sys.argv[1:]
    no_man_pages = "--no-man-pages" in args
    args = [a for a in args if a != "--no-man-pages"]
    if len(args) != 4:
        sys.exit("usage: test_docs.py PULJECTL PULJED DOC_BUILD_DIR SOURCE_ROOT [--no-man-pages]")
    if no_man_pages:
        print("SKIP: this build makes no manual pages (-Dman=disabled, or no scdoc), so there is "
              "nothing to check --help, the keys and the completion against; "
              "apt-get install scdoc and meson setup -Dman=enabled to run it")
        sys.exit(77)
    puljectl, puljed, doc_dir, src_root = (os.path.abspath(a) for a in args)
    pages = check_rendering(doc_dir)
    default_config = check_puljed_help(puljed, pages.get("puljed.8"))
    r = check_puljectl_help(puljectl, pages.get("puljectl.1"), default_config or "/etc/puljed/puljed.conf")
    cmds, help_out = r if r else (None, None)
    check_config_keys(pages.get("puljed.conf.5"), src_root)
    check_readme(src_root)
    check_completion(src_root, cmds, help_out)
    if failures:
        print("\n%d check(s) failed:" % len(failures))
        for f in failures:
            print("  - " + f)
        sys.exit(1)
    print("\nall checks passed")


if __name__ == "__main__":
    main()
