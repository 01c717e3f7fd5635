"""GraphQL operations for administrators."""

from __future__ import annotations

import strawberry

from gateway.admin import service
from gateway.graphql.context import Info
from gateway.graphql.pagination import USERS, Connection, page
from gateway.graphql.relay import global_id, user_ref
from gateway.users.types import Role, UserPayload, UserType

_USER = "A User id or username."


@strawberry.input
class SetUserRoleInput:
    user_id: strawberry.ID = strawberry.field(description=_USER)
    role: Role  # type: ignore[valid-type]


@strawberry.input
class DeleteUserInput:
    user_id: strawberry.ID = strawberry.field(description=_USER)


@strawberry.type
class DeleteUserPayload:
    deleted_id: strawberry.ID = strawberry.field(description="The deleted User's id.")
    deleted: bool


def _by_creation(user: UserType) -> tuple[object, str]:
    return (user.created_at, user.username)


@strawberry.type
class AdminQuery:
    @strawberry.field(description="Every account, oldest first (admins only; null for others).")
    async def users(
        self,
        info: Info,
        role: Role | None = None,  # type: ignore[valid-type]
        first: int = 50,
        after: str | None = None,
    ) -> Connection[UserType] | None:
        request = page(info, USERS, first, after)
        actor = await info.context.actor()
        async with info.context.read() as db:
            found = await service.list_users(
                db, actor, role=role, limit=request.fetch, after=request.after
            )
        return Connection.of([UserType.of(u) for u in found], request, _by_creation)


@strawberry.type
class AdminMutation:
    @strawberry.mutation(description="Change a user's role (admins only).")
    async def set_user_role(self, info: Info, input: SetUserRoleInput) -> UserPayload:
        actor = await info.context.require_actor()  # the caller first, as REST
        who = user_ref(input.user_id, "userId")
        async with info.context.transaction() as db:
            user = await service.set_role(db, actor, who, input.role)
        return UserPayload(user=UserType.of(user))

    @strawberry.mutation(description="Delete an account and everything it owns (admins only).")
    async def delete_user(self, info: Info, input: DeleteUserInput) -> DeleteUserPayload:
        actor = await info.context.require_actor()  # the caller first, as REST
        who = user_ref(input.user_id, "userId")
        async with info.context.transaction() as db:
            deleted = await service.delete_user(db, actor, who)
        return DeleteUserPayload(deleted_id=global_id("User", deleted), deleted=True)
