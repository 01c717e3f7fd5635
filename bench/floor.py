"""The floor: the least work that serves the three benchmarked operations correctly.

A bare Starlette app over an asyncpg pool with hand-written SQL and orjson. It does what the
gateway does for each request (verify the JWT with joserfc exactly like gateway.auth.tokens, re-read
the caller from the database, the same authorization rule, the same numbers) but in the fewest
round trips: one statement for the profile, one for the subjects page, two for the analytics
(authorize, then everything else).

    GATEWAY_DATABASE_URL=postgresql://... GATEWAY_JWT_SECRET=... \
        uvicorn bench.floor:app --loop uvloop --http httptools
"""

from __future__ import annotations

import datetime as dt
import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
import orjson
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import OctKey
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

DSN = os.environ.get(
    "GATEWAY_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/gw_bench_compare"
)
DSN = DSN.replace("postgresql+asyncpg://", "postgresql://")
KEY = OctKey.import_key(os.environ["GATEWAY_JWT_SECRET"].encode())
ALG = os.environ.get("GATEWAY_JWT_ALGORITHM", "HS256")
REGISTRY = jwt.JWTClaimsRegistry(
    leeway=5, sub={"essential": True}, exp={"essential": True}, uid={"essential": True}
)
POOL_SIZE = int(os.environ.get("FLOOR_POOL_SIZE", "20"))
ACTIVE_DAYS = int(os.environ.get("GATEWAY_ACTIVE_DAYS", "7"))
MAX_PAGE = 100

PROFILE = """
SELECT u.username, u.email, u.full_name, u.role, u.theme, u.notifications,
       ARRAY(SELECT e.subject_id FROM enrollments e WHERE e.student_id = u.id
             UNION SELECT s.id FROM subjects s WHERE s.professor_id = u.id
             ORDER BY 1) AS subjects
FROM users u WHERE u.id = $1 AND u.username = $2
"""

SUBJECTS = """
SELECT s.id, s.name, s.description, p.username AS professor, p.full_name AS professor_name,
       (SELECT count(*) FROM enrollments e WHERE e.subject_id = s.id) AS student_count
FROM subjects s LEFT JOIN users p ON p.id = s.professor_id
WHERE EXISTS (SELECT 1 FROM users me WHERE me.id = $1 AND me.username = $2)
ORDER BY s.id LIMIT $3 OFFSET $4
"""

# The subject (if any) and whether the caller may see its analytics (its professor or an admin).
AUTHORIZE = """
SELECT s.id, s.name,
       (s.professor_id = me.id OR me.role = 'ADMIN') AS allowed
FROM subjects s LEFT JOIN users me ON me.id = $2 AND me.username = $3
WHERE s.id = $1
"""

# "Active": a chat session or a quiz attempt in the subject within the last ACTIVE_DAYS days.
ANALYTICS = """
WITH page AS (
    SELECT u.id, u.username FROM users u JOIN enrollments e ON e.student_id = u.id
    WHERE e.subject_id = $1 ORDER BY u.username LIMIT $3 OFFSET $4
), attempts AS (
    SELECT q.user_id, count(*) AS n, round(avg(q.percentage)::numeric, 1) AS average,
           max(q.created_at) AS last
    FROM quiz_attempts q WHERE q.subject_id = $1 AND q.user_id IN (SELECT id FROM page)
    GROUP BY q.user_id
), sessions AS (
    SELECT c.user_id, max(c.last_active) AS last
    FROM chat_sessions c WHERE c.subject_id = $1 AND c.user_id IN (SELECT id FROM page)
    GROUP BY c.user_id
)
SELECT
  (SELECT count(*) FROM enrollments e WHERE e.subject_id = $1) AS total,
  (SELECT count(*) FROM enrollments e WHERE e.subject_id = $1 AND e.student_id IN (
      SELECT c.user_id FROM chat_sessions c WHERE c.subject_id = $1 AND c.last_active >= $2
      UNION
      SELECT q.user_id FROM quiz_attempts q WHERE q.subject_id = $1 AND q.created_at >= $2
  )) AS active,
  (SELECT round(avg(q.percentage)::numeric, 1) FROM quiz_attempts q
   WHERE q.subject_id = $1) AS average,
  ARRAY(
    SELECT ROW(p.username, coalesce(a.n, 0), a.average,
               CASE WHEN a.last IS NULL THEN s.last WHEN s.last IS NULL THEN a.last
                    ELSE greatest(a.last, s.last) END)
    FROM page p LEFT JOIN attempts a ON a.user_id = p.id LEFT JOIN sessions s ON s.user_id = p.id
    ORDER BY p.username
  ) AS progress
"""


# "floor (aggregates)" (FLOOR_AGGREGATES=1): the same answers read from the aggregates the
# gateway maintains at write time (docs/analytics.md) instead of rescanning the base tables.
SUBJECTS_AGGREGATES = SUBJECTS.replace(
    "(SELECT count(*) FROM enrollments e WHERE e.subject_id = s.id)",
    "coalesce((SELECT st.enrolled_count FROM subject_stats st WHERE st.subject_id = s.id), 0)",
)
ANALYTICS_AGGREGATES = """
SELECT
  coalesce((SELECT enrolled_count FROM subject_stats WHERE subject_id = $1), 0) AS total,
  (SELECT count(*) FROM subject_student_stats
   WHERE subject_id = $1 AND enrolled AND last_activity_at >= $2) AS active,
  (SELECT round(percentage_hundredths::numeric / nullif(attempt_count * 100, 0), 1)
   FROM subject_stats WHERE subject_id = $1) AS average,
  ARRAY(
    SELECT ROW(username, attempt_count,
               round(percentage_hundredths::numeric / nullif(attempt_count * 100, 0), 1),
               last_activity_at)
    FROM subject_student_stats WHERE subject_id = $1 AND enrolled
    ORDER BY username LIMIT $3 OFFSET $4
  ) AS progress
"""
if os.environ.get("FLOOR_AGGREGATES") == "1":
    SUBJECTS, ANALYTICS = SUBJECTS_AGGREGATES, ANALYTICS_AGGREGATES


def json(body: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type="application/json")


def unauthorized() -> Response:
    return json({"detail": "Could not validate credentials"}, 401)


def claims(request: Request) -> tuple[uuid.UUID, str] | None:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        return None
    try:
        decoded = jwt.decode(token.strip(), KEY, algorithms=[ALG])
        REGISTRY.validate(decoded.claims)
        return uuid.UUID(str(decoded.claims["uid"])), str(decoded.claims["sub"])
    except (JoseError, ValueError, TypeError, KeyError):
        return None


def _page(request: Request) -> tuple[int, int] | None:
    """(limit, offset) from `limit` and either `skip` or `page` (1-based)."""
    params = request.query_params
    try:
        limit = int(params.get("limit", "20"))
        page = int(params.get("page", "1"))
        offset = int(params["skip"]) if "skip" in params else (page - 1) * limit
    except ValueError:
        return None
    if page < 1 or offset < 0 or not 1 <= limit <= MAX_PAGE:
        return None
    return limit, offset


async def profile(request: Request) -> Response:
    who = claims(request)
    if who is None:
        return unauthorized()
    row = await request.app.state.pool.fetchrow(PROFILE, *who)
    if row is None:
        return unauthorized()
    return json(
        {
            "username": row["username"],
            "email": row["email"],
            "full_name": row["full_name"],
            "role": row["role"],
            "subjects": row["subjects"],
            "preferences": {"theme": row["theme"], "notifications": row["notifications"]},
        }
    )


async def subjects(request: Request) -> Response:
    who = claims(request)
    if who is None:
        return unauthorized()
    window = _page(request)
    if window is None:
        return json({"detail": "page >= 1 and 1 <= limit <= 100"}, 422)
    rows = await request.app.state.pool.fetch(SUBJECTS, *who, *window)
    if not rows and window[1] == 0:
        # Either there are no subjects or the caller does not exist any more.
        pool = request.app.state.pool
        if await pool.fetchval("SELECT 1 FROM users WHERE id = $1 AND username = $2", *who) is None:
            return unauthorized()
    return json(
        [
            {
                "_id": r["id"],
                "name": r["name"],
                "description": r["description"],
                "professor_id": r["professor"],
                "professor_name": r["professor_name"],
                "student_count": r["student_count"],
            }
            for r in rows
        ]
    )


async def analytics(request: Request) -> Response:
    who = claims(request)
    if who is None:
        return unauthorized()
    window = _page(request)
    if window is None:
        return json({"detail": "page >= 1 and 1 <= limit <= 100"}, 422)
    limit, offset = window
    subject_id = request.path_params["subject_id"]
    pool = request.app.state.pool
    async with pool.acquire() as conn:
        subject = await conn.fetchrow(AUTHORIZE, subject_id, *who)
        if subject is None:
            return json({"detail": "Subject not found"}, 404)
        if subject["allowed"] is None:
            return unauthorized()
        if not subject["allowed"]:
            return json({"detail": "Not this subject's professor"}, 403)
        since = dt.datetime.now(dt.UTC) - dt.timedelta(days=ACTIVE_DAYS)
        row = await conn.fetchrow(ANALYTICS, subject_id, since, limit, offset)
    return json(
        {
            "subject_id": subject["id"],
            "name": subject["name"],
            "total_students": row["total"],
            "active_students": row["active"],
            "average_test_score": float(row["average"]) if row["average"] is not None else None,
            "student_progress": [
                {
                    "username": username,
                    "test_count": count,
                    "average_score": float(average) if average is not None else None,
                    "last_activity": last,
                }
                for username, count, average, last in row["progress"]
            ],
        }
    )


@asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[None]:
    app.state.pool = await asyncpg.create_pool(DSN, min_size=POOL_SIZE, max_size=POOL_SIZE)
    try:
        yield
    finally:
        await app.state.pool.close()


app = Starlette(
    routes=[
        Route("/users/me", profile),
        Route("/subjects", subjects),
        Route("/professor/subjects/{subject_id}/analytics", analytics),
    ],
    lifespan=lifespan,
)
