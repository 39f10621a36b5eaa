-- The row count of every table (convsync status).
SELECT 'conversations' AS "table", count(*) AS "rows" FROM conversations
UNION ALL SELECT 'conversation_answers', count(*) FROM conversation_answers
UNION ALL SELECT 'conversation_bookings', count(*) FROM conversation_bookings
UNION ALL SELECT 'contacts', count(*) FROM contacts
UNION ALL SELECT 'users', count(*) FROM users
UNION ALL SELECT 'bots', count(*) FROM bots
UNION ALL SELECT 'websites', count(*) FROM websites
UNION ALL SELECT 'audiences', count(*) FROM audiences
UNION ALL SELECT '_convsync_rejects', count(*) FROM _convsync_rejects;
