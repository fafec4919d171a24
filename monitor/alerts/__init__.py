"""Alerts: rendering (pure) and the delivery channels (webhook, email).

``render`` turns one queued alert into bytes or a mail message and never touches the
network; ``webhook`` and ``email`` are thin adapters that send what ``render`` made and
translate every failure into one ``DeliveryError`` line. The outbox decides when to call
them and retries.
"""
