"""The HTTP interface: the JSON API under /api/v1, Atom feeds, the web page at /, health checks.

``app.create_app`` builds the application and is the one place routers are mounted;
``server.serve`` runs it with uvicorn, alone (`monitor serve`) or beside the poller
(`monitor run --serve`).
"""
