"""Real alert receivers on 127.0.0.1 for tests: a webhook endpoint and an SMTP server.

Each runs in a background thread, records what arrived, and is a context manager:

    with WebhookReceiver() as hook:           # hook.url, hook.requests, hook.fail_next(2)
    with SmtpReceiver(starttls=True) as mx:   # mx.port, mx.messages, mx.wait_for(1)
    with silent_port() as port:               # accepts TCP, never answers (timeouts)

Ports are picked by the OS, so tests can run side by side.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import ipaddress
import socket
import ssl
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from monitor.alerts.digest import Digest, DigestContent, DigestStory, DigestTopic
from monitor.alerts.notices import OperatorContent, UpdateContent
from monitor.changes import FEED_FAILING, OperatorEvent, StoryChange
from monitor.model import AlertContent, Outlet

_WAIT_SECONDS = 5.0

# --- webhook ----------------------------------------------------------------------------


@dataclass(frozen=True)
class ReceivedRequest:
    method: str
    path: str
    headers: dict[str, str]  # names lower-cased
    body: bytes
    answered: int  # the status the receiver replied with


class _Server(ThreadingHTTPServer):
    request_queue_size = 64  # senders connect many at once


class WebhookReceiver:
    """An HTTP endpoint that records every request and answers 200 unless told otherwise."""

    def __init__(self, path: str = "/hook", *, delay: float = 0.0, keep_alive: bool = False) -> None:
        self.path = path
        self.delay = delay  # seconds before each answer: a slow receiver
        self.keep_alive = keep_alive  # HTTP/1.1: a connection serves request after request
        self.connections = 0  # how many the senders opened
        self._lock = threading.Lock()
        self._requests: list[ReceivedRequest] = []
        self._failures: list[tuple[int, str | None]] = []
        self._server = _Server(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        # A short poll interval keeps shutdown (and so each test's teardown) fast.
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}{self.path}"

    @property
    def requests(self) -> list[ReceivedRequest]:
        with self._lock:
            return list(self._requests)

    @property
    def delivered(self) -> list[ReceivedRequest]:
        """Requests that were answered 2xx, i.e. alerts the sender may count as delivered."""
        return [r for r in self.requests if 200 <= r.answered < 300]

    def fail_next(self, count: int, status: int = 500, retry_after: str | None = None) -> None:
        """Answer ``status`` (with an optional Retry-After) to the next ``count`` requests."""
        with self._lock:
            self._failures.extend([(status, retry_after)] * count)

    def stop_failing(self) -> None:
        """Answer 200 from now on, whatever ``fail_next`` asked for."""
        with self._lock:
            self._failures.clear()

    def wait_for(self, count: int, timeout: float = _WAIT_SECONDS) -> list[ReceivedRequest]:
        deadline = time.monotonic() + timeout
        while len(self.requests) < count and time.monotonic() < deadline:
            time.sleep(0.01)
        return self.requests

    def _record(self, request: BaseHTTPRequestHandler, body: bytes) -> tuple[int, str | None]:
        with self._lock:
            status, retry_after = self._failures.pop(0) if self._failures else (200, None)
            headers = {name.lower(): value for name, value in request.headers.items()}
            self._requests.append(ReceivedRequest(request.command, request.path, headers, body, status))
        return status, retry_after

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1" if receiver.keep_alive else "HTTP/1.0"

            def setup(self) -> None:
                super().setup()
                with receiver._lock:
                    receiver.connections += 1

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                time.sleep(receiver.delay)
                status, retry_after = receiver._record(self, body)
                self.send_response(status)
                if retry_after is not None:
                    self.send_header("Retry-After", retry_after)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass  # keep test output clean

        return Handler

    def __enter__(self) -> WebhookReceiver:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=_WAIT_SECONDS)


@contextmanager
def silent_port() -> Iterator[int]:
    """A port that accepts TCP connections (via the backlog) and never says a word."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        yield listener.getsockname()[1]


def closed_port() -> int:
    """A loopback port nobody listens on, so connecting is refused at once."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# --- TLS ------------------------------------------------------------------------------


@dataclass(frozen=True)
class SelfSignedCert:
    cert_file: Path
    key_file: Path

    def server_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.cert_file, self.key_file)
        return context


def self_signed_cert(directory: Path) -> SelfSignedCert:
    """A fresh certificate for ``localhost`` and 127.0.0.1, valid for one day."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = directory / "cert.pem", directory / "key.pem"
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return SelfSignedCert(cert_file, key_file)


# --- SMTP -----------------------------------------------------------------------------


@dataclass(frozen=True)
class ReceivedMail:
    mail_from: str
    rcpt_tos: tuple[str, ...]
    raw: bytes
    encrypted: bool  # the DATA arrived over TLS (STARTTLS or implicit)
    login: str | None  # the AUTH user, when the client authenticated

    @property
    def message(self) -> EmailMessage:
        return message_from_bytes(self.raw, policy=policy.default)


@dataclass
class _Handler:
    refuse: frozenset[str]
    lock: threading.Lock = field(default_factory=threading.Lock)
    messages: list[ReceivedMail] = field(default_factory=list)

    async def handle_RCPT(  # aiosmtpd hook name
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        if address in self.refuse:
            return "550 5.1.1 no such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(  # aiosmtpd hook name
        self, server: Any, session: Any, envelope: Any
    ) -> str:
        login = session.auth_data.login.decode() if session.authenticated else None
        mail = ReceivedMail(
            envelope.mail_from,
            tuple(envelope.rcpt_tos),
            bytes(envelope.original_content or envelope.content),
            # STARTTLS sets session.ssl; implicit TLS shows on the transport.
            session.ssl is not None or server.transport.get_extra_info("ssl_object") is not None,
            login,
        )
        with self.lock:
            self.messages.append(mail)
        return "250 Message accepted for delivery"


class _EphemeralPortController(Controller):
    """Binds port 0 and learns the real port before aiosmtpd's start-up self-check."""

    def _trigger_server(self) -> None:
        assert isinstance(self.server, asyncio.Server)
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()  # type: ignore[no-untyped-call]


class SmtpReceiver:
    """An aiosmtpd server on 127.0.0.1 recording every message it accepts.

    ``starttls`` offers STARTTLS and requires it before MAIL; ``implicit_tls`` speaks TLS
    from the first byte (port 465 style); ``auth=(user, password)`` requires AUTH (after
    TLS). Both TLS modes use a self-signed certificate made for the occasion.
    """

    def __init__(
        self,
        *,
        starttls: bool = False,
        implicit_tls: bool = False,
        auth: tuple[str, str] | None = None,
        refuse: frozenset[str] = frozenset(),
    ) -> None:
        self._handler = _Handler(refuse)
        self._auth = auth
        self._tempdir = tempfile.TemporaryDirectory(prefix="smtp-receiver-")
        kwargs: dict[str, Any] = {}
        if starttls or implicit_tls:
            context = self_signed_cert(Path(self._tempdir.name)).server_context()
            if implicit_tls:
                kwargs["ssl_context"] = context
            else:
                kwargs.update(tls_context=context, require_starttls=True)
        if auth:
            kwargs.update(authenticator=self._authenticate, auth_required=True)
        self._controller = _EphemeralPortController(
            self._handler, hostname="127.0.0.1", port=0, ready_timeout=_WAIT_SECONDS, **kwargs
        )

    def _authenticate(self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> AuthResult:
        ok = (
            isinstance(auth_data, LoginPassword)
            and self._auth is not None
            and (auth_data.login.decode(), auth_data.password.decode()) == self._auth
        )
        if ok:
            return AuthResult(success=True, auth_data=auth_data)
        return AuthResult(success=False, handled=False)  # aiosmtpd then answers 535

    @property
    def port(self) -> int:
        return int(self._controller.port)

    @property
    def messages(self) -> list[ReceivedMail]:
        with self._handler.lock:
            return list(self._handler.messages)

    def wait_for(self, count: int, timeout: float = _WAIT_SECONDS) -> list[ReceivedMail]:
        deadline = time.monotonic() + timeout
        while len(self.messages) < count and time.monotonic() < deadline:
            time.sleep(0.01)
        return self.messages

    def __enter__(self) -> SmtpReceiver:
        self._controller.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._controller.stop()
        self._tempdir.cleanup()


# --- a sample alert -------------------------------------------------------------------


def sample_alert(**overrides: Any) -> AlertContent:
    """The seeds' intern-sabotage story (Indonesian, German, French) alerted for a topic."""
    published = dt.datetime(2024, 10, 21, 8, 30, tzinfo=dt.UTC)
    trigger = Outlet(
        article_id=2,
        url="https://www.heise.de/news/Bytedance-feuert-Praktikanten-9990001.html?utm_source=rss",
        title="Bytedance: TikTok-Unternehmen feuert Praktikanten wegen Sabotage am KI-Modell",
        language="de",
        feed="heise",
        published_at=published + dt.timedelta(hours=3),
    )
    first = Outlet(
        article_id=1,
        url="https://inet.detik.com/berita/d-7600001/karyawan-magang-tiktok-dipecat",
        title="Karyawan Magang TikTok Dipecat Usai Diduga Sabotase Model AI",
        language="id",
        feed="detik-inet",
        published_at=published,
    )
    french = Outlet(
        article_id=3,
        url="https://www.numerama.com/tech/1800001-stagiaire-bytedance.html",
        title="Le propriétaire de TikTok licencie un stagiaire pour avoir prétendument saboté "
        "un projet d\u2019IA",  # the seed's typographic apostrophe
        language="fr",
        feed="numerama",
        published_at=None,
    )
    values: dict[str, Any] = {
        "alert_id": 17,
        "topic": "ByteDance AI",
        "story_id": 5,
        "story_title": first.title,
        "first_seen": published,
        "article": trigger,
        "outlets": (first, trigger, french),
        "score": 0.8251,
        "terms": ("ByteDance", "KI"),
        "snippet": "… <mark>Bytedance</mark> feuert Praktikanten wegen Sabotage am <mark>KI</mark>-Modell &amp; Co …",
        "idempotency_key": "monitor-bytedance-ai-5-webhook-hooks.example.org",
        "created_at": published + dt.timedelta(hours=3, minutes=1),
    }
    values.update(overrides)
    return AlertContent(**values)


def sample_digest() -> DigestContent:
    """A morning digest of the seeds' stories: two topics, the intern-sabotage story in both."""
    alert = sample_alert()
    first, trigger, _ = alert.outlets
    lego = Outlet(
        article_id=4,
        url="https://tekno.kompas.com/read/2024/10/21/lego-llm-bytedance",
        title="Akun Ditangguhkan OpenAI, ByteDance Umumkan LLM AI 'LEGO'",
        language="id",
        feed="kompas-tekno",
        published_at=dt.datetime(2024, 10, 21, 14, 5, tzinfo=dt.UTC),
    )
    sabotage = DigestStory(
        story_id=5,
        title=first.title,
        language="id",
        matched_at=dt.datetime(2024, 10, 21, 8, 31, tzinfo=dt.UTC),
        outlets=(first, trigger),
        snippet="… <mark>Bytedance</mark> feuert Praktikanten wegen Sabotage am <mark>KI</mark>-Modell …",
    )
    lego_story = DigestStory(
        story_id=8,
        title=lego.title,
        language="id",
        matched_at=dt.datetime(2024, 10, 21, 14, 6, tzinfo=dt.UTC),
        outlets=(lego,),
        snippet="… <mark>ByteDance</mark> umumkan LLM <mark>AI</mark> bernama LEGO …",
    )
    doubao = dataclasses.replace(
        sabotage, matched_at=dt.datetime(2024, 10, 21, 11, 31, tzinfo=dt.UTC), snippet="… model <mark>Doubao</mark> …"
    )
    start = dt.datetime(2024, 10, 21, 6, 0, tzinfo=dt.UTC)
    digest = Digest(
        name="morning",
        schedule="daily 08:00 Europe/Berlin",
        zone="Europe/Berlin",
        period_start=start,
        period_end=start + dt.timedelta(days=1),
        since=start,
        until=start + dt.timedelta(days=1),
        topics=(DigestTopic("ByteDance AI", (lego_story, sabotage)), DigestTopic("Doubao", (doubao,))),
    )
    return DigestContent(42, digest, "monitor-digest-42", start + dt.timedelta(days=1, minutes=1))


def sample_update() -> UpdateContent:
    """The intern-sabotage story, alerted in Indonesian, now also in French."""
    alert = sample_alert()
    return UpdateContent(
        alert_id=23,
        topic=alert.topic,
        story_id=alert.story_id,
        story_title=alert.story_title,
        first_seen=alert.first_seen,
        change=StoryChange(language="fr"),
        article=alert.outlets[2],
        outlets=alert.outlets,
        idempotency_key="monitor-update-23",
        created_at=alert.created_at + dt.timedelta(hours=2),
    )


def sample_operator() -> OperatorContent:
    since = dt.datetime(2024, 10, 20, 6, 0, tzinfo=dt.UTC)
    event = OperatorEvent(
        event=FEED_FAILING,
        subject="heise",
        at=since + dt.timedelta(hours=24, minutes=3),
        since=since,
        error="https://www.heise.de/rss/heise.rdf answered HTTP 503; the feed will be retried later",
        url="https://www.heise.de/rss/heise.rdf",
    )
    return OperatorContent(31, event, "monitor-operator-31", event.at)
