"""Alerts to people: ``streamproc alerts forward`` posts every alert message to Alertmanager (its
API v2) and/or a signed webhook, at least once, dead-lettering deliveries that keep failing."""

from ._alertmanager import ALERTNAME, AlertmanagerSink, alert_labels, alertmanager_alert
from ._delivery import Delivery, DeliveryFailure, RetryPolicy, deliver
from ._forwarder import AlertForwarder
from ._metrics import ForwardMetrics
from ._open import OpenAlerts
from ._service import run_forwarder
from ._webhook import (
    IDEMPOTENCY_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    WebhookSink,
    signature,
    verify_signature,
    webhook_body,
)

__all__ = [
    "ALERTNAME",
    "IDEMPOTENCY_HEADER",
    "SIGNATURE_HEADER",
    "TIMESTAMP_HEADER",
    "AlertForwarder",
    "AlertmanagerSink",
    "Delivery",
    "DeliveryFailure",
    "ForwardMetrics",
    "OpenAlerts",
    "RetryPolicy",
    "WebhookSink",
    "alert_labels",
    "alertmanager_alert",
    "deliver",
    "run_forwarder",
    "signature",
    "verify_signature",
    "webhook_body",
]
