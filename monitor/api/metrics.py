"""``GET /metrics``: the process's Prometheus metrics, behind the API's tokens like every route."""

from __future__ import annotations

from fastapi import APIRouter, Response

from monitor import metrics

router = APIRouter()


@router.get("/metrics", include_in_schema=False)
def prometheus() -> Response:
    body, content_type = metrics.exposition()
    return Response(body, media_type=content_type)
