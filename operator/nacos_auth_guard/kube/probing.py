"""The live probe in the operator: one scheduler task per NacosAuthCheck with spec.probe.enabled.

Runs of one check start at least spec.probe.intervalSeconds apart, whatever arrives: events, resyncs, spec edits,
even disabling and re-enabling (start times outlive the task). The first run starts when probing is enabled; a
change to the server pods or the credentials Secret wakes a scheduler that waits for usable inputs, and the run
still waits for the interval. Each run reads its targets and credentials from the indexes when it starts, and its
findings go into the check's status through the reconciler (ProbeSucceeded appears only while probing).
"""
from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field

from ..catalog import CONCERNS, PROBE_SUCCEEDED, finding
from ..evaluation import CheckSpec, InvalidSpec, parse_spec
from ..model import Finding
from ..probe import ProbePlan, plan_probe, probe_findings
from ..probe_client import run_probe
from ..snapshot import Snapshot
from . import metrics

logger = logging.getLogger("nacos_auth_guard.probe")

PARALLEL_RUNS = 2          # checks probed at the same time
REQUESTS_PER_RUN = 4       # requests in flight within one run
PENDING = ("ProbePending", "The first probe run has not finished yet.")

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
        concerns = (*CONCERNS, PROBE_SUCCEEDED)
        plan = plan_probe(spec, snapshot)
        if plan.problems:
            return ProbeView(_kept(spec, list(plan.problems)), concerns, None, dependencies)
        if schedule.findings is None:
            return ProbeView([], concerns, {PROBE_SUCCEEDED: PENDING}, dependencies)
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
            schedule.findings = _kept(spec, await self._run(key, spec, plan))
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


def _kept(spec: CheckSpec, findings: list[Finding]) -> list[Finding]:
    return [f for f in findings if f.code not in spec.exclude]
