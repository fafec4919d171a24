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
import json
import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from monitor import metrics
from monitor.alerts import notices
from monitor.alerts.channels import ChannelRegistry
from monitor.alerts.render import Message, alert_message
from monitor.alerts.webhook import WebhookDeliveryError
from monitor.changes import OperatorEvent, StoryChange
from monitor.errors import DeliveryError, StorageError
from monitor.store.db import StorageHealth
from monitor.store.interface import LEASE, Delivery, DueAlert, HeldLeases, Store
from monitor.store.utc import utcnow

log = logging.getLogger(__name__)

PER_CHANNEL = 16  # alerts in flight at once per channel
CLAIMS_PER_SLOT = 4  # alerts leased per claim, per slot: fewer, larger transactions
# Outcomes are recorded per_channel at a time, or this long (seconds) after the first of them
# ended: fewer transactions, while a sent alert stays unrecorded (and would be sent again
# after a crash) only briefly.
RECORD_WITHIN = 0.2
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


@dataclass(frozen=True)
class DeliveryPolicy:
    """What the dispatcher is told of the configuration, by the composition root: how long
    and how often an undeliverable alert is retried, and which channel hears of one given up.
    No defaults of its own: the configuration's are the ones (``service.delivery_policy``)."""

    retry_for: timedelta
    first_retry: timedelta  # then doubling up to max_backoff
    max_backoff: timedelta
    operator: str | None  # None: no operator channel


def retry_at(
    attempts: int, created_at: datetime, now: datetime, policy: DeliveryPolicy, hint: float | None
) -> datetime | None:
    """When to try again after ``attempts`` failures: doubling from ``first_retry``, capped; None to give up."""
    if now - created_at >= policy.retry_for:
        return None
    wait: timedelta = min(policy.first_retry * 2 ** max(attempts - 1, 0), policy.max_backoff)
    if hint is not None:  # the receiver's Retry-After, if it said one
        wait = max(wait, timedelta(seconds=hint))
    return now + wait


@dataclass(frozen=True)
class Outcome:
    """One send's result, recorded with the others that ended meanwhile: the alert, what happened."""

    due: DueAlert
    delivery: Delivery


@dataclass
class Dispatcher:
    """Delivers the outbox of one process: each channel on its own, ``per_channel`` at a time."""

    store: Store
    channels: ChannelRegistry
    policy: DeliveryPolicy
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
        rounds = [self.deliver_channel(channel, due_by) for channel in self.channels]
        total = DeliveryStats()
        for stats in await asyncio.gather(self._give_up_unconfigured(due_by), *rounds):
            total += stats
        return total

    async def deliver_channel(
        self, channel: str, due_by: datetime | None = None, *, every: timedelta | None = None
    ) -> DeliveryStats:
        """Send the due alerts of one channel, ``per_channel`` at a time: those due by ``due_by``;
        or (None) whatever is due whenever a slot is free, looking again on ``wake`` and every ``every``."""
        return await self._deliver(due_by, channels=[channel], every=every)

    async def _give_up_unconfigured(self, due_by: datetime | None) -> DeliveryStats:
        return await self._deliver(due_by, other_than=list(self.channels))

    async def _deliver(
        self,
        due_by: datetime | None,
        *,
        channels: list[str] | None = None,
        other_than: list[str] | None = None,
        every: timedelta | None = None,
    ) -> DeliveryStats:
        """Send the due alerts ``per_channel`` at a time: a slot that frees takes the next one at
        once, so one send that hangs costs the channel one slot, not its whole batch. Alerts
        are leased a batch at a time (one statement) and wait in ``claimed`` for a slot."""
        stats = DeliveryStats()
        sending: set[asyncio.Task[Outcome]] = set()
        ended: list[Outcome] = []  # sent, recorded together: one transaction for several
        since = 0.0  # when the oldest of ``ended`` ended
        claimed: deque[DueAlert] = deque()  # leased, waiting for a slot
        wake = self._wakes.get(channels[0] if channels else "") if due_by is None else None
        try:
            while True:
                waited = time.monotonic() - since
                if ended and (len(ended) >= self.per_channel or not claimed or waited >= RECORD_WITHIN):
                    self._record(ended, stats)
                    ended = []
                if not claimed and len(sending) < self.per_channel and not self._stopping:
                    claimed.extend(self._claim(due_by, channels, other_than))
                while claimed and len(sending) < self.per_channel and not self._stopping:
                    sending.add(asyncio.create_task(self._send(claimed.popleft())))
                if not sending:
                    return stats
                record_within = RECORD_WITHIN - waited if ended else None
                done, sending = await self._next_free_slot(sending, wake, every, record_within)
                if done and not ended:
                    since = time.monotonic()
                ended += [task.result() for task in done]
        finally:
            for task in sending:
                task.cancel()
            await asyncio.gather(*sending, return_exceptions=True)
            # Claimed but not sent (stopping): their leases end at exit or expire.
            self.held.alerts.difference_update(due.id for due in claimed)
            # A StorageError here leaves them leased: sent again when the leases expire (at least once).
            self._record(ended, stats)

    def _claim(
        self, due_by: datetime | None, channels: list[str] | None, other_than: list[str] | None
    ) -> list[DueAlert]:
        """Lease a batch of due alerts (one statement for many) and read what they say."""
        ids = metrics.timed_write("claim alerts", self.store.claim_due_alerts)(
            self.owner,
            due_by or self.clock(),
            limit=self.per_channel * CLAIMS_PER_SLOT,
            lease=self.lease,
            channels=channels,
            other_than=other_than,
        )
        self.held.alerts.update(ids)
        loaded = self.store.load_alerts(ids)
        self.held.alerts.difference_update(set(ids) - {due.id for due in loaded})  # deleted meanwhile
        return loaded

    async def _next_free_slot(
        self,
        sending: set[asyncio.Task[Outcome]],
        wake: asyncio.Event | None,
        every: timedelta | None,
        record_within: float | None,
    ) -> tuple[set[asyncio.Task[Outcome]], set[asyncio.Task[Outcome]]]:
        """Wait until a send ends; with free slots, also until new alerts are queued or ``every``
        passes; and no longer than ``record_within``, when outcomes wait to be recorded."""
        if wake is None or len(sending) >= self.per_channel:
            return await asyncio.wait(sending, timeout=record_within, return_when=asyncio.FIRST_COMPLETED)
        woken: asyncio.Task[Any] = asyncio.create_task(_until(wake))
        try:
            waits = [t for t in (every.total_seconds() if every else None, record_within) if t is not None]
            timeout = min(waits, default=None)
            done, pending = await asyncio.wait({*sending, woken}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        finally:
            woken.cancel()
        wake.clear()
        return done - {woken}, pending - {woken}

    async def _send(self, due: DueAlert) -> Outcome:
        """Send one alert; what happened, to be recorded (no database work here)."""
        try:
            try:
                async with asyncio.timeout(self.send_deadline.total_seconds()):
                    await self.channels.deliver(due.channel, message(due))
            except TimeoutError:
                raise DeliveryError(
                    f"{due.channel}: no answer within {self.send_deadline.total_seconds():g} s; will retry"
                ) from None
        except DeliveryError as exc:
            hint = exc.retry_after if isinstance(exc, WebhookDeliveryError) else None
            now = self.clock()
            configured = due.channel in self.channels  # an alert for a channel removed from the config is given up
            when = retry_at(due.attempts + 1, due.created_at or now, now, self.policy, hint) if configured else None
            log.warning("alert %s (%s, %s): %s", due.id, due.topic, due.channel, exc)
            return Outcome(due, Delivery(due.id, now, str(exc), when))
        return Outcome(due, Delivery(due.id, self.clock()))

    def _record(self, outcomes: list[Outcome], stats: DeliveryStats) -> None:
        if not outcomes:
            return
        deliveries = [o.delivery for o in outcomes]
        metrics.timed_write("alert outcomes", self.store.record_deliveries)(deliveries, self.policy.operator)
        self.held.alerts.difference_update(d.alert_id for d in deliveries)
        for outcome in outcomes:
            channel, delivery = outcome.due.channel, outcome.delivery
            if delivery.error is None:
                stats.delivered += 1
                metrics.alert_attempted(channel, "delivered")
                if outcome.due.kind == "match" and outcome.due.content is not None:
                    published, seen = outcome.due.content.article.published_at, outcome.due.content.created_at
                    metrics.alert_delivered(published, seen, delivery.at)
            elif delivery.retry_at is None:
                stats.failed += 1
                metrics.alert_attempted(channel, "failed")
            else:
                stats.retrying += 1
                metrics.alert_attempted(channel, "retried")

    # --- the daemon's task ----------------------------------------------------------------

    def wake(self) -> None:
        """New alerts were queued: deliver them now rather than at the next check."""
        for event in self._wakes.values():
            event.set()

    async def run(self, every: timedelta, report: Callable[[str], None]) -> None:
        """Deliver until ``stop``: one loop per channel, each checking the outbox every
        ``every`` and whenever ``wake`` says alerts were queued."""
        self._stopping = False
        loops = [self._keep_delivering(channel, every, report) for channel in self.channels]
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


def message(due: DueAlert) -> Message:
    """What an outbox row says: a topic alert or a story update from the story as it is now;
    a digest or an operator alert from what its payload froze when it was queued."""
    key = f"monitor-{due.kind}-{due.id}"
    created_at = due.created_at or utcnow()
    if due.kind == "digest" and due.payload:
        from monitor.alerts import digest  # loads with the first digest sent

        return digest.digest_message(digest.DigestContent(due.id, digest.from_payload(due.payload), key, created_at))
    if due.kind == "operator" and due.payload:
        event = OperatorEvent.from_json(json.loads(due.payload))
        return notices.operator_message(notices.OperatorContent(due.id, event, key, created_at))
    story = due.content
    if story is None:
        raise DeliveryError(f"alert {due.id}: its story or payload is gone; nothing to send")
    if due.kind == "update" and due.payload:
        change = json.loads(due.payload)
        outlets = {o.article_id: o for o in story.outlets}
        update = notices.UpdateContent(
            alert_id=story.alert_id,
            topic=story.topic,
            story_id=story.story_id,
            story_title=story.story_title,
            first_seen=story.first_seen,
            change=StoryChange.from_json(change["change"]),
            article=outlets.get(change["article_id"], story.article),
            outlets=story.outlets,
            idempotency_key=key,
            created_at=created_at,
        )
        return notices.update_message(update)
    return alert_message(story)


async def _until(event: asyncio.Event) -> None:
    await event.wait()
