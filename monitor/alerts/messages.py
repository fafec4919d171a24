"""Every kind of alert the outbox sends, and how each becomes a webhook body or an email (pure).

The channels call these and never look at the kind: a topic alert, a story update, a
digest and an operator alert all go out through the same webhook and email code.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from email.message import EmailMessage
from typing import Any

from monitor.alerts import digest, notices, render

Message = render.AlertContent | notices.UpdateContent | digest.DigestContent | notices.OperatorContent


def webhook_payload(message: Message) -> dict[str, Any]:
    match message:
        case render.AlertContent():
            return render.webhook_payload(message)
        case notices.UpdateContent():
            return notices.update_payload(message)
        case digest.DigestContent():
            return digest.webhook_payload(message)
        case notices.OperatorContent():
            return notices.operator_payload(message)


def webhook_body(message: Message) -> bytes:
    """Compact UTF-8 JSON; the exact bytes that are signed and sent."""
    return json.dumps(webhook_payload(message), ensure_ascii=False, separators=(",", ":")).encode()


def email_message(message: Message, sender: str, recipients: Sequence[str]) -> EmailMessage:
    match message:
        case render.AlertContent():
            return render.email_message(message, sender, recipients)
        case notices.UpdateContent():
            return notices.update_email(message, sender, recipients)
        case digest.DigestContent():
            return digest.email_message(message, sender, recipients)
        case notices.OperatorContent():
            return notices.operator_email(message, sender, recipients)


def plain_text(message: Message) -> tuple[str, str]:
    """(title, body) for channels that take plain text (the email's subject and text part)."""
    mail = email_message(message, "monitor@localhost", ["monitor@localhost"])
    body = mail.get_body(preferencelist=("plain",))
    text = body.get_content() if body is not None else ""
    return str(mail["Subject"]), str(text)
