-- Replaces the whole answer set of every touched conversation: stored rows
-- go (an answer removed at the source disappears), the staged set comes in
-- (an emptied list leaves no rows). Conversations new to the warehouse have
-- no stored rows, so only replaced ones are deleted.
DELETE FROM conversation_answers
WHERE conversation_id IN (SELECT id FROM touched WHERE existed);

INSERT INTO conversation_answers BY NAME
SELECT a.*, r.synced_at, r.run_id
FROM stage_answers a, stage_run r
WHERE a.conversation_id IN (SELECT id FROM touched)
QUALIFY row_number() OVER (PARTITION BY a.conversation_id, a.position ORDER BY a.rowid DESC) = 1;
