"""The operator's probe scheduler without kopf: a stand-in reconciler serves the check and the snapshot."""
from __future__ import annotations

import asyncio
import base64

import pytest

from nacos_auth_guard.catalog import CONCERNS, PROBE_SUCCEEDED
from nacos_auth_guard.evaluation import parse_spec
from nacos_auth_guard.kube.probing import Prober
from nacos_auth_guard.snapshot import build_snapshot
from support.nacos_emulator import NacosEmulator, Node
from support.objects import KEY_A, NS, healthy_cluster, pods_of, secret, statefulset

KEY = (NS, "nacos")


def check(port: int, enabled: bool = True, interval: int = 30) -> dict:
    return {"apiVersion": "nacosguard.io/v1alpha1", "kind": "NacosAuthCheck",
            "metadata": {"name": "nacos", "namespace": NS},
            "spec": {"server": {"statefulSetName": "nacos"},
                     "probe": {"enabled": enabled, "credentialsSecretRef": {"name": "nacos-probe"},
                               "intervalSeconds": interval, "port": port, "timeoutSeconds": 2}}}


class StandIn:
    """What the Prober asks of the Reconciler."""

    def __init__(self, body: dict, objects: list[dict]) -> None:
        self.body, self.objects, self.marked = body, objects, 0

    def body_of(self, key):
        return self.body

    def snapshot(self, namespaces):
        return build_snapshot(self.objects, complete=True)

    def mark(self, key):
        self.marked += 1

    def update(self, prober: Prober):
        return prober.update(KEY, parse_spec(self.body), self.snapshot(None))


def objects() -> list[dict]:
    pods = pods_of(statefulset(), ["2026-11-22T10:00:00Z"] * 3)
    for pod in pods:
        pod["status"].update(podIP="127.0.0.1", conditions=[{"type": "Ready", "status": "True"}])
    return healthy_cluster() + pods + [secret("nacos-probe", {"username": "p", "password": "pw"})]


async def until(predicate, timeout: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.01)


@pytest.mark.asyncio
async def test_first_run_then_nothing_until_the_interval_whatever_happens():
    with NacosEmulator({"nacos": Node(base64.b64decode(KEY_A), {"p": "pw"})}) as nacos:
        standin = StandIn(check(nacos.ports["nacos"]), objects())
        prober = Prober(standin)
        view = standin.update(prober)
        assert view.concerns == (*CONCERNS, PROBE_SUCCEEDED) and view.pending == {
            PROBE_SUCCEEDED: ("ProbePending", "The first probe run has not finished yet.")}
        assert view.dependencies == {("Secret", NS, "nacos-probe")}
        await until(lambda: standin.marked == 1)
        assert standin.update(prober).findings == [] and standin.update(prober).pending is None
        assert nacos.logins() == 3
        for _ in range(100):                               # a storm of reconciles
            standin.update(prober)
        standin.body = check(nacos.ports["nacos"], enabled=False)   # disabled ...
        assert standin.update(prober).concerns == CONCERNS and prober.schedules == {}
        standin.body = check(nacos.ports["nacos"], interval=40)     # ... and enabled again, interval changed
        view = standin.update(prober)
        assert view.pending is not None                    # no result shown from before the pause
        await asyncio.sleep(0.5)
        assert nacos.logins() == 3 and standin.marked == 1   # still inside the interval: no run
        await prober.stop()
        assert all(s.task is None or s.task.done() for s in prober.schedules.values())


@pytest.mark.asyncio
async def test_inputs_problems_show_at_once_and_the_run_waits_for_a_change():
    with NacosEmulator({"nacos": Node(base64.b64decode(KEY_A), {"p": "pw"})}) as nacos:
        without_secret = [o for o in objects() if o["metadata"]["name"] != "nacos-probe"]
        standin = StandIn(check(nacos.ports["nacos"]), without_secret)
        prober = Prober(standin)
        [problem] = standin.update(prober).findings
        assert problem.code == "NAG605"
        await asyncio.sleep(0.2)
        assert nacos.logins() == 0
        standin.objects = objects()                       # the Secret appears: the reconcile wakes the scheduler
        assert standin.update(prober).pending is not None
        await until(lambda: nacos.logins() == 3)
        await prober.stop()
