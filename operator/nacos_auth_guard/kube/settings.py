"""Operator configuration: set once by `nacos-auth-guard run` (or a test) before kopf starts."""
from __future__ import annotations

import itertools
import logging
from dataclasses import dataclass, field

GROUP, VERSION, PLURAL = "nacosguard.io", "v1alpha1", "nacosauthchecks"
COMPONENT = "nacos-auth-guard"
AUTO_CHECK_ANNOTATION = "nacosguard.io/auto-check"   # "false" on a StatefulSet: create no NacosAuthCheck for it


@dataclass(slots=True)
class OperatorConfig:
    namespaces: list[str] = field(default_factory=list)   # empty: cluster-wide
    auto_discover: bool = True
    resync_seconds: float = 300.0    # re-evaluate every check this often (tokens expire as time passes)
    debounce_seconds: float = 0.02   # coalesce a burst of changes (a rollout) into one evaluation
    # A workload created this recently may be waiting for its Secret or ConfigMap (applied after it).
    settle_seconds: float = 15.0
    metrics_port: int | None = None
    metrics_address: str = "0.0.0.0"   # every IPv4 address, as before the flag existed
    webhook_port: int | None = None   # serve the admission webhooks (kube/webhooks.py) on this port
    webhook_address: str = "0.0.0.0"
    webhook_cert: str | None = None   # PEM files (cert-manager's Secret); re-read when they change
    webhook_key: str | None = None
    webhook_reload_seconds: float = 10.0   # how often to look for a renewed certificate (two stat calls)
    # Answered without a check even if the apiserver calls us for them (the configuration's namespaceSelector
    # excludes them too): a broken operator must never be able to block the namespaces that could repair it.
    webhook_exclude_namespaces: frozenset[str] = frozenset({"kube-system"})
    webhook_only: bool = False        # indexes and webhooks only: no status writes, no Events, no created checks
    api_timeout_seconds: float = 60.0   # one API request (not a watch); a hung apiserver must not stall us
    retry_max_seconds: float = 15.0     # failed API calls and reconciles retry forever, backing off up to this


CONFIG = OperatorConfig()


def backoff(attempt: int) -> float:
    """Seconds before retry number `attempt` (1, 2, ...) of a failed API call or reconcile: 0.5 s, doubling, capped."""
    return min(0.5 * 2 ** (attempt - 1), CONFIG.retry_max_seconds)


class RetryForever:
    """kopf's error backoffs, never giving up. kopf's default gives up after ~54 s and then stops the whole
    operator: an apiserver that answers 5xx for a minute would crash-loop the pod."""

    def __iter__(self):
        return (backoff(attempt) for attempt in itertools.count(1))


def configure_kopf(settings) -> None:
    """kopf settings every entry point shares (run, tests, benchmarks)."""
    if CONFIG.webhook_port is not None:
        from .admission_server import AdmissionServer
        from .webhooks import ROUTES, indexes_ready
        settings.admission.server = AdmissionServer(addr=CONFIG.webhook_address, port=CONFIG.webhook_port,
                                                    routes=ROUTES, certfile=CONFIG.webhook_cert,
                                                    keyfile=CONFIG.webhook_key,
                                                    reload_seconds=CONFIG.webhook_reload_seconds,
                                                    ready=indexes_ready)
        settings.admission.managed = None   # deploy/ ships the ValidatingWebhookConfiguration
    settings.posting.enabled = not CONFIG.webhook_only
    settings.posting.reporting_component = COMPONENT
    settings.posting.event_name_prefix = f"{COMPONENT}-"
    settings.posting.level = logging.INFO
    _quiet_watch_handlers()
    settings.peering.standalone = True
    settings.persistence.finalizer = f"{GROUP}/finalizer"   # only used if a future handler needs one
    settings.watching.server_timeout = 300
    settings.networking.request_timeout = CONFIG.api_timeout_seconds
    settings.networking.connect_timeout = min(10.0, CONFIG.api_timeout_seconds)
    settings.networking.error_backoffs = RetryForever()


class _WatchHandlerSuccesses(logging.Filter):
    """kopf logs "Handler '...' succeeded." at INFO for every watch event (and admission review) it hands to a
    handler (kopf/_core/actions/execution.py, kopf 1.x): on a busy cluster the log is nothing else. Those come
    from kopf's local object loggers (k8s_skip: never posted as Events) and are kept only in --verbose runs;
    everything else kopf and our handlers log, and every warning and error, passes."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno >= logging.WARNING or not getattr(record, "k8s_skip", False):
            return True
        message = record.getMessage()
        return (not (message.startswith("Handler ") and message.endswith(" succeeded."))
                or logging.getLogger().isEnabledFor(logging.DEBUG))


def _quiet_watch_handlers() -> None:
    objects = logging.getLogger("kopf.objects")
    if not any(isinstance(f, _WatchHandlerSuccesses) for f in objects.filters):
        objects.addFilter(_WatchHandlerSuccesses())
