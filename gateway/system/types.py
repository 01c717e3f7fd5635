"""GraphQL: systemInfo, the tutor's self-description (or the fallback)."""

from __future__ import annotations

import strawberry

from gateway.graphql.context import Info


@strawberry.type(
    description="The tutor's self-description; an embedded value (no id): Apollo needs "
    "`SystemInfo: { merge: true }` or `Query.systemInfo: { merge: true }`."
)
class SystemInfo:
    version: str
    llm_provider: str
    llm_model: str
    status: str


@strawberry.type
class SystemQuery:
    @strawberry.field(description="The tutor's version and LLM; status is 'unavailable' when down.")
    async def system_info(self, info: Info) -> SystemInfo:
        found = await info.context.gateway.chatbot.system_info()
        return SystemInfo(**found.model_dump())
