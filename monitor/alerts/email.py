"""Deliver one alert by email over SMTP (thin adapter over smtplib).

smtplib is blocking, so one send runs in a worker thread with a socket timeout and an
overall deadline. Encryption is never silently dropped: with ``starttls`` on, a server
that does not offer STARTTLS is an error, not a cleartext send. Every failure becomes
one ``DeliveryError`` line naming the server and the cause.
"""

from __future__ import annotations

import asyncio
import logging
import smtplib
import socket
import ssl
from dataclasses import dataclass
from email.message import EmailMessage

from monitor.alerts.render import email_message
from monitor.errors import DeliveryError
from monitor.model import AlertContent

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SmtpSettings:
    """Where and how to send alert emails (``alerts.email`` in the configuration)."""

    host: str
    port: int
    sender: str
    recipients: tuple[str, ...]
    username: str | None = None
    password: str | None = None
    starttls: bool = True  # upgrade a plain connection (port 587)
    tls: bool = False  # implicit TLS from the first byte (port 465); wins over starttls
    timeout: float = 30.0
    verify_certificate: bool = True  # off only for tests or a known self-signed relay


def _tls_context(settings: SmtpSettings) -> ssl.SSLContext:
    context = ssl.create_default_context()
    if not settings.verify_certificate:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


class _StartTlsMissing(smtplib.SMTPException):
    """The server did not advertise STARTTLS although it is required."""


def _send(settings: SmtpSettings, alert_id: int, message: EmailMessage) -> None:
    """Blocking: connect, secure, authenticate, send, quit."""
    smtp: smtplib.SMTP
    if settings.tls:
        smtp = smtplib.SMTP_SSL(settings.host, settings.port, timeout=settings.timeout, context=_tls_context(settings))
    else:
        smtp = smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout)
    with smtp:
        smtp.ehlo()
        if settings.starttls and not settings.tls:
            if not smtp.has_extn("starttls"):
                raise _StartTlsMissing
            smtp.starttls(context=_tls_context(settings))
            smtp.ehlo()
        if settings.username:
            smtp.login(settings.username, settings.password or "")
        refused = smtp.send_message(message, settings.sender, list(settings.recipients))
    if refused:
        # Some recipients got it: retrying would send them a duplicate, so record and go on.
        log.warning(
            "alert %s: smtp %s:%s refused %s",
            alert_id,
            settings.host,
            settings.port,
            ", ".join(sorted(refused)),
        )


async def deliver_email(settings: SmtpSettings, alert: AlertContent) -> None:
    """Send the alert to every recipient; raise ``DeliveryError`` when nobody got it."""
    where = f"smtp {settings.host}:{settings.port}"
    if not settings.recipients:
        raise DeliveryError(f"{where}: no recipients configured; set alerts.email.recipients")
    try:
        message = email_message(alert, settings.sender, settings.recipients)
    except ValueError as error:  # e.g. a line break in a configured address
        raise DeliveryError(
            f"{where}: cannot build the message ({error}); fix alerts.email.sender and recipients"
        ) from None
    try:
        # The thread keeps its own socket timeout; this deadline bounds the whole send
        # (connect, TLS, AUTH, DATA) so a server that trickles bytes cannot stall us.
        async with asyncio.timeout(settings.timeout * 2):
            await asyncio.to_thread(_send, settings, alert.alert_id, message)
    except OSError as error:  # smtplib, ssl and socket errors are all OSErrors
        raise DeliveryError(f"{where}: {_describe(error, settings)}") from None


def _describe(error: OSError, settings: SmtpSettings) -> str:
    """One line: what went wrong and what to do."""
    retry = "; will retry"
    check_tls = "check the port and the tls/starttls settings"
    match error:
        case _StartTlsMissing():
            return "server does not offer STARTTLS; set alerts.email.starttls to false to send unencrypted"
        case smtplib.SMTPAuthenticationError():
            reply = _reply(error.smtp_code, error.smtp_error)
            return f"authentication failed ({reply}); check username and password{retry}"
        case smtplib.SMTPNotSupportedError():
            return f"{_text(error)}; {check_tls}{retry}"
        case smtplib.SMTPRecipientsRefused():
            refused = ", ".join(
                f"{address} ({_reply(code, reply)})" for address, (code, reply) in error.recipients.items()
            )
            return f"refused every recipient: {refused}{retry}"
        case smtplib.SMTPSenderRefused():
            reply = _reply(error.smtp_code, error.smtp_error)
            return f"refused sender {error.sender} ({reply}){retry}"
        case smtplib.SMTPResponseException():
            return f"answered {_reply(error.smtp_code, error.smtp_error)}{retry}"
        case ssl.SSLCertVerificationError():
            return f"TLS certificate not trusted ({error.verify_message}){retry}"
        case ssl.SSLError():
            return f"TLS failed ({error.reason or _text(error)}); {check_tls}{retry}"
        case smtplib.SMTPServerDisconnected() if isinstance(error.__context__, TimeoutError):
            # smtplib reports a reply that never came as a disconnection.
            return f"timed out after {settings.timeout:g}s{retry}"
        case smtplib.SMTPServerDisconnected():
            return f"server closed the connection ({_text(error) or 'no reason given'}){retry}"
        case ConnectionRefusedError():
            return f"connection refused{retry}"
        case socket.gaierror():
            return f"cannot resolve host ({error.strerror}){retry}"
        case TimeoutError():
            return f"timed out after {settings.timeout:g}s{retry}"
        case _:
            return f"{_text(error) or type(error).__name__}{retry}"


def _reply(code: int, reply: bytes | str) -> str:
    text = reply.decode(errors="replace") if isinstance(reply, bytes) else reply
    return f"{code} {' '.join(text.split())}".strip()


def _text(error: BaseException) -> str:
    return " ".join(str(error).split())
