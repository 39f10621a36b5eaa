-- Deletes the stored rows that touched replaces: the conversations and all
-- their answers and bookings (an answer or booking removed at the source
-- disappears; the loader then appends the batch's whole child set). Run only
-- when touched replaces something: each statement scans its whole table.
DELETE FROM conversations
WHERE id IN (SELECT id FROM touched WHERE existed);

DELETE FROM conversation_answers
WHERE conversation_id IN (SELECT id FROM touched WHERE existed);

DELETE FROM conversation_bookings
WHERE conversation_id IN (SELECT id FROM touched WHERE existed);
