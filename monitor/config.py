"""Load and validate the YAML configuration.

Secrets are written as ``${NAME}`` and resolved from the environment by a pure
function, so they never need to live in the file. Every problem is reported on one
line naming the key and, where the YAML says, the line.
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Iterator, Mapping
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit

import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, model_validator

from monitor.errors import ConfigError

DEFAULT_CONFIG_PATH = Path("config/monitor.yaml")
CONFIG_ENV = "MONITOR_CONFIG"
DATABASE_ENV = "MONITOR_DATABASE_URL"

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d|w)?\s*$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(value: object) -> timedelta:
    """``90``, ``"90s"``, ``"5m"``, ``"24h"``, ``"2d"``, ``"1w"`` → timedelta."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return timedelta(seconds=value)
    match = _DURATION.match(str(value))
    if not match:
        raise ValueError(f"{value!r} is not a duration; write e.g. 90s, 5m, 24h or 2d")
    number, unit = match.groups()
    return timedelta(seconds=float(number) * _UNIT_SECONDS[unit or "s"])


Duration = Annotated[timedelta, BeforeValidator(parse_duration)]


def parse_network(value: object) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    """``"10.0.0.0/8"``, ``"127.0.0.1"`` or ``"::1/128"`` → network."""
    try:
        return ipaddress.ip_network(str(value), strict=False)
    except ValueError:
        raise ValueError(f"{value!r} is not a network; write a CIDR such as 10.0.0.0/8") from None


Network = Annotated[ipaddress.IPv4Network | ipaddress.IPv6Network, BeforeValidator(parse_network)]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FeedConfig(_Section):
    url: str
    name: str = ""
    interval: Duration | None = None  # fixed polling interval, overriding the adaptive one

    @model_validator(mode="after")
    def _check(self) -> FeedConfig:
        parts = urlsplit(self.url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"{self.url!r} is not an http(s) URL")
        if not self.name:
            object.__setattr__(self, "name", feed_name_from_url(self.url))
        return self


def feed_name_from_url(url: str) -> str:
    """A short readable name for a feed: host without www, plus the path's first word."""
    parts = urlsplit(url)
    host = (parts.hostname or "feed").removeprefix("www.")
    path_words = [
        w for w in re.split(r"[^A-Za-z0-9]+", parts.path) if w and w not in ("rss", "xml", "feed", "atom", "index")
    ]
    return f"{host}/{path_words[0]}" if path_words else host


class TopicConfig(_Section):
    name: str = Field(min_length=1)
    query: str = Field(min_length=1)
    stem: bool = False  # match word forms through the article language's Snowball stemmer


class WebhookConfig(_Section):
    url: str
    secret: str | None = None
    name: str = ""  # the channel name in `monitor alerts`; derived from the URL's host

    @model_validator(mode="after")
    def _check(self) -> WebhookConfig:
        parts = urlsplit(self.url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"{self.url!r} is not an http(s) URL")
        if not self.name:
            object.__setattr__(self, "name", parts.hostname or "webhook")
        return self


class EmailConfig(_Section):
    host: str
    port: int = 587
    sender: str
    recipients: list[str] = Field(min_length=1)
    username: str | None = None
    password: str | None = None
    starttls: bool = True
    tls: bool = False  # implicit TLS (usually port 465) instead of STARTTLS
    verify_certificate: bool = True


class AlertsConfig(_Section):
    webhooks: list[WebhookConfig] = []
    email: EmailConfig | None = None
    retry_for: Duration = timedelta(days=3)  # an undeliverable alert is retried this long
    first_retry: Duration = timedelta(seconds=30)  # then doubling up to max_backoff
    max_backoff: Duration = timedelta(hours=1)

    @model_validator(mode="after")
    def _unique_channels(self) -> AlertsConfig:
        names = [w.name for w in self.webhooks]
        if len(names) != len(set(names)):
            raise ValueError("two webhooks have the same name; give each a distinct `name`")
        return self


class FetchConfig(_Section):
    allow_networks: list[Network] = []
    max_bytes: int = Field(default=10 * 1024 * 1024, gt=0)
    timeout: Duration = timedelta(seconds=30)  # overall deadline per request
    max_redirects: int = Field(default=5, ge=0)
    max_connections: int = Field(default=20, gt=0)
    max_per_host: int = Field(default=2, gt=0)
    contact_url: str = "https://github.com/monitor-news/monitor"


class PollingConfig(_Section):
    min_interval: Duration = timedelta(minutes=5)
    max_interval: Duration = timedelta(hours=24)
    jitter: float = Field(default=0.10, ge=0, lt=1)  # each interval times a random factor in [1-j, 1+j]
    failures_before_backoff: int = Field(default=3, ge=1)
    backoff_step: Duration = timedelta(hours=1)  # added per failure from then on, up to max_interval
    dead_after: Duration = timedelta(days=7)  # answering 404/410 this long: no longer polled
    tick: Duration = timedelta(seconds=30)  # how often `monitor run` looks for due feeds
    workers: int = Field(default=2, gt=0)  # processes for parsing and extraction


class StoriesConfig(_Section):
    window: Duration = timedelta(hours=72)  # how far back a new article looks for its story


class BackfillConfig(_Section):
    window: Duration = timedelta(0)  # a new or changed topic is matched against this much stored history
    alert: bool = False  # and its backfilled matches alert too


class Config(_Section):
    database: str = "sqlite:///data/monitor.db"
    feeds: list[FeedConfig] = []
    topics: list[TopicConfig] = []
    alerts: AlertsConfig = AlertsConfig()
    fetch: FetchConfig = FetchConfig()
    polling: PollingConfig = PollingConfig()
    stories: StoriesConfig = StoriesConfig()
    backfill: BackfillConfig = BackfillConfig()
    source: str = Field(default="<defaults>", exclude=True)

    @model_validator(mode="after")
    def _unique_names(self) -> Config:
        for kind, names in (
            ("feed", [f.name for f in self.feeds]),
            ("topic", [t.name for t in self.topics]),
        ):
            seen: set[str] = set()
            for name in names:
                if name in seen:
                    raise ValueError(f"two {kind}s are named {name!r}; names must be unique")
                seen.add(name)
        return self


_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def resolve_env(tree: Any, env: Mapping[str, str], path: tuple[str | int, ...] = ()) -> Any:
    """Replace every ``${NAME}`` in the strings of ``tree`` with ``env[NAME]``."""
    if isinstance(tree, dict):
        return {k: resolve_env(v, env, (*path, k)) for k, v in tree.items()}
    if isinstance(tree, list):
        return [resolve_env(v, env, (*path, i)) for i, v in enumerate(tree)]
    if isinstance(tree, str):

        def lookup(match: re.Match[str]) -> str:
            name = match.group(1)
            if name not in env:
                raise ConfigError(
                    f"{_dotted(path)}: environment variable {name} is not set; export it or edit the config"
                )
            return env[name]

        return _ENV_REF.sub(lookup, tree)
    return tree


def _dotted(path: tuple[str | int, ...]) -> str:
    return ".".join(str(p) for p in path) or "(top level)"


def _line_index(node: yaml.Node, path: tuple[str | int, ...] = ()) -> Iterator[tuple[tuple[str | int, ...], int]]:
    """Map each key path of a composed YAML document to its 1-based line."""
    yield path, node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            yield from _line_index(value, (*path, key.value))
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            yield from _line_index(item, (*path, i))


def parse_config(text: str, source: str = "<string>", env: Mapping[str, str] | None = None) -> Config:
    """Validate configuration text; raise ConfigError with one line per problem."""
    env = os.environ if env is None else env
    try:
        tree = yaml.safe_load(text)
        lines = dict(_line_index(node)) if (node := yaml.compose(text)) is not None else {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(f"{source}{where}: not valid YAML: {problem}") from None
    if tree is None:
        tree = {}
    if not isinstance(tree, dict):
        raise ConfigError(f"{source}: the top level must be a mapping of keys (database, feeds, topics, ...)")
    try:
        tree = resolve_env(tree, env)
    except ConfigError as exc:
        raise ConfigError(f"{source}: {exc}") from None
    if env.get(DATABASE_ENV):
        tree["database"] = env[DATABASE_ENV]
    try:
        config = Config.model_validate({**tree, "source": source})
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            loc = tuple(p for p in error["loc"] if not re.search(r"[\[(]", str(p)))
            line = next((lines[loc[:n]] for n in range(len(loc), 0, -1) if loc[:n] in lines), None)
            where = f" (line {line})" if line else ""
            message = error["msg"].removeprefix("Value error, ")
            if error["type"] == "extra_forbidden":
                message = "unknown key; see docs/configuration.md for the keys"
            problems.append(f"{source}: {_dotted(loc)}{where}: {message}")
        raise ConfigError("\n".join(problems)) from None
    return config


def load_config(path: str | os.PathLike[str] | None = None, env: Mapping[str, str] | None = None) -> Config:
    """Read the config file named by ``path``, ``$MONITOR_CONFIG`` or the default path."""
    env = os.environ if env is None else env
    chosen = Path(path or env.get(CONFIG_ENV) or DEFAULT_CONFIG_PATH)
    try:
        text = chosen.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{chosen}: no such config file; pass --config PATH or set {CONFIG_ENV}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{chosen}: cannot read the config file: {exc}") from None
    return parse_config(text, str(chosen), env)
