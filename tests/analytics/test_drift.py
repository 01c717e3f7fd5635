"""The aggregates never drift: random sequences of enroll / unenroll / chat / quiz (finished on
REST or GraphQL) / session delete / user delete / subject delete run through the real app, and
after every step the stored figures equal their recomputation from the base tables
(gateway.analytics.check, what `gateway check-aggregates` runs)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.analytics import check
from gateway.app import Gateway
from gateway.models import Base
from gateway.users.models import Role
from tests.conftest import Api
from tests.subjects.world import bearer
from tests.upstream_stub import Stub

STUDENTS = ("s_ana", "s_bob")
SUBJECTS = ("INF001", "MAT002")
ANSWERS = ("nlogn", "pila", "8")

student = st.sampled_from(STUDENTS)
subject = st.sampled_from(SUBJECTS)
slot = st.integers(0, 1)  # which of the student's sessions in the subject
operation = st.one_of(
    st.tuples(st.just("enroll"), student, subject),
    st.tuples(st.just("unenroll"), student, subject),
    st.tuples(st.just("chat"), student, subject, slot),
    st.tuples(st.just("quiz"), student, subject, slot, st.integers(0, 3), st.booleans()),
    st.tuples(st.just("delete_session"), student, subject, slot),
    st.tuples(st.just("delete_user"), student),
    st.tuples(st.just("delete_subject"), subject),
)


@dataclass
class Run:
    api: Api
    admin: str = ""
    tokens: dict[str, str] = field(default_factory=dict)
    prefix: str = field(default_factory=lambda: uuid.uuid4().hex[:8])

    def session(self, who: str, code: str, n: int) -> str:
        return str(uuid.uuid5(uuid.NAMESPACE_URL, f"{self.prefix}/{who}/{code}/{n}"))

    async def start(self) -> None:
        gateway = self.api.gateway
        async with gateway.db.transaction() as db:  # one world per example
            for table in reversed(Base.metadata.sorted_tables):
                await db.execute(table.delete())
        self.admin = await self.api.user("root_admin", Role.ADMIN)
        await self.api.user("prof_ana", Role.PROFESSOR)
        for code in SUBJECTS:
            r = await self.api.client.post(
                "/subjects",
                json={"subject_id": code, "name": code, "professor_id": "prof_ana"},
                headers=bearer(self.admin),
            )
            assert r.status_code == 201, r.text
        for name in STUDENTS:
            self.tokens[name] = await self.api.user(name, Role.STUDENT)

    async def chat(self, who: str, code: str, n: int, text: str) -> Any:
        return await self.api.client.post(
            "/chat",
            json={"id": self.session(who, code, n), "asignatura": code, "content": text},
            headers=bearer(self.tokens[who]),
        )

    async def quiz(self, who: str, code: str, n: int, right: int, graphql: bool) -> None:
        r = await self.chat(who, code, n, "Hazme un test")
        if r.status_code != 200:
            return  # refused (not enrolled, deleted...): nothing may change
        sid = self.session(who, code, n)
        for index, answer in enumerate(ANSWERS, start=1):
            given = answer if index <= right else "no sé"
            if graphql and index == len(ANSWERS):
                body = await self.api.gql(
                    "mutation($i: AnswerQuestionInput!) { answerQuestion(input: $i) {"
                    " quizAttempt { percentage } } }",
                    {"i": {"sessionId": sid, "answer": given, "questionIndex": index}},
                    token=self.tokens[who],
                )
                assert "errors" not in body, body
            else:
                r = await self.api.client.post(
                    f"/sessions/{sid}/resume_chat",
                    json={"answer": given, "current_question_index": index},
                    headers=bearer(self.tokens[who]),
                )
                assert r.status_code == 200, r.text

    async def apply(self, op: tuple[Any, ...]) -> None:
        kind, *args = op
        if kind in ("delete_user", "delete_session", "chat", "quiz", "unenroll", "enroll"):
            if args[0] not in self.tokens:
                return  # a deleted student
        h = bearer(self.tokens[args[0]]) if args and args[0] in self.tokens else {}
        if kind == "enroll":
            await self.api.client.post(f"/subjects/{args[1]}/enroll", headers=h)
        elif kind == "unenroll":
            await self.api.client.delete(f"/subjects/{args[1]}/enroll", headers=h)
        elif kind == "chat":
            await self.chat(args[0], args[1], args[2], "¿Qué es un árbol?")
        elif kind == "quiz":
            await self.quiz(*args)
        elif kind == "delete_session":
            await self.api.client.delete(f"/sessions/{self.session(*args)}", headers=h)
        elif kind == "delete_user":
            r = await self.api.client.delete(f"/admin/users/{args[0]}", headers=bearer(self.admin))
            assert r.status_code == 204, r.text
            del self.tokens[args[0]]
        elif kind == "delete_subject":
            await self.api.client.delete(f"/subjects/{args[0]}", headers=bearer(self.admin))


async def differences(gateway: Gateway) -> list[str]:
    async with gateway.db.transaction() as db:
        return [str(d) for d in await check.differences(db)]


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(operations=st.lists(operation, min_size=1, max_size=10))
async def test_maintained_figures_equal_the_recomputation_after_every_step(
    api: Api, stub: Stub, operations: list[tuple[Any, ...]]
) -> None:
    run = Run(api)
    await run.start()
    for step, op in enumerate(operations):
        await run.apply(op)
        assert await differences(api.gateway) == [], f"after step {step}: {op}"


async def test_the_recomputation_sees_a_lost_increment(api: Api, stub: Stub) -> None:
    """The property above could not fail if the check saw nothing: drift it on purpose."""
    run = Run(api)
    await run.start()
    await run.apply(("enroll", "s_ana", "INF001"))
    await run.apply(("quiz", "s_ana", "INF001", 0, 2, False))
    assert await differences(api.gateway) == []
    async with api.gateway.db.transaction() as db:
        from sqlalchemy import update

        from gateway.analytics.aggregates import STUDENT

        await db.execute(update(STUDENT).values(attempt_count=STUDENT.c.attempt_count + 1))
    found = await differences(api.gateway)
    assert len(found) == 1 and "attempt_count: stored 2, expected 1" in found[0]


SCENARIOS = {
    "a deleted session lowers the last chat activity": [
        ("enroll", "s_ana", "INF001"),
        ("chat", "s_ana", "INF001", 0),
        ("chat", "s_ana", "INF001", 1),
        ("delete_session", "s_ana", "INF001", 1),
        ("delete_session", "s_ana", "INF001", 0),
    ],
    "a deleted student leaves the subject's totals": [
        ("enroll", "s_ana", "INF001"),
        ("enroll", "s_bob", "INF001"),
        ("quiz", "s_ana", "INF001", 0, 3, True),
        ("quiz", "s_bob", "INF001", 0, 1, False),
        ("unenroll", "s_bob", "INF001"),
        ("delete_user", "s_ana"),
        ("delete_subject", "INF001"),
    ],
}


@pytest.mark.parametrize("name", sorted(SCENARIOS))
async def test_named_sequences(api: Api, stub: Stub, name: str) -> None:
    """Sequences a random search may take long to hit, step by step."""
    run = Run(api)
    await run.start()
    for step, op in enumerate(SCENARIOS[name]):
        await run.apply(op)
        assert await differences(api.gateway) == [], f"after step {step}: {op}"
