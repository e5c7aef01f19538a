"""The live probe in the operator: one scheduler task per NacosAuthCheck with spec.probe.enabled.

Runs of one check start at least spec.probe.intervalSeconds apart, whatever arrives: events, resyncs, spec edits,
even disabling and re-enabling (start times outlive the task). The first run starts when probing is enabled; a
change to the server pods or the credentials Secret wakes a scheduler that waits for usable inputs, and the run
still waits for the interval. Each run reads its targets and credentials from the indexes when it starts, and its
findings go into the check's status through the reconciler (ProbeSucceeded appears only while probing).

With spec.probe.clients.enabled each run also logs in as the check's clients (client_probe.py plans it): a login
is tried when it is new, when its credentials changed (compared by a digest held in memory), or when its last try
is spec.probe.clients.intervalSeconds old; otherwise its last findings stand. Logins go one after another, each
with at most REQUESTS_PER_RUN requests in flight, so a wrong password reaches Nacos at most once per interval
(Nacos itself neither limits nor locks out failed logins: client_probe.py's docstring says where that was read).
"""
from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field

from ..catalog import CLIENTS_AUTHENTICATED, CONCERNS, PROBE_SUCCEEDED, finding
from ..client_login import ClientLoginResult, run_client_login
from ..client_probe import ClientLogin, client_login_findings, login_refused, plan_client_logins
from ..discovery import discover
from ..evaluation import CheckSpec, InvalidSpec, parse_spec
from ..model import Finding
from ..probe import Answer, ProbePlan, plan_probe, probe_findings
from ..probe_client import run_probe
from ..snapshot import Snapshot
from . import metrics

logger = logging.getLogger("nacos_auth_guard.probe")

PARALLEL_RUNS = 2          # checks probed at the same time
REQUESTS_PER_RUN = 4       # requests in flight within one run
PENDING = ("ProbePending", "The first probe run has not finished yet.")
CLIENTS_WAITING = ("ProbeNotRunning", "Client logins run with the probe, which cannot run yet: see ProbeSucceeded.")

Key = tuple[str, str]


@dataclass(frozen=True, slots=True)
class ProbeView:
    """What a reconcile adds to the status for the probe."""
    findings: list[Finding] = field(default_factory=list)
    concerns: tuple[str, ...] = CONCERNS
    pending: dict[str, tuple[str, str]] | None = None
    dependencies: frozenset[tuple[str, str, str]] = frozenset()


DISABLED = ProbeView()


@dataclass(slots=True)
class _ClientState:
    started: float            # loop time of its last login
    fingerprint: str          # digest of the credentials that login used: in memory only, never printed
    findings: list[Finding]


@dataclass(slots=True)
class _Schedule:
    interval: int
    task: asyncio.Task | None = None
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    findings: list[Finding] | None = None    # the last run's; None before the first run


class Prober:
    def __init__(self, reconciler) -> None:
        self.reconciler = reconciler       # body_of(key), snapshot(namespaces), mark(key)
        self.schedules: dict[Key, _Schedule] = {}
        self.last_start: dict[Key, float] = {}
        self.clients: dict[Key, dict[tuple, _ClientState]] = {}   # by ClientLogin.key; outlives schedules too
        self.runs = asyncio.Semaphore(PARALLEL_RUNS)

    def update(self, key: Key, spec: CheckSpec, snapshot: Snapshot, active: bool = True) -> ProbeView:
        """Called by every reconcile of the check: (re)configures its scheduler and says what the status shows."""
        probe = spec.probe
        if probe is None or not active:
            self.stop_check(key)
            return DISABLED
        schedule = self.schedules.get(key)
        if schedule is None:
            schedule = self.schedules[key] = _Schedule(probe.interval)
        schedule.interval = probe.interval
        if schedule.task is None or schedule.task.done():
            schedule.task = asyncio.create_task(self._schedule(key, schedule), name=f"probe {key[0]}/{key[1]}")
        schedule.wake.set()   # inputs or interval may have changed; the scheduler still keeps the interval
        dependencies = frozenset({("Secret", spec.namespace, probe.secret)})
        clients = probe.clients_interval is not None
        concerns = (*CONCERNS, PROBE_SUCCEEDED, *([CLIENTS_AUTHENTICATED] if clients else []))
        plan = plan_probe(spec, snapshot)
        if plan.problems:
            return ProbeView(_kept(spec, list(plan.problems)), concerns,
                             {CLIENTS_AUTHENTICATED: CLIENTS_WAITING} if clients else None, dependencies)
        if schedule.findings is None:
            pending = {PROBE_SUCCEEDED: PENDING, **({CLIENTS_AUTHENTICATED: PENDING} if clients else {})}
            return ProbeView([], concerns, pending, dependencies)
        return ProbeView(schedule.findings, concerns, None, dependencies)

    def stop_check(self, key: Key) -> None:
        schedule = self.schedules.pop(key, None)
        if schedule is not None and schedule.task is not None:
            schedule.task.cancel()

    async def stop(self) -> None:
        tasks = [s.task for s in self.schedules.values() if s.task is not None]
        self.schedules.clear()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def _inputs(self, key: Key) -> tuple[CheckSpec, Snapshot] | None:
        body = self.reconciler.body_of(key)
        if body is None:
            return None
        try:
            spec = parse_spec(body)
        except InvalidSpec:
            return None
        return spec, self.reconciler.snapshot(frozenset({spec.namespace}))

    async def _schedule(self, key: Key, schedule: _Schedule) -> None:
        loop = asyncio.get_running_loop()
        while True:
            last = self.last_start.get(key)
            delay = 0.0 if last is None else last + schedule.interval - loop.time()
            if delay > 0:
                schedule.wake.clear()
                try:   # woken early only to re-read the interval; the run still waits for it
                    await asyncio.wait_for(schedule.wake.wait(), delay)
                except asyncio.TimeoutError:
                    pass
                continue
            inputs = self._inputs(key)
            if inputs is None or inputs[0].probe is None:
                return
            spec, snapshot = inputs
            plan = plan_probe(spec, snapshot)
            if plan.problems:   # the reconcile shows them; wait for a change to the pods or the Secret
                schedule.wake.clear()
                await schedule.wake.wait()
                continue
            self.last_start[key] = loop.time()
            findings = await self._run(key, spec, plan)
            if spec.probe.clients_interval is not None:
                findings += await self._client_logins(key, spec, plan, snapshot)
            schedule.findings = _kept(spec, findings)
            self.reconciler.mark(key)

    async def _run(self, key: Key, spec: CheckSpec, plan: ProbePlan) -> list[Finding]:
        probe = spec.probe
        started = time.perf_counter()
        async with self.runs:
            try:
                results = await run_probe(plan.targets, plan.credentials, scheme=probe.scheme,
                                          timeout=probe.timeout, concurrency=REQUESTS_PER_RUN)
            except asyncio.CancelledError:
                raise
            except Exception as error:  # noqa: BLE001 - a bug must show in the status, not stop the scheduler
                logger.exception("Probing NacosAuthCheck %s/%s failed", *key)
                metrics.PROBE_RUNS.labels(result="error").inc()
                return [finding("NAG603", spec.server, cluster=spec.server, pods="any pod",
                                detail=f"the probe itself failed ({type(error).__name__}; see the operator's log)",
                                port=probe.port, scheme=probe.scheme)]
        findings = probe_findings(spec, results, plan)
        metrics.PROBE_SECONDS.observe(time.perf_counter() - started)
        metrics.PROBE_REQUESTS.inc(results.requests)
        metrics.PROBE_RUNS.labels(result="failed" if findings else "succeeded").inc()
        logger.debug("Probe of NacosAuthCheck %s/%s: %d finding(s)", *key, len(findings))
        return findings

    async def _client_logins(self, key: Key, spec: CheckSpec, plan: ProbePlan, snapshot: Snapshot) -> list[Finding]:
        """Logs in as each client that is due, on the first ready pod; returns every client's latest findings."""
        probe = spec.probe
        loop = asyncio.get_running_loop()
        topology = discover(snapshot, servers={spec.server})
        server = next((s for s in topology.servers if s.ref == spec.server), None)
        logins = plan_client_logins(spec, topology, snapshot)
        wanted = {login.key for login in logins}
        states = self.clients.setdefault(key, {})
        for stale in [k for k in states if k not in wanted]:
            del states[stale]
        target = plan.targets[0]
        tried = 0
        for login in logins:
            state = states.get(login.key)
            fingerprint = login.fingerprint
            if state is not None and state.fingerprint == fingerprint and \
                    loop.time() - state.started < probe.clients_interval:
                continue
            tried += 1
            started = loop.time()
            async with self.runs:
                result = await self._login(key, login, target, spec)
            findings = client_login_findings(login, result, spec.server, server.version if server else None,
                                             probe.port, probe.scheme)
            _count(result)
            states[login.key] = _ClientState(started, fingerprint, findings)
        logger.debug("Client logins of NacosAuthCheck %s/%s: %d of %d tried", *key, tried, len(logins))
        return [f for login in logins for f in states[login.key].findings]

    @staticmethod
    async def _login(key: Key, login: ClientLogin, target, spec: CheckSpec) -> ClientLoginResult:
        probe = spec.probe
        try:
            return await run_client_login(target, login.credentials, login.reads, login.naming, scheme=probe.scheme,
                                          timeout=probe.timeout, concurrency=REQUESTS_PER_RUN)
        except asyncio.CancelledError:
            raise
        except Exception as error:  # noqa: BLE001 - a bug must show in the status, not stop the scheduler
            logger.exception("Client login of %s for NacosAuthCheck %s/%s failed", login.client, *key)
            return ClientLoginResult(target.pod, False, Answer(
                None, f"the client login itself failed ({type(error).__name__}; see the operator's log)"))


def _count(result: ClientLoginResult) -> None:
    metrics.PROBE_REQUESTS.inc(result.requests)
    if not result.logged_in:
        # the same rule as the finding: refused is NAG611, anything else NAG615
        metrics.CLIENT_LOGINS.labels(outcome="refused" if login_refused(result.answer) else "unverified").inc()
        return
    metrics.CLIENT_LOGINS.labels(outcome="logged_in").inc()
    for read in result.reads:
        metrics.CLIENT_READS.labels(kind="config", outcome=read.outcome.value).inc()
    if result.naming is not None:
        metrics.CLIENT_READS.labels(kind="naming", outcome=result.naming.outcome.value).inc()


def _kept(spec: CheckSpec, findings: list[Finding]) -> list[Finding]:
    return [f for f in findings if f.code not in spec.exclude]
