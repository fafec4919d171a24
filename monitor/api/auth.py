"""Bearer tokens: with `api.tokens` set, every request but the health checks shows one.

A pure ASGI middleware, so the OpenAPI document and its docs page are covered too.
The scope of the token that was shown goes into the request's state for the handlers
that need more than reading (``require_admin``).

Browsers cannot send a bearer header from a link, so the web pages (every path outside
/api/, /feeds/ and /metrics) also take the ``token`` cookie that their login form sets, or
``?token=``, which sets that cookie too; without a valid one they send the browser to
the login form. The API takes only the header (the Atom feeds ``?token=`` as well):
a cookie there would let any page the browser visits call the API as its user.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Sequence
from urllib.parse import parse_qs, quote, unquote, urlencode

from fastapi import HTTPException, Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from monitor.config import ApiToken

OPEN_PATHS = frozenset({"/healthz", "/readyz", "/login", "/logout"})
QUERY_TOKEN_PREFIX = "/feeds/"  # feed readers that cannot send headers pass ?token=
NOT_WEB = ("/api/", QUERY_TOKEN_PREFIX, "/metrics")  # for programs: 401, not the login form
COOKIE = "token"
COOKIE_SECONDS = 30 * 24 * 3600


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
        web = not path.startswith(NOT_WEB)
        from_query = _query_token(scope) if web or path.startswith(QUERY_TOKEN_PREFIX) else None
        shown = _bearer(scope) or from_query or (_cookie(scope) if web else None)
        holder = token_holder(self.tokens, shown) if shown else None
        if holder is None:
            if web:
                await _to_login(scope, send)
                return
            why = "wrong token" if shown else "no token: send Authorization: Bearer <token>"
            await _unauthorised(send, why)
            return
        state["scope"], state["token_name"] = holder.scope, holder.name
        if web and from_query and shown == from_query:  # the next page's links carry no token: keep it
            send = _setting_cookie(send, from_query)
        await self.app(scope, receive, send)


def token_holder(tokens: Sequence[ApiToken], shown: str) -> ApiToken | None:
    """The configured token ``shown`` is, if any."""
    found = None
    for token in tokens:  # every token compared, in constant time: no timing hint
        if hmac.compare_digest(token.token.encode(), shown.encode()):
            found = token
    return found


def cookie_header(token: str | None) -> str:
    """The Set-Cookie value that keeps ``token`` for the web pages (None: forget it).

    HttpOnly: no script reads it; SameSite=Strict: no other site's page or form sends it."""
    if token is None:
        return f"{COOKIE}=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict"
    return f"{COOKIE}={quote(token, safe='')}; Path=/; Max-Age={COOKIE_SECONDS}; HttpOnly; SameSite=Strict"


def _cookie(scope: Scope) -> str | None:
    for name, value in scope["headers"]:
        if name == b"cookie":
            for part in value.decode("latin-1").split(";"):
                key, _, token = part.strip().partition("=")
                if key == COOKIE and token:
                    return unquote(token)
    return None


def _setting_cookie(send: Send, token: str) -> Send:
    async def sending(message: Message) -> None:
        if message["type"] == "http.response.start":
            message = {**message, "headers": [*message["headers"], (b"set-cookie", cookie_header(token).encode())]}
        await send(message)

    return sending


async def _to_login(scope: Scope, send: Send) -> None:
    """A browser without a (valid) token: to the login form, which brings it back here."""
    target = scope["path"]
    await send(
        {
            "type": "http.response.start",
            "status": 303,
            "headers": [(b"location", f"/login?{urlencode({'next': target})}".encode()), (b"content-length", b"0")],
        }
    )
    await send({"type": "http.response.body", "body": b""})


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
