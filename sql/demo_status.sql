-- Conversations by status (convsync demo).
SELECT coalesce(status, 'NULL') AS status, count(*) AS conversations,
    round(avg(answer_count), 2) AS avg_answers, sum(booking_count) AS bookings
FROM conversations
GROUP BY ALL
ORDER BY conversations DESC;
