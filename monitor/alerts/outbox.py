"""The outbox dispatcher: deliver queued alerts, at least once, with retries.

Alert rows are written in the same transaction as their match (store.repository), so
a crash between storing and sending loses nothing: the row is still pending and the
next run delivers it. Rows are leased, so several workers never send one twice at once.

Each channel is delivered on its own, a few alerts at a time, each send under one
overall deadline: a receiver that accepts connections and never answers delays its own
channel only. In the daemon the dispatcher is a task of its own beside polling.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import httpx

from monitor import metrics
from monitor.alerts.email import SmtpSettings, deliver_email
from monitor.alerts.webhook import WebhookDeliveryError, deliver_webhook
from monitor.config import AlertsConfig
from monitor.errors import DeliveryError, StorageError
from monitor.model import AlertContent
from monitor.store.db import StorageHealth
from monitor.store.interface import LEASE, HeldLeases, Store
from monitor.store.tables import utcnow

log = logging.getLogger(__name__)

Send = Callable[[AlertContent], Awaitable[None]]


PER_CHANNEL = 4  # alerts in flight at once per channel
# Bounds one send whatever the channel: webhooks give up after 10 s, email after 2 x 30 s.
SEND_DEADLINE = timedelta(seconds=60)


@dataclass
class DeliveryStats:
    delivered: int = 0
    retrying: int = 0
    failed: int = 0

    def __add__(self, other: DeliveryStats) -> DeliveryStats:
        return DeliveryStats(
            self.delivered + other.delivered, self.retrying + other.retrying, self.failed + other.failed
        )

    def __bool__(self) -> bool:
        return bool(self.delivered or self.retrying or self.failed)


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


@dataclass
class Dispatcher:
    """Delivers the outbox of one process: each channel on its own, ``per_channel`` at a time."""

    store: Store
    senders: Mapping[str, Send]
    config: AlertsConfig
    owner: str
    held: HeldLeases = field(default_factory=HeldLeases)
    storage: StorageHealth = field(default_factory=StorageHealth)
    lease: timedelta = LEASE
    per_channel: int = PER_CHANNEL
    send_deadline: timedelta = SEND_DEADLINE
    clock: Callable[[], datetime] = utcnow
    _wakes: dict[str, asyncio.Event] = field(default_factory=dict, init=False)
    _stopping: bool = field(default=False, init=False)

    async def deliver_due(self) -> DeliveryStats:
        """One round over every channel at once; returns when each has sent what was due."""
        # Only what was due when the round began: an alert that fails now waits for a later
        # round, however long this one takes (a slow round must not hammer a receiver).
        due_by = self.clock()
        rounds = [self.deliver_channel(channel, due_by) for channel in self.senders]
        total = DeliveryStats()
        for stats in await asyncio.gather(self._give_up_unconfigured(due_by), *rounds):
            total += stats
        return total

    async def deliver_channel(
        self, channel: str, due_by: datetime | None = None, *, every: timedelta | None = None
    ) -> DeliveryStats:
        """Send the due alerts of one channel, ``per_channel`` at a time: those due by ``due_by``;
        or (None) whatever is due whenever a slot is free, looking again on ``wake`` and every ``every``."""
        return await self._deliver(due_by, self.senders[channel], channels=[channel], every=every)

    async def _give_up_unconfigured(self, due_by: datetime | None) -> DeliveryStats:
        return await self._deliver(due_by, None, other_than=list(self.senders))

    async def _deliver(
        self,
        due_by: datetime | None,
        send: Send | None,
        *,
        channels: list[str] | None = None,
        other_than: list[str] | None = None,
        every: timedelta | None = None,
    ) -> DeliveryStats:
        """Send the due alerts ``per_channel`` at a time: a slot that frees takes the next one at
        once, so one send that hangs costs the channel one slot, not its whole batch."""
        stats = DeliveryStats()
        sending: set[asyncio.Task[None]] = set()
        wake = self._wakes.get(channels[0] if channels else "") if due_by is None else None
        try:
            while True:
                free = 0 if self._stopping else self.per_channel - len(sending)
                if free:
                    ids = metrics.timed_write("claim alerts", self.store.claim_due_alerts)(
                        self.owner,
                        due_by or self.clock(),
                        limit=free,
                        lease=self.lease,
                        channels=channels,
                        other_than=other_than,
                    )
                    self.held.alerts.update(ids)
                    sending.update(asyncio.create_task(self._deliver_one(i, send, stats)) for i in ids)
                if not sending:
                    return stats
                done, sending = await self._next_free_slot(sending, wake, every)
                for task in done:
                    task.result()  # a StorageError ends the round; the alerts in flight stay queued
        finally:
            for task in sending:
                task.cancel()
            await asyncio.gather(*sending, return_exceptions=True)

    async def _next_free_slot(
        self, sending: set[asyncio.Task[None]], wake: asyncio.Event | None, every: timedelta | None
    ) -> tuple[set[asyncio.Task[None]], set[asyncio.Task[None]]]:
        """Wait until a send ends; with free slots, also until new alerts are queued or ``every`` passes."""
        if wake is None or len(sending) >= self.per_channel:
            return await asyncio.wait(sending, return_when=asyncio.FIRST_COMPLETED)
        woken = asyncio.create_task(_until(wake))
        try:
            timeout = every.total_seconds() if every else None
            done, pending = await asyncio.wait({*sending, woken}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        finally:
            woken.cancel()
        wake.clear()
        return done - {woken}, pending - {woken}

    async def _deliver_one(self, alert_id: int, send: Send | None, stats: DeliveryStats) -> None:
        try:
            due = self.store.load_alert(alert_id)
            if due is None:
                return
            try:
                if send is None:
                    raise DeliveryError(
                        f"channel {due.channel} is not in the configuration any more; add it back to deliver"
                    )
                try:
                    async with asyncio.timeout(self.send_deadline.total_seconds()):
                        await send(due.content)
                except TimeoutError:
                    raise DeliveryError(
                        f"{due.channel}: no answer within {self.send_deadline.total_seconds():g} s; will retry"
                    ) from None
            except DeliveryError as exc:
                hint = exc.retry_after if isinstance(exc, WebhookDeliveryError) else None
                now = self.clock()
                when = retry_at(due.attempts + 1, due.content.created_at, now, self.config, hint) if send else None
                metrics.timed_write("alert outcomes", self.store.mark_attempt_failed)(alert_id, str(exc), when)
                log.warning("alert %s (%s, %s): %s", alert_id, due.content.topic, due.channel, exc)
                if when is None:
                    stats.failed += 1
                else:
                    stats.retrying += 1
                metrics.alert_attempted(due.channel, "failed" if when is None else "retried")
            else:
                now = self.clock()
                metrics.timed_write("alert outcomes", self.store.mark_delivered)(alert_id, now)
                stats.delivered += 1
                metrics.alert_attempted(due.channel, "delivered")
                metrics.alert_delivered(due.content.article.published_at, due.content.created_at, now)
        finally:
            self.held.alerts.discard(alert_id)

    # --- the daemon's task ----------------------------------------------------------------

    def wake(self) -> None:
        """New alerts were queued: deliver them now rather than at the next check."""
        for event in self._wakes.values():
            event.set()

    async def run(self, every: timedelta, report: Callable[[str], None]) -> None:
        """Deliver until ``stop``: one loop per channel, each checking the outbox every
        ``every`` and whenever ``wake`` says alerts were queued."""
        self._stopping = False
        loops = [self._keep_delivering(channel, every, report) for channel in self.senders]
        await asyncio.gather(self._keep_delivering(None, every, report), *loops)

    def stop(self) -> None:
        """Finish the round in progress, then return from ``run``."""
        self._stopping = True
        self.wake()

    async def _keep_delivering(self, channel: str | None, every: timedelta, report: Callable[[str], None]) -> None:
        wake = self._wakes.setdefault(channel or "", asyncio.Event())
        while not self._stopping:
            wake.clear()
            if not self.storage.failing:  # nothing is sent that could not be marked delivered
                try:
                    # Alerts queued while a send hangs go out on the channel's free slots at once;
                    # a failed one is due again only after its backoff, so nothing is hammered.
                    if channel is None:
                        stats = await self._give_up_unconfigured(None)
                    else:
                        stats = await self.deliver_channel(channel, None, every=every)
                except StorageError as exc:
                    self.storage.failed(exc)
                except Exception:  # a bug in one round must not end delivery; the next round tries again
                    log.exception("delivering %s failed", channel or "to unconfigured channels")
                else:
                    if stats:
                        report(
                            f"{datetime.now(UTC):%H:%M:%S} {channel or 'unconfigured channels'}: "
                            f"{stats.delivered} alerts delivered, {stats.retrying} to retry, {stats.failed} given up"
                        )
            if not self._stopping:
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(every.total_seconds()):
                        await wake.wait()


async def _until(event: asyncio.Event) -> None:
    await event.wait()
