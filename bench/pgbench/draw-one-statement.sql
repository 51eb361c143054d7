-- The draw's writes as one statement (claim and card update in one CTE), without the member
-- lock and the limit count the server needs: an upper bound for a one-round-trip draw.
\set u random(1, 100000)
\set c random(1, 100000)
WITH c AS (UPDATE cards SET status = 'claimed', holder_id = :u, updated_at = now() WHERE id = :c AND status = 'open' RETURNING id, task_id, branch_id), i AS (INSERT INTO card_claims (card_id, task_id, branch_id, user_id, status, claimed_at, expires_at, media_ids) SELECT id, task_id, branch_id, :u, 'claimed', now(), now() + interval '30 min', '[]' FROM c RETURNING id) SELECT * FROM i;
