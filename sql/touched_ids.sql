-- The ids of the conversations the merge wrote, whose child sets the loader
-- appends.
SELECT id FROM touched;
