"""Where the logs go and in which shape: lines for people, or one JSON object per event.

``--log-format json`` writes each event (a feed polled, a status line of the daemon, a
warning) as one object on one line of stderr: ``time``, ``level``, ``logger``,
``message``, ``event`` and the event's own fields. Secrets never reach it: every value
the configuration marks as one (``Config.secrets``) and the password of any URL are
replaced by ``***`` in every string, whoever wrote the message.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

FORMATS = ("text", "json")
EVENTS = "monitor.events"  # the logger of events; their fields ride in ``extra={"fields": ...}``
HIDDEN = "***"

_USERINFO = re.compile(r"(?<=://)[^/@\s:]*:[^/@\s]*@")  # user:password@ in a URL


class _Secrets:
    def __init__(self) -> None:
        self.values: list[str] = []

    def hide(self, text: str) -> str:
        for secret in self.values:
            text = text.replace(secret, HIDDEN)
        return _USERINFO.sub(HIDDEN + "@", text)

    def scrub(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.hide(value)
        if isinstance(value, dict):
            return {key: self.scrub(item) for key, item in value.items()}
        if isinstance(value, list | tuple):
            return [self.scrub(item) for item in value]
        return value


_secrets = _Secrets()


def hide(secrets: Iterable[str]) -> None:
    """Never write these strings (longest first, so none is left half-hidden)."""
    _secrets.values = sorted({s for s in secrets if len(s) >= 4} | set(_secrets.values), key=len, reverse=True)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        fields = getattr(record, "fields", {})
        when = datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")
        entry: dict[str, Any] = {
            "time": when.replace("+00:00", "Z"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "event": getattr(record, "event", "log"),
            "message": record.getMessage(),
            **fields,
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(_secrets.scrub(entry), ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return _secrets.hide(super().format(record))


def configure(fmt: str, verbose: bool) -> None:
    """Logs to stderr. Text: warnings, and with ``verbose`` what happens. JSON is for
    programs, so it carries the events (info) too."""
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(TextFormatter("%(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    for previous in [h for h in root.handlers if getattr(h, "monitor", False)]:
        root.removeHandler(previous)  # configured again (tests run several commands in one process)
    handler.monitor = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(logging.INFO if verbose or fmt == "json" else logging.WARNING)
    logging.getLogger("httpx").setLevel(logging.WARNING)  # a line per request: the events say what matters


def event(name: str, message: str, **fields: Any) -> None:
    """Log one event: a line for people, an object with ``fields`` for programs."""
    logging.getLogger(EVENTS).info(message, extra={"event": name, "fields": fields})


def status_printer(fmt: str, echo: Callable[[str], None]) -> Callable[[str], None]:
    """The daemon's status lines: printed as they are, or as ``status`` events in JSON."""
    if fmt != "json":
        return echo
    return lambda line: event("status", line)
