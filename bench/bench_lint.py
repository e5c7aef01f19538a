"""Lint throughput and memory on generated, realistic manifests, against the parsers' own speed.

    python bench/bench_lint.py [--sizes 2500,5000,10000] [--repeat 3]
                               [--shape namespaces|tenant|rendered|foreign-jwt|nacos-jwt]

Each namespace gets a Nacos cluster (StatefulSet, 3 Pods, 2 Services, an auth Secret) and its clients
(Deployments with Spring env and credentials Secrets, ConfigMaps with bootstrap.yml); some namespaces carry a
problem (a pod left on another key, a client without credentials), so the checks do real work. The other shapes
are inputs that once cost more than their size: `tenant` puts every server in one namespace, as one tenant with
many idle Nacos StatefulSets and Deployments, each with its Service, all labelled `app: nacos` (Service matching
was servers x Services, issue 10.4; published keys decoded for every server, issue 15); `rendered` repeats a
shared Namespace and ConfigMap alike with every namespace (each copy made a check of the whole input);
`foreign-jwt` adds to each namespace a workload holding another service's JWT (a warning from every server), and
`nacos-jwt` one holding a token Nacos writes that no server signed (still tokens x servers signature checks, one
warning each). Each run is a fresh `nacos-auth-guard lint DIR -o json` process; reported: wall time (and held to
one core, where lint reads and checks in one process), documents/second and peak RSS (from wait4), best of
--repeat, with the project's modules compiled as an install leaves them. Anchors, in the same run, interleaved
with lint's runs, and also as whole processes: parse-only time of the same files with PyYAML's C loader and with
yaml-rs, and lint's ratio to each. Then start-up: a lint of one small file, `--help` and `explain`, against the
interpreter starting and importing nothing (`python -c pass`) and importing PyYAML.
"""
from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import json
import os
import random
import subprocess
import sys
import tempfile
import time

import yaml

DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


def namespace_documents(index: int, rng: random.Random) -> list[dict]:
    ns = f"team-{index:04d}"
    key = base64.b64encode(rng.randbytes(32)).decode()   # the key text the server reads, as `openssl rand -base64 32`
    labels = {"app": "nacos"}
    env = [{"name": "MODE", "value": "cluster"}, {"name": "NACOS_AUTH_ENABLE", "value": "true"},
           {"name": "PREFER_HOST_MODE", "value": "hostname"},
           {"name": "NACOS_SERVERS", "value": " ".join(f"nacos-{i}.nacos-headless.{ns}.svc.cluster.local:8848"
                                                       for i in range(3))}]
    env += [{"name": n, "valueFrom": {"secretKeyRef": {"name": "nacos-auth", "key": k}}}
            for n, k in (("NACOS_AUTH_TOKEN", "token"), ("NACOS_AUTH_IDENTITY_KEY", "identity-key"),
                         ("NACOS_AUTH_IDENTITY_VALUE", "identity-value"))]
    container = {"name": "nacos", "image": "nacos/nacos-server:v2.4.3", "env": env,
                 "ports": [{"containerPort": p} for p in (8848, 9848, 7848)],
                 "resources": {"requests": {"cpu": "500m", "memory": "2Gi"}},
                 "volumeMounts": [{"name": "data", "mountPath": "/home/nacos/data"}]}
    sts = {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "nacos", "namespace": ns},
           "spec": {"serviceName": "nacos-headless", "replicas": 3, "selector": {"matchLabels": labels},
                    "template": {"metadata": {"labels": labels}, "spec": {"containers": [container]}}}}
    docs: list[dict] = [
        sts,
        {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "nacos-auth", "namespace": ns,
                                                           "managedFields": [{"manager": "kubectl", "operation":
                                                                              "Update", "time": "2026-11-01T00:00:00Z",
                                                                              "fieldsV1": {"f:data": {"f:token": {}}}}]},
         "data": {"token": base64.b64encode(key.encode()).decode(), "identity-key": base64.b64encode(b"x-peer").decode(),
                  "identity-value": base64.b64encode(rng.randbytes(12).hex().encode()).decode()}},
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "nacos-headless", "namespace": ns},
         "spec": {"clusterIP": "None", "selector": labels, "ports": [{"port": 8848, "name": "http"}]}},
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "nacos", "namespace": ns},
         "spec": {"selector": labels, "ports": [{"port": 8848, "name": "http"}]}},
    ]
    for ordinal in range(3):
        pod_env = env if not (index % 7 == 0 and ordinal == 1) else env[:4] + [
            {"name": "NACOS_AUTH_TOKEN", "value": base64.b64encode(rng.randbytes(32)).decode()}] + env[5:]
        docs.append({"apiVersion": "v1", "kind": "Pod", "metadata": {
            "name": f"nacos-{ordinal}", "namespace": ns,
            "labels": {**labels, "controller-revision-hash": "nacos-5c9f"},
            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "StatefulSet", "name": "nacos", "uid": "u",
                                 "controller": True}]},
            "spec": {"containers": [{**container, "env": pod_env}]},
            "status": {"phase": "Running", "containerStatuses": [{"name": "nacos", "ready": True, "state": {
                "running": {"startedAt": "2026-11-02T00:00:00Z"}}}]}})
    for client in range(4):
        name = f"svc-{client}"
        creds = [] if (index % 5 == 0 and client == 0) else [
            {"name": "SPRING_CLOUD_NACOS_USERNAME", "valueFrom": {"secretKeyRef": {"name": f"{name}-nacos",
                                                                                   "key": "username"}}},
            {"name": "SPRING_CLOUD_NACOS_PASSWORD", "valueFrom": {"secretKeyRef": {"name": f"{name}-nacos",
                                                                                   "key": "password"}}}]
        docs += [
            {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": f"{name}-nacos", "namespace": ns},
             "stringData": {"username": name, "password": rng.randbytes(8).hex()}},
            {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": f"{name}-config", "namespace": ns},
             "data": {"bootstrap.yml": f"spring:\n  application:\n    name: {name}\n  cloud:\n    nacos:\n"
                                       f"      config:\n        server-addr: nacos-headless.{ns}:8848\n"
                                       f"        file-extension: yaml\n"}},
            {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "namespace": ns,
                                                                         "labels": {"app": name}},
             "spec": {"replicas": 2, "selector": {"matchLabels": {"app": name}},
                      "template": {"metadata": {"labels": {"app": name}}, "spec": {"containers": [{
                          "name": "app", "image": f"registry.example/{name}:1.{client}",
                          "env": [{"name": "SPRING_CLOUD_NACOS_DISCOVERY_SERVER_ADDR",
                                   "value": f"nacos-headless.{ns}.svc.cluster.local:8848"},
                                  {"name": "JAVA_TOOL_OPTIONS", "value": "-Xmx512m -XX:+UseG1GC"}] + creds,
                          "volumeMounts": [{"name": "config", "mountPath": "/app/config"}],
                          "resources": {"requests": {"cpu": "100m", "memory": "256Mi"}}}],
                          "volumes": [{"name": "config", "configMap": {"name": f"{name}-config"}}]}}}},
        ]
    return docs


def tenant_documents(index: int, rng: random.Random) -> list[dict]:
    """One idle Nacos server of a tenant namespace (every other one a Deployment) and the Service in front of it."""
    labels = {"app": "nacos", "instance": f"nacos-{index:05d}"}
    template = {"metadata": {"labels": labels}, "spec": {"containers": [
        {"name": "nacos", "image": "nacos/nacos-server:v2.4.3", "env": [{"name": "MODE", "value": "standalone"}]}]}}
    kind = "Deployment" if index % 2 else "StatefulSet"
    metadata = {"name": f"nacos-{index:05d}", "namespace": "tenant", "labels": labels}
    return [{"apiVersion": "apps/v1", "kind": kind, "metadata": metadata,
             "spec": {"replicas": 1, "selector": {"matchLabels": labels}, "template": template}},
            {"apiVersion": "v1", "kind": "Service", "metadata": {"name": metadata["name"], "namespace": "tenant"},
             "spec": {"selector": labels, "ports": [{"port": 8848}]}}]


def rendered_documents(index: int, rng: random.Random) -> list[dict]:
    """A namespace as a rendered chart writes it, with the objects every rendering repeats alike: the Namespace
    the releases share and its ConfigMap (copies alike, issue 15: each once made a check of the whole input)."""
    return namespace_documents(index, rng) + [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "platform"}},
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cluster-info", "namespace": "platform"},
         "data": {"region": "eu-west-1"}}]


def _jwt(header: dict, claims: dict, key: bytes) -> str:
    def part(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()
    signing = f"{part(json.dumps(header, separators=(',', ':')).encode())}.{part(json.dumps(claims).encode())}"
    return f"{signing}.{part(hmac.new(key, signing.encode(), hashlib.sha256).digest())}"


def foreign_jwt_documents(index: int, rng: random.Random) -> list[dict]:
    """A namespace plus a workload that holds another service's JWT ({"alg":"HS256","typ":"JWT"}) in its env and
    calls no Nacos: not a Nacos token (it once drew a warning from every server of the input)."""
    token = _jwt({"alg": "HS256", "typ": "JWT"}, {"sub": f"svc-{index}", "exp": 4102444800}, rng.randbytes(32))
    return namespace_documents(index, rng) + [_token_holder(index, "PARTNER_API_TOKEN", token)]


def nacos_jwt_documents(index: int, rng: random.Random) -> list[dict]:
    """A namespace plus a workload that holds a token Nacos writes ({"alg":"HS256"}) signed by no server of the
    input, sent nowhere the input shows: checked against every server's key (tokens x servers), one warning."""
    token = _jwt({"alg": "HS256"}, {"sub": "nacos", "exp": 4102444800}, rng.randbytes(32))
    return namespace_documents(index, rng) + [_token_holder(index, "NACOS_TOKEN_COPY", token)]


def _token_holder(index: int, env_name: str, token: str) -> dict:
    labels = {"app": "reporter"}
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "reporter", "namespace": f"team-{index:04d}"},
            "spec": {"selector": {"matchLabels": labels}, "template": {"metadata": {"labels": labels}, "spec": {
                "containers": [{"name": "reporter", "image": "registry.example/reporter:2.1",
                                "env": [{"name": env_name, "value": token}]}]}}}}


SHAPES = {"namespaces": namespace_documents, "tenant": tenant_documents, "rendered": rendered_documents,
          "foreign-jwt": foreign_jwt_documents, "nacos-jwt": nacos_jwt_documents}


def generate(directory: str, documents: int, shape: str = "namespaces") -> int:
    rng = random.Random(7)
    written, index, batch = 0, 0, []
    while written < documents:
        docs = SHAPES[shape](index, rng)[: documents - written]
        batch += docs
        written += len(docs)
        index += 1
        if len(batch) >= 200 or written >= documents:
            with open(os.path.join(directory, f"part-{index:05d}.yaml"), "w") as handle:
                yaml.dump_all(batch, handle, Dumper=DUMPER, sort_keys=False)
            batch = []
    return written


def one_core() -> None:
    """A lint process held to one core: it then reads and checks in one process (forked.can_fork)."""
    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})


def run_once(directory: str, cores: int = 0) -> tuple[float, int, int]:
    start = time.perf_counter()
    process = subprocess.Popen([sys.executable, "-m", "nacos_auth_guard.cli", "lint", directory, "-o", "json"],
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                               preexec_fn=one_core if cores == 1 else None)
    output = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - start
    code = os.waitstatus_to_exitcode(status)
    if code not in (0, 1):
        raise SystemExit(f"lint failed with exit code {code}")
    findings = len(json.loads(output)["findings"])
    return elapsed, usage.ru_maxrss // 1024, findings


PARSE_ONLY = {
    "PyYAML-C": "import os, sys, yaml\n"
                "for name in sorted(os.listdir(sys.argv[1])):\n"
                "    with open(os.path.join(sys.argv[1], name)) as handle:\n"
                "        list(yaml.load_all(handle.read(), Loader=yaml.CSafeLoader))\n",
    "yaml-rs": "import os, sys, yaml_rs\n"
               "for name in sorted(os.listdir(sys.argv[1])):\n"
               "    with open(os.path.join(sys.argv[1], name)) as handle:\n"
               "        yaml_rs.loads(handle.read(), parse_datetime=False)\n",
}


def timed(command: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    return time.perf_counter() - start


def parse_only(directory: str, parser: str) -> float | None:
    if parser == "yaml-rs":
        try:
            import yaml_rs  # noqa: F401
        except ImportError:
            return None
    return timed([sys.executable, "-c", PARSE_ONLY[parser], directory])


def start_up(repeat: int) -> None:
    small = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "examples", "healthy.yaml")
    cli = [sys.executable, "-m", "nacos_auth_guard.cli"]
    commands = {"python -c pass": [sys.executable, "-c", "pass"],
                "python -c 'import yaml'": [sys.executable, "-c", "import yaml"],
                "lint examples/healthy.yaml": cli + ["lint", small],
                "lint -o json examples/healthy.yaml": cli + ["lint", "-o", "json", small],
                "--help": cli + ["--help"], "explain NAG205": cli + ["explain", "NAG205"]}
    print(f"\n{'start-up (best of ' + str(max(repeat, 5)) + ')':<40} {'seconds':>8}")
    for name, command in commands.items():
        print(f"{name:<40} {min(timed(command) for _ in range(max(repeat, 5))):>8.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="2500,5000,10000")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--shape", choices=sorted(SHAPES), default="namespaces")
    args = parser.parse_args()
    compile_as_installed()
    measure(args)


def compile_as_installed() -> None:
    """Lint processes read this project's modules compiled, as a pip install leaves them (it compiles what it
    installs). An editable install with PYTHONDONTWRITEBYTECODE set would compile them again in every process: a
    third of a small lint's start-up. The bytecode goes where Python itself puts it (__pycache__, ignored by git)."""
    import nacos_auth_guard   # a namespace package: its directory is its __path__
    subprocess.run([sys.executable, "-m", "compileall", "-q", *nacos_auth_guard.__path__], check=True)


def measure(args: argparse.Namespace) -> None:
    import yaml as _yaml
    print(f"python {sys.version.split()[0]}, PyYAML {_yaml.__version__} (libyaml: {_yaml.__with_libyaml__}), "
          f"{os.cpu_count()} CPUs, shape {args.shape}")
    print(f"{'documents':>10} {'MB':>6} {'seconds':>8} {'1 core s':>8} {'docs/s':>8} {'peak RSS MB':>12} {'findings':>9} "
          f"{'PyYAML-C s':>10} {'lint/PyYAML':>11} {'yaml-rs s':>9} {'lint/yaml-rs':>12}")
    for size in (int(s) for s in args.sizes.split(",")):
        with tempfile.TemporaryDirectory() as directory:
            count = generate(directory, size, args.shape)
            megabytes = sum(os.path.getsize(os.path.join(directory, f)) for f in os.listdir(directory)) / 1e6
            # interleaved, one round of each at a time: the VM's speed drifts, and the ratios must not
            split = hasattr(os, "sched_setaffinity") and len(os.sched_getaffinity(0)) > 1
            runs, alone, anchors = [], [], {parser: [] for parser in PARSE_ONLY}
            for _ in range(args.repeat):
                runs.append(run_once(directory))
                if split:
                    alone.append(run_once(directory, cores=1)[0])
                for parser, times in anchors.items():
                    times.append(parse_only(directory, parser))
            elapsed, rss, findings = min(runs)
            ratios = []
            for times in anchors.values():
                best = None if None in times else min(times)
                ratios += ["-", "-"] if best is None else [f"{best:.2f}", f"{elapsed / best:.2f}x"]
            print(f"{count:>10} {megabytes:>6.1f} {elapsed:>8.2f} {f'{min(alone):.2f}' if alone else '-':>8} "
                  f"{count / elapsed:>8.0f} {rss:>12} {findings:>9} "
                  f"{ratios[0]:>10} {ratios[1]:>11} {ratios[2]:>9} {ratios[3]:>12}")
    start_up(args.repeat)


if __name__ == "__main__":
    main()
