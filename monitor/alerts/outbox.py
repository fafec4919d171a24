"""The outbox dispatcher: deliver queued alerts, at least once, with retries.

Alert rows are written in the same transaction as their match (store.repository), so
a crash between storing and sending loses nothing: the row is still pending and the
next run delivers it. Rows are leased, so several workers never send one twice at once.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx
from sqlalchemy.engine import Engine

from monitor.alerts.email import SmtpSettings, deliver_email
from monitor.alerts.render import AlertContent
from monitor.alerts.webhook import WebhookDeliveryError, deliver_webhook
from monitor.config import AlertsConfig
from monitor.errors import DeliveryError
from monitor.store import repository
from monitor.store.tables import utcnow

log = logging.getLogger(__name__)

Send = Callable[[AlertContent], Awaitable[None]]


@dataclass
class DeliveryStats:
    delivered: int = 0
    retrying: int = 0
    failed: int = 0


def channels(config: AlertsConfig, client: httpx.AsyncClient) -> dict[str, Send]:
    """Every configured channel by its name in the outbox (``webhook:<name>``, ``email``)."""
    found: dict[str, Send] = {}
    for hook in config.webhooks:

        async def send_webhook(alert: AlertContent, url: str = hook.url, secret: str | None = hook.secret) -> None:
            await deliver_webhook(client, url, secret, alert)

        found[f"webhook:{hook.name}"] = send_webhook
    if (mail := config.email) is not None:
        settings = SmtpSettings(
            host=mail.host,
            port=mail.port,
            sender=mail.sender,
            recipients=tuple(mail.recipients),
            username=mail.username,
            password=mail.password,
            starttls=mail.starttls,
            tls=mail.tls,
            verify_certificate=mail.verify_certificate,
        )

        async def send_email(alert: AlertContent) -> None:
            await deliver_email(settings, alert)

        found["email"] = send_email
    return found


def retry_at(
    attempts: int, created_at: datetime, now: datetime, config: AlertsConfig, hint: float | None
) -> datetime | None:
    """When to try again after ``attempts`` failures: doubling from ``first_retry``, capped; None to give up."""
    if now - created_at >= config.retry_for:
        return None
    wait: timedelta = min(config.first_retry * 2 ** max(attempts - 1, 0), config.max_backoff)
    if hint is not None:  # the receiver's Retry-After, if it said one
        wait = max(wait, timedelta(seconds=hint))
    return now + wait


async def deliver_due(
    engine: Engine,
    senders: Mapping[str, Send],
    config: AlertsConfig,
    owner: str,
    clock: Callable[[], datetime] = utcnow,
) -> DeliveryStats:
    """Send every alert whose time has come; failures are recorded and retried later."""
    stats = DeliveryStats()
    # Only what was due when the round began: an alert that fails now waits for a later
    # round, however long this one takes (a slow round must not hammer a receiver).
    round_began = clock()
    while ids := repository.claim_due_alerts(engine, owner, round_began):
        for alert_id in ids:
            loaded = repository.load_alert(engine, alert_id)
            if loaded is None:
                continue
            row, content = loaded
            send = senders.get(row.channel)
            try:
                if send is None:
                    raise DeliveryError(
                        f"channel {row.channel} is not in the configuration any more; add it back to deliver"
                    )
                await send(content)
            except DeliveryError as exc:
                hint = exc.retry_after if isinstance(exc, WebhookDeliveryError) else None
                when = retry_at(row.attempts + 1, row.created_at or clock(), clock(), config, hint) if send else None
                repository.mark_attempt_failed(engine, alert_id, str(exc), when)
                log.warning("alert %s (%s, %s): %s", alert_id, row.topic, row.channel, exc)
                if when is None:
                    stats.failed += 1
                else:
                    stats.retrying += 1
            else:
                repository.mark_delivered(engine, alert_id, clock())
                stats.delivered += 1
    return stats
