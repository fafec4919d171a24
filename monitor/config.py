"""Load and validate the YAML configuration.

Secrets are written as ``${NAME}`` and resolved from the environment by a pure
function, so they never need to live in the file. Every problem of a file is
reported in the same run, one line each, naming the key and, where the YAML says,
the line. The file's size, nesting and alias expansion are bounded before it is
built into objects, so no file can exhaust the stack or the memory.
"""

from __future__ import annotations

import ipaddress
import json
import math
import os
import re
from collections.abc import Callable, Iterator, Mapping
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import SplitResult, urlsplit

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from monitor.alerts.schedule import Schedule, parse_schedule
from monitor.errors import ConfigError, QueryError
from monitor.model import Routes
from monitor.stories.decision import THRESHOLD as DEFAULT_EVENT_THRESHOLD
from monitor.topics.parser import parse as parse_query

DEFAULT_CONFIG_PATH = Path("config/monitor.yaml")
CONFIG_ENV = "MONITOR_CONFIG"
DATABASE_ENV = "MONITOR_DATABASE_URL"

# A configuration is a few kilobytes; these bounds leave room for thousands of
# topics while keeping a hostile or mistaken file to a fraction of a second.
MAX_CONFIG_BYTES = 2 * 1024 * 1024
MAX_YAML_DEPTH = 50
MAX_YAML_VALUES = 200_000  # scalars and collections once aliases are expanded
MAX_DURATION = timedelta(days=3650)

_DURATION = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*(s|m|h|d|w)?\s*$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_HOST = re.compile(r"[A-Za-z0-9]([A-Za-z0-9_.-]*[A-Za-z0-9])?\Z")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\Z")
DATABASE_EXAMPLE = "write e.g. sqlite:///data/monitor.db or postgresql+psycopg://user:${PGPASSWORD}@host/db"


def _shown(value: object, limit: int = 60) -> str:
    """``repr`` of a value, cut short: a message stays one readable line."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 4] + "…" + text[-3:]


def parse_duration(value: object) -> timedelta:
    """``90``, ``"90s"``, ``"5m"``, ``"24h"``, ``"2d"``, ``"1w"`` → timedelta, at most 3650 days."""
    if isinstance(value, timedelta):
        seconds = value.total_seconds()
    elif isinstance(value, int | float) and not isinstance(value, bool):
        try:
            seconds = float(value)
        except OverflowError:  # an int too large for a float
            seconds = math.inf
    else:
        match = _DURATION.match(str(value))
        if not match:
            raise ValueError(f"{_shown(value)} is not a duration; write e.g. 90s, 5m, 24h or 2d")
        number, unit = match.groups()
        seconds = float(number) * _UNIT_SECONDS[unit or "s"]
    if math.isnan(seconds) or seconds < 0:
        raise ValueError(f"{_shown(value)} is not a duration; write e.g. 90s, 5m, 24h or 2d")
    if seconds > MAX_DURATION.total_seconds():
        raise ValueError(f"{_shown(value)} is too long; the longest duration accepted is {MAX_DURATION.days}d")
    return timedelta(seconds=seconds)


def _positive(value: timedelta) -> timedelta:
    if value <= timedelta(0):
        raise ValueError("must be longer than 0s; write e.g. 30s or 5m")
    return value


def _not_bool(value: object) -> object:
    if isinstance(value, bool):
        raise ValueError(f"expected a number, found {str(value).lower()}")
    return value


Duration = Annotated[timedelta, BeforeValidator(parse_duration)]
PositiveDuration = Annotated[timedelta, BeforeValidator(parse_duration), AfterValidator(_positive)]
Count = Annotated[int, BeforeValidator(_not_bool)]


def parse_network(value: object) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    """``"10.0.0.0/8"``, ``"127.0.0.1"`` or ``"::1/128"`` → network."""
    try:
        return ipaddress.ip_network(str(value), strict=False)
    except ValueError:
        raise ValueError(f"{_shown(value)} is not a network; write a CIDR such as 10.0.0.0/8") from None


Network = Annotated[ipaddress.IPv4Network | ipaddress.IPv6Network, BeforeValidator(parse_network)]


def check_http_url(url: str, *, shown: str | None = None) -> SplitResult:
    """The parts of an http(s) URL with a host and a valid port; ``ValueError`` otherwise.
    ``shown`` replaces the URL in messages when the URL may carry a secret."""
    what = shown if shown is not None else _shown(url)
    if any(c.isspace() or not c.isprintable() for c in url):
        raise ValueError(f"{what} contains a space or control character; percent-encode it (a space is %20)")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise ValueError(f"{what} has an invalid host or port; ports are 1 to 65535") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{what} is not an http(s) URL")
    if port == 0:
        raise ValueError(f"{what} has port 0; ports are 1 to 65535")
    return parts


def check_database_url(url: str) -> str:
    """A database URL SQLAlchemy can open with an installed driver; ``ValueError`` otherwise.
    Messages never repeat the URL, which may hold a password from the environment."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError

    if not url.strip():
        raise ValueError(f"the database URL is empty; {DATABASE_EXAMPLE}")
    if url != url.strip() or not url.isprintable():
        raise ValueError("the database URL has spaces around it or a control character in it")
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise ValueError(f"not an SQLAlchemy URL; {DATABASE_EXAMPLE}") from None
    except ValueError:  # a port that is not a number
        raise ValueError("the database port is not a number; ports are 1 to 65535") from None
    backend = parsed.get_backend_name()
    if backend not in ("sqlite", "postgresql"):
        raise ValueError(f"{backend!r} databases are not supported; use sqlite or postgresql")
    try:
        dialect = parsed.get_dialect()
    except NoSuchModuleError:
        raise ValueError(
            f"{parsed.drivername!r} names no SQLAlchemy driver; write postgresql+psycopg://… or sqlite:///…"
        ) from None
    try:
        dialect.import_dbapi()
    except ImportError:
        raise ValueError(
            f"the database driver {dialect.driver!r} is not installed; write postgresql+psycopg://… "
            "(psycopg comes with the monitor) or install it"
        ) from None
    if backend == "sqlite":
        if parsed.host or parsed.port or parsed.username:
            raise ValueError(
                "an SQLite URL names a file, not a host: write sqlite:///relative/path.db "
                "or sqlite:////absolute/path.db (three or four slashes)"
            )
        return url
    if parsed.port is not None and not 1 <= parsed.port <= 65535:
        raise ValueError(f"database port {parsed.port} is out of range; ports are 1 to 65535")
    if parsed.host and not (_HOST.match(parsed.host) or _is_ip(parsed.host)):
        raise ValueError(f"database host {_shown(parsed.host)} is not a host name or IP address")
    if any(c.isspace() for c in parsed.render_as_string(hide_password=True)):
        raise ValueError("the database URL contains a space; percent-encode it (%20)")
    return url


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class FeedConfig(_Section):
    url: str
    name: str = ""
    interval: PositiveDuration | None = None  # fixed polling interval, overriding the adaptive one

    @field_validator("url")
    @classmethod
    def _check_url(cls, url: str) -> str:
        check_http_url(url)
        return url

    @model_validator(mode="after")
    def _default_name(self) -> FeedConfig:
        if not self.name:
            object.__setattr__(self, "name", feed_name_from_url(self.url))
        return self


def feed_name_from_url(url: str) -> str:
    """A short readable name for a feed: host without www, plus the path's first word."""
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "feed").removeprefix("www.")
    except ValueError:  # an invalid IPv6 host: refused elsewhere
        return "feed"
    path_words = [
        w for w in re.split(r"[^A-Za-z0-9]+", parts.path) if w and w not in ("rss", "xml", "feed", "atom", "index")
    ]
    return f"{host}/{path_words[0]}" if path_words else host


class TopicConfig(_Section):
    name: str = Field(min_length=1)
    query: str = Field(min_length=1)
    stem: bool = False  # match word forms through the article language's Snowball stemmer
    updates: bool = False  # an alerted story that gains a language or 3 and 10 outlets alerts again
    channels: list[str] | None = None  # where its alerts go; None: every instant channel, []: none

    @field_validator("query")
    @classmethod
    def _check_query(cls, query: str, info: ValidationInfo) -> str:
        try:
            parse_query(query)
        except QueryError as error:
            name = info.data.get("name")
            topic = f"topic {json.dumps(name[:60], ensure_ascii=False)}: " if isinstance(name, str) else ""
            raise ValueError(f"{topic}{error}") from None
        return query


class WebhookConfig(_Section):
    url: str
    secret: str | None = None
    name: str = ""  # the channel name in `monitor alerts`; derived from the URL's host

    @field_validator("url")
    @classmethod
    def _check_url(cls, url: str) -> str:
        # Webhook URLs often carry a token in their path: messages show the host only.
        try:
            host = urlsplit(url).hostname or "?"
        except ValueError:
            host = "?"
        check_http_url(url, shown=f"the webhook URL (host {_shown(host)})")
        return url

    @model_validator(mode="after")
    def _default_name(self) -> WebhookConfig:
        if not self.name:
            object.__setattr__(self, "name", urlsplit(self.url).hostname or "webhook")
        return self


def _address(value: str) -> str:
    if not _EMAIL.match(value):
        raise ValueError(f"{_shown(value)} is not an email address")
    return value


Address = Annotated[str, AfterValidator(_address)]


class EmailConfig(_Section):
    host: str
    port: Count = Field(default=587, ge=1, le=65535)
    sender: Address
    recipients: list[Address] = Field(min_length=1)
    username: str | None = None
    password: str | None = None
    starttls: bool = True
    tls: bool = False  # implicit TLS (usually port 465) instead of STARTTLS
    verify_certificate: bool = True

    @field_validator("host")
    @classmethod
    def _check_host(cls, host: str) -> str:
        if not (_HOST.match(host) or _is_ip(host)):
            raise ValueError(f"{_shown(host)} is not a host name or IP address")
        return host


class DigestConfig(_Section):
    name: str = Field(min_length=1)
    channel: str = Field(min_length=1)
    topics: list[str] = Field(min_length=1)
    schedule: str  # "hourly", "daily 08:00 Europe/Berlin", "weekly mon 09:00 Asia/Jakarta"

    @field_validator("schedule")
    @classmethod
    def _check_schedule(cls, schedule: str) -> str:
        parse_schedule(schedule)  # its ValueError is the one-line message
        return schedule

    @property
    def parsed(self) -> Schedule:
        return parse_schedule(self.schedule)


class _Channel(_Section):
    """What every named channel has: a name, and whether unrouted topics alert it."""

    name: str = Field(min_length=1)
    instant: bool = True  # alerts of topics without `channels:` go here; false: only when named


class WebhookChannel(_Channel, WebhookConfig):
    type: Literal["webhook"]


class EmailChannel(_Channel, EmailConfig):
    type: Literal["email"]


class AppriseChannel(_Channel):
    type: Literal["apprise"]
    url: str

    @field_validator("url")
    @classmethod
    def _check_url(cls, url: str) -> str:
        # Apprise URLs carry their tokens everywhere: messages show the scheme only.
        scheme, separator, rest = url.partition("://")
        if not separator or not re.fullmatch(r"[A-Za-z][A-Za-z0-9+.-]*", scheme) or not rest:
            raise ValueError("is not an Apprise URL; write e.g. slack://TokenA/TokenB/TokenC or json://host/path")
        if any(c.isspace() or not c.isprintable() for c in url):
            raise ValueError(f"the {scheme}:// URL contains a space or control character; percent-encode it")
        return url


ChannelConfig = Annotated[WebhookChannel | EmailChannel | AppriseChannel, Field(discriminator="type")]


class AlertsConfig(_Section):
    channels: list[ChannelConfig] = []
    webhooks: list[WebhookConfig] = []  # shorthand: channel webhook:<name> each
    email: EmailConfig | None = None  # shorthand: channel email
    digests: list[DigestConfig] = []
    operator: str | None = None  # the channel told of failing feeds and alerts given up
    retry_for: PositiveDuration = timedelta(days=3)  # an undeliverable alert is retried this long
    first_retry: PositiveDuration = timedelta(seconds=30)  # then doubling up to max_backoff
    max_backoff: PositiveDuration = timedelta(hours=1)

    def every_channel(self) -> list[WebhookChannel | EmailChannel | AppriseChannel]:
        """The named channels, then the shorthand ones under their outbox names."""
        shorthand: list[WebhookChannel | EmailChannel | AppriseChannel] = [
            WebhookChannel(**hook.model_dump(exclude={"name"}), name=f"webhook:{hook.name}", type="webhook")
            for hook in self.webhooks
        ]
        if self.email is not None:
            shorthand.append(EmailChannel(**self.email.model_dump(), name="email", type="email"))
        return [*self.channels, *shorthand]


class FetchConfig(_Section):
    allow_networks: list[Network] = []
    max_bytes: Count = Field(default=10 * 1024 * 1024, gt=0, le=1024 * 1024 * 1024)
    timeout: PositiveDuration = timedelta(seconds=30)  # overall deadline per request
    max_redirects: Count = Field(default=5, ge=0, le=20)
    max_connections: Count = Field(default=20, gt=0, le=1000)
    max_per_host: Count = Field(default=2, gt=0, le=100)
    contact_url: str = "https://github.com/monitor-news/monitor"

    @field_validator("contact_url")
    @classmethod
    def _check_contact(cls, url: str) -> str:
        check_http_url(url)
        return url


class PollingConfig(_Section):
    min_interval: PositiveDuration = timedelta(minutes=5)
    max_interval: PositiveDuration = timedelta(hours=24)
    jitter: float = Field(default=0.10, ge=0, lt=1)  # each interval times a random factor in [1-j, 1+j]
    failures_before_backoff: Count = Field(default=3, ge=1, le=1000)
    backoff_step: Duration = timedelta(hours=1)  # added per failure from then on, up to max_interval
    dead_after: PositiveDuration = timedelta(days=7)  # answering 404/410 this long: no longer polled
    tick: PositiveDuration = timedelta(seconds=30)  # longest sleep of `monitor run` between looks at the feed table
    alert_after: PositiveDuration = timedelta(hours=24)  # a feed failing this long: alerts.operator is told
    workers: Count = Field(default=2, gt=0, le=64)  # processes for parsing and extraction

    @model_validator(mode="after")
    def _ordered(self) -> PollingConfig:
        if self.min_interval > self.max_interval:
            raise ValueError("min_interval is longer than max_interval")
        return self


class StoriesConfig(_Section):
    window: Duration = timedelta(hours=72)  # how far back a new article looks for its story
    # The fitted probability from which two articles are one event (monitor/stories/decision.py).
    event_threshold: float = Field(default=DEFAULT_EVENT_THRESHOLD, gt=0, lt=1, allow_inf_nan=False, strict=True)


class RetentionConfig(_Section):
    # Article text and story keys older than this are deleted daily (never less than the
    # story and backfill windows); None keeps them forever. Matches, alerts and stories stay.
    articles: PositiveDuration | None = None


class BackfillConfig(_Section):
    window: Duration = timedelta(0)  # a new or changed topic is matched against this much stored history
    alert: bool = False  # and its backfilled matches alert too


class ApiToken(_Section):
    name: str = Field(min_length=1)  # who holds it: shown in logs, never the token
    token: str = Field(min_length=16)  # write ${NAME}: the token comes from the environment
    scope: Literal["read", "admin"] = "read"  # admin may also retry failed alerts


def parse_listen(value: str) -> tuple[str, int]:
    """``"127.0.0.1:8080"``, ``"[::1]:8080"``, ``"localhost:80"`` → (host, port); ``ValueError`` otherwise."""
    host, sep, port = str(value).rpartition(":")
    host = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    if not sep or not port.isdigit() or not 1 <= int(port) <= 65535:
        raise ValueError(f"{_shown(value)} is not HOST:PORT; write e.g. 127.0.0.1:8080 (ports are 1 to 65535)")
    if not (_HOST.match(host) or _is_ip(host)):
        raise ValueError(f"{_shown(value)}: {_shown(host)} is not a host name or IP address")
    return host, int(port)


def is_loopback(host: str) -> bool:
    """Whether ``host`` is reachable from this machine only (a name other than localhost counts as not)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class ApiConfig(_Section):
    listen: str = "127.0.0.1:8080"  # HOST:PORT of `monitor serve` and `monitor run --serve`
    tokens: list[ApiToken] = []  # required to listen beyond loopback

    @field_validator("listen")
    @classmethod
    def _check_listen(cls, listen: str) -> str:
        parse_listen(listen)
        return listen

    @model_validator(mode="after")
    def _unique(self) -> ApiConfig:
        names = [t.name for t in self.tokens]
        if len(set(names)) != len(names):
            raise ValueError("two tokens share a name; names must be unique")
        if len({t.token for t in self.tokens}) != len(self.tokens):
            raise ValueError("two tokens are the same; give each holder its own")
        return self


class MetricsConfig(_Section):
    listen: str | None = None  # host:port where `monitor run` serves /metrics; off when unset

    @field_validator("listen")
    @classmethod
    def _check_listen(cls, listen: str | None) -> str | None:
        if listen is not None:
            parse_listen(listen)
        return listen


class Config(_Section):
    database: Annotated[str, AfterValidator(check_database_url)] = "sqlite:///data/monitor.db"
    feeds: list[FeedConfig] = []
    topics: list[TopicConfig] = []
    alerts: AlertsConfig = AlertsConfig()
    fetch: FetchConfig = FetchConfig()
    polling: PollingConfig = PollingConfig()
    stories: StoriesConfig = StoriesConfig()
    backfill: BackfillConfig = BackfillConfig()
    api: ApiConfig = ApiConfig()
    retention: RetentionConfig = RetentionConfig()
    metrics: MetricsConfig = MetricsConfig()
    source: str = Field(default="<defaults>", exclude=True)

    def secrets(self) -> list[str]:
        """What logs must never show: webhook secrets and URLs (which often carry a token
        in their path), the SMTP password, the database password, the API tokens."""
        from sqlalchemy.engine import make_url

        found = [value for hook in self.alerts.webhooks for value in (hook.url, hook.secret) if value]
        found += [t.token for t in self.api.tokens]
        if self.alerts.email is not None and self.alerts.email.password:
            found.append(self.alerts.email.password)
        if password := make_url(self.database).password:
            found.append(str(password))
        return found

    def routes(self) -> Routes:
        """Which channels each topic alerts: those it names, or every instant channel."""
        instant = tuple(channel.name for channel in self.alerts.every_channel() if channel.instant)
        named = {t.name: tuple(t.channels) for t in self.topics if t.channels is not None}
        return Routes(default=instant, by_topic=named)


def _route_problems(config: Config) -> Iterator[tuple[KeyPath, str]]:
    """Channels named twice (a named channel and a shorthand one), and routes to channels that do not exist."""
    names: set[str] = set()
    for index, channel in enumerate(config.alerts.every_channel()):
        if channel.name in names:
            named = index < len(config.alerts.channels)
            where: KeyPath = ("alerts", "channels", index, "name") if named else ("alerts",)
            yield where, f"two channels are named {_shown(channel.name)}; names must be unique"
        names.add(channel.name)
    known = ", ".join(sorted(names)) or "none is configured"
    for t, topic in enumerate(config.topics):
        for c, name in enumerate(topic.channels or ()):
            if name not in names:
                yield (
                    ("topics", t, "channels", c),
                    f"topic {_shown(topic.name)} routes to channel {_shown(name)}, which does not exist "
                    f"(channels: {known})",
                )


# --- reading the file ----------------------------------------------------------------------

KeyPath = tuple[str | int, ...]
# libyaml's parser when PyYAML was built with it: 40 times faster at reading events.
_YamlLoader: type[yaml.SafeLoader] | type[yaml.CSafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_ENV_REF = re.compile(r"\$\{([^}]*)\}")
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


def resolve_env(
    tree: Any,
    env: Mapping[str, str],
    path: KeyPath = (),
    problems: list[tuple[KeyPath, str]] | None = None,
) -> Any:
    """Replace every ``${NAME}`` in the strings of ``tree`` with ``env[NAME]``.

    Problems (a variable not set, a name that cannot be one, a ``${`` never closed)
    are appended to ``problems`` and the string is left as written; without a list
    the first one raises ``ConfigError``."""
    collected: list[tuple[KeyPath, str]] = [] if problems is None else problems
    resolved = _resolve(tree, env, path, collected)
    if problems is None and collected:
        where, message = collected[0]
        raise ConfigError(f"{_dotted(where)}: {message}")
    return resolved


def _resolve(tree: Any, env: Mapping[str, str], path: KeyPath, problems: list[tuple[KeyPath, str]]) -> Any:
    if isinstance(tree, dict):
        return {k: _resolve(v, env, (*path, k), problems) for k, v in tree.items()}
    if isinstance(tree, list):
        return [_resolve(v, env, (*path, i), problems) for i, v in enumerate(tree)]
    if not isinstance(tree, str) or "${" not in tree:
        return tree
    found: list[str] = []

    def lookup(match: re.Match[str]) -> str:
        name = match.group(1)
        if not _ENV_NAME.match(name):
            written = name.encode("unicode_escape").decode("ascii")[:40]
            found.append(
                f"${{{written}}} is not an environment variable name (letters, digits and _, not starting with a digit)"
            )
        elif name not in env:
            found.append(f"environment variable {name} is not set; export it or edit the config")
        else:
            return env[name]
        return match.group(0)

    resolved = _ENV_REF.sub(lookup, tree)
    if "${" in _ENV_REF.sub("", tree):
        found.append("a ${ is never closed; write ${NAME}")
    problems.extend((path, message) for message in found)
    return tree if found else resolved


def _dotted(path: KeyPath) -> str:
    # A key is shown as written unless it would break the line or hide in a dotted path.
    shown = (str(p) if str(p).isprintable() and "." not in str(p) and str(p) else _shown(p) for p in path)
    return ".".join(shown) or "(top level)"


def _line_of(event: yaml.Event) -> int:
    return event.start_mark.line + 1 if event.start_mark is not None else 0


def _check_shape(text: str, source: str) -> None:
    """Refuse, from the YAML events alone, nesting deeper than MAX_YAML_DEPTH and aliases
    that expand to more than MAX_YAML_VALUES values (the "billion laughs")."""
    anchored: dict[str, int] = {}  # anchor -> values it stands for
    open_collections: list[list[Any]] = []  # [anchor, values so far]
    total = 0
    for event in yaml.parse(text, Loader=_YamlLoader):
        if isinstance(event, yaml.CollectionEndEvent):
            anchor, count = open_collections.pop()
            if anchor is not None:
                anchored[anchor] = count
            if open_collections:
                open_collections[-1][1] += count
            continue
        if isinstance(event, yaml.AliasEvent):
            if any(entry[0] == event.anchor for entry in open_collections):
                raise ConfigError(
                    f"{source} line {_line_of(event)}: the alias *{event.anchor} refers to the "
                    "collection it is in; an alias cannot contain itself"
                )
            weight = anchored.get(event.anchor or "", 1)  # an undefined alias is reported when composing
        elif isinstance(event, yaml.ScalarEvent | yaml.CollectionStartEvent):
            weight = 1
        else:
            continue
        total += weight
        if total > MAX_YAML_VALUES:
            raise ConfigError(
                f"{source} line {_line_of(event)}: aliases expand the file to more than "
                f"{MAX_YAML_VALUES} values; write the values out or use fewer aliases"
            )
        if isinstance(event, yaml.CollectionStartEvent):
            if len(open_collections) >= MAX_YAML_DEPTH:
                raise _too_deep(source, _line_of(event))
            open_collections.append([event.anchor, 1])
        else:
            if isinstance(event, yaml.ScalarEvent) and event.anchor is not None:
                anchored[event.anchor] = 1
            if open_collections:
                open_collections[-1][1] += weight


def _too_deep(source: str, line: int) -> ConfigError:
    return ConfigError(
        f"{source} line {line}: the YAML nests deeper than {MAX_YAML_DEPTH} levels; a configuration needs a few"
    )


def _too_large(source: str) -> ConfigError:
    return ConfigError(f"{source}: the file is larger than {MAX_CONFIG_BYTES // 1024 // 1024} MiB; is it the config?")


def _read_yaml(text: str, source: str) -> tuple[Any, dict[KeyPath, int]]:
    """The document's data and the line of each key path; ``ConfigError`` for a file
    that is too large, too deep, an alias bomb or not YAML."""
    if len(text) > MAX_CONFIG_BYTES:
        raise ConfigError(
            f"{source}: the file is larger than {MAX_CONFIG_BYTES // 1024 // 1024} MiB; is it the config?"
        )
    try:
        _check_shape(text, source)
        loader = _YamlLoader(text)
        try:
            node = loader.get_single_node()
            tree = loader.construct_document(node) if node is not None else None
        finally:
            loader.dispose()
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        if "nesting depth" in problem:  # libyaml's own limit, met while reading ahead
            raise _too_deep(source, mark.line + 1 if mark else 0) from None
        raise ConfigError(f"{source}{where}: not valid YAML: {problem}") from None
    return tree, (dict(_line_index(node)) if node is not None else {})


def _line_index(node: yaml.Node, path: KeyPath = ()) -> Iterator[tuple[KeyPath, int]]:
    """Map each key path of a composed YAML document to its 1-based line."""
    yield path, node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            if isinstance(key, yaml.ScalarNode):
                yield from _line_index(value, (*path, key.value))
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            yield from _line_index(item, (*path, i))


def _duplicate_names(tree: Mapping[Any, Any]) -> Iterator[tuple[KeyPath, str]]:
    """Feeds, topics and webhooks sharing a name, checked on the raw file so that the
    rest of a section being wrong does not hide it."""
    defaults: tuple[tuple[KeyPath, str, Callable[[str], str]], ...] = (
        (("feeds",), "feeds", feed_name_from_url),
        (("topics",), "topics", lambda url: ""),
        (("alerts", "webhooks"), "webhooks", _webhook_host),
        (("alerts", "digests"), "digests", lambda url: ""),
        (("alerts", "channels"), "channels", lambda url: ""),
    )
    for section, kind, default in defaults:
        items: Any = tree
        for key in section:
            items = items.get(key) if isinstance(items, dict) else None
        if not isinstance(items, list):
            continue
        seen: set[str] = set()
        for index, item in enumerate(items):
            if not isinstance(item, dict):
                continue
            name = item.get("name")
            where: KeyPath = (*section, index, "name")
            if not name and isinstance(item.get("url"), str):
                name = default(item["url"])
                where = (*section, index, "url")
            if not isinstance(name, str) or not name:
                continue
            if name in seen:
                yield where, f"two {kind} are named {_shown(name)}; names must be unique"
            seen.add(name)


def _unknown_references(config: Config) -> Iterator[tuple[KeyPath, str]]:
    """Digests and the operator naming a topic or channel that is not configured."""
    channels = {channel.name for channel in config.alerts.every_channel()}
    known = f"(channels: {', '.join(sorted(channels)) or 'none is configured'})"
    topics = {t.name for t in config.topics}
    for index, digest in enumerate(config.alerts.digests):
        where: KeyPath = ("alerts", "digests", index)
        if digest.channel not in channels:
            unknown = f"unknown channel {_shown(digest.channel)} {known}"
            yield (*where, "channel"), f"digest {_shown(digest.name)}: {unknown}"
        for position, topic in enumerate(digest.topics):
            if topic not in topics:
                yield (*where, "topics", position), f"digest {_shown(digest.name)}: unknown topic {_shown(topic)}"
    if config.alerts.operator is not None and config.alerts.operator not in channels:
        yield ("alerts", "operator"), f"unknown channel {_shown(config.alerts.operator)} {known}"


def _webhook_host(url: str) -> str:
    try:
        return urlsplit(url).hostname or "webhook"
    except ValueError:
        return ""


_MESSAGES = {
    "extra_forbidden": "unknown key; see docs/configuration.md for the keys",
    "missing": "required key is missing",
    "model_type": "expected a mapping of keys",
    "model_attributes_type": "expected a mapping of keys",
    "invalid_key": "keys must be strings",
}


def parse_config(text: str, source: str = "<string>", env: Mapping[str, str] | None = None) -> Config:
    """Validate configuration text; raise ConfigError with one line per problem, all of them."""
    env = os.environ if env is None else env
    tree, lines = _read_yaml(text, source)
    if tree is None:
        tree = {}
    if not isinstance(tree, dict):
        raise ConfigError(f"{source}: the top level must be a mapping of keys (database, feeds, topics, ...)")
    located: list[tuple[KeyPath, str]] = []
    if "source" in tree:  # a field of Config, set from the file's name, not a key of the file
        located.append((("source",), _MESSAGES["extra_forbidden"]))
    tree = resolve_env(tree, env, problems=located)
    if env.get(DATABASE_ENV):
        # The file's database is not used, so neither are the variables it names.
        located = [(where, message) for where, message in located if where != ("database",)]
        tree["database"] = env[DATABASE_ENV]
        lines.pop(("database",), None)
    located.extend(_duplicate_names(tree))
    config: Config | None = None
    try:
        config = Config.model_validate({**tree, "source": source})
    except ValidationError as exc:
        unresolved = [where for where, _ in located]
        for error in exc.errors():
            loc = tuple(p for p in error["loc"] if not re.search(r"[\[(]", str(p)))
            if any(loc[: len(where)] == where for where in unresolved):
                continue  # the ${NAME} there is reported already
            message = _MESSAGES.get(error["type"]) or error["msg"].removeprefix("Value error, ")
            if loc == ("database",) and env.get(DATABASE_ENV):
                message = f"(from {DATABASE_ENV}) {message}"
            located.append((loc, message))
    if config is not None:
        located.extend(_route_problems(config))
        located.extend(_unknown_references(config))
    if not located:
        assert config is not None
        return config
    problems = []
    for loc, message in located:
        line = next((lines[loc[:n]] for n in range(len(loc), 0, -1) if loc[:n] in lines), None)
        where = f" (line {line})" if line else ""
        problems.append((line or 0, f"{source}: {_dotted(loc)}{where}: {message}"))
    problems.sort(key=lambda p: p[0])  # in file order; stable for problems on one line
    raise ConfigError("\n".join(text for _, text in problems))


def load_config(path: str | os.PathLike[str] | None = None, env: Mapping[str, str] | None = None) -> Config:
    """Read the config file named by ``path``, ``$MONITOR_CONFIG`` or the default path."""
    env = os.environ if env is None else env
    chosen = Path(path or env.get(CONFIG_ENV) or DEFAULT_CONFIG_PATH)
    try:
        with chosen.open("rb") as file:
            data = file.read(MAX_CONFIG_BYTES + 1)
    except FileNotFoundError:
        raise ConfigError(f"{chosen}: no such config file; pass --config PATH or set {CONFIG_ENV}") from None
    except OSError as exc:
        raise ConfigError(f"{chosen}: cannot read the config file: {exc.strerror or exc}") from None
    if len(data) > MAX_CONFIG_BYTES:
        raise ConfigError(
            f"{chosen}: the file is larger than {MAX_CONFIG_BYTES // 1024 // 1024} MiB; is it the config?"
        )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{chosen}: byte {exc.start + 1} is not UTF-8; save the file as UTF-8") from None
    return parse_config(text, str(chosen), env)
