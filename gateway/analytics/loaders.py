"""Per-request DataLoaders for analytics. Each batch opens its own short read session and
passes the caller to the service, which authorizes each subject; N subjects' summaries cost
one statement."""

from __future__ import annotations

from collections.abc import Sequence
from functools import cached_property

from strawberry.dataloader import DataLoader

from gateway.analytics import service
from gateway.auth.actor import ActorSource
from gateway.db import Database
from gateway.errors import DomainError
from gateway.subjects.schemas import SubjectView


class AnalyticsLoaders:
    """Created on first use in a request (most requests need none of them)."""

    def __init__(self, db: Database, actor: ActorSource, *, active_days: int) -> None:
        self._db = db
        self._actor = actor
        self._active_days = active_days

    @cached_property
    def summaries(self) -> DataLoader[SubjectView, service.Summary]:
        """Subject.analytics and node(id:) for a SubjectAnalytics, by the subject as read in
        this request: service.summaries' rule, per subject its error. Not cached: the figures
        move with every write, and a mutation's later fields must read them afresh, as each
        load did before batching (loads in the same batch share its one statement)."""
        return DataLoader(load_fn=self._summaries, cache=False)

    async def _summaries(
        self, subjects: list[SubjectView]
    ) -> Sequence[service.Summary | DomainError]:
        actor = await self._actor()
        async with self._db.read() as db:
            return await service.summaries(db, actor, subjects, active_days=self._active_days)
