"""The application factory: the one place where routers are mounted and errors shaped.

Every error is JSON ``{"error": <short kind>, "detail": <what and what to do>}`` with
its HTTP status.
"""

from __future__ import annotations

from collections.abc import Sequence
from http import HTTPStatus

from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from monitor.api import health, metrics
from monitor.api.auth import TokenAuth
from monitor.api.health import Readiness
from monitor.config import Config

API_PREFIX = "/api/v1"


def create_app(config: Config, readiness: Readiness, routers: Sequence[APIRouter] = ()) -> FastAPI:
    """The monitor's HTTP application over ``readiness.engine``.

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
    app.state.engine = readiness.engine
    app.include_router(health.router)
    app.include_router(metrics.router)
    for router in routers:
        app.include_router(router)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _bad_parameters)
    app.add_middleware(TokenAuth, tokens=config.api.tokens)
    return app


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
