"""GraphQL: systemInfo, the tutor's self-description (or the fallback)."""

from __future__ import annotations

import strawberry

from gateway.graphql.context import Info


@strawberry.type
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
