"""Builders of complete, realistic Kubernetes objects for tests (the official client validates bodies)."""
from __future__ import annotations

import base64
import copy

import jwt

NS = "shop"
IMAGE = "nacos/nacos-server:v2.4.3"
# Random-looking test keys: 32 bytes each, Base64.
KEY_A = "q3J0ZkVsbVZ4c2h0b3Bhc3N3b3JkLXRlc3Qta2V5LUFBQUE="
KEY_B = "Z0w2b1N1b2hHd2l0aC1hbm90aGVyLXRlc3Qta2V5LUJCQkI="


def nacos_token(key: str, exp: int, sub: str = "nacos", **header) -> str:
    """A static accessToken as a Nacos server signed with the Base64 `key` writes it: header {"alg":"HS256"} and
    nothing else (2.2.1+ rejects any other header), unless `header` adds fields."""
    return jwt.encode({"sub": sub, "exp": exp}, base64.b64decode(key), "HS256", headers=header or {"typ": None})


def meta(name: str, namespace: str = NS, **extra) -> dict:
    return {"name": name, "namespace": namespace, **extra}


def secret(name: str, data: dict[str, str], namespace: str = NS, changed: dict[str, str] | None = None) -> dict:
    """`data` in clear text (encoded here); `changed`: key -> managedFields time of its last edit."""
    metadata = meta(name, namespace)
    if changed:
        metadata["managedFields"] = [
            {"manager": "kubectl-edit", "operation": "Update", "apiVersion": "v1", "time": when,
             "fieldsType": "FieldsV1", "fieldsV1": {"f:data": {f"f:{key}": {}}}}
            for key, when in changed.items()]
    return {"apiVersion": "v1", "kind": "Secret", "metadata": metadata, "type": "Opaque",
            "data": {k: base64.b64encode(v.encode()).decode() for k, v in data.items()}}


def config_map(name: str, data: dict[str, str], namespace: str = NS) -> dict:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta(name, namespace), "data": data}


def service(name: str, selector: dict, namespace: str = NS, headless: bool = True) -> dict:
    spec = {"selector": selector, "ports": [{"name": "http", "port": 8848, "targetPort": 8848}]}
    if headless:
        spec["clusterIP"] = "None"
    return {"apiVersion": "v1", "kind": "Service", "metadata": meta(name, namespace), "spec": spec}


def secret_env(name: str, secret_name: str, key: str, optional: bool | None = None) -> dict:
    ref = {"name": secret_name, "key": key}
    if optional is not None:
        ref["optional"] = optional
    return {"name": name, "valueFrom": {"secretKeyRef": ref}}


def env(name: str, value: str) -> dict:
    return {"name": name, "value": value}


def server_env(secret_name: str = "nacos-auth") -> list[dict]:
    return [env("MODE", "cluster"), env("NACOS_AUTH_ENABLE", "true"),
            secret_env("NACOS_AUTH_TOKEN", secret_name, "token"),
            secret_env("NACOS_AUTH_IDENTITY_KEY", secret_name, "identity-key"),
            secret_env("NACOS_AUTH_IDENTITY_VALUE", secret_name, "identity-value")]


def auth_secret(name: str = "nacos-auth", key: str = KEY_A, namespace: str = NS, **kwargs) -> dict:
    return secret(name, {"token": key, "identity-key": "x-nacos-peer", "identity-value": "b7c1e0d2f9a84c55"},
                  namespace, **kwargs)


def container(name: str, image: str, env_list: list[dict], **extra) -> dict:
    return {"name": name, "image": image, "env": env_list, **extra}


def statefulset(name: str = "nacos", env_list: list[dict] | None = None, namespace: str = NS, replicas: int = 3,
                image: str = IMAGE, **spec_extra) -> dict:
    labels = {"app": name}
    pod_spec = {"containers": [container("nacos", image, server_env() if env_list is None else env_list)]}
    pod_spec.update(spec_extra.pop("pod_spec", {}))
    return {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": meta(name, namespace, labels=labels),
            "spec": {"serviceName": f"{name}-headless", "replicas": replicas,
                     "selector": {"matchLabels": labels},
                     "template": {"metadata": {"labels": labels}, "spec": pod_spec}, **spec_extra}}


def running(spec: dict, started: str) -> dict:
    """The status of a Pod whose containers all run since `started`."""
    return {"phase": "Running", "containerStatuses": [
        {"name": c["name"], "ready": True, "restartCount": 0, "image": c["image"], "imageID": "",
         "state": {"running": {"startedAt": started}}} for c in spec["containers"]]}


def pods_of(sts: dict, started: list[str], revision: str = "nacos-7d9f", env_overrides: dict | None = None) -> list:
    """Pods name-0..n of a StatefulSet, each running since started[i]; env_overrides: index -> env list."""
    result = []
    template = sts["spec"]["template"]
    for index, when in enumerate(started):
        spec = copy.deepcopy(template["spec"])
        if env_overrides and index in env_overrides:
            spec["containers"][0]["env"] = env_overrides[index]
        name = f"{sts['metadata']['name']}-{index}"
        labels = {**template["metadata"]["labels"], "controller-revision-hash": revision,
                  "statefulset.kubernetes.io/pod-name": name}
        result.append({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": meta(name, sts["metadata"]["namespace"], labels=labels, ownerReferences=[
                {"apiVersion": "apps/v1", "kind": "StatefulSet", "name": sts["metadata"]["name"],
                 "uid": "00000000-0000-0000-0000-000000000001", "controller": True}]),
            "spec": spec,
            "status": running(spec, when),
        })
    return result


def server_workload(kind: str, name: str = "nacos", env_list: list[dict] | None = None, namespace: str = NS,
                    image: str = IMAGE, sidecar: bool = False) -> dict:
    """A Nacos server as a Deployment, ReplicaSet or bare Pod (`sidecar`: a log shipper runs first, so Nacos is the
    second container)."""
    labels = {"app": name}
    containers = [container("nacos", image, server_env() if env_list is None else env_list)]
    if sidecar:
        containers.insert(0, container("fluent-bit", "fluent/fluent-bit:3.1", []))
    if kind == "Pod":
        return {"apiVersion": "v1", "kind": "Pod", "metadata": meta(name, namespace, labels=labels),
                "spec": {"containers": containers}}
    return {"apiVersion": "apps/v1", "kind": kind, "metadata": meta(name, namespace, labels=labels),
            "spec": {"replicas": 2, "selector": {"matchLabels": labels},
                     "template": {"metadata": {"labels": labels}, "spec": {"containers": containers}}}}


def replica_pods(owner: dict, template_hash: str, started: list[str], env_list: list[dict] | None = None) -> list:
    """Pods of a ReplicaSet, or of a Deployment's ReplicaSet `<deployment>-<template_hash>` (as the Deployment
    controller names it), each running since started[i]; `env_list` replaces the Nacos container's env."""
    kind = owner["kind"]
    replica_set = owner["metadata"]["name"] + (f"-{template_hash}" if kind == "Deployment" else "")
    template = owner["spec"]["template"]
    result = []
    for index, when in enumerate(started):
        spec = copy.deepcopy(template["spec"])
        if env_list is not None:
            next(c for c in spec["containers"] if c["name"] == "nacos")["env"] = env_list
        labels = {**template["metadata"]["labels"], "pod-template-hash": template_hash}
        result.append({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": meta(f"{replica_set}-{'xyzab'[index]}{template_hash[:4]}", owner["metadata"]["namespace"],
                             labels=labels, ownerReferences=[
                                 {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": replica_set,
                                  "uid": "00000000-0000-0000-0000-000000000002", "controller": True}]),
            "spec": spec,
            "status": running(spec, when),
        })
    return result


def deployment(name: str, env_list: list[dict], namespace: str = NS, image: str = "shop/orders:1.8.2",
               annotations: dict | None = None, **pod_extra) -> dict:
    labels = {"app": name}
    metadata = meta(name, namespace, labels=labels)
    if annotations:
        metadata["annotations"] = annotations
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": metadata,
            "spec": {"replicas": 2, "selector": {"matchLabels": labels},
                     "template": {"metadata": {"labels": labels},
                                  "spec": {"containers": [container("app", image, env_list)], **pod_extra}}}}


def spring_client(name: str = "orders", server: str = "nacos-headless.shop.svc.cluster.local:8848",
                  secret_name: str = "orders-nacos", namespace: str = NS) -> dict:
    return deployment(name, [env("SPRING_CLOUD_NACOS_CONFIG_SERVER_ADDR", server),
                             env("SPRING_CLOUD_NACOS_DISCOVERY_SERVER_ADDR", server),
                             secret_env("SPRING_CLOUD_NACOS_USERNAME", secret_name, "username"),
                             secret_env("SPRING_CLOUD_NACOS_PASSWORD", secret_name, "password")], namespace)


def healthy_cluster(namespace: str = NS) -> list[dict]:
    sts = statefulset(namespace=namespace)
    return [auth_secret(namespace=namespace), sts, service("nacos-headless", {"app": "nacos"}, namespace),
            secret("orders-nacos", {"username": "orders", "password": "pw-orders-1"}, namespace),
            spring_client(namespace=namespace, server=f"nacos-headless.{namespace}.svc.cluster.local:8848")]
