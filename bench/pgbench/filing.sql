-- A filing's writes (incident with its deadline, its first timeline row, the idempotency key) in one
-- transaction, without the reads the server does before them (key lookup, nearby search).
-- Variables (-D): grid, grid_path, branch, branch_path (the bench grid and its branch).
\set u random(1, 100000)
\set n random(1, 1000000000)
BEGIN;
INSERT INTO incidents (grid_id, grid_path, owner_org_id, owner_path, category, title, description, severity, lat, lng, occurred_at, media_ids, status, reporter_id, created_at, updated_at, due_at, warn_at, watch_at, extended) VALUES (:grid, :grid_path, :branch, :branch_path, 'hazard', '井盖缺失', '路口井盖缺失，夜间危险', 'medium', 30.1, 120.2, now(), '[]', 'reported', :u, now(), now(), now() + interval '3 days', now() + interval '54 hours', now() + interval '3 days', false) RETURNING *;
INSERT INTO incident_events (incident_id, action, to_status, actor_id, media_ids, at) VALUES (currval('incidents_id_seq'), 'report', 'reported', :u, '[]', now());
INSERT INTO idempotency_keys (user_id, key, request_hash, response_status, response_body, created_at) VALUES (:u, 'pgb-' || :n || '-' || :client_id, 'h', 201, '{"incident":{"id":1,"number":"NH-2026-000001","title":"井盖缺失"}}', now()) ON CONFLICT DO NOTHING;
COMMIT;
