"""Bearer tokens: with `api.tokens` set, every request but the health checks shows one.

A pure ASGI middleware, so the OpenAPI document and its docs page are covered too.
The scope of the token that was shown goes into the request's state for the handlers
that need more than reading (``require_admin``).
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Sequence
from urllib.parse import parse_qs

from fastapi import HTTPException, Request
from starlette.types import ASGIApp, Receive, Scope, Send

from monitor.config import ApiToken

OPEN_PATHS = frozenset({"/healthz", "/readyz"})
QUERY_TOKEN_PREFIX = "/feeds/"  # feed readers that cannot send headers pass ?token=


class TokenAuth:
    def __init__(self, app: ASGIApp, tokens: Sequence[ApiToken]) -> None:
        self.app = app
        self.tokens = tuple(tokens)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        state = scope.setdefault("state", {})
        if not self.tokens:  # loopback only (checked at start): the machine's users, as with the CLI
            state["scope"] = "admin"
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        if path in OPEN_PATHS:
            await self.app(scope, receive, send)
            return
        shown = _bearer(scope) or (_query_token(scope) if path.startswith(QUERY_TOKEN_PREFIX) else None)
        holder = self._holder(shown) if shown else None
        if holder is None:
            why = "wrong token" if shown else "no token: send Authorization: Bearer <token>"
            await _unauthorised(send, why)
            return
        state["scope"], state["token_name"] = holder.scope, holder.name
        await self.app(scope, receive, send)

    def _holder(self, shown: str) -> ApiToken | None:
        found = None
        for token in self.tokens:  # every token compared, in constant time: no timing hint
            if hmac.compare_digest(token.token.encode(), shown.encode()):
                found = token
        return found


def _bearer(scope: Scope) -> str | None:
    for name, value in scope["headers"]:
        if name == b"authorization":
            kind, _, token = value.decode("latin-1").partition(" ")
            return token.strip() if kind.lower() == "bearer" and token.strip() else None
    return None


def _query_token(scope: Scope) -> str | None:
    values = parse_qs(scope.get("query_string", b"").decode("latin-1")).get("token")
    return values[-1] if values else None


async def _unauthorised(send: Send, detail: str) -> None:
    body = json.dumps({"error": "unauthorized", "detail": detail}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 401,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"www-authenticate", b'Bearer realm="monitor"'),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def require_admin(request: Request) -> None:
    """A dependency: the request's token must have the admin scope."""
    if request.state.scope != "admin":
        raise HTTPException(403, "this needs a token with the admin scope; yours is read-only")
