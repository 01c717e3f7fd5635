"""The per-request DataLoaders, typed, one attribute per domain (each created on first use).

Every batch opens its own short read session and passes the caller to its service, which
applies the rules; a resolver asks `info.context.loaders.<domain>.<loader>.load(key)`."""

from __future__ import annotations

from functools import cached_property

from gateway.analytics.loaders import AnalyticsLoaders
from gateway.auth.actor import ActorSource
from gateway.db import Database
from gateway.sessions.loaders import SessionLoaders
from gateway.subjects.loaders import SubjectLoaders
from gateway.users.loaders import UserLoaders


class Loaders:
    """Typed loaders per domain, each set created on first use."""

    def __init__(self, db: Database, actor: ActorSource, *, active_days: int) -> None:
        self._db = db
        self._actor = actor
        self._active_days = active_days

    @cached_property
    def users(self) -> UserLoaders:
        return UserLoaders(self._db, self._actor)

    @cached_property
    def subjects(self) -> SubjectLoaders:
        return SubjectLoaders(self._db, self._actor)

    @cached_property
    def sessions(self) -> SessionLoaders:
        return SessionLoaders(self._db, self._actor)

    @cached_property
    def analytics(self) -> AnalyticsLoaders:
        return AnalyticsLoaders(self._db, self._actor, active_days=self._active_days)
