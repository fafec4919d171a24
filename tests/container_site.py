"""The seeds' site and a webhook receiver on the host, for deploy/ci-container.sh.

    python tests/container_site.py STATE_DIR

serves the seeds (an RSS feed and its pages, as tests/seedsite.py does) and a webhook
receiver on 127.0.0.1, writes STATE_DIR/monitor.yaml (a configuration for a container
on the host's network) and then one file per alert received, STATE_DIR/hooks/N.json,
until SIGTERM. Containers run with `--network host` reach both on loopback; nothing
leaves the machine.
"""

from __future__ import annotations

import signal
import sys
import threading
from pathlib import Path

import yaml
from conftest import DEFAULT_TOPICS
from hostile import HostileServer
from receivers import WebhookReceiver
from seedsite import publish


def configuration(feed: str, hook: str) -> dict[str, object]:
    """Polls the seeds every second; the database, API and metrics addresses come from the environment."""
    return {
        "feeds": [{"name": "seeds", "url": feed}],
        "topics": DEFAULT_TOPICS,
        "fetch": {"allow_networks": ["127.0.0.0/8"], "timeout": "10s"},
        "polling": {"tick": "1s", "workers": 1},
        "alerts": {"webhooks": [{"url": hook, "name": "host"}], "first_retry": "2s"},
        "api": {"listen": "${MONITOR_API_LISTEN}"},
        "metrics": {"listen": "${MONITOR_METRICS_LISTEN}"},
    }


def main(state: Path) -> None:
    hooks = state / "hooks"
    hooks.mkdir(parents=True, exist_ok=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with HostileServer() as site, WebhookReceiver() as receiver:
        text = yaml.safe_dump(configuration(publish(site), receiver.url), allow_unicode=True)
        (state / "monitor.yaml").write_text(text, encoding="utf-8")
        written = 0
        while not stop.wait(0.2):
            for request in receiver.delivered[written:]:
                written += 1
                (hooks / f"{written}.json").write_bytes(request.body)


if __name__ == "__main__":
    main(Path(sys.argv[1]))
