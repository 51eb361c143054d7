#!/usr/bin/env python3
"""SQLite's own ceiling for the draw's writes, with no server: the statements a draw job
runs in group commit (`infra::group_commit`), BATCH jobs to a transaction, each in a
savepoint, on a copy of a `make bench` database (branch 3 holds the 100,000 open cards).

    bench/sqlite/draw.py DB [--batch 32] [--draws 30000] [--checkpoints auto|beside]

`auto`: SQLite checkpoints inside the commit that takes the WAL past 1,000 pages (what the
writer did before). `beside`: the writer never checkpoints; another process runs a PASSIVE
checkpoint every 250 ms (what `db::checkpoints` does). Prints draws per second and where
the time went, per statement. The database is changed: run it on a copy.
"""
import argparse
import collections
import multiprocessing
import random
import sqlite3
import time

NOW = "2026-11-23T21:00:00+00:00"


def connect(path, autocheckpoint):
    db = sqlite3.connect(path, isolation_level=None)
    for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "cache_size=-16384", "temp_store=memory",
                   f"wal_autocheckpoint={autocheckpoint}"):
        db.execute(f"PRAGMA {pragma}")
    return db


def checkpointer(path):
    db = connect(path, 1000)
    while True:
        db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        time.sleep(0.25)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("db")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--draws", type=int, default=30000)
    ap.add_argument("--branch", type=int, default=3)
    ap.add_argument("--checkpoints", choices=["auto", "beside"], default="auto")
    args = ap.parse_args()
    beside = args.checkpoints == "beside"
    db = connect(args.db, 0 if beside else 1000)
    cards = [r[0] for r in db.execute("SELECT id FROM cards WHERE branch_id = ? AND status = 'open'", (args.branch,))]
    members = [r[0] for r in db.execute("SELECT user_id FROM user_roles WHERE org_id = ?", (args.branch,))]
    if len(cards) < args.draws or not members:
        raise SystemExit(f"branch {args.branch}: {len(cards)} open cards, {len(members)} members")
    random.shuffle(cards)
    if beside:
        multiprocessing.Process(target=checkpointer, args=(args.db,), daemon=True).start()
    spent = collections.Counter()

    def timed(name, sql, params=()):
        start = time.perf_counter()
        row = db.execute(sql, params).fetchone()
        spent[name] += time.perf_counter() - start
        return row

    done = 0
    began = time.perf_counter()
    while done < args.draws:
        timed("begin", "BEGIN IMMEDIATE")
        for _ in range(min(args.batch, args.draws - done)):
            card, member = cards.pop(), random.choice(members)
            timed("savepoint", "SAVEPOINT job")
            timed("count", "SELECT COUNT(*) FROM card_claims WHERE user_id = ? AND branch_id = ? AND status = 'claimed'",
                  (member, args.branch))
            found = timed("card+task", "SELECT cards.*, tasks.* FROM cards JOIN tasks ON cards.task_id = tasks.id "
                          "WHERE cards.id = ?", (card,))
            claim = timed("insert claim", "INSERT INTO card_claims (card_id, task_id, branch_id, user_id, status, "
                          "claimed_at, expires_at, media_ids) VALUES (?, ?, ?, ?, 'claimed', ?, ?, '[]') RETURNING id",
                          (card, found[1], args.branch, member, NOW, NOW))
            timed("take card", "UPDATE cards SET status = 'claimed', holder_id = ?, claim_id = ?, updated_at = ? "
                  "WHERE id = ? AND status = 'open'", (member, claim[0], NOW, card))
            timed("release", "RELEASE job")
            done += 1
        timed("commit", "COMMIT")
    seconds = time.perf_counter() - began
    print(f"checkpoints {args.checkpoints}, batch {args.batch}: {done} draws in {seconds:.2f} s = {done / seconds:,.0f}/s")
    for name, total in spent.most_common():
        print(f"  {name:<12} {total / done * 1e6:6.0f} us a draw")


if __name__ == "__main__":
    main()
