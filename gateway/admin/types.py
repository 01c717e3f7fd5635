"""GraphQL operations for administrators."""

from __future__ import annotations

import strawberry

from gateway.admin import service
from gateway.graphql.context import Info
from gateway.graphql.pagination import Connection, window
from gateway.users.types import Role, UserPayload, UserType


@strawberry.input
class SetUserRoleInput:
    username: str
    role: Role  # type: ignore[valid-type]


@strawberry.input
class DeleteUserInput:
    username: str


@strawberry.type
class DeleteUserPayload:
    username: str
    deleted: bool


@strawberry.type
class AdminQuery:
    @strawberry.field(description="Every account, oldest first (admins only).")
    async def users(
        self,
        info: Info,
        role: Role | None = None,  # type: ignore[valid-type]
        first: int = 50,
        after: str | None = None,
    ) -> Connection[UserType] | None:
        limit, offset = window(first, after, info.context.gateway.settings.max_page_size)
        actor = await info.context.actor()
        async with info.context.read() as db:
            found = await service.list_users(db, actor, role=role, limit=limit + 1, skip=offset)
        return Connection.of([UserType.of(u) for u in found], first=limit, offset=offset)


@strawberry.type
class AdminMutation:
    @strawberry.mutation(description="Change a user's role (admins only).")
    async def set_user_role(self, info: Info, input: SetUserRoleInput) -> UserPayload:
        actor = await info.context.actor()
        async with info.context.transaction() as db:
            user = await service.set_role(db, actor, input.username, input.role)
        return UserPayload(user=UserType.of(user))

    @strawberry.mutation(description="Delete an account and everything it owns (admins only).")
    async def delete_user(self, info: Info, input: DeleteUserInput) -> DeleteUserPayload:
        actor = await info.context.actor()
        async with info.context.transaction() as db:
            await service.delete_user(db, actor, input.username)
        return DeleteUserPayload(username=input.username, deleted=True)
