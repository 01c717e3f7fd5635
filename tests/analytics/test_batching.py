"""SubjectAnalytics read many at a time: nodes(ids:) and a page's Subject.analytics go through
one DataLoader batch (info.context.loaders.analytics), one summary statement whatever the
number of subjects, with the single subject's figures and refusals item by item."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

from sqlalchemy import create_engine

from gateway.analytics.repository import SUMMARIES
from gateway.db import Base
from gateway.users.models import Role
from tests.analytics.world import ago
from tests.conftest import Api, StatementCounter
from tests.subjects.world import World, add_attempt, add_session, bearer, make_world

FIGURES = "subjectCode name totalStudents activeStudents averageTestScore"
NODES = f"query($ids: [ID!]!) {{ nodes(ids: $ids) {{ ... on SubjectAnalytics {{ {FIGURES} }} }} }}"
DIRECT = f"query($id: ID!) {{ subject(id: $id) {{ analytics {{ {FIGURES} }} }} }}"
PAGE = f"{{ subjects(first: 100) {{ nodes {{ code analytics {{ {FIGURES} }} }} }} }}"
ANA_EXTRA = [f"ANA{i:02}" for i in range(12)]
JUAN_EXTRA = [f"JUAN{i:02}" for i in range(4)]


@dataclass
class Scene:
    world: World
    ana: list[str]  # prof_ana's subjects
    juan: list[str]  # prof_juan's subjects


def analytics_id(code: str) -> str:
    return base64.b64encode(f"SubjectAnalytics:{code}".encode()).decode()


async def scene(api: Api) -> Scene:
    """Subjects of two professors with figures that differ from subject to subject: i students
    enrolled in the i-th (some active by a quiz, some by a chat, some long ago), and attempts
    whose mean differs; a few subjects nobody joined."""
    w = await make_world(api)
    students = [await api.user(f"student{i}", Role.STUDENT) for i in range(5)]
    for n, code in enumerate(ANA_EXTRA + JUAN_EXTRA):
        professor = "prof_ana" if code.startswith("ANA") else "prof_juan"
        r = await api.client.post(
            "/subjects",
            json={"subject_id": code, "name": f"Subject {code}", "professor_id": professor},
            headers=bearer(w.admin),
        )
        assert r.status_code == 201, r.text
        for i, token in enumerate(students[: n % 6]):
            r = await api.client.post(f"/subjects/{code}/enroll", headers=bearer(token))
            assert r.status_code == 200, r.text
            if i == 0:
                await add_attempt(api, f"student{i}", code, 40.0 + n, created_at=ago(n % 9))
            if i == 1:
                await add_session(api, f"student{i}", code, last_active=ago(2 + n % 10))
        if n % 3 == 0:
            await add_attempt(api, "student4", code, 71.25, created_at=ago(1))  # not enrolled
    return Scene(w, ["INF001", "INF002", *ANA_EXTRA], ["MAT002", *JUAN_EXTRA])


async def rest_figures(api: Api, code: str, token: str) -> dict[str, Any]:
    """The REST face's summary: the single-subject service path, untouched by the batching."""
    r = await api.client.get(f"/professor/subjects/{code}/analytics", headers=bearer(token))
    assert r.status_code == 200, r.text
    body = r.json()
    return {
        "subjectCode": body["subject_id"],
        "name": body["name"],
        "totalStudents": body["total_students"],
        "activeStudents": body["active_students"],
        "averageTestScore": body["average_test_score"],
    }


def errors_by_path(body: dict[str, Any]) -> dict[tuple[Any, ...], dict[str, Any]]:
    return {tuple(e["path"]): e for e in body.get("errors", [])}


async def test_nodes_give_each_subjects_figures_or_its_own_refusal(api: Api) -> None:
    s = await scene(api)
    w = s.world
    # Interleaved: the caller's subjects, another professor's, an unknown one, a repeat.
    codes = [c for pair in zip(s.ana, s.juan, strict=False) for c in pair]
    codes += [*s.ana[len(s.juan) :], "NOPE", "INF001"]
    ids = [analytics_id(c) for c in codes]
    expected = {c: await rest_figures(api, c, w.admin) for c in s.ana + s.juan}
    assert len({(f["totalStudents"], f["averageTestScore"]) for f in expected.values()}) > 5
    assert any(f["activeStudents"] not in (0, f["totalStudents"]) for f in expected.values())
    for viewer, token, allowed in [
        ("prof_ana", w.ana, set(s.ana)),
        ("prof_juan", w.juan, set(s.juan)),
        ("admin", w.admin, set(s.ana + s.juan)),
        ("student", w.gabriel, set()),
    ]:
        body = await api.gql(NODES, {"ids": ids}, token=token)
        nodes = body["data"]["nodes"]
        errors = errors_by_path(body)
        assert len(nodes) == len(codes)
        for i, code in enumerate(codes):
            direct = await api.gql(DIRECT, {"id": code}, token=token)
            if code in allowed:
                assert nodes[i] == expected[code], (viewer, code)
                assert direct["data"]["subject"]["analytics"] == expected[code], (viewer, code)
                assert ("nodes", i) not in errors
                continue
            assert nodes[i] is None, (viewer, code, nodes[i])
            error = errors[("nodes", i)]
            if code == "NOPE":
                assert error["extensions"]["code"] == "NOT_FOUND"
                continue
            # The refusal the direct field gives, with its message.
            assert error["extensions"]["code"] == "FORBIDDEN", (viewer, code, error)
            assert direct["data"] == {"subject": {"analytics": None}}
            assert error["message"] == direct["errors"][0]["message"]
        assert len(errors) == len(codes) - sum(c in allowed for c in codes), (viewer, errors)
    anonymous = await api.gql(NODES, {"ids": ids[:3]})
    assert anonymous["data"] == {"nodes": [None, None, None]}
    assert {e["extensions"]["code"] for e in anonymous["errors"]} == {"UNAUTHENTICATED"}


async def test_a_pages_analytics_are_each_subjects_own(api: Api) -> None:
    s = await scene(api)
    body = await api.gql(PAGE, token=s.world.ana)
    nodes = body["data"]["subjects"]["nodes"]
    errors = errors_by_path(body)
    assert sorted(n["code"] for n in nodes) == sorted(s.ana + s.juan)
    for i, node in enumerate(nodes):
        if node["code"] in s.ana:
            assert node["analytics"] == await rest_figures(api, node["code"], s.world.ana)
        else:
            assert node["analytics"] is None
            path = ("subjects", "nodes", i, "analytics")
            assert errors[path]["extensions"]["code"] == "FORBIDDEN"


def summary_reads(counter: StatementCounter) -> list[str]:
    """The summary statements (single or batched): the only ones counting active students."""
    return [q for q in counter.statements if "subject_student_stats" in q and " AS active" in q]


async def test_nodes_read_every_summary_in_one_statement(
    api: Api, sql_counter: StatementCounter
) -> None:
    s = await scene(api)
    counts: dict[int, tuple[int, int]] = {}
    mixed = [c for pair in zip(s.ana, s.juan * 4, strict=False) for c in pair]
    for n in (1, 4, len(mixed)):
        sql_counter.reset()
        body = await api.gql(
            NODES, {"ids": [analytics_id(c) for c in mixed[:n]]}, token=s.world.ana
        )
        assert len(body["data"]["nodes"]) == n
        assert sum(node is not None for node in body["data"]["nodes"]) == (n + 1) // 2
        reads = [q for q in sql_counter.statements if not q.startswith("PRAGMA")]
        counts[n] = (len(reads), len(summary_reads(sql_counter)))
    # The caller, the subjects in one lookup, their summaries in one statement; the same for 1
    # id as for len(mixed).
    assert counts == {n: (3, 1) for n in counts}, counts
    sql_counter.reset()
    body = await api.gql(PAGE, token=s.world.admin)
    assert len(body["data"]["subjects"]["nodes"]) == len(s.ana + s.juan)
    assert len(summary_reads(sql_counter)) == 1, sql_counter.statements
    # Every node refused: no summary is read at all.
    sql_counter.reset()
    body = await api.gql(NODES, {"ids": [analytics_id(c) for c in s.juan]}, token=s.world.ana)
    assert body["data"]["nodes"] == [None] * len(s.juan)
    assert summary_reads(sql_counter) == []


async def test_each_mutation_field_reads_the_analytics_afresh(api: Api) -> None:
    """Mutation fields run one after another: the second reads what the first wrote (the
    loader keeps no summary from one field to the next)."""
    w = await make_world(api)
    field = "{ subject { analytics { name totalStudents } } }"
    body = await api.gql(
        f"""mutation {{
          a: updateSubject(input: {{subjectId: "INF001", name: "First"}}) {field}
          b: updateSubject(input: {{subjectId: "INF001", name: "Second"}}) {field}
        }}""",
        token=w.admin,
    )
    assert body == {
        "data": {
            "a": {"subject": {"analytics": {"name": "First", "totalStudents": 1}}},
            "b": {"subject": {"analytics": {"name": "Second", "totalStudents": 1}}},
        }
    }, body


def test_the_batched_summary_reads_each_id_by_index() -> None:
    """O(ids) rows whatever the tables hold: the ids are the only FROM (each figure a
    correlated probe; a join with subject_stats may be planned as a scan of the whole table),
    and on SQLite every probe is an index search."""
    assert [getattr(f, "name", None) for f in SUMMARIES.select.get_final_froms()] == ["ids"]
    engine = create_engine("sqlite://")
    Base.metadata.create_all(engine)
    sql = str(SUMMARIES.select.compile(dialect=engine.dialect))
    with engine.connect() as conn:
        rows = conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}", (0, "", 0, 0, "[]"))
        plan = [row[3] for row in rows]
    engine.dispose()
    assert [p for p in plan if p.startswith("SCAN")] == ["SCAN ids VIRTUAL TABLE INDEX 1:"], plan
    assert sum(p.startswith("SEARCH subject_stats USING INDEX") for p in plan) == 3, plan
    assert sum(p.startswith("SEARCH subject_student_stats USING") for p in plan) == 1, plan
