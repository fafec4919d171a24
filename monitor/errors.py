"""One exception root for every failure a user can be shown.

Each subclass is one sentence of the form "what, where, what to do"; the CLI prints
``str(error)`` on one line and exits non-zero, never a traceback.
"""


class MonitorError(Exception):
    """The monitor failed; run with --verbose for details."""

    exit_code = 1

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or (self.__doc__ or "").strip())


class ConfigError(MonitorError):
    """The configuration is invalid; fix the keys named above and run `monitor check-config`."""

    exit_code = 2


class UsageError(MonitorError):
    """A command-line argument is invalid; see the command's --help."""

    exit_code = 2


class QueryError(MonitorError):
    """A topic query does not parse; see docs/query-language.md."""

    exit_code = 2


class FetchError(MonitorError):
    """A URL could not be fetched."""


class ParseError(MonitorError):
    """A feed or page could not be parsed."""


class DeliveryError(MonitorError):
    """An alert could not be delivered; it stays queued and is retried."""


class DatabaseError(MonitorError):
    """The database cannot be used; check `database` in the config."""


class StorageError(DatabaseError):
    """The database cannot be written now (disk full, read-only, unreachable); nothing was stored."""
