-- What PostGraphile needs beyond the tables to express the benchmarked operations: the caller's
-- profile and a subject's analytics, as PostgreSQL functions (PostGraphile exposes `current_*`
-- functions as root fields and `subjects_*(s subjects)` functions as computed fields).
-- Same rules as the gateway: the caller is re-read from `users` (id and username from the JWT);
-- analytics only for the subject's professor or an admin (NULL otherwise); "active" = a chat
-- session or quiz attempt in the subject within 7 days. Idempotent.
CREATE SCHEMA IF NOT EXISTS bench_private;

CREATE OR REPLACE FUNCTION bench_private.caller() RETURNS users LANGUAGE sql STABLE AS $$
  SELECT * FROM users
  WHERE id = nullif(current_setting('jwt.claims.uid', true), '')::uuid
    AND username = current_setting('jwt.claims.sub', true)
$$;

CREATE OR REPLACE FUNCTION bench_private.may_see_analytics(s subjects) RETURNS boolean
LANGUAGE sql STABLE AS $$
  SELECT EXISTS (SELECT 1 FROM bench_private.caller() me
                 WHERE me.id IS NOT NULL AND (me.role = 'ADMIN' OR me.id = s.professor_id))
$$;

CREATE OR REPLACE FUNCTION current_profile() RETURNS users LANGUAGE sql STABLE AS $$
  SELECT * FROM bench_private.caller()
$$;

CREATE OR REPLACE FUNCTION users_subject_ids(u users) RETURNS text[] LANGUAGE sql STABLE AS $$
  SELECT ARRAY(SELECT e.subject_id::text FROM enrollments e WHERE e.student_id = u.id
               UNION SELECT s.id::text FROM subjects s WHERE s.professor_id = u.id ORDER BY 1)
$$;

CREATE OR REPLACE FUNCTION subjects_total_students(s subjects) RETURNS bigint
LANGUAGE sql STABLE AS $$
  SELECT count(*) FROM enrollments e
  WHERE e.subject_id = s.id AND bench_private.may_see_analytics(s)
$$;

CREATE OR REPLACE FUNCTION subjects_active_students(s subjects) RETURNS bigint
LANGUAGE sql STABLE AS $$
  SELECT count(*) FROM enrollments e
  WHERE e.subject_id = s.id AND bench_private.may_see_analytics(s) AND e.student_id IN (
    SELECT c.user_id FROM chat_sessions c
    WHERE c.subject_id = s.id AND c.last_active >= now() - interval '7 days'
    UNION
    SELECT q.user_id FROM quiz_attempts q
    WHERE q.subject_id = s.id AND q.created_at >= now() - interval '7 days')
$$;

CREATE OR REPLACE FUNCTION subjects_average_test_score(s subjects) RETURNS numeric
LANGUAGE sql STABLE AS $$
  SELECT round(avg(q.percentage)::numeric, 1) FROM quiz_attempts q
  WHERE q.subject_id = s.id AND bench_private.may_see_analytics(s)
$$;

DO $$ BEGIN
  CREATE TYPE student_progress AS (
    username text, test_count bigint, average_score numeric, last_activity timestamptz);
EXCEPTION WHEN duplicate_object THEN NULL;
END $$;

-- One page of students by username, aggregates for that page only (like the gateway).
CREATE OR REPLACE FUNCTION subjects_student_progress(s subjects, lim integer DEFAULT 100,
                                                     skip integer DEFAULT 0)
RETURNS SETOF student_progress LANGUAGE sql STABLE AS $$
  WITH page AS (
    SELECT u.id, u.username FROM users u JOIN enrollments e ON e.student_id = u.id
    WHERE e.subject_id = s.id AND bench_private.may_see_analytics(s)
    ORDER BY u.username LIMIT least(lim, 100) OFFSET skip
  )
  SELECT p.username::text, coalesce(a.n, 0), a.average,
         CASE WHEN a.last IS NULL THEN c.last WHEN c.last IS NULL THEN a.last
              ELSE greatest(a.last, c.last) END
  FROM page p
  LEFT JOIN (SELECT q.user_id, count(*) AS n, round(avg(q.percentage)::numeric, 1) AS average,
                    max(q.created_at) AS last
             FROM quiz_attempts q WHERE q.subject_id = s.id
               AND q.user_id IN (SELECT id FROM page) GROUP BY q.user_id) a ON a.user_id = p.id
  LEFT JOIN (SELECT c.user_id, max(c.last_active) AS last FROM chat_sessions c
             WHERE c.subject_id = s.id AND c.user_id IN (SELECT id FROM page)
             GROUP BY c.user_id) c ON c.user_id = p.id
  ORDER BY p.username
$$;
