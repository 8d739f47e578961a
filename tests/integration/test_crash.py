#!/usr/bin/env python3
"""Crash at every durable step.  puljed-crashtest (the daemon with its crash
points armable from the environment) is killed with SIGKILL at the n-th
durable step — each SQLite write, fsync and commit, each watermark advance,
and just before and after each change on the server — for every n of a run
over a mailbox of 50 varied messages; then restarted without the fault.
The database must then equal an uninterrupted run's: 0 lost, 0 duplicated,
PRAGMA integrity_check ok, no orphan rows, no stray files.  The same with
after_ingest = keyword (server-side action), and a full disk.

PULJED_CRASH_STRIDE=k tests every k-th step only (default 1: all of them)."""
import glob
import json
import os
import re
import sqlite3
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from harness import messages as M  # noqa: E402
from harness import puljed as P  # noqa: E402
from harness.testcase import PuljedTestCase  # noqa: E402

FIXTURES = os.environ.get("PULJED_FIXTURES",
                          os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "fixtures"))
ON_TIME = "2022-06-15T10:00:00+02:00"
LATE = "2022-07-02T09:00:00+02:00"


crashtest_path = P.crashtest_path


def corpus():
    """50 varied messages: every MIME fixture, applications on time and
    late, a duplicate delivery, an auto-reply, a question, broken mail."""
    out = []
    for path in sorted(glob.glob(os.path.join(FIXTURES, "mime", "*.eml"))):
        with open(path, "rb") as f:
            out.append((f.read(), ON_TIME))
    i = 0
    while len(out) < 46:
        out.append((M.application("Crash Kommune %d" % i, M.fake_pdf(3000, seed=100 + i)),
                    LATE if i % 4 == 3 else ON_TIME))
        i += 1
    out.append((out[-1][0], ON_TIME))  # delivered twice
    out.append((M.simple("Automatisk svar: " + M.CALL_SUBJECT, "Jeg er på ferie.\n"), ON_TIME))
    out.append((M.simple("Spørgsmål vedr. puljen", "Hvornår er fristen?\n"), ON_TIME))
    out.append((b"this is not a message at all \x00\xff\r\n", ON_TIME))
    return out


def dump(db):
    """The database's content, independent of ids and times: one entry per
    record, sorted."""
    con = sqlite3.connect("file:%s?mode=ro" % db, uri=True)
    try:
        rows = []
        for (mid, uid, sha, status, call, app, flags, on_time, dup, action) in con.execute(
                "SELECT id, uid, raw_sha256, status, call, applicant, flags, on_time, duplicate_of, "
                "(SELECT state FROM actions a WHERE a.message = m.id AND a.promise = 'after_ingest') "
                "FROM messages m ORDER BY uid"):
            atts = [r[0] for r in con.execute(
                "SELECT sha256 FROM attachments WHERE message = ? ORDER BY seq", (mid,))]
            parts = con.execute("SELECT COUNT(*) FROM parts WHERE message = ?", (mid,)).fetchone()[0]
            dup_uid = con.execute("SELECT uid FROM messages WHERE id = ?", (dup,)).fetchone()[0] if dup else None
            rows.append((uid, sha, status, call, app, flags, on_time, dup_uid, action, tuple(atts), parts))
        mb = con.execute("SELECT mailbox, uidvalidity, last_uid FROM mailboxes").fetchall()
        return rows, mb
    finally:
        con.close()


def orphans(db):
    con = sqlite3.connect("file:%s?mode=ro" % db, uri=True)
    try:
        a = con.execute("SELECT COUNT(*) FROM attachments WHERE message NOT IN (SELECT id FROM messages)").fetchone()[0]
        p = con.execute("SELECT COUNT(*) FROM parts WHERE message NOT IN (SELECT id FROM messages)").fetchone()[0]
        d = con.execute("SELECT COUNT(*) FROM messages WHERE duplicate_of IS NOT NULL AND "
                        "duplicate_of NOT IN (SELECT id FROM messages)").fetchone()[0]
        b = con.execute("SELECT COUNT(*) FROM bodies WHERE message NOT IN (SELECT id FROM messages)").fetchone()[0]
        # Every message recorded with a hash has its bytes.
        m = con.execute("SELECT COUNT(*) FROM messages WHERE raw_sha256 IS NOT NULL AND "
                        "id NOT IN (SELECT message FROM bodies)").fetchone()[0]
        return a + p + d + b + m
    finally:
        con.close()


class CrashTest(PuljedTestCase):
    def crashrun(self, cfg, crash_at=None, disk_limit=None, report=False):
        env = P.crash_env(crash_at, disk_limit, report)
        r = P.run([crashtest_path(), "--config", cfg, "--once"], timeout=300, env=env)
        self.runs.append(r)
        self.check_no_secret(r)
        self.assertFalse(r.timed_out, r.describe())
        return r

    def steps(self, r):
        """(all steps, the recording thread's) from the report at exit."""
        for line in r.stderr.splitlines():
            m = re.match(r"crashpoint: (\d+) steps, (\d+) in the recording thread$", line)
            if m:
                return int(m.group(1)), int(m.group(2))
        self.fail("no step count\n" + r.describe())

    def check_db(self, db, reference, what):
        self.assertEqual(self.integrity_check(db), "ok", what)
        self.assertEqual(orphans(db), 0, "orphan rows after " + what)
        got = dump(db)
        if got != reference:
            ref_uids = [r[0] for r in reference[0]]
            got_uids = [r[0] for r in got[0]]
            self.fail("after %s the database differs from the uninterrupted run: lost %s, extra %s, "
                      "watermark %s vs %s" % (what, sorted(set(ref_uids) - set(got_uids)),
                                              [u for u in got_uids if got_uids.count(u) > 1 or u not in ref_uids],
                                              got[1], reference[1]))
        stray = [f for f in os.listdir(os.path.dirname(db))
                 if f.startswith(os.path.basename(db)) and f not in
                 {os.path.basename(db) + s for s in ("", "-wal", "-shm", ".lock")}]
        self.assertEqual(stray, [], "stray files beside the database after " + what)

    def sweep(self, dc, extra_config, reset_server=None, n_messages=50, min_killed=0.95):
        # Each run of the sweep is killed at step n unless it ends first.
        # The recording thread's steps follow from the mail (and, with
        # batches, from how many messages share a commit, which depends on
        # timing); the checkpoint thread's depend on when it is woken: a
        # run may take fewer steps than the reference and end before step
        # n.  Such a run must report fewer than n steps and have finished
        # cleanly, and at least MIN_KILLED of the reference's
        # recording-thread steps must have been killed at.
        cfg_ref = self.config(dc, name="ref.conf", database=self.path("ref.db"), **extra_config)
        r = self.crashrun(cfg_ref, report=True)
        self.assertEqual(r.returncode, 0, r.describe())
        total, own = self.steps(r)
        reference = dump(self.path("ref.db"))
        self.assertEqual(len(reference[0]), n_messages)
        if reset_server:
            reset_server()
        stride = int(os.environ.get("PULJED_CRASH_STRIDE", "1"))
        killed = 0
        shorter = []
        for n in range(1, total + 1, stride):
            db = self.path("crash-%d.db" % n)
            cfg = self.config(dc, name="crash.conf", database=db, **extra_config)
            r = self.crashrun(cfg, crash_at=n, report=True)
            if r.returncode == -9:
                killed += 1
            else:
                self.assertEqual(r.returncode, 0, "step %d: %s" % (n, r.describe()))
                ran = self.steps(r)[0]
                self.assertLess(ran, n, "step %d was never killed at\n%s" % (n, r.describe()))
                shorter.append(ran)
            r = self.run_puljed(cfg, "--once", timeout=300)
            self.assertEqual(r.returncode, 0, "restart after a kill at step %d\n%s" % (n, r.describe()))
            self.check_db(db, reference, "a kill at step %d of %d" % (n, total))
            if reset_server:
                reset_server()
            for suffix in ("", "-wal", "-shm", ".lock"):
                if os.path.exists(db + suffix):
                    os.unlink(db + suffix)
        sys.stderr.write("\n  %d steps in an uninterrupted run (%d in the recording thread); killed at %d of "
                         "them (stride %d), each restart equal to the uninterrupted run" % (total, own, killed, stride))
        if shorter:
            if len(shorter) == 1:
                sys.stderr.write("; 1 run ended first, after %d steps" % shorter[0])
            else:
                sys.stderr.write("; %d runs ended first, after %d to %d steps"
                                 % (len(shorter), min(shorter), max(shorter)))
        sys.stderr.write("\n")
        self.assertGreaterEqual(killed, int((own // stride) * min_killed), "too few runs were actually killed")

    def fill(self, dc, n=50):
        for raw, when in corpus()[-n:]:
            dc.append("INBOX", raw, when)
        dc.close_client()

    def test_a_every_step(self):
        # One message per commit: the recording thread takes the same steps
        # in every run, so nearly all of them are killed at.
        dc = self.dovecot()
        self.fill(dc)
        self.sweep(dc, {"groups": {"store": {"commit_batch": "1"}}})

    def test_a_every_step_batched(self):
        # The default group commit: a kill anywhere in a batch loses the
        # batch and its watermark together, and the restart fetches it.
        dc = self.dovecot()
        self.fill(dc)
        self.sweep(dc, {}, min_killed=0.5)

    def test_b_every_step_with_keyword(self):
        # The server-side action is a durable step too: killed before it,
        # after it but before it is marked done, or in between, the
        # restart carries it out; every message ends with the keyword.
        dc = self.dovecot()
        self.fill(dc, 12)

        def unflag():
            conn = dc.connect()
            conn.select("INBOX")
            conn.uid("STORE", "1:*", "-FLAGS.SILENT", "($Puljed)")
            conn.logout()

        def check_flags():
            conn = dc.connect()
            conn.select("INBOX", readonly=True)
            typ, data = conn.uid("FETCH", "1:*", "(FLAGS)")
            conn.logout()
            lines = [d for d in data if d]
            self.assertEqual(len(lines), 12)
            for line in lines:
                self.assertIn(b"$Puljed", line, line)
                self.assertNotIn(b"\\Seen", line, line)

        def between():
            check_flags()
            unflag()

        self.sweep(dc, {"groups": {"imap": {"after_ingest": "keyword"}}}, reset_server=between, n_messages=12,
                   min_killed=0.5)

    def test_c_full_disk(self):
        # The disk fills up mid-ingest: the cycle fails cleanly (exit 1, the
        # reason named), the watermark covers only what was committed, and
        # once there is space again the next run records everything.
        dc = self.dovecot()
        self.fill(dc)
        cfg_ref = self.config(dc, name="ref.conf", database=self.path("ref.db"))
        self.assertEqual(self.crashrun(cfg_ref).returncode, 0)
        reference = dump(self.path("ref.db"))
        # No file may grow past half of what the whole ingest takes (a
        # size that follows the page size): the first batches fit, the
        # rest cannot.  Batches of at most 4 and a small WAL, checkpointed
        # at every commit, so that the WAL (which holds the new schema, 18
        # pages, before the first checkpoint) stays below that size and
        # the database file is what fills up.
        # A new database's schema is a fixed cost that must fit whatever
        # the limit (its WAL holds every page of it before the first
        # checkpoint): measured on a database made by a run that finds
        # no mailbox to read, it is added to half of what the records
        # take.
        cfg_empty = self.config(dc, name="empty.conf", database=self.path("empty.db"),
                                groups={"imap": {"mailbox": "Nonexistent"}})
        self.crashrun(cfg_empty)
        fresh = os.path.getsize(self.path("empty.db"))
        limit = fresh + (os.path.getsize(self.path("ref.db")) - fresh) // 2
        db = self.path("full.db")
        cfg = self.config(dc, name="full.conf", database=db,
                          groups={"store": {"commit_batch": "4", "wal_limit": "64K"}})
        r = self.crashrun(cfg, disk_limit=limit)
        self.assertEqual(r.returncode, 1, r.describe())
        self.assertIn("full", r.stderr.lower(), r.describe())
        rows, mb = dump(db)
        sys.stderr.write("\n  %d of 50 records fitted in %d bytes a file (a new database: %d)\n"
                         % (len(rows), limit, fresh))
        self.assertGreater(len(rows), 0, "nothing fitted: make the limit larger")
        self.assertLess(len(rows), 50, "everything fitted: make the limit smaller")
        self.assertEqual(mb[0][2], max(r[0] for r in rows), "the watermark passed an unrecorded message")
        self.assertEqual(self.integrity_check(db), "ok")
        self.assertEqual(orphans(db), 0)
        # Operators see why: the run's own log said "disk full" (above),
        # and status exits 1 (no successful poll yet).  The reason is in
        # status too when the full database still took that one small
        # write; whether it could depends on where the limit fell (the
        # WAL or the database file, before or after a checkpoint), so it
        # is checked only when written.
        status = json.loads(self.run_ctl(cfg, "status", "--json", expect=1).stdout)
        if status["last_error"] is not None:
            self.assertIn("full", status["last_error"])
        self.assertFalse(status["healthy"])
        # Still full: fails again, loses nothing.
        r = self.crashrun(cfg, disk_limit=limit)
        self.assertEqual(r.returncode, 1, r.describe())
        # Space returns.
        r = self.run_puljed(cfg, "--once")
        self.assertEqual(r.returncode, 0, r.describe())
        self.check_db(db, reference, "a full disk and space returning")

    def test_d_dovecot_dies_mid_fetch_while_puljectl_reads(self):
        # Dovecot is stopped while puljed is fetching, and an operator runs
        # long puljectl reads the whole time: the poll fails cleanly
        # (exit 3), no read ever fails or sees a half-written record, and
        # after Dovecot is back the next poll records the rest exactly once.
        dc = self.dovecot()
        n = 800
        shas = set()
        for i in range(n):
            raw = M.application("Genstart %03d" % i, M.fake_pdf(40000, seed=500 + i))
            shas.add(M.sha256(raw))
            dc.append("INBOX", raw, ON_TIME)
        dc.close_client()
        # A small prefetch keeps the fetcher only a few messages ahead of
        # the commits, so that most of the mailbox is still to be fetched
        # when Dovecot goes (with the default 8M a slow build had fetched
        # everything before the reads below saw the first records).
        cfg = self.config(dc, groups={"limits": {"prefetch": "256K"}})
        db = self.path("puljed.db")
        proc = P.spawn_puljed(cfg, "--once")
        reads = 0
        stopped = False

        def committed():
            try:
                con = sqlite3.connect("file:%s?mode=ro" % db, uri=True, timeout=5)
            except sqlite3.Error:
                return 0        # not created yet
            try:
                return con.execute("SELECT count(*) FROM messages").fetchone()[0]
            except sqlite3.Error:
                return 0        # no schema yet
            finally:
                con.close()

        while proc.poll() is None:
            # Checked before each (slow, growing) read: stop Dovecot early.
            if not stopped and committed() >= 5:
                # Killed, not shut down: Dovecot's imap process serves its
                # client on through a graceful stop, and the whole rest of
                # the mailbox can arrive meanwhile.
                dc.stop(grace=0)
                stopped = True
            r = P.puljectl(cfg, "list", "--json")
            if r.returncode == 0:
                reads += 1
                data = json.loads(r.stdout)
                for rec in data:
                    self.assertEqual(rec["status"], "accepted", rec)
                    self.assertEqual(len(rec["attachments"]), 1, "a half-written record was visible")
            else:
                # Only while the daemon creates and migrates the database
                # may a read be refused; never once records exist.
                self.assertEqual(reads, 0, r.describe())
                self.assertRegex(r.stderr, "no schema yet|schema version|unable to open|cannot open|no database yet",
                                 r.describe())
        out, err = proc.communicate(timeout=60)
        self.assertTrue(stopped, "the ingest finished before Dovecot could be stopped")
        self.assertEqual(proc.returncode, P.EXIT_NETWORK, err.decode("utf-8", "replace"))
        self.assertGreaterEqual(reads, 1, "no puljectl read succeeded while puljed wrote")
        got = len(self.records(cfg))
        self.assertGreater(got, 0)
        self.assertLess(got, n)
        dc.start()
        cfg = self.config(dc)  # Dovecot is back (on new ports)
        self.run_puljed(cfg, "--once", expect=P.EXIT_OK)
        recs = self.records(cfg)
        self.assertEqual(len(recs), n)
        self.assertEqual({r["sha256"] for r in recs}, shas)
        self.assertEqual(len({r["uid"] for r in recs}), n, "a message was recorded twice")
        self.assertEqual(self.integrity_check(db), "ok")
        self.assertEqual(orphans(db), 0)
        sys.stderr.write("\n  Dovecot stopped after %d of %d records; %d puljectl reads during the ingest\n"
                         % (got, n, reads))


if __name__ == "__main__":
    unittest.main(verbosity=2)
