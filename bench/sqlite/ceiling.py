#!/usr/bin/env python3
"""SQLite's own ceiling for the hot write transactions, with no server: the statements each
job runs in group commit (`infra::group_commit`), BATCH jobs to a transaction, each in a
savepoint, on a `make bench` database after its loads (bench/run.sh runs it there).

    bench/sqlite/ceiling.py DB WORKLOAD [--batch 32] [--jobs 20000] [--checkpoints beside|auto]
        [--branch 3] [--review-branch 4] [--grid G] [--item I]

WORKLOAD is one of:
  draw     the draw's job: the member's held cards counted, card and task read, the claim
           inserted, the card taken by a conditional update;
  approve  a review's job: the latest claim read, claim and card moved by conditional
           updates, the ledger entry, the summary upsert, the Redis record, the audit row
           (and, once a batch, the delete of the records the commit settled);
  filing   a filing's job: the incident, its first timeline row, the idempotency key;
  redeem   a redemption's job: the stock by a conditional update, the reservation, the
           `redeem` entry, the summary's conditional deduction, the stock line, the key.

`beside` (default): the writer never checkpoints; another process runs a PASSIVE checkpoint
every 250 ms, as `db::checkpoints` does. Prints `CEILING workload=… per_s=…` and where the
time went, per statement. The database is changed: run it after the checks, or on a copy.
"""
import argparse
import collections
import multiprocessing
import random
import sqlite3
import time

NOW = "2026-11-29T08:00:00+00:00"
LATER = "2026-12-13T08:00:00+00:00"
KEYS = ("w2026-48", "m2026-11", "y2026", 1795939200)


def connect(path, autocheckpoint):
    db = sqlite3.connect(path, isolation_level=None)
    for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "cache_size=-16384", "temp_store=memory",
                   "foreign_keys=ON", f"wal_autocheckpoint={autocheckpoint}"):
        db.execute(f"PRAGMA {pragma}")
    return db


def checkpointer(path):
    db = connect(path, 1000)
    while True:
        db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        time.sleep(0.25)


class Run:
    def __init__(self, db):
        self.db = db
        self.spent = collections.Counter()

    def __call__(self, name, sql, params=()):
        start = time.perf_counter()
        row = self.db.execute(sql, params).fetchone()
        self.spent[name] += time.perf_counter() - start
        return row


LEDGER = ("INSERT INTO points_ledger (user_id, branch_id, delta_points, delta_minutes, star, kind, ref_type, ref_id, "
          "idempotency_key, note, actor_id, week_key, month_key, year_key, created_epoch, created_at) "
          "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (idempotency_key) DO NOTHING RETURNING *")
# An inbox row as `notify::push` writes it (no WeChat template in the bench).
NOTIFICATION = ("INSERT INTO notifications (user_id, event, title, body, ref, read_at, created_at, template_id, wx_state, "
                "wx_attempts, wx_next_at, wx_lease_until, wx_lease_owner, wx_error, wx_sent_at) "
                "VALUES (?, ?, ?, ?, ?, NULL, ?, NULL, 'none', 0, NULL, NULL, NULL, NULL, NULL)")
KEY = ("INSERT INTO idempotency_keys (user_id, key, request_hash, response_status, response_body, created_at) "
       "VALUES (?, ?, ?, 201, ?, ?) ON CONFLICT DO NOTHING")
ANSWER = '{"id":1,"code":"ABCDEFGH","status":"reserved","item_id":1,"quantity":1,"points":1}'


def draw_jobs(db, args):
    cards = [r[0] for r in db.execute("SELECT id FROM cards WHERE branch_id = ? AND status = 'open'", (args.branch,))]
    members = [r[0] for r in db.execute("SELECT user_id FROM user_roles WHERE org_id = ?", (args.branch,))]
    if len(cards) < args.jobs or not members:
        raise SystemExit(f"branch {args.branch}: {len(cards)} open cards, {len(members)} members")
    random.shuffle(cards)

    def job(run):
        card, member = cards.pop(), random.choice(members)
        run("count", "SELECT COUNT(*) FROM card_claims WHERE user_id = ? AND branch_id = ? AND status = 'claimed'",
            (member, args.branch))
        found = run("card+task", "SELECT cards.*, tasks.* FROM cards JOIN tasks ON cards.task_id = tasks.id "
                    "WHERE cards.id = ?", (card,))
        claim = run("insert claim", "INSERT INTO card_claims (card_id, task_id, branch_id, user_id, status, "
                    "claimed_at, expires_at, media_ids) VALUES (?, ?, ?, ?, 'claimed', ?, ?, '[]') RETURNING id",
                    (card, found[1], args.branch, member, NOW, NOW))
        run("take card", "UPDATE cards SET status = 'claimed', holder_id = ?, claim_id = ?, updated_at = ? "
            "WHERE id = ? AND status = 'open'", (member, claim[0], NOW, card))
    return job, None


def approve_jobs(db, args):
    cards = [r[0] for r in db.execute("SELECT card_id FROM card_claims WHERE branch_id = ? AND status = 'submitted'",
                                      (args.review_branch,))]
    if len(cards) < args.jobs:
        raise SystemExit(f"branch {args.review_branch}: {len(cards)} submitted cards")
    random.shuffle(cards)
    settled = []

    def job(run):
        card = cards.pop()
        claim = run("latest claim", "SELECT * FROM card_claims WHERE card_id = ? ORDER BY id DESC LIMIT 1", (card,))
        claim = run("end claim", "UPDATE card_claims SET status = 'approved', ended_at = ?, reviewer_id = 1, "
                    "review_comment = NULL WHERE id = ? AND status = 'submitted' RETURNING *", (NOW, claim[0]))
        holder = claim[4]
        run("move card", "UPDATE cards SET status = 'approved', updated_at = ? WHERE id = ? AND claim_id = ? "
            "AND status = 'submitted' RETURNING id", (NOW, card, claim[0]))
        run("ledger", LEDGER, (holder, args.review_branch, 2, 10, "civil_happy", "task", "card", str(card),
                               f"card:{card}", "基准审核", 1, *KEYS, NOW))
        run("summary", "INSERT INTO points_summary (user_id, balance, earned_total, volunteer_minutes_total, "
            "strong_branch, thriving_industry, eco_livable, safe_lawful, civil_happy, updated_at) "
            "VALUES (?, 2, 2, 10, 0, 0, 0, 0, 2, ?) ON CONFLICT (user_id) DO UPDATE SET "
            "balance = points_summary.balance + excluded.balance, earned_total = points_summary.earned_total + "
            "excluded.earned_total, volunteer_minutes_total = points_summary.volunteer_minutes_total + "
            "excluded.volunteer_minutes_total, strong_branch = points_summary.strong_branch + excluded.strong_branch, "
            "thriving_industry = points_summary.thriving_industry + excluded.thriving_industry, eco_livable = "
            "points_summary.eco_livable + excluded.eco_livable, safe_lawful = points_summary.safe_lawful + "
            "excluded.safe_lawful, civil_happy = points_summary.civil_happy + excluded.civil_happy, "
            "updated_at = excluded.updated_at", (holder, NOW))
        owed = run("redis record", "INSERT INTO redis_pending (kind, target_id, created_at) VALUES ('board', ?, ?) "
                   "RETURNING id", (holder, NOW))
        settled.append(owed[0])
        run("audit", "INSERT INTO audit_log (actor_id, action, target_type, target_id, org_id, before, after, reason, "
            "created_at) VALUES (1, 'card.approve', 'card', ?, ?, ?, ?, NULL, ?)",
            (str(card), args.review_branch, '{"status":"submitted"}', '{"status":"approved"}', NOW))
        run("notification", NOTIFICATION, (holder, "card_approved", "任务卡审核通过", "「基准任务」审核通过，获得 2 积分",
                                           f"card:{card}", NOW))

    def per_batch(run):
        # The records settled since the last batch, deleted as `infra::pending` does.
        if settled:
            marks = ",".join("?" * len(settled))
            run("clear records", f"DELETE FROM redis_pending WHERE id IN ({marks})", tuple(settled))
            settled.clear()
    return job, per_batch


def filing_jobs(db, args):
    grid = db.execute("SELECT id, path, parent_id FROM orgs WHERE id = ?", (args.grid,)).fetchone()
    branch = db.execute("SELECT path FROM orgs WHERE id = ?", (grid[2],)).fetchone()
    workers = [r[0] for r in db.execute("SELECT user_id FROM user_roles WHERE org_id = ?", (args.grid,))]
    counter = iter(range(10**9))

    def job(run):
        worker, n = random.choice(workers), next(counter)
        incident = run("incident", "INSERT INTO incidents (grid_id, grid_path, owner_org_id, owner_path, category, "
                       "title, description, severity, lat, lng, occurred_at, media_ids, status, reporter_id, "
                       "created_at, updated_at, due_at, warn_at, watch_at, extended) VALUES (?, ?, ?, ?, 'hazard', "
                       "'井盖缺失', '路口井盖缺失，夜间危险', 'medium', 30.1, 120.2, ?, '[]', 'reported', ?, ?, ?, ?, ?, "
                       "?, 0) RETURNING *",
                       (grid[0], grid[1], grid[2], branch[0], NOW, worker, NOW, NOW, LATER, LATER, LATER))
        run("timeline", "INSERT INTO incident_events (incident_id, action, to_status, actor_id, media_ids, at) "
            "VALUES (?, 'report', 'reported', ?, '[]', ?)", (incident[0], worker, NOW))
        run("key", KEY, (worker, f"ceiling-{time.time_ns()}-{n}", "h", '{"incident":{"id":1}}', NOW))
    return job, None


def redeem_jobs(db, args):
    members = [r[0] for r in db.execute("SELECT user_id FROM user_roles WHERE org_id = ?", (args.branch,))]
    counter = iter(range(10**9))

    def job(run):
        member, n = random.choice(members), next(counter)
        item = run("take stock", "UPDATE shop_items SET stock_left = stock_left + -1, updated_at = ? WHERE id = ? "
                   "AND stock_left >= 1 AND status = 'active' AND (available_from IS NULL OR available_from <= ?) "
                   "AND (available_until IS NULL OR available_until > ?) RETURNING *", (NOW, args.item, NOW, NOW))
        code = f"{n:08X}"[-8:]
        reserved = run("reservation", "INSERT INTO redemptions (item_id, org_id, user_id, branch_id, quantity, points, "
                       "code, status, expires_at, created_at, closed_at, closed_by) VALUES (?, ?, ?, ?, 1, 1, ?, "
                       "'reserved', ?, ?, NULL, NULL) ON CONFLICT (code) DO NOTHING RETURNING *",
                       (args.item, args.branch, member, args.branch, "Z" + code[1:], LATER, NOW))
        rid = reserved[0]
        run("ledger", LEDGER, (member, args.branch, -1, 0, None, "redeem", "redemption", str(rid), f"redeem:{rid}",
                               item[2], member, *KEYS, NOW))
        run("summary", "UPDATE points_summary SET balance = balance + -1, earned_total = earned_total + 0, "
            "volunteer_minutes_total = volunteer_minutes_total + 0, updated_at = ? WHERE user_id = ? "
            "AND balance + -1 >= 0", (NOW, member))
        run("stock line", "INSERT INTO shop_stock_moves (org_id, item_id, kind, quantity, stock_after, redemption_id, "
            "user_id, actor_id, donor, note, created_at) VALUES (?, ?, 'redeem', -1, ?, ?, ?, ?, NULL, NULL, ?)",
            (args.branch, args.item, item[5], rid, member, member, NOW))
        run("notification", NOTIFICATION, (member, "redemption_ready", "兑换成功，待领取",
                                           "「基准物品」×1 已预留，请按时领取", f"redemption:{rid}", NOW))
        run("key", KEY, (member, f"ceiling-{time.time_ns()}-{n}", "h", ANSWER, NOW))
    return job, None


WORKLOADS = {"draw": draw_jobs, "approve": approve_jobs, "filing": filing_jobs, "redeem": redeem_jobs}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("db")
    ap.add_argument("workload", choices=sorted(WORKLOADS))
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--jobs", type=int, default=20000)
    ap.add_argument("--branch", type=int, default=3)
    ap.add_argument("--review-branch", type=int, default=4)
    ap.add_argument("--grid", type=int)
    ap.add_argument("--item", type=int)
    ap.add_argument("--checkpoints", choices=["auto", "beside"], default="beside")
    args = ap.parse_args()
    beside = args.checkpoints == "beside"
    db = connect(args.db, 0 if beside else 1000)
    job, per_batch = WORKLOADS[args.workload](db, args)
    checkpoints = None
    if beside:
        checkpoints = multiprocessing.Process(target=checkpointer, args=(args.db,), daemon=True)
        checkpoints.start()
    run = Run(db)
    done = 0
    began = time.perf_counter()
    while done < args.jobs:
        run("begin", "BEGIN IMMEDIATE")
        if per_batch:
            per_batch(run)
        for _ in range(min(args.batch, args.jobs - done)):
            run("savepoint", "SAVEPOINT job")
            job(run)
            run("release", "RELEASE job")
            done += 1
        run("commit", "COMMIT")
    seconds = time.perf_counter() - began
    if checkpoints:
        checkpoints.terminate()
    print(f"CEILING workload={args.workload} per_s={done / seconds:.0f} jobs={done} seconds={seconds:.2f} "
          f"batch={args.batch} checkpoints={args.checkpoints}")
    for name, total in run.spent.most_common():
        print(f"  {name:<14} {total / done * 1e6:6.0f} us a job")


if __name__ == "__main__":
    main()
