"""The application factory: the one place where routers are mounted and errors shaped.

Every error is JSON ``{"error": <short kind>, "detail": <what and what to do>}`` with
its HTTP status.
"""

from __future__ import annotations

from collections.abc import Sequence
from http import HTTPStatus
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from monitor.api import atom, health, metrics, v1, web
from monitor.api.auth import TokenAuth
from monitor.api.health import Readiness
from monitor.api.v1 import API_PREFIX
from monitor.config import Config
from monitor.errors import QueryError


def create_app(config: Config, readiness: Readiness, routers: Sequence[APIRouter] = ()) -> FastAPI:
    """The monitor's HTTP application over ``readiness.store``: every answer comes from it.

    ``routers`` are mounted after the built-in ones: further pages (search, the web
    page) plug in here without touching the rest.
    """
    app = FastAPI(
        title="monitor",
        summary="What the news monitor stored: matches, stories, articles, feeds, alerts, topics.",
        version="1",
        openapi_url=f"{API_PREFIX}/openapi.json",
        docs_url=f"{API_PREFIX}/docs",
        redoc_url=None,
    )
    app.state.config = config
    app.state.readiness = readiness
    app.state.store = readiness.store
    for router in (health.router, metrics.router, v1.router, atom.router, web.router, *routers):
        app.include_router(router)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _bad_parameters)
    app.add_exception_handler(QueryError, v1.query_error)
    app.add_middleware(TokenAuth, tokens=config.api.tokens)
    app.openapi = lambda: _without_422(app)  # type: ignore[method-assign]
    return app


def _without_422(app: FastAPI) -> dict[str, Any]:
    """The OpenAPI document without FastAPI's 422 answers: a bad parameter is a 400 here."""
    if app.openapi_schema is None:
        schema = get_openapi(
            title=app.title, version=app.version, summary=app.summary, description=app.description, routes=app.routes
        )
        for operations in schema.get("paths", {}).values():
            for operation in operations.values():
                operation.get("responses", {}).pop("422", None)
        for name in ("HTTPValidationError", "ValidationError"):
            schema.get("components", {}).get("schemas", {}).pop(name, None)
        app.openapi_schema = schema
    return app.openapi_schema


def error(status: int, detail: str, kind: str | None = None) -> JSONResponse:
    return JSONResponse(
        {"error": kind or HTTPStatus(status).phrase.lower(), "detail": detail},
        status_code=status,
    )


async def _http_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    detail = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
    if exc.status_code == 404 and detail == "Not Found":
        detail = f"no such path; the API is under {API_PREFIX} (see {API_PREFIX}/docs)"
    response = error(exc.status_code, detail)
    if exc.headers:
        response.headers.update(exc.headers)
    return response


async def _bad_parameters(_request: Request, exc: Exception) -> JSONResponse:
    """FastAPI's 422 for a parameter of the wrong type: a 400 naming the parameter."""
    assert isinstance(exc, RequestValidationError)
    problems = []
    for problem in exc.errors():
        where = ".".join(str(p) for p in problem.get("loc", ()) if p not in ("query", "path", "body"))
        problems.append(f"{where or 'request'}: {problem.get('msg', 'invalid')}")
    return error(400, "; ".join(problems), "bad request")
