SELECT 'cards held twice', COUNT(*) FROM (SELECT card_id FROM card_claims WHERE status IN ('claimed','submitted','approved') GROUP BY card_id HAVING COUNT(*) > 1) t;
SELECT 'holder mismatches', COUNT(*) FROM cards c JOIN card_claims k ON k.id = c.claim_id WHERE c.status IN ('claimed','submitted') AND k.user_id <> c.holder_id;
SELECT 'cards credited twice', COUNT(*) FROM (SELECT ref_id FROM points_ledger WHERE ref_type = 'card' GROUP BY ref_id HAVING COUNT(*) > 1) t;
SELECT 'approved without credit', COUNT(*) FROM cards c WHERE c.status = 'approved' AND NOT EXISTS (SELECT 1 FROM points_ledger l WHERE l.idempotency_key = 'card:' || CAST(c.id AS TEXT));
SELECT 'summaries != sum(ledger)', COUNT(*) FROM points_summary s LEFT JOIN (SELECT user_id, SUM(delta_points) p, SUM(delta_minutes) m FROM points_ledger GROUP BY user_id) l ON l.user_id = s.user_id WHERE s.balance <> COALESCE(l.p, 0) OR s.volunteer_minutes_total <> COALESCE(l.m, 0);
SELECT 'incidents filed by the run', COUNT(*) FROM incidents WHERE title LIKE '井盖缺失%';
SELECT 'idempotency keys', COUNT(*) FROM idempotency_keys;
