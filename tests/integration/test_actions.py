#!/usr/bin/python3
"""What puljed does on the server after recording a message
([imap] after_ingest = none | keyword | move), against a real Dovecot.

Needs PULJED and PULJECTL in the environment (paths of the built binaries).
Run:  PULJED=build/src/puljed PULJECTL=build/src/puljectl \\
      /usr/bin/python3 tests/integration/test_actions.py [-k name]

Where the commands themselves matter (EXAMINE, UID MOVE, UID COPY + UID
EXPUNGE of exactly which UIDs) puljed talks to Dovecot through
harness.recorder.ImapRecorder, a TLS-terminating proxy that keeps the
client's command lines.
"""

import json
import os
import re
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from harness import messages as M  # noqa: E402
from harness import puljed as P  # noqa: E402
from harness.dovecot import DEFAULT_IMAP_CAPABILITY, imap_utf7  # noqa: E402
from harness.testcase import PuljedTestCase  # noqa: E402

ON_TIME = "2022-06-15T10:00:00+02:00"
FOLDER = "Behandlet"
# Verbs that change something on the server.
WRITES = {"STORE", "UID STORE", "COPY", "UID COPY", "MOVE", "UID MOVE",
          "EXPUNGE", "UID EXPUNGE", "CREATE", "DELETE", "RENAME", "APPEND"}


def uidset(text):
    """'1:3,7' -> {1, 2, 3, 7}."""
    out = set()
    for part in text.split(","):
        if ":" in part:
            a, b = part.split(":")
            a, b = int(a), int(b)
            out.update(range(min(a, b), max(a, b) + 1))
        else:
            out.add(int(part))
    return out


def command_uids(command):
    """UIDs named by a 'UID MOVE|COPY|STORE|EXPUNGE <set> ...' command."""
    words = command.split()
    return uidset(words[2]) if len(words) > 2 else set()


class ActionsTest(PuljedTestCase):

    # ------------------------------------------------------------ helpers
    def app(self, i, size=700):
        return M.application("Kommune %d" % i, M.fake_pdf(size, seed=100 + i))

    def fill(self, dc, n, start=0, mailbox="INBOX", flags=()):
        return [dc.append(mailbox, self.app(start + i), ON_TIME, flags)
                for i in range(n)]

    def by_uid(self, cfg, db=None):
        return {r["uid"]: r for r in self.records(cfg, db=db)}

    def assert_actions(self, cfg, expected, db=None):
        """expected: {uid: server_action}."""
        recs = self.by_uid(cfg, db=db)
        self.assertEqual(set(recs), set(expected), "recorded UIDs")
        got = {u: recs[u].get("server_action", "<missing>") for u in recs}
        self.assertEqual(got, expected, "server_action per UID")
        return recs

    def assert_status(self, cfg, pending, error=None):
        st = self.status_json(cfg)
        self.assertIn("actions_pending", st, st)
        self.assertIn("last_action_error", st, st)
        self.assertIsInstance(st["actions_pending"], int, st)
        self.assertEqual(st["actions_pending"], pending, st)
        if error is None:
            self.assertIsNone(st["last_action_error"], st)
        else:
            self.assertIsInstance(st["last_action_error"], str, st)
            for rx in ([error] if isinstance(error, str) else error):
                self.assertRegex(st["last_action_error"], re.compile(rx, re.I), st)
        return st

    def assert_no_writes(self, rec, what):
        writes = [c for c in rec.commands() if c.split(" ")[0] in WRITES
                  or " ".join(c.split(" ")[:2]) in WRITES]
        self.assertEqual(writes, [], "%s: puljed changed the server" % what)

    def assert_peek_only(self, rec):
        for c in rec.commands("UID FETCH") + rec.commands("FETCH"):
            self.assertNotRegex(c, r"(?i)BODY\[|\bRFC822(\.TEXT)?(?![.\w])",
                                "a fetch that sets \\Seen: " + c)

    def assert_nothing_deleted(self, dc, mailbox="INBOX"):
        flags = dc.all_flags(mailbox)
        self.assertEqual([u for u, f in flags.items() if "\\Deleted" in f], [],
                         "messages flagged \\Deleted in %s: %s" % (mailbox, flags))

    def assert_no_seen(self, dc, mailbox="INBOX"):
        flags = dc.all_flags(mailbox)
        self.assertEqual([u for u, f in flags.items() if "\\Seen" in f], [],
                         "puljed set \\Seen in %s: %s" % (mailbox, flags))

    # ------------------------------------------------------------ harness
    def test_0_harness(self):
        # The harness parts these tests rely on, checked with imaplib alone.
        import imaplib
        import ssl
        dc = self.dovecot()
        self.assertEqual(dc.capabilities(), DEFAULT_IMAP_CAPABILITY.split())
        dc2 = self.dovecot(drop_capabilities=("MOVE",))
        self.assertEqual(dc2.capabilities(), [c for c in DEFAULT_IMAP_CAPABILITY.split()
                                              if c != "MOVE"])
        dc3 = self.dovecot(drop_capabilities=("MOVE", "UIDPLUS"))
        caps = dc3.capabilities()
        self.assertNotIn("MOVE", caps)
        self.assertNotIn("UIDPLUS", caps)
        self.assertIn("IDLE", caps)

        folder = "Behandlede ans\u00f8gninger"
        dc.create_mailbox(folder)
        self.assertEqual(sorted(dc.mailboxes()), sorted(["INBOX", folder]))
        uids = self.fill(dc, 3)
        dc.add_flags(uids[0], "$Puljed")
        self.assertEqual(dc.flags(uids[0]), {"$Puljed"})
        self.assertEqual(dc.flags(uids[1]), set())
        self.assertIsNone(dc.flags(999))
        dc.remove_flags(uids[0], "$Puljed")
        self.assertEqual(dc.flags(uids[0]), set())

        rec = self.imap_recorder(dc, strip_capabilities=("MOVE",))
        conn = imaplib.IMAP4_SSL("127.0.0.1", rec.port,
                                 ssl_context=ssl.create_default_context(cafile=dc.ca_file))
        conn.login(dc.username, dc.password)
        typ, data = conn.capability()
        self.assertNotIn(b"MOVE", data[-1].split())
        conn.select("INBOX")
        conn.uid("FETCH", "1:*", "(UID BODY.PEEK[])")
        conn.uid("STORE", str(uids[1]), "+FLAGS.SILENT", "($Puljed)")
        conn.uid("MOVE", str(uids[2]), '"%s"' % imap_utf7(folder))
        conn.logout()
        self.assertEqual(rec.verbs(), ["CAPABILITY", "LOGIN", "CAPABILITY", "SELECT",
                                       "UID FETCH", "UID STORE", "UID MOVE", "LOGOUT"])
        self.assertEqual(rec.commands("LOGIN"), ["LOGIN ***"])
        self.assertEqual(command_uids(rec.commands("UID MOVE")[0]), {uids[2]})
        self.assertEqual(dc.flags(uids[1]), {"$Puljed"})
        self.assertEqual(dc.uids("INBOX"), uids[:2])
        self.assertEqual(len(dc.uids(folder)), 1)
        self.assertTrue(dc.wait_for_log(r"Login: user=<rbj>, method=PLAIN, rip=127\.0\.0\.1,"),
                        "the recorder does not connect from 127.0.0.1")

    # ------------------------------------------------------------ none
    def test_a_none_changes_nothing(self):
        dc = self.dovecot()
        uids = self.fill(dc, 2)
        uids.append(dc.append("INBOX", self.app(2), ON_TIME, ["\\Flagged"]))
        before = dc.all_flags()
        rec = self.imap_recorder(dc)
        # Default: no after_ingest key at all.
        cfg = self.config(dc, port=rec.port)
        self.run_puljed(cfg, "--once", expect=P.EXIT_OK)
        self.assertEqual(dc.all_flags(), before, "flags changed with the default "
                         "after_ingest (none)")
        self.assert_actions(cfg, {u: None for u in uids})
        self.assert_status(cfg, 0)
        verbs = rec.verbs()
        self.assertIn("EXAMINE", verbs, verbs)
        self.assertNotIn("SELECT", verbs, verbs)
        self.assert_no_writes(rec, "after_ingest unset")
        self.assert_peek_only(rec)

        # Explicit "none": the same.
        uids.append(dc.append("INBOX", self.app(3), ON_TIME))
        before = dc.all_flags()
        n_before = len(rec.commands())
        cfg = self.config(dc, port=rec.port, after_ingest="none")
        self.run_puljed(cfg, "--once", expect=P.EXIT_OK)
        self.assertEqual(dc.all_flags(), before, "flags changed with after_ingest = none")
        self.assertEqual(dc.uids(), uids)
        self.assert_actions(cfg, {u: None for u in uids})
        self.assertGreater(len(rec.commands()), n_before)
        self.assertNotIn("SELECT", rec.verbs())
        self.assert_no_writes(rec, "after_ingest = none")

    # ------------------------------------------------------------ keyword
    def test_b_keyword(self):
        dc = self.dovecot()
        uids = self.fill(dc, 2)
        flagged = dc.append("INBOX", self.app(2), ON_TIME, ["\\Flagged"])
        uids.append(flagged)
        rec = self.imap_recorder(dc)
        cfg = self.config(dc, port=rec.port, after_ingest="keyword")
        self.run_puljed(cfg, "--once", expect=P.EXIT_OK)
        flags = dc.all_flags()
        for u in uids:
            self.assertIn("$Puljed", flags[u], "UID %d: %s" % (u, flags))
            self.assertNotIn("\\Seen", flags[u], "UID %d: %s" % (u, flags))
        self.assertIn("\\Flagged", flags[flagged],
                      "the keyword replaced the flags instead of adding to them")
        self.assert_actions(cfg, {u: "done" for u in uids})
        self.assert_status(cfg, 0)
        stores = rec.commands("UID STORE")
        self.assertTrue(stores, rec.commands())
        for c in stores:
            self.assertRegex(c, r"(?i)^UID STORE \S+ \+FLAGS\.SILENT \(\$Puljed\)$", c)
        self.assertEqual(set().union(*(command_uids(c) for c in stores)), set(uids))
        self.assert_peek_only(rec)

        # Nothing new: nothing recorded, nothing stored, flags unchanged.
        n_cmds = len(rec.commands())
        self.run_puljed(cfg, "--once", expect=P.EXIT_OK)
        self.assertEqual(dc.all_flags(), flags)
        self.assertEqual(len(self.records(cfg)), 3)
        later = rec.commands()[n_cmds:]
        self.assertTrue(later, "the second run sent no commands?")
        self.assertEqual([c for c in later if c.startswith("UID STORE")], [],
                         "the second run stored flags although nothing was "
                         "new or pending")

        # A new message later: only it gets the keyword.
        new = dc.append("INBOX", self.app(3), ON_TIME)
        n_cmds = len(rec.commands())
        self.run_puljed(cfg, "--once", expect=P.EXIT_OK)
        self.assertIn("$Puljed", dc.flags(new))
        stores = [c for c in rec.commands()[n_cmds:] if c.startswith("UID STORE")]
        self.assertEqual(set().union(*(command_uids(c) for c in stores)), {new}, stores)
        self.assert_actions(cfg, {u: "done" for u in uids + [new]})

    def test_b_keyword_custom(self):
        dc = self.dovecot()
        uids = self.fill(dc, 2)
        cfg = self.config(dc, after_ingest="keyword",
                          after_ingest_keyword="$Behandlet")
        self.run_puljed(cfg, "--once", expect=P.EXIT_OK)
        for u in uids:
            self.assertEqual(dc.flags(u), {"$Behandlet"}, "UID %d" % u)
        self.assert_actions(cfg, {u: "done" for u in uids})
        self.assert_status(cfg, 0)

    def test_c_crash_between_commit_and_action(self):
        # The record is committed with server_action 'pending'; a crash before
        # the STORE leaves it so.  The next session applies it.
        dc = self.dovecot()
        uids = self.fill(dc, 3)
        cfg = self.config(dc, after_ingest="keyword")
        self.run_puljed(cfg, "--once", expect=P.EXIT_OK)
        recs = self.assert_actions(cfg, {u: "done" for u in uids})
        victim = uids[1]
        self.sql("UPDATE actions SET state = 'pending' WHERE message = ? AND promise = 'after_ingest'",
                 (recs[victim]["id"],))
        dc.remove_flags(victim, "$Puljed")
        self.assertEqual(dc.flags(victim), set())
        self.assert_status(cfg, 1)
        self.assertEqual(self.by_uid(cfg)[victim]["server_action"], "pending")
        r = self.run_ctl(cfg, "show", str(recs[victim]["id"]), "--json")
        self.assertEqual(json.loads(r.stdout).get("server_action"), "pending", r.stdout)

        self.run_puljed(cfg, "--once", expect=P.EXIT_OK)
        self.assertEqual(dc.flags(victim), {"$Puljed"})
        after = self.assert_actions(cfg, {u: "done" for u in uids})
        self.assertEqual({u: r["id"] for u, r in after.items()},
                         {u: r["id"] for u, r in recs.items()}, "records changed")
        self.assert_status(cfg, 0)
        self.assert_no_seen(dc)

    # ------------------------------------------------------------ move
    def test_d_move(self):
        dc = self.dovecot()
        dc.create_mailbox(FOLDER)
        uids = self.fill(dc, 3)
        raws = {u: dc.fetch_raw(u) for u in uids}
        rec = self.imap_recorder(dc)
        cfg = self.config(dc, port=rec.port, after_ingest="move",
                          after_ingest_folder=FOLDER)
        self.run_puljed(cfg, "--once", expect=P.EXIT_OK)
        self.assertEqual(dc.uids("INBOX"), [], "INBOX not emptied")
        moved = dc.uids(FOLDER)
        self.assertEqual(len(moved), 3, "messages in %s: %s" % (FOLDER, moved))
        self.assertEqual(sorted(M.sha256(dc.fetch_raw(u, FOLDER)) for u in moved),
                         sorted(M.sha256(r) for r in raws.values()))
        self.assert_no_seen(dc, FOLDER)
        self.assert_nothing_deleted(dc, FOLDER)
        recs = self.assert_actions(cfg, {u: "done" for u in uids})
        for u, r in recs.items():
            self.assertEqual(r["mailbox"], "INBOX")
            self.assertEqual(r["sha256"], M.sha256(raws[u]))
        self.assert_status(cfg, 0)
        moves = rec.commands("UID MOVE")
        self.assertTrue(moves, "MOVE is offered but was not used: %s" % rec.commands())
        self.assertEqual(set().union(*(command_uids(c) for c in moves)), set(uids))
        for c in moves:
            self.assertTrue(c.endswith(" " + FOLDER) or c.endswith(' "%s"' % FOLDER), c)
        for v in ("UID COPY", "COPY", "EXPUNGE", "UID EXPUNGE", "CREATE"):
            self.assertNotIn(v, rec.verbs(), rec.commands())

        # Nothing new: exit 0, nothing recorded, nothing moved; reconcile
        # does not call the moved messages gone.
        self.run_puljed(cfg, "--once", expect=P.EXIT_OK)
        self.assertEqual(len(self.records(cfg)), 3)
        self.assertEqual(len(dc.uids(FOLDER)), 3)
        rc = self.run_ctl(cfg, "reconcile", "--json", expect=0)
        data = json.loads(rc.stdout)
        self.assertEqual(data["gone"], [], data)
        self.assertEqual(data["missing"], [], data)

        # A later message: recorded and moved; the earlier records untouched.
        new = dc.append("INBOX", self.app(9), ON_TIME)
        self.run_puljed(cfg, "--once", expect=P.EXIT_OK)
        self.assertEqual(dc.uids("INBOX"), [])
        self.assertEqual(len(dc.uids(FOLDER)), 4)
        self.assert_actions(cfg, {u: "done" for u in uids + [new]})
        data = json.loads(self.run_ctl(cfg, "reconcile", "--json", expect=0).stdout)
        self.assertEqual((data["gone"], data["missing"]), ([], []), data)

    def test_e_move_folder_missing(self):
        dc = self.dovecot()
        uids = self.fill(dc, 3)
        before = dc.all_flags()
        cfg = self.config(dc, after_ingest="move", after_ingest_folder=FOLDER)
        r = self.run_puljed(cfg, "--once", expect=P.EXIT_OTHER)
        self.assertIn(FOLDER, r.stderr, r.describe())
        # Recording did not stop; the actions wait.
        self.assert_actions(cfg, {u: "pending" for u in uids})
        st = self.assert_status(cfg, 3, error=FOLDER)
        self.assertEqual(st.get("action_attempts"), 1, st)
        self.assertEqual(dc.uids("INBOX"), uids)
        self.assertEqual(dc.all_flags(), before)
        self.assert_nothing_deleted(dc)
        self.assertNotIn(FOLDER, dc.mailboxes(), "puljed created the folder")

        # The folder appears: the pending moves happen, nothing is recorded twice.
        dc.create_mailbox(FOLDER)
        self.run_puljed(cfg, "--once", expect=P.EXIT_OK)
        self.assertEqual(dc.uids("INBOX"), [])
        self.assertEqual(len(dc.uids(FOLDER)), 3)
        self.assert_actions(cfg, {u: "done" for u in uids})
        self.assertEqual(len(self.records(cfg)), 3)
        st = self.assert_status(cfg, 0)
        self.assertEqual(st.get("action_attempts"), 0, st)
        self.assert_nothing_deleted(dc, FOLDER)

    def test_f_uidplus_fallback(self):
        # No MOVE advertised: UID COPY, \Deleted, UID EXPUNGE of exactly the
        # moved UIDs.  A message that a person had already marked \Deleted --
        # and that puljed leaves alone because it was too large to fetch --
        # must survive: a plain EXPUNGE would remove it.
        dc = self.dovecot(drop_capabilities=("MOVE",))
        self.assertNotIn("MOVE", dc.capabilities())
        self.assertIn("UIDPLUS", dc.capabilities())
        dc.create_mailbox(FOLDER)
        small = self.fill(dc, 2)
        big = dc.append("INBOX", M.application("Stor Kommune",
                                               M.fake_pdf(300 * 1024, seed=5)),
                        ON_TIME, ["\\Deleted"])
        small.append(dc.append("INBOX", self.app(7), ON_TIME))
        rec = self.imap_recorder(dc)
        cfg = self.config(dc, port=rec.port, after_ingest="move",
                          after_ingest_folder=FOLDER,
                          groups={"limits": {"max_message_size": "64K"}})
        self.run_puljed(cfg, "--once", expect=P.EXIT_OK)
        self.assertEqual(dc.uids("INBOX"), [big], "INBOX after the move")
        self.assertIn("\\Deleted", dc.flags(big))
        self.assertEqual(len(dc.uids(FOLDER)), 3)
        self.assert_nothing_deleted(dc, FOLDER)
        self.assert_no_seen(dc, FOLDER)
        expected = {u: "done" for u in small}
        expected[big] = None
        recs = self.assert_actions(cfg, expected)
        self.assertEqual(recs[big]["status"], "review")
        self.assert_status(cfg, 0)

        verbs = rec.verbs()
        self.assertNotIn("UID MOVE", verbs, "MOVE used although not advertised")
        self.assertNotIn("MOVE", verbs)
        self.assertNotIn("EXPUNGE", verbs, "a plain EXPUNGE removes every \\Deleted "
                         "message, not only puljed's")
        copies = rec.commands("UID COPY")
        expunges = rec.commands("UID EXPUNGE")
        stores = [c for c in rec.commands("UID STORE") if "\\Deleted" in c]
        for name, cmds in (("UID COPY", copies), ("UID STORE \\Deleted", stores),
                           ("UID EXPUNGE", expunges)):
            self.assertTrue(cmds, "no %s: %s" % (name, rec.commands()))
            self.assertEqual(set().union(*(command_uids(c) for c in cmds)), set(small),
                             "%s named other UIDs: %s" % (name, cmds))
        for c in stores:
            self.assertRegex(c, r"^UID STORE \S+ \+FLAGS(\.SILENT)? \(\\Deleted\)$")
        # Order: every UID is copied before it is marked \Deleted.
        order = [(v, c) for v, c in zip(rec.verbs(), rec.commands())
                 if v in ("UID COPY", "UID STORE", "UID EXPUNGE")]
        for u in small:
            seq = [v for v, c in order if u in command_uids(c)]
            self.assertEqual(seq, ["UID COPY", "UID STORE", "UID EXPUNGE"],
                             "UID %d: %s" % (u, order))

        # Again: nothing to do, the \Deleted message still there.
        self.run_puljed(cfg, "--once", expect=P.EXIT_OK)
        self.assertEqual(dc.uids("INBOX"), [big])
        self.assertEqual(len(self.records(cfg)), 4)

    def test_g_neither_move_nor_uidplus(self):
        dc = self.dovecot(drop_capabilities=("MOVE", "UIDPLUS"))
        caps = dc.capabilities()
        self.assertNotIn("MOVE", caps)
        self.assertNotIn("UIDPLUS", caps)
        dc.create_mailbox(FOLDER)
        uids = self.fill(dc, 3)
        before = dc.all_flags()
        rec = self.imap_recorder(dc)
        cfg = self.config(dc, port=rec.port, after_ingest="move",
                          after_ingest_folder=FOLDER)
        r = self.run_puljed(cfg, "--once", expect=P.EXIT_OTHER)
        self.assertRegex(r.stderr, re.compile(r"MOVE", re.I), r.describe())
        self.assert_actions(cfg, {u: "pending" for u in uids})
        st = self.assert_status(cfg, 3, error=[r"MOVE", r"UIDPLUS"])
        self.assertGreater(st["actions_pending"], 0)
        self.assertEqual(dc.uids("INBOX"), uids)
        self.assertEqual(dc.all_flags(), before)
        self.assert_nothing_deleted(dc)
        self.assertEqual(dc.uids(FOLDER), [])
        self.assert_no_writes(rec, "neither MOVE nor UIDPLUS")

    def test_h_non_ascii_folder(self):
        folder = "Behandlede ans\u00f8gninger"
        dc = self.dovecot()
        dc.create_mailbox(folder)
        uids = self.fill(dc, 2)
        rec = self.imap_recorder(dc)
        cfg = self.config(dc, port=rec.port, after_ingest="move",
                          after_ingest_folder=folder)
        self.run_puljed(cfg, "--once", expect=P.EXIT_OK)
        self.assertEqual(dc.uids("INBOX"), [])
        self.assertEqual(len(dc.uids(folder)), 2)
        self.assertEqual(sorted(dc.mailboxes()), sorted(["INBOX", folder]),
                         "a mis-encoded folder was created?")
        self.assert_actions(cfg, {u: "done" for u in uids})
        moves = rec.commands("UID MOVE")
        self.assertTrue(moves, rec.commands())
        for c in moves:
            self.assertIn('"%s"' % imap_utf7(folder), c,
                          "folder not sent in modified UTF-7")

    # ------------------------------------------------------------ daemon
    def count_records(self, cfg):
        if not os.path.exists(self.path("puljed.db")):
            return 0
        r = P.puljectl(cfg, "list", "--json")
        self.check_no_secret(r)
        if r.returncode != 0:
            return -1
        try:
            return len(json.loads(r.stdout))
        except ValueError:
            return -1

    def test_i_daemon_moves_new_mail(self):
        dc = self.dovecot()
        dc.create_mailbox(FOLDER)
        first = self.fill(dc, 1)
        dc.close_client()
        cfg = self.config(dc, poll_interval=300, after_ingest="move",
                          after_ingest_folder=FOLDER)
        d = self.spawn_daemon(cfg)
        self.assertIsNotNone(d.wait_ready(10), "no READY=1\n" + d.describe())
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not (
                self.count_records(cfg) == 1 and dc.uids("INBOX") == []):
            time.sleep(0.2)
        self.assertEqual(self.count_records(cfg), 1, d.describe())
        self.assertEqual(dc.uids("INBOX"), [], "the first message was not moved\n"
                         + d.describe())
        time.sleep(1.5)  # into IDLE
        new = self.fill(dc, 1, start=1)
        t0 = time.monotonic()
        done = False
        while time.monotonic() - t0 < 5.0:
            if self.count_records(cfg) == 2 and dc.uids("INBOX") == [] \
                    and len(dc.uids(FOLDER)) == 2:
                done = True
                break
            time.sleep(0.1)
        took = time.monotonic() - t0
        self.assertTrue(done, "a message appended while the daemon ran was not "
                        "recorded and moved within 5 s (poll_interval = 300)\n"
                        "INBOX %s, %s %s\n%s" % (dc.uids("INBOX"), FOLDER,
                                                 dc.uids(FOLDER), d.describe()))
        sys.stderr.write("\n  [actions] recorded and moved %.2f s after APPEND\n" % took)
        self.assertTrue(d.alive, d.describe())
        rc, _ = d.terminate(10)
        self.assertEqual(rc, 0, d.describe())
        self.assert_actions(cfg, {u: "done" for u in first + new})
        self.assert_status(cfg, 0)

    # ------------------------------------------------------------ config
    def test_j_config_errors(self):
        dc = self.dovecot()
        dc.close_client()
        cases = [
            ("bogus", dict(after_ingest="bogus"), "after_ingest"),
            ("move without folder", dict(after_ingest="move"), "after_ingest_folder"),
            ("folder is the mailbox", dict(after_ingest="move",
                                           after_ingest_folder="INBOX"),
             "after_ingest_folder"),
            ("folder is the (non-INBOX) mailbox",
             dict(mailbox="Puljer/Ans\u00f8gninger", after_ingest="move",
                  after_ingest_folder="Puljer/Ans\u00f8gninger"),
             "after_ingest_folder"),
            ("keyword \\Seen (escaped for GKeyFile)",
             dict(after_ingest="keyword", after_ingest_keyword="\\\\Seen"),
             "after_ingest_keyword"),
            ("keyword \\Seen (as written)",
             dict(after_ingest="keyword", after_ingest_keyword="\\Seen"),
             "after_ingest_keyword"),
            ("keyword with a space",
             dict(after_ingest="keyword", after_ingest_keyword="$Puljed behandlet"),
             "after_ingest_keyword"),
            ("keyword with (",
             dict(after_ingest="keyword", after_ingest_keyword="$Pul(jed"),
             "after_ingest_keyword"),
        ]
        for i, (label, kw, key) in enumerate(cases):
            with self.subTest(case=label):
                cfg = self.config(dc, name="bad%d.conf" % i, **kw)
                mark = dc.log_mark()
                for mode in ("--once", "--check-config"):
                    r = self.run_puljed(cfg, mode)
                    self.assertEqual(r.returncode, P.EXIT_CONFIG,
                                     "%s %s\n%s" % (label, mode, r.describe()))
                    self.assertIn("[imap]", r.stderr, label)
                    self.assertIn(key, r.stderr, label)
                    self.assertIn(cfg, r.stderr, label)
                self.assertEqual(dc.login_lines(mark), [],
                                 label + ": puljed connected despite a config error")
        self.assertFalse(os.path.exists(self.path("puljed.db")),
                         "a database was created despite config errors")
        # The valid forms are accepted (without touching the network).
        for i, kw in enumerate([dict(after_ingest="none"),
                                dict(after_ingest="keyword"),
                                dict(after_ingest="keyword", after_ingest_keyword="$Behandlet"),
                                dict(after_ingest="move", after_ingest_folder=FOLDER)]):
            with self.subTest(valid=kw):
                cfg = self.config(dc, name="good%d.conf" % i, **kw)
                self.run_puljed(cfg, "--check-config", expect=P.EXIT_OK)


if __name__ == "__main__":
    unittest.main(verbosity=2)
