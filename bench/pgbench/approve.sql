-- An approval's SQL as the server runs it on PostgreSQL (claim moved, card moved, ledger
-- entry, summary upsert, Redis record, audit row, the holder's inbox row), for pgbench alone on a `make bench`
-- database after its loads. The server reads the card's latest claim and then moves it; here
-- one statement takes the next claim of the table bench_approve (the claims still submitted,
-- numbered; bench/run.sh makes it and the sequence bench_pick) and moves it, one round trip
-- fewer than the server makes. (Picking with SKIP LOCKED instead walked the index entries the
-- run's approvals had left dead: 775/s, below the server's own 927/s.)
-- Variables (-D): review_branch.
BEGIN;
WITH k AS (SELECT nextval('bench_pick') AS n) UPDATE card_claims SET status = 'approved', ended_at = now(), reviewer_id = 1, review_comment = NULL WHERE id = (SELECT claim FROM bench_approve, k WHERE bench_approve.n = k.n) AND status = 'submitted' RETURNING card_id AS c, user_id AS holder, id AS claim \gset
UPDATE cards SET status = 'approved', updated_at = now() WHERE id = :c AND claim_id = :claim AND status = 'submitted' RETURNING id;
INSERT INTO points_ledger (user_id, branch_id, delta_points, delta_minutes, star, kind, ref_type, ref_id, idempotency_key, note, actor_id, week_key, month_key, year_key, created_epoch, created_at) VALUES (:holder, :review_branch, 2, 10, 'civil_happy', 'task', 'card', :c, 'card:' || :c, '基准审核', 1, 'w2026-48', 'm2026-11', 'y2026', 1795939200, now()) ON CONFLICT (idempotency_key) DO NOTHING RETURNING *;
INSERT INTO points_summary (user_id, balance, earned_total, volunteer_minutes_total, strong_branch, thriving_industry, eco_livable, safe_lawful, civil_happy, updated_at) VALUES (:holder, 2, 2, 10, 0, 0, 0, 0, 2, now()) ON CONFLICT (user_id) DO UPDATE SET balance = points_summary.balance + excluded.balance, earned_total = points_summary.earned_total + excluded.earned_total, volunteer_minutes_total = points_summary.volunteer_minutes_total + excluded.volunteer_minutes_total, strong_branch = points_summary.strong_branch + excluded.strong_branch, thriving_industry = points_summary.thriving_industry + excluded.thriving_industry, eco_livable = points_summary.eco_livable + excluded.eco_livable, safe_lawful = points_summary.safe_lawful + excluded.safe_lawful, civil_happy = points_summary.civil_happy + excluded.civil_happy, updated_at = excluded.updated_at;
INSERT INTO redis_pending (kind, target_id, created_at) VALUES ('board', :holder, now()) RETURNING id;
INSERT INTO audit_log (actor_id, action, target_type, target_id, org_id, before, after, reason, created_at) VALUES (1, 'card.approve', 'card', :c, :review_branch, '{"status":"submitted"}', '{"status":"approved"}', NULL, now());
INSERT INTO notifications (user_id, event, title, body, ref, read_at, created_at, template_id, wx_state, wx_attempts, wx_next_at, wx_lease_until, wx_lease_owner, wx_error, wx_sent_at) VALUES (:holder, 'card_approved', '任务卡审核通过', '「基准任务」审核通过，获得 2 积分', 'card:' || :c, NULL, now(), NULL, 'none', 0, NULL, NULL, NULL, NULL, NULL);
COMMIT;
