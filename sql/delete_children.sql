-- Deletes the stored child rows of every conversation that touched replaced
-- (an answer or booking removed at the source disappears); the loader then
-- appends the batch's child set of every touched conversation (an emptied
-- list leaves no rows). Conversations new to the warehouse have no stored
-- rows, so only replaced ones are looked for.
DELETE FROM conversation_answers
WHERE conversation_id IN (SELECT id FROM touched WHERE existed);

DELETE FROM conversation_bookings
WHERE conversation_id IN (SELECT id FROM touched WHERE existed);
