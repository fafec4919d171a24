"""Alert rendering: the webhook payload, its signature and the email message (pure)."""

from __future__ import annotations

import dataclasses
import json
import re
from datetime import datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

from conftest import ROOT
from receivers import sample_alert

from monitor.alerts.render import (
    Outlet,
    email_message,
    signature,
    snippet_html,
    webhook_body,
    webhook_payload,
)

DOCS = ROOT / "docs" / "alerts.md"
SENDER = "Monitor <monitor@example.org>"


def _key_paths(value: Any, prefix: str = "") -> set[str]:
    """Every key path of a JSON document, lists collapsed to their first element."""
    if isinstance(value, dict):
        paths = set()
        for key, item in value.items():
            paths.add(prefix + key)
            paths |= _key_paths(item, prefix + key + ".")
        return paths
    if isinstance(value, list) and value and isinstance(value[0], dict):
        return _key_paths(value[0], prefix.rstrip(".") + "[].")
    return set()


def _parts(message: EmailMessage) -> tuple[str, str]:
    parsed = message_from_bytes(message.as_bytes(), policy=policy.default)
    text, html = parsed.get_body(("plain",)), parsed.get_body(("html",))
    assert text is not None and html is not None
    return text.get_content(), html.get_content()


# --- webhook payload ------------------------------------------------------------------


def test_webhook_body_is_compact_utf8_json_naming_topic_story_and_article() -> None:
    body = webhook_body(sample_alert())
    payload = json.loads(body)
    compact = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
    assert body == compact  # no whitespace, UTF-8 rather than \u escapes
    assert payload["type"] == "monitor.alert" and payload["version"] == 1
    assert payload["topic"] == "ByteDance AI"
    assert payload["story"]["id"] == 5
    assert payload["story"]["languages"] == ["id", "de", "fr"]
    assert [o["id"] for o in payload["story"]["outlets"]] == [1, 2, 3]
    assert payload["article"]["id"] == 2 and payload["article"]["feed"] == "heise"
    assert payload["match"]["terms"] == ["ByteDance", "KI"]
    assert payload["idempotency_key"] == "monitor-bytedance-ai-5-webhook-hooks.example.org"
    assert payload["created_at"] == "2024-10-21T11:31:00Z"


def test_webhook_body_is_the_same_bytes_every_time() -> None:
    assert webhook_body(sample_alert()) == webhook_body(sample_alert())


def test_outlets_always_include_the_trigger_once() -> None:
    alert = sample_alert()
    missing_trigger = dataclasses.replace(alert, outlets=alert.outlets[:1])
    doubled = dataclasses.replace(alert, outlets=(*alert.outlets, alert.article))
    assert [o["id"] for o in webhook_payload(missing_trigger)["story"]["outlets"]] == [1, 2]
    assert [o["id"] for o in webhook_payload(doubled)["story"]["outlets"]] == [1, 2, 3]


def test_naive_times_are_read_as_utc() -> None:
    # SQLite hands datetimes back without a zone; they were stored as UTC.
    alert = sample_alert(first_seen=datetime(2024, 10, 21, 8, 30), created_at=datetime(2024, 1, 1))
    payload = webhook_payload(alert)
    assert payload["story"]["first_seen"] == "2024-10-21T08:30:00Z"
    assert payload["created_at"] == "2024-01-01T00:00:00Z"


def test_documented_payload_has_exactly_the_fields_sent() -> None:
    documented = re.search(r"```json\n(.*?)```", DOCS.read_text(), re.DOTALL)
    assert documented, "docs/alerts.md lost its example payload"
    example = json.loads(documented.group(1))
    assert _key_paths(example) == _key_paths(webhook_payload(sample_alert()))
    assert example == webhook_payload(sample_alert())


# --- signature ------------------------------------------------------------------------


def test_signature_matches_the_documented_test_vector() -> None:
    # Cross-checked with: printf '1700000000.{"type":"monitor.alert"}' | openssl dgst ...
    expected = "sha256=7d51ea3d7df784c7cfcd2a52ef5b2ad7b09f7c5d23ef29ae511b9d53195239ce"
    assert signature("whsec_test", 1700000000, b'{"type":"monitor.alert"}') == expected
    assert expected in DOCS.read_text()


def test_documented_python_verifier_accepts_our_signature() -> None:
    snippet = re.search(r"```python\n(.*?)```", DOCS.read_text(), re.DOTALL)
    assert snippet, "docs/alerts.md lost its verification snippet"
    namespace: dict[str, Any] = {}
    exec(snippet.group(1), namespace)
    body, stamp = webhook_body(sample_alert()), int(datetime.now().timestamp())
    header = signature("s3cret", stamp, body)
    assert namespace["verify"]("s3cret", str(stamp), body, header)
    assert not namespace["verify"]("s3cret", str(stamp), body + b" ", header)
    assert not namespace["verify"]("other", str(stamp), body, header)


# --- snippet --------------------------------------------------------------------------


def test_snippet_keeps_mark_and_escapes_everything_else() -> None:
    assert snippet_html("a <mark>AI</mark> &amp; b") == "a <mark>AI</mark> &amp; b"
    # A snippet that arrives unescaped by mistake still cannot inject markup.
    raw = 'x <script>alert(1)</script> <mark>TikTok</mark> "q"'
    assert snippet_html(raw) == ("x &lt;script&gt;alert(1)&lt;/script&gt; <mark>TikTok</mark> &quot;q&quot;")


# --- email ----------------------------------------------------------------------------


def test_email_subject_names_topic_and_story() -> None:
    message = email_message(sample_alert(), SENDER, ["analyst@example.org"])
    assert message["Subject"] == (
        "[monitor] ByteDance AI: Karyawan Magang TikTok Dipecat Usai Diduga Sabotase Model AI"
    )
    assert message["To"] == "analyst@example.org"
    assert message["X-Monitor-Story-Id"] == "5"
    assert message["Auto-Submitted"] == "auto-generated"


def test_email_message_id_is_stable_per_alert() -> None:
    first = email_message(sample_alert(), SENDER, ["a@example.org"])
    again = email_message(sample_alert(), SENDER, ["a@example.org"])
    other = email_message(sample_alert(idempotency_key="k-6-email"), SENDER, ["a@example.org"])
    assert first["Message-ID"] == again["Message-ID"]
    assert first["Message-ID"] == "<monitor-bytedance-ai-5-webhook-hooks.example.org@example.org>"
    assert other["Message-ID"] != first["Message-ID"]


def test_email_has_text_and_html_with_every_outlet_and_language() -> None:
    text, html = _parts(email_message(sample_alert(), SENDER, ["a@example.org"]))
    for outlet in sample_alert().outlets:
        assert outlet.url in text
        assert f"[{outlet.language}] {outlet.title}" in text
        assert f'lang="{outlet.language}"' in html
    assert "https://www.heise.de/news/Bytedance-feuert-Praktikanten-9990001.html?utm_source=rss" in (html)
    assert "languages: id, de, fr" in text
    assert "*Bytedance* feuert" in text and "& Co" in text
    assert "<mark>Bytedance</mark> feuert" in html and "&amp; Co" in html


def test_email_escapes_hostile_titles_and_refuses_script_links() -> None:
    hostile = Outlet(
        article_id=9,
        url="javascript:alert(1)",
        title='<script>alert("x")</script> & <b>bold</b>',
        language="en",
        feed="<img src=x>",
        published_at=None,
    )
    alert = sample_alert(
        story_title="<script>steal()</script>\r\nBcc: victim@example.org",
        topic="Doubao <i>",
        article=hostile,
        outlets=(hostile,),
    )
    message = email_message(alert, SENDER, ["a@example.org"])
    text, html = _parts(message)
    assert "<script>" not in html and "<b>" not in html and "<img" not in html
    assert "&lt;script&gt;steal()&lt;/script&gt;" in html
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in html
    assert 'href="javascript' not in html
    # The title's line break cannot smuggle a header into the message.
    assert message["Bcc"] is None
    assert "\n" not in message["Subject"]
    assert '<script>alert("x")</script>' in text  # plain text shows the title as it is


def test_email_subject_shortens_very_long_titles() -> None:
    message = email_message(sample_alert(story_title="Sabotase " * 60), SENDER, ["a@example.org"])
    assert len(message["Subject"]) < 200 and message["Subject"].endswith("…")
