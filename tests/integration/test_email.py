"""Email delivery against a real SMTP server (aiosmtpd) on 127.0.0.1."""

from __future__ import annotations

import asyncio
import time
from email.message import EmailMessage

import pytest
from receivers import ReceivedMail, SmtpReceiver, closed_port, sample_alert, silent_port

from monitor.alerts.email import SmtpSettings, deliver_email
from monitor.errors import DeliveryError
from monitor.model import Outlet

SENDER = "Monitor <monitor@example.org>"
ANALYST = "analyst@example.org"


def settings(port: int, **overrides: object) -> SmtpSettings:
    values: dict[str, object] = {
        "host": "127.0.0.1",
        "port": port,
        "sender": SENDER,
        "recipients": (ANALYST,),
        "starttls": False,
        "timeout": 5.0,
    }
    values.update(overrides)
    return SmtpSettings(**values)  # type: ignore[arg-type]


def send(smtp: SmtpSettings, **alert_overrides: object) -> None:
    asyncio.run(deliver_email(smtp, sample_alert(**alert_overrides)))


def failure(smtp: SmtpSettings) -> str:
    with pytest.raises(DeliveryError) as caught:
        send(smtp)
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(f"smtp {smtp.host}:{smtp.port}: ")
    return message


def parts(mail: ReceivedMail) -> tuple[EmailMessage, str, str]:
    message = mail.message
    text, html = message.get_body(("plain",)), message.get_body(("html",))
    assert text is not None and html is not None
    return message, text.get_content(), html.get_content()


def test_alert_arrives_with_text_and_html_parts_and_every_outlet() -> None:
    with SmtpReceiver() as server:
        send(settings(server.port, recipients=(ANALYST, "desk@example.org")))
        [mail] = server.wait_for(1)
    assert mail.mail_from == "monitor@example.org"
    assert mail.rcpt_tos == (ANALYST, "desk@example.org")
    message, text, html = parts(mail)
    assert message.get_content_type() == "multipart/alternative"
    assert message["Subject"] == (
        "[monitor] ByteDance AI: Karyawan Magang TikTok Dipecat Usai Diduga Sabotase Model AI"
    )
    assert message["X-Monitor-Story-Id"] == "5"
    assert message["Message-ID"] == "<monitor-bytedance-ai-5-webhook-hooks.example.org@example.org>"
    for outlet in sample_alert().outlets:
        assert outlet.url in text
        assert f'href="{outlet.url}"' in html.replace("&amp;", "&")
        assert f'lang="{outlet.language}"' in html
    assert "prétendument saboté un projet d\u2019IA" in text  # UTF-8 survives the trip
    assert "<mark>Bytedance</mark>" in html and "*Bytedance*" in text


def test_a_hostile_title_arrives_escaped_in_html() -> None:
    hostile = Outlet(1, "https://evil.example/a", "<script>alert(1)</script>", "en", "evil", None)
    with SmtpReceiver() as server:
        send(
            settings(server.port),
            story_title="<script>alert(1)</script> TikTok",
            article=hostile,
            outlets=(hostile,),
        )
        [mail] = server.wait_for(1)
    message, _, html = parts(mail)
    assert "<script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert message["Subject"] == "[monitor] ByteDance AI: <script>alert(1)</script> TikTok"


def test_starttls_and_auth_with_a_self_signed_certificate() -> None:
    with SmtpReceiver(starttls=True, auth=("monitor", "s3cret")) as server:
        send(
            settings(
                server.port,
                starttls=True,
                verify_certificate=False,
                username="monitor",
                password="s3cret",
            )
        )
        [mail] = server.wait_for(1)
    assert mail.encrypted and mail.login == "monitor"


def test_wrong_password_is_one_clear_line() -> None:
    with SmtpReceiver(starttls=True, auth=("monitor", "s3cret")) as server:
        smtp = settings(server.port, starttls=True, verify_certificate=False, username="monitor", password="x")
        message = failure(smtp)
        assert server.messages == []
    assert "authentication failed (535" in message and "check username and password" in message


def test_an_untrusted_certificate_is_refused_when_verifying() -> None:
    with SmtpReceiver(starttls=True) as server:
        message = failure(settings(server.port, starttls=True, verify_certificate=True))
        assert server.messages == []
    assert "TLS certificate not trusted" in message


def test_no_cleartext_fallback_when_starttls_is_missing() -> None:
    with SmtpReceiver() as server:
        message = failure(settings(server.port, starttls=True))
        assert server.messages == []
    assert "does not offer STARTTLS" in message and "starttls to false" in message


def test_implicit_tls() -> None:
    with SmtpReceiver(implicit_tls=True) as server:
        send(settings(server.port, tls=True, verify_certificate=False))
        [mail] = server.wait_for(1)
    assert mail.encrypted


def test_some_recipients_refused_still_delivers_to_the_others() -> None:
    with SmtpReceiver(refuse=frozenset({"gone@example.org"})) as server:
        send(settings(server.port, recipients=("gone@example.org", ANALYST)))
        [mail] = server.wait_for(1)
    assert mail.rcpt_tos == (ANALYST,)


def test_every_recipient_refused_is_an_error() -> None:
    with SmtpReceiver(refuse=frozenset({ANALYST})) as server:
        message = failure(settings(server.port))
    assert f"refused every recipient: {ANALYST} (550" in message


def test_a_down_server_fails_fast() -> None:
    port = closed_port()
    started = time.monotonic()
    message = failure(settings(port))
    assert time.monotonic() - started < 2
    assert message == f"smtp 127.0.0.1:{port}: connection refused; will retry"


def test_a_server_that_never_greets_costs_only_the_timeout() -> None:
    with silent_port() as port:
        started = time.monotonic()
        message = failure(settings(port, timeout=0.5))
        elapsed = time.monotonic() - started
    assert 0.4 <= elapsed < 3
    assert message == f"smtp 127.0.0.1:{port}: timed out after 0.5s; will retry"


def test_no_recipients_is_a_configuration_error() -> None:
    message = failure(settings(closed_port(), recipients=()))
    assert "no recipients configured" in message


def test_a_line_break_in_the_sender_is_a_clear_error_not_an_injected_header() -> None:
    with SmtpReceiver() as server:
        message = failure(settings(server.port, sender="m@example.org\r\nBcc: x@example.org"))
        assert server.messages == []
    assert "cannot build the message" in message and "alerts.email.sender" in message
