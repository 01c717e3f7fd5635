"""GraphQL types and operations for users and authentication."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Annotated, cast

import strawberry

from gateway.auth import service as auth
from gateway.graphql.context import Info
from gateway.graphql.pagination import Connection
from gateway.graphql.relay import Node, UserRef, global_id, user_ref
from gateway.users import service
from gateway.users.models import Role as RoleModel
from gateway.users.schemas import ProfileUpdate, RegisterInput, UserView

if TYPE_CHECKING:
    from gateway.auth.actor import Actor
    from gateway.sessions.types import QuizAttemptType
    from gateway.subjects.types import SubjectType

Role = strawberry.enum(RoleModel, name="Role", description="What a user may do.")


@strawberry.type(
    description="Embedded in its User (no id): Apollo needs `Preferences: { merge: true }`."
)
class Preferences:
    theme: str
    notifications: bool


@strawberry.type(name="User")
class UserType(Node):
    username: str
    full_name: str
    role: Role  # type: ignore[valid-type]
    created_at: dt.datetime
    view: strawberry.Private[UserView]
    # False when the view was read without its subject codes (a subject's professor):
    # subjectIds then loads them, batched, only if the query asks for them.
    subjects_loaded: strawberry.Private[bool] = True

    @classmethod
    def of(cls, view: UserView, *, subjects_loaded: bool = True) -> UserType:
        return cls(
            id=global_id("User", view.id),
            username=view.username,
            full_name=view.full_name,
            role=view.role,
            created_at=view.created_at,
            view=view,
            subjects_loaded=subjects_loaded,
        )

    # Plain functions, not coroutines: a value now when it is at hand, else an awaitable that
    # graphql-core awaits (an async resolver costs a coroutine and a task per field).
    @strawberry.field(description="Codes of the subjects the user is enrolled in or teaches.")
    def subject_codes(self, info: Info) -> list[str]:
        if self.subjects_loaded:
            return self.view.subjects
        return cast(list[str], info.context.loaders.users.subject_codes.load(self.view.id))

    @strawberry.field(description="Visible to the user, professors and admins.")
    def email(self, info: Info) -> str | None:
        return info.context.with_actor(self._email)

    @strawberry.field(description="Only the user sees their own preferences.")
    def preferences(self, info: Info) -> Preferences | None:
        return info.context.with_actor(self._preferences)

    def _email(self, viewer: Actor | None) -> str | None:
        return self.view.email if service.can_see_email(viewer, self.view.id) else None

    def _preferences(self, viewer: Actor | None) -> Preferences | None:
        if not service.can_see_preferences(viewer, self.view.id):
            return None
        return Preferences(theme=self.view.theme, notifications=self.view.notifications)

    @strawberry.field(description="Subjects the user is enrolled in or teaches.")
    async def subjects(
        self, info: Info
    ) -> list[Annotated[SubjectType, strawberry.lazy("gateway.subjects.types")]]:
        from gateway.subjects.types import SubjectType

        views = await info.context.loaders.subjects.of_users.load(self.view.id)
        return [SubjectType.of(v, info) for v in views]

    @strawberry.field(
        description="Quiz results, newest first (the user and admins only; null otherwise)."
    )
    async def quiz_attempts(
        self, info: Info, first: int = 20, after: str | None = None
    ) -> Connection[Annotated[QuizAttemptType, strawberry.lazy("gateway.sessions.types")]] | None:
        from gateway.sessions.types import quiz_attempts_of

        return await quiz_attempts_of(info, self.view.id, first, after)


@strawberry.input(name="RegisterInput")
class RegisterInputGQL:
    username: str
    email: str
    password: str
    full_name: str = ""
    role: Role | None = None  # type: ignore[valid-type]


@strawberry.input
class LoginInput:
    username: str
    password: str


@strawberry.input
class PreferencesInput:
    theme: str | None = None
    notifications: bool | None = None


@strawberry.input
class UpdateMeInput:
    full_name: str | None = None
    email: str | None = None
    preferences: PreferencesInput | None = None


@strawberry.type
class UserPayload:
    user: UserType


@strawberry.type
class LoginPayload:
    access_token: str
    token_type: str
    expires_in: int
    user: UserType


def _unset_none(data: dict[str, object]) -> dict[str, object]:
    return {k: v for k, v in data.items() if v is not None}


@strawberry.type
class UsersQuery:
    @strawberry.field(description="The authenticated user.")
    async def me(self, info: Info) -> UserType:
        actor = await info.context.actor()
        profile = service.loaded_profile(actor)
        if profile is None:  # no session when the caller's read brought the profile along
            async with info.context.read() as db:
                profile = await service.me(db, actor)
        return UserType.of(profile)

    @strawberry.field(
        description="A user by global id or username: yourself, or anyone for professors and "
        "admins."
    )
    async def user(self, info: Info, id: strawberry.ID) -> UserType | None:
        return await user_node(info, user_ref(id, "id"))


async def user_node(info: Info, ref: UserRef) -> UserType:
    """Query.user and node(id:) for a User: one batch, service.get_users' rule."""
    return UserType.of(await info.context.loaders.users.by_ref.load(ref))


@strawberry.type
class UsersMutation:
    @strawberry.mutation(name="register", description="Create a STUDENT account.")
    async def register(
        self, info: Info, input: Annotated[RegisterInputGQL, strawberry.argument(name="input")]
    ) -> UserPayload:
        data = RegisterInput.model_validate(_unset_none(strawberry.asdict(input)))
        async with info.context.transaction() as db:
            return UserPayload(
                user=UserType.of(await auth.register(db, info.context.gateway.passwords, data))
            )

    @strawberry.mutation(description="Exchange a username and password for an access token.")
    async def login(self, info: Info, input: LoginInput) -> LoginPayload:
        gw = info.context.gateway
        async with info.context.transaction() as db:
            result = await auth.login(db, gw.passwords, gw.tokens, input.username, input.password)
        return LoginPayload(
            access_token=result.access_token,
            token_type="bearer",
            expires_in=gw.tokens.lifetime_seconds,
            user=UserType.of(result.user),
        )

    @strawberry.mutation(description="Change your own name, email or preferences.")
    async def update_me(self, info: Info, input: UpdateMeInput) -> UserPayload:
        actor = await info.context.require_actor()  # the caller first, as REST
        changes = ProfileUpdate.model_validate(strawberry.asdict(input))
        async with info.context.transaction() as db:
            return UserPayload(user=UserType.of(await service.update_me(db, actor, changes)))
