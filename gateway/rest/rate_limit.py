"""The rate limit on every REST route (gateway/ratelimit.py holds the limiter)."""

from __future__ import annotations

from fastapi import Request

from gateway.auth.tokens import bearer_token
from gateway.ratelimit import RateLimits, route_category


async def rest_rate_limit(request: Request) -> None:
    """FastAPI dependency for every REST route (after routing, so the template is known)."""
    route = request.scope.get("route")
    template = getattr(route, "path_format", None) or getattr(route, "path", None) or ""
    category = route_category(template)
    if category is None:
        return
    limits: RateLimits = request.app.state.gateway.rate_limits
    token = bearer_token(request.headers.get("authorization"))
    await limits.check(request.scope, token, {category: 1})
