"""/healthz (the process answers) and /readyz (it can do its work): for containers and load balancers."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from monitor.store.interface import Store


@dataclass(frozen=True)
class Readiness:
    """What /readyz checks. ``workers``: why the process's workers are not doing their
    work, or None while they are (None too when this process runs none: `monitor serve`)."""

    store: Store  # what the API reads, and the database /readyz checks
    workers: Callable[[], str | None] = lambda: None


router = APIRouter(include_in_schema=False)


@router.get("/healthz")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz")
def readyz(request: Request) -> JSONResponse:
    readiness: Readiness = request.app.state.readiness
    checks: dict[str, str] = {}
    try:
        checks["database"] = "ok"
        checks["schema"] = "ok" if readiness.store.schema_is_current() else "behind: run `monitor db upgrade`"
    except Exception as exc:  # any failure to reach the database is the answer, not a crash
        checks["database"] = " ".join(str(getattr(exc, "orig", None) or exc).split())[:300] or type(exc).__name__
        checks["schema"] = "unknown"
    checks["workers"] = readiness.workers() or "ok"
    ready = all(value == "ok" for value in checks.values())
    body = {"status": "ready" if ready else "not ready", "checks": checks}
    return JSONResponse(body, status_code=200 if ready else 503)
