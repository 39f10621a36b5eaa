-- Deletes the stored rows that touched replaces: the conversations and all
-- their answers and bookings (an answer or booking removed at the source
-- disappears; the loader then appends the batch's whole child set). Run only
-- when touched replaces something. The conversations go by the rowid the
-- merge found them at, in the same transaction (a scan of no stored column);
-- each child delete scans its table's conversation_id column.
DELETE FROM conversations
WHERE rowid IN (SELECT stored FROM touched WHERE existed);

DELETE FROM conversation_answers
WHERE conversation_id IN (SELECT id FROM touched WHERE existed);

DELETE FROM conversation_bookings
WHERE conversation_id IN (SELECT id FROM touched WHERE existed);
