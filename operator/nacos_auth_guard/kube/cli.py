"""`run` (the operator) and `scan` (a one-shot check of a live cluster)."""
from __future__ import annotations

import argparse
import logging
import re
import sys

from ..redaction import address_for_message

# (group/version path, plural, kind) of everything the checks read, for `scan`.
SCAN_RESOURCES = (
    ("api/v1", "secrets", "Secret"), ("api/v1", "configmaps", "ConfigMap"), ("api/v1", "services", "Service"),
    ("api/v1", "pods", "Pod"), ("apis/apps/v1", "statefulsets", "StatefulSet"),
    ("apis/apps/v1", "deployments", "Deployment"), ("apis/apps/v1", "replicasets", "ReplicaSet"),
    ("apis/apps/v1", "daemonsets", "DaemonSet"),
    ("apis/batch/v1", "jobs", "Job"), ("apis/batch/v1", "cronjobs", "CronJob"),
    ("apis/nacosguard.io/v1alpha1", "nacosauthchecks", "NacosAuthCheck"),
)


def add_commands(commands) -> None:
    from ..cli import add_report_options
    run = commands.add_parser("run", help="run the operator (in a cluster, or against your kubeconfig)",
                              description="Watch Nacos servers and clients; write NacosAuthCheck status and Events.")
    scope = run.add_mutually_exclusive_group()
    scope.add_argument("-n", "--namespace", action="append", default=[], dest="namespaces",
                       help="watch this namespace (repeatable); default: all namespaces")
    scope.add_argument("-A", "--all-namespaces", action="store_true", help="watch every namespace (the default)")
    run.add_argument("--no-auto-discover", action="store_true",
                     help="do not create a NacosAuthCheck for each Nacos server found (a StatefulSet, "
                          "Deployment, ReplicaSet or Pod that runs Nacos)")
    run.add_argument("--liveness", metavar="URL", default=None,
                     help="serve kopf's liveness endpoint, e.g. http://0.0.0.0:8080/healthz")
    run.add_argument("--metrics-port", type=int, default=None, help="serve Prometheus metrics on this port")
    run.add_argument("--metrics-address", default="0.0.0.0",
                     help="listen address of the metrics (default: 0.0.0.0, every IPv4 address; 127.0.0.1: this "
                          "host only, :: for IPv6)")
    run.add_argument("--webhook-port", type=int, default=None,
                     help="serve the validating admission webhooks on this port (default: off)")
    run.add_argument("--webhook-address", default="0.0.0.0", help="listen address of the webhooks (default: 0.0.0.0)")
    run.add_argument("--webhook-cert", default=None,
                     help="TLS certificate file (PEM) for the webhooks; re-read when it changes (cert-manager)")
    run.add_argument("--webhook-key", default=None, help="TLS private key file (PEM) for the webhooks")
    run.add_argument("--webhook-exclude-namespaces", type=_names, default=frozenset({"kube-system"}),
                     metavar="NS[,NS]", help="answer reviews of objects in these namespaces without checking them; "
                                             "keep in step with the webhook configuration's namespaceSelector "
                                             "(default: kube-system)")
    run.add_argument("--webhook-only", action="store_true",
                     help="serve only the webhooks (a Deployment of its own): indexes, no status writes, no Events, "
                          "no NacosAuthChecks created; needs --webhook-port")
    run.add_argument("--settle-seconds", type=float, default=15.0,
                     help="a missing Secret or ConfigMap of a workload created less than this long ago is reported "
                          "only if still missing then (default: 15; 0: at once)")
    run.add_argument("--resync-seconds", type=float, default=300.0,
                     help="re-evaluate every check this often (default: 300)")
    run.add_argument("--log-format", choices=("json", "plain", "full"), default="json")
    run.add_argument("--verbose", action="store_true", help="debug logging (never includes secret values)")
    run.set_defaults(handler=run_command)

    scan = commands.add_parser("scan", help="check a live cluster once (kubeconfig), with lint's reports and exits",
                               description="List the objects the checks read and check them once. Exit codes as "
                                           "lint: 0 clean, 1 findings at or above --fail-on, 2 usage/API error, "
                                           "3 internal error.")
    scan.add_argument("--kubeconfig", default=None, help="kubeconfig file (default: KUBECONFIG or ~/.kube/config)")
    scan.add_argument("--context", default=None, help="kubeconfig context")
    where = scan.add_mutually_exclusive_group()
    where.add_argument("-n", "--namespace", action="append", default=[], dest="namespaces",
                       help="scan this namespace (repeatable); default: the kubeconfig's namespace")
    where.add_argument("-A", "--all-namespaces", action="store_true", help="scan every namespace")
    add_report_options(scan)
    scan.set_defaults(handler=scan_command, one_shot=True)


def run_command(args: argparse.Namespace) -> int:
    import kopf

    problem = _webhook_problem(args)
    if problem:
        print(f"nacos-auth-guard: {problem}", file=sys.stderr)
        return 2
    from . import handlers  # noqa: F401 - registers the handlers with kopf
    from .settings import CONFIG
    CONFIG.namespaces = list(args.namespaces)
    CONFIG.auto_discover = not args.no_auto_discover
    CONFIG.metrics_port, CONFIG.metrics_address = args.metrics_port, args.metrics_address
    CONFIG.resync_seconds = args.resync_seconds
    CONFIG.settle_seconds = args.settle_seconds
    CONFIG.webhook_port, CONFIG.webhook_cert, CONFIG.webhook_key = args.webhook_port, args.webhook_cert, args.webhook_key
    CONFIG.webhook_address = args.webhook_address
    CONFIG.webhook_exclude_namespaces = args.webhook_exclude_namespaces
    CONFIG.webhook_only = args.webhook_only
    if args.webhook_only:
        CONFIG.auto_discover = False
    if CONFIG.webhook_port is not None:
        from . import webhooks  # noqa: F401 - kopf refuses validate handlers without a webhook server
    kopf.configure(verbose=args.verbose, debug=args.verbose,
                   log_format={"json": kopf.LogFormat.JSON, "plain": kopf.LogFormat.PLAIN,
                               "full": kopf.LogFormat.FULL}[args.log_format])
    kopf.run(standalone=True, clusterwide=not CONFIG.namespaces, namespaces=CONFIG.namespaces,
             liveness_endpoint=args.liveness)
    return 0


def _names(text: str) -> frozenset[str]:
    return frozenset(name.strip() for name in text.split(",") if name.strip())


def _webhook_problem(args: argparse.Namespace) -> str | None:
    """Refuse at start what would otherwise fail later inside kopf: a missing or unloadable key pair."""
    import ssl
    if args.webhook_only and args.webhook_port is None:
        return "--webhook-only needs --webhook-port"
    if (args.webhook_cert is None) != (args.webhook_key is None):
        return "--webhook-cert and --webhook-key go together"
    if args.webhook_cert is not None:
        try:
            ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(args.webhook_cert, args.webhook_key)
        except (OSError, ssl.SSLError) as error:
            return (f"cannot load the webhook certificate {args.webhook_cert} with key {args.webhook_key}: "
                    f"{getattr(error, 'strerror', None) or error.__class__.__name__}")
    return None


class _Unreachable(Exception):
    """The API server cannot be reached at all: scanning further is pointless."""


def _list(client, path: str) -> tuple[int, list[dict], str]:
    """GET a list as raw JSON, page by page (much faster than building client models, and the engine wants
    dicts). Returns (HTTP status, items, the apiserver's Status message when it refused)."""
    import urllib3

    from . import kubeapi
    items: list[dict] = []
    try:
        for status, document in kubeapi.list_pages(client, path, "application/json", 60):
            if status != 200:
                return status, [], str(document.get("message") or "")[:300]
            items.extend(item for item in document.get("items") or [] if isinstance(item, dict))
    except urllib3.exceptions.HTTPError as error:   # refused, TLS, DNS, timeout
        raise _Unreachable(_network_reason(getattr(error, "reason", None) or error)) from None
    except ValueError:   # http.client refuses a header value with a line break (a token from an exec plugin)
        raise _Unreachable("the kubeconfig's credentials cannot be sent: a line break or control character in "
                           "them") from None
    return 200, items, ""


# Parts of a network error that come from the OS or OpenSSL; the rest of its text can quote the URL it failed on.
_SAFE_REASON = re.compile(r"\[Errno -?\d+\] [^()\[\]'\"]{0,80}|\[SSL: [A-Z0-9_]+\]|timed out")


def _network_reason(reason: BaseException) -> str:
    """Why a request got no answer, without the URL, host or credentials that urllib3's message may quote."""
    found = _SAFE_REASON.findall(str(reason))
    return f"{type(reason).__name__}: {found[0].strip()}" if found else type(reason).__name__


def _header_problem(configuration) -> str | None:
    """A credential that no HTTP header can carry (a token with a trailing newline is the usual one): the request
    would fail inside http.client with the whole header, token included, in its message."""
    for value in (configuration.api_key or {}).values():
        if isinstance(value, str) and any(ord(ch) < 32 and ch != "\t" or ord(ch) == 127 for ch in value):
            return ("the kubeconfig's user token holds a line break or control character (a trailing newline is "
                    "the usual one, e.g. from `echo` or a file read); no API server can receive it. Fix: remove it "
                    "from the token in the kubeconfig")
    return None


def _refusal(status: int, plural: str, namespace: str | None, message: str) -> str:
    where = f" in namespace {namespace}" if namespace else " in all namespaces"
    detail = f": {message}" if message else ""
    if status == 401:
        return (f"the API server refused the kubeconfig's credentials (HTTP 401) listing {plural}{detail}. "
                f"Fix: log in again or choose another --context")
    if status == 403:
        return (f"not allowed to list {plural}{where} (HTTP 403){detail}. Fix: grant list on {plural} to this "
                f"user (RBAC), or scan only the namespaces it may read with -n")
    return f"cannot list {plural}{where}: HTTP {status}{detail}"


def _context_namespace(kubeconfig: str | None, context: str | None) -> str:
    import kubernetes
    contexts, active = kubernetes.config.list_kube_config_contexts(config_file=kubeconfig)
    chosen = next((c for c in contexts if c.get("name") == context), None) if context else active
    return ((chosen or {}).get("context") or {}).get("namespace") or "default"


def scan_command(args: argparse.Namespace) -> int:
    import kubernetes

    from ..cli import check_objects, write_report
    from ..report import InputError, Report
    try:
        configuration = kubernetes.client.Configuration()
        kubernetes.config.load_kube_config(config_file=args.kubeconfig, context=args.context,
                                           client_configuration=configuration)
        default_namespace = _context_namespace(args.kubeconfig, args.context)
    except (kubernetes.config.ConfigException, OSError) as error:
        print(f"nacos-auth-guard: cannot load the kubeconfig: {error}", file=sys.stderr)
        return 2
    problem = _header_problem(configuration)
    if problem:
        print(f"nacos-auth-guard: cannot use the kubeconfig: {problem}", file=sys.stderr)
        return 2
    namespaces = [None] if args.all_namespaces else (args.namespaces or [default_namespace])
    objects, errors, unread, reached = [], [], set(), True
    with kubernetes.client.ApiClient(configuration) as client:
        try:
            for namespace in namespaces:
                for path, plural, kind in SCAN_RESOURCES:
                    url = f"/{path}/{plural}" if namespace is None else f"/{path}/namespaces/{namespace}/{plural}"
                    status, items, message = _list(client, url)
                    if status == 404 and kind == "NacosAuthCheck":
                        continue   # the CRD is not installed: nothing to check there
                    if status != 200:
                        errors.append(InputError(_refusal(status, plural, namespace, message)))
                        unread.add(kind)
                        continue
                    for item in items:
                        item.setdefault("kind", kind)
                        item.setdefault("apiVersion", path.split("/", 1)[1] if path.startswith("apis/") else "v1")
                    objects.extend(items)
        except _Unreachable as error:
            reached = False
            errors.append(InputError(f"cannot reach the API server at {address_for_message(configuration.host)} "
                                     f"({error}). Fix: check "
                                     f"the kubeconfig's server and your network, or choose another --context"))
    logging.getLogger("nacos_auth_guard").debug("scan read %d objects", len(objects))
    # A Secret or ConfigMap list that failed must not turn every reference into "missing": they become unknown.
    complete = reached and not unread & {"Secret", "ConfigMap"}
    findings = check_objects(objects, args, complete=complete, default_namespace=default_namespace, errors=errors)
    return write_report(Report(findings, errors, {}, len(objects), len(namespaces)), args)
