-- The most answered questions (convsync demo).
SELECT question, count(*) AS answers, count(DISTINCT value) AS distinct_values
FROM conversation_answers
GROUP BY question
ORDER BY answers DESC, question
LIMIT 8;
