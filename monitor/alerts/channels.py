"""The channel registry: every configured channel by name, each with its sender.

Built once per process by the composition root (``monitor.service.channel_registry``);
the dispatcher, the CLI and every kind of notice (alerts, digests, operator messages)
look channels up here and nowhere else. A channel sends a rendered ``Message``; what it
says is decided elsewhere. No secret leaves this module: ``target`` shows where a
channel sends without tokens or passwords, and every ``DeliveryError`` a send raises
has the channel's secrets replaced by ``…``.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl, unquote, urlsplit

import httpx

from monitor.alerts.email import SmtpSettings, deliver_email
from monitor.alerts.render import Message
from monitor.alerts.webhook import WebhookDeliveryError, deliver_webhook, display_url
from monitor.errors import DeliveryError

if TYPE_CHECKING:  # Apprise is imported by the first send through it: loading its plugins costs 30 ms of CPU
    import apprise

Send = Callable[[Message], Awaitable[None]]

APPRISE_TIMEOUT = 30.0  # seconds for one Apprise notification, whatever the service
_SHORTEST_SECRET = 4  # shorter URL parts (a port, "v1") are not worth hiding and would garble lines

# Apprise logs failures with the service's URL parts (on its logger, "apprise"); its lines reach
# the operator only through the redacted DeliveryError, never through the root logger.
logging.getLogger("apprise").propagate = False


@dataclass(frozen=True)
class Channel:
    """One named channel: where it sends (``target``, safe to show) and how (``send``)."""

    name: str  # as in the outbox and `monitor alerts`: the config's name, or webhook:<name> / email
    kind: str  # webhook, email or apprise
    target: str  # e.g. "https://hooks.example.org/…", "smtp mail.example.org:587", "slack://…"
    send: Send
    instant: bool = True  # receives the alerts of every topic without a `channels:` route
    secrets: tuple[str, ...] = ()  # strings never to show: tokens, passwords, URL paths

    def redact(self, text: str) -> str:
        """``text`` with every secret of this channel replaced by ``…``."""
        for secret in sorted(self.secrets, key=len, reverse=True):
            text = text.replace(secret, "…")
        return text


class ChannelRegistry(Mapping[str, Channel]):
    """The process's channels by name. ``deliver`` sends through one and redacts failures."""

    def __init__(self, channels: Iterable[Channel] = ()) -> None:
        self._channels: dict[str, Channel] = {}
        for channel in channels:
            if channel.name in self._channels:
                raise ValueError(f"two channels are named {channel.name!r}")
            self._channels[channel.name] = channel

    def __getitem__(self, name: str) -> Channel:
        return self._channels[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._channels)

    def __len__(self) -> int:
        return len(self._channels)

    @property
    def instant(self) -> tuple[str, ...]:
        """The channels a topic without ``channels:`` alerts."""
        return tuple(name for name, channel in self._channels.items() if channel.instant)

    async def deliver(self, name: str, message: Message) -> None:
        """Send ``message`` through channel ``name``; ``DeliveryError`` (secrets redacted) when it fails."""
        channel = self._channels.get(name)
        if channel is None:
            raise DeliveryError(f"channel {name} is not in the configuration any more; add it back to deliver")
        try:
            await channel.send(message)
        except WebhookDeliveryError as error:
            raise WebhookDeliveryError(
                channel.redact(str(error)), status=error.status, retry_after=error.retry_after
            ) from None
        except DeliveryError as error:
            raise DeliveryError(channel.redact(str(error))) from None


# --- the kinds of channel -------------------------------------------------------------------


def webhook_channel(
    name: str, client: httpx.AsyncClient, url: str, secret: str | None, *, instant: bool = True
) -> Channel:
    """A signed JSON POST of the message's payload (monitor.alerts.webhook)."""

    async def send(message: Message) -> None:
        await deliver_webhook(client, url, secret, message)

    return Channel(name, "webhook", display_url(url), send, instant, (*url_secrets(url), *_given(secret)))


def email_channel(name: str, settings: SmtpSettings, *, instant: bool = True) -> Channel:
    """One multipart email per message over SMTP (monitor.alerts.email)."""

    async def send(message: Message) -> None:
        await deliver_email(settings, message)

    return Channel(name, "email", f"smtp {settings.host}:{settings.port}", send, instant, _given(settings.password))


def apprise_channel(name: str, url: str, *, instant: bool = True, timeout: float = APPRISE_TIMEOUT) -> Channel:
    """Any Apprise URL (Slack, Telegram, Matrix, ntfy, json://...): the message's subject and text."""
    scheme = url.partition("://")[0]
    where = f"{scheme}://…"
    secrets = url_secrets(url)

    async def send(message: Message) -> None:
        import apprise

        notifier = apprise.Apprise()
        if not notifier.add(url):
            raise DeliveryError(f"apprise {where}: Apprise does not understand this URL; check it in the config")
        try:
            async with asyncio.timeout(timeout * 2):  # Apprise bounds each service; this bounds the whole call
                result = await asyncio.to_thread(
                    notifier.notify,
                    body=message.text,
                    title=message.subject,
                    body_format=apprise.NotifyFormat.TEXT,
                    timeout=timeout,
                )
        except TimeoutError:
            raise DeliveryError(f"apprise {where}: no answer within {timeout * 2:g} s; will retry") from None
        if not result:
            raise DeliveryError(f"apprise {where}: not delivered ({_apprise_reason(result)}); will retry")

    return Channel(name, "apprise", where, send, instant, secrets)


def _apprise_reason(result: apprise.AppriseResult) -> str:
    lines = [" ".join(str(entry.message).split()) for entry in result.logs()]
    return (lines[-1] if lines else "") or "the service refused it"


def url_secrets(url: str) -> tuple[str, ...]:
    """The parts of a URL that may be secret: user, password, host labels of a token-like
    host, path segments and query values; each also percent-decoded."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return (url,)
    found = [parts.username or "", parts.password or "", parts.path, parts.query, parts.fragment]
    # Apprise URLs put tokens where a host would be (slack://TokenA/TokenB/...).
    found += [parts.netloc.rpartition("@")[2]] if parts.scheme not in ("http", "https") else []
    found += re.split(r"[/,]", parts.path)
    found += [value for _, value in parse_qsl(parts.query)]
    found += [unquote(text) for text in found]
    return tuple(sorted({text for text in found if len(text) >= _SHORTEST_SECRET}, key=len, reverse=True))


def _given(secret: str | None) -> tuple[str, ...]:
    return (secret,) if secret else ()
