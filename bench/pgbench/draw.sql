-- The draw's SQL as the server runs it on PostgreSQL (7 round trips: member lock, limit
-- count, card and task, claim, conditional update, commit), for pgbench alone on a database
-- seeded by `fivestar seed-bench`. Variables (-D): branch (the draw branch). See bench/pgbench/README.md.
\set u random(1, 100000)
\set c random(1, 100000)
BEGIN;
UPDATE users SET id = id WHERE id = :u;
SELECT count(*) FROM card_claims WHERE user_id = :u AND branch_id = :branch AND status = 'claimed';
SELECT c.*, t.* FROM cards c JOIN tasks t ON t.id = c.task_id WHERE c.id = :c;
INSERT INTO card_claims (card_id, task_id, branch_id, user_id, status, claimed_at, expires_at, media_ids) SELECT id, task_id, branch_id, :u, 'claimed', now(), now() + interval '30 min', '[]' FROM cards WHERE id = :c RETURNING *;
UPDATE cards SET status = 'claimed', holder_id = :u, updated_at = now() WHERE id = :c AND status = 'open';
COMMIT;
