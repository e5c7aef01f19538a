"""Findings -> NacosAuthCheck status: metav1 Conditions (Ready, Reconciling, Stalled, one per concern) that follow
the Kubernetes API conventions and kstatus, a bounded findings list and counts. Pure: the clock is an argument.

lastTransitionTime changes only when a condition's status flips. `same_status` compares two statuses ignoring
lastCheckedTime, so the operator writes only when something a reader cares about changed.
"""
from __future__ import annotations

from datetime import datetime

from .catalog import CATALOG, CONCERNS, SERVER_FOUND
from .model import Finding, Severity

MAX_FINDINGS = 50
MAX_MESSAGE = 1024
READY, RECONCILING, STALLED = "Ready", "Reconciling", "Stalled"
SUCCESS_REASONS = {
    "SecretsResolved": "AllReferencesResolved", "TokenKeyValid": "KeyValid", "TokenKeyConsistent": "KeysMatch",
    "IdentityConsistent": "IdentityMatches", "ClientsConfigured": "ClientsSendCredentials",
    "TokensValid": "TokensValid", "ProbeSucceeded": "ProbeSucceeded", "ClientsAuthenticated": "ClientsLoggedIn",
}


def timestamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _ordered(findings: list[Finding]) -> list[Finding]:
    return sorted(findings, key=lambda f: (-f.severity, f.code, f.obj))


def _summary_message(findings: list[Finding]) -> str:
    first = findings[0]
    more = f" (and {len(findings) - 1} more)" if len(findings) > 1 else ""
    text = f"{first.obj}: {first.message}"
    return text[: MAX_MESSAGE - len(more) - 1] + "…" + more if len(text) + len(more) > MAX_MESSAGE else text + more


def _condition(kind: str, problems: list[Finding], success_reason: str, success_message: str) -> tuple:
    if problems:
        ordered = _ordered(problems)
        return kind, "False", ordered[0].reason, _summary_message(ordered)
    return kind, "True", success_reason, success_message


def conditions_for(findings: list[Finding], *, stalled: tuple[str, str] | None = None,
                   concerns: tuple[str, ...] = CONCERNS,
                   pending: dict[str, tuple[str, str]] | None = None) -> list[tuple[str, str, str, str]]:
    """(type, status, reason, message) for each condition, in a stable order. `pending`: concern -> (reason,
    message) for concerns with no verdict yet (Unknown, unless a finding already says False); for Reconciling:
    the status is not final yet (True)."""
    problems = [f for f in findings if f.severity >= Severity.WARNING]
    errors = [f for f in problems if f.severity is Severity.ERROR]
    by_concern = {concern: [f for f in problems if CATALOG[f.code].concern == concern] for concern in concerns}
    if stalled is None:
        blocking = [f for f in errors if CATALOG[f.code].concern == SERVER_FOUND]
        if blocking:
            stalled = (blocking[0].reason, _summary_message(blocking))
    if stalled:
        ready = (READY, "False", stalled[0], stalled[1])
    elif errors:
        ready = _condition(READY, errors, "", "")
    elif problems:
        ready = (READY, "True", "PassedWithWarnings",
                 f"No errors; {len(problems)} warning(s): {_summary_message(_ordered(problems))}"[:MAX_MESSAGE])
    else:
        ready = (READY, "True", "AllChecksPassed", "Every check passed.")
    reconciling = (pending or {}).get(RECONCILING)
    result = [ready,
              (RECONCILING, "True", *reconciling) if reconciling
              else (RECONCILING, "False", "UpToDate", "The status reflects the current spec and cluster state."),
              (STALLED, "True", stalled[0], stalled[1]) if stalled
              else (STALLED, "False", "Progressing", "Checks are running.")]
    for concern in concerns:
        if concern in (pending or {}) and not by_concern[concern]:
            result.append((concern, "Unknown", *pending[concern]))
        else:
            result.append(_condition(concern, by_concern[concern], SUCCESS_REASONS[concern], "No problem found."))
    return result


def build_status(findings: list[Finding], *, previous: dict | None, generation: int | None, now: datetime,
                 servers: int, clients: int, stalled: tuple[str, str] | None = None,
                 concerns: tuple[str, ...] = CONCERNS, pending: dict[str, tuple[str, str]] | None = None) -> dict:
    previous_conditions = {c.get("type"): c for c in (previous or {}).get("conditions") or [] if isinstance(c, dict)}
    conditions = []
    for kind, status, reason, message in conditions_for(findings, stalled=stalled, concerns=concerns,
                                                            pending=pending):
        before = previous_conditions.get(kind) or {}
        transition = before.get("lastTransitionTime") if before.get("status") == status else None
        condition = {"type": kind, "status": status, "reason": reason, "message": message,
                     "lastTransitionTime": transition or timestamp(now)}
        if generation is not None:
            condition["observedGeneration"] = generation
        conditions.append(condition)
    ordered = _ordered(findings)
    counts = {severity: sum(1 for f in findings if f.severity is severity) for severity in Severity}
    status = {
        "conditions": conditions,
        "findings": [{"code": f.code, "reason": f.reason, "severity": str(f.severity), "object": str(f.obj),
                      "message": f.message[:MAX_MESSAGE]} for f in ordered[:MAX_FINDINGS]],
        "findingsTotal": len(findings),
        "servers": servers,
        "clients": clients,
        "problems": counts[Severity.ERROR] + counts[Severity.WARNING],
        "summary": {"errors": counts[Severity.ERROR], "warnings": counts[Severity.WARNING],
                    "infos": counts[Severity.INFO]},
        # Microseconds (metav1.MicroTime's format): two evaluations within one second stay distinct, and the
        # operator names a transition's Events after the status it starts from.
        "lastCheckedTime": now.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
    }
    if generation is not None:
        status["observedGeneration"] = generation
    return status


def same_status(a: dict | None, b: dict | None) -> bool:
    def comparable(status: dict | None) -> dict:
        return {k: v for k, v in (status or {}).items() if k != "lastCheckedTime"}
    return comparable(a) == comparable(b)


def finding_keys(status: dict | None) -> set[tuple[str, str]]:
    """(code, object) of the findings a status lists: what Events were already posted for."""
    return {(f.get("code"), f.get("object")) for f in (status or {}).get("findings") or [] if isinstance(f, dict)}
