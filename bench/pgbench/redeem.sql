-- A redemption's SQL as the server runs it on PostgreSQL (stock by a conditional update,
-- the reservation, the `redeem` entry, the summary's conditional deduction, the stock line,
-- the member's inbox row, the idempotency key), for pgbench alone on a `make bench` database. Codes come from the
-- sequence bench_codes (bench/run.sh makes it). Variables (-D): branch, item, first_user and
-- drawers (the draw branch's members are first_user + 600 k for k < drawers, as
-- `fivestar seed-bench` numbers them).
\set k random(0, :drawers - 1)
\set u :first_user + 600 * :k
BEGIN;
UPDATE shop_items SET stock_left = stock_left + -1, updated_at = now() WHERE id = :item AND stock_left >= 1 AND status = 'active' AND (available_from IS NULL OR available_from <= now()) AND (available_until IS NULL OR available_until > now()) RETURNING stock_left AS stock \gset
INSERT INTO redemptions (item_id, org_id, user_id, branch_id, quantity, points, code, status, expires_at, created_at) VALUES (:item, :branch, :u, :branch, 1, 1, 'Z' || lpad(to_hex(nextval('bench_codes')), 7, '0'), 'reserved', now() + interval '14 days', now()) ON CONFLICT (code) DO NOTHING RETURNING id AS r \gset
INSERT INTO points_ledger (user_id, branch_id, delta_points, delta_minutes, star, kind, ref_type, ref_id, idempotency_key, note, actor_id, week_key, month_key, year_key, created_epoch, created_at) VALUES (:u, :branch, -1, 0, NULL, 'redeem', 'redemption', :r, 'redeem:' || :r, '基准物品', :u, 'w2026-48', 'm2026-11', 'y2026', 1795939200, now()) ON CONFLICT (idempotency_key) DO NOTHING RETURNING *;
UPDATE points_summary SET balance = balance + -1, earned_total = earned_total + 0, volunteer_minutes_total = volunteer_minutes_total + 0, updated_at = now() WHERE user_id = :u AND balance + -1 >= 0;
INSERT INTO shop_stock_moves (org_id, item_id, kind, quantity, stock_after, redemption_id, user_id, actor_id, created_at) VALUES (:branch, :item, 'redeem', -1, :stock, :r, :u, :u, now());
INSERT INTO notifications (user_id, event, title, body, ref, read_at, created_at, template_id, wx_state, wx_attempts, wx_next_at, wx_lease_until, wx_lease_owner, wx_error, wx_sent_at) VALUES (:u, 'redemption_ready', '兑换成功，待领取', '「基准物品」×1 已预留，请按时领取', 'redemption:' || :r, NULL, now(), NULL, 'none', 0, NULL, NULL, NULL, NULL, NULL);
INSERT INTO idempotency_keys (user_id, key, request_hash, response_status, response_body, created_at) VALUES (:u, 'pgb-' || :r, 'h', 201, '{"id":1,"code":"ABCDEFGH","status":"reserved","item_id":1,"quantity":1,"points":1}', now()) ON CONFLICT DO NOTHING;
COMMIT;
