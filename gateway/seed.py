"""`gateway seed-demo`: a small, realistic demo data set. Idempotent: whatever already exists
(by username, subject code, enrollment, session id) is left alone, so running it twice
changes nothing."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.admin.service import create_user
from gateway.analytics import check
from gateway.auth.passwords import Passwords
from gateway.db import Database, utcnow
from gateway.sessions.models import ChatSession, Message, QuizAttempt
from gateway.subjects.models import Enrollment, Subject
from gateway.users import service as users
from gateway.users.models import Role, User
from gateway.users.schemas import RegisterInput

DEMO_PASSWORD = "demo-password-1"
_NAMESPACE = uuid.UUID("5d1f6a43-96a2-4d5e-9d1c-0c8a3e8b7f21")

ADMIN = ("admin", "Ana Administradora")
PROFESSORS = {"mgarcia": "María García", "jlopez": "Javier López"}
STUDENTS = {
    "gabriel": "Gabriel Francisco",
    "lucia": "Lucía Martín",
    "pablo": "Pablo Ruiz",
    "sofia": "Sofía Navarro",
    "diego": "Diego Torres",
    "carmen": "Carmen Vidal",
}
SUBJECTS = {
    "INF001": (
        "Algoritmos y Estructuras de Datos",
        "mgarcia",
        "Análisis de algoritmos, ordenación, árboles, grafos y programación dinámica.",
    ),
    "INF002": (
        "Bases de Datos",
        "mgarcia",
        "Modelo relacional, SQL, normalización, transacciones e índices.",
    ),
    "MAT101": (
        "Cálculo I",
        "jlopez",
        "Límites, derivadas, integrales y series de una variable real.",
    ),
}
ENROLLMENTS = {
    "gabriel": ("INF001", "INF002"),
    "lucia": ("INF001", "MAT101"),
    "pablo": ("INF002", "MAT101"),
    "sofia": ("INF001", "INF002", "MAT101"),
    "diego": ("INF001",),
    "carmen": ("MAT101",),
}
CONVERSATIONS = {
    "INF001": [
        (
            "¿Qué es la complejidad de quicksort?",
            "En el caso medio es O(n log n); en el peor, O(n²).",
        ),
        ("¿Cuándo se da el peor caso?", "Cuando el pivote es siempre el mínimo o el máximo."),
    ],
    "INF002": [
        ("¿Qué es la tercera forma normal?", "Una tabla en 2FN sin dependencias transitivas."),
        ("¿Para qué sirve un índice?", "Para localizar filas sin recorrer toda la tabla."),
    ],
    "MAT101": [
        ("¿Cuál es la derivada de sen(x)?", "La derivada de sen(x) es cos(x)."),
        ("¿Y la integral de 1/x?", "ln|x| + C, para x distinto de cero."),
    ],
}


@dataclass
class SeedReport:
    created: dict[str, int] = field(default_factory=dict)

    def add(self, kind: str, n: int = 1) -> None:
        self.created[kind] = self.created.get(kind, 0) + n


async def _user(
    db: AsyncSession, passwords: Passwords, username: str, name: str, role: Role, password: str
) -> User:
    user = await users.by_username(db, username)
    if user is None:
        data = RegisterInput(
            username=username,
            email=f"{username}@demo.example.edu",
            password=password,
            full_name=name,
            role=role,
        )
        await create_user(db, passwords, data)
        user = await users.by_username(db, username)
    assert user is not None
    return user


async def seed(
    database: Database, passwords: Passwords, password: str = DEMO_PASSWORD
) -> SeedReport:
    report = SeedReport()
    now = utcnow()
    async with database.transaction() as db:
        existing = set(await db.scalars(select(User.username)))
        people: dict[str, User] = {}
        roster = [(ADMIN[0], ADMIN[1], Role.ADMIN)]
        roster += [(u, n, Role.PROFESSOR) for u, n in PROFESSORS.items()]
        roster += [(u, n, Role.STUDENT) for u, n in STUDENTS.items()]
        for username, name, role in roster:
            people[username] = await _user(db, passwords, username, name, role, password)
            if username not in existing:
                report.add("users")

        for code, (name, professor, description) in SUBJECTS.items():
            if await db.get(Subject, code) is None:
                db.add(
                    Subject(
                        id=code,
                        name=name,
                        description=description,
                        guide=f"Guía docente de {name}: temario, evaluación y bibliografía.",
                        professor_id=people[professor].id,
                    )
                )
                report.add("subjects")
        await db.flush()

        for day, (student, codes) in enumerate(ENROLLMENTS.items()):
            person = people[student]
            for offset, code in enumerate(codes):
                if await db.get(Enrollment, (person.id, code)) is None:
                    db.add(
                        Enrollment(
                            student_id=person.id,
                            subject_id=code,
                            created_at=now - dt.timedelta(days=30 - day),
                        )
                    )
                    report.add("enrollments")
                session_id = str(uuid.uuid5(_NAMESPACE, f"{student}:{code}"))
                if await db.get(ChatSession, session_id) is not None:
                    continue
                started = now - dt.timedelta(days=day + offset, hours=3)
                exchange = CONVERSATIONS[code]
                db.add(
                    ChatSession(
                        id=session_id,
                        user_id=person.id,
                        subject_id=code,
                        title=exchange[0][0][:60],
                        created_at=started,
                        last_active=started + dt.timedelta(minutes=4 * len(exchange)),
                    )
                )
                await db.flush()
                for turn, (question, answer) in enumerate(exchange):
                    at = started + dt.timedelta(minutes=4 * turn)
                    db.add(
                        Message(
                            session_id=session_id,
                            role="user",
                            content=question,
                            status="answered",
                            created_at=at,
                        )
                    )
                    db.add(
                        Message(
                            session_id=session_id,
                            role="assistant",
                            content=answer,
                            status="ok",
                            created_at=at + dt.timedelta(seconds=20),
                        )
                    )
                    report.add("messages", 2)
                correct = 2 + (day + offset) % 4  # 2..5 out of 5, varied per student
                db.add(
                    QuizAttempt(
                        user_id=person.id,
                        subject_id=code,
                        session_id=session_id,
                        correct=correct,
                        total=5,
                        percentage=correct * 100 / 5,
                        created_at=started + dt.timedelta(minutes=30),
                    )
                )
                report.add("sessions")
                report.add("quiz_attempts")
        await db.flush()
        await check.repair(db)  # rows written above bypass the services: recompute the figures
    return report
