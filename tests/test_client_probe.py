"""Client logins' pure rules, table-driven: the configs a Spring Cloud Alibaba client loads, and Nacos's permission
decision per version (sources named in operator/nacos_auth_guard/client_probe.py)."""
from __future__ import annotations

import pytest

from nacos_auth_guard.client_probe import (ConfigProblem, ConfigRead, Permission, config_reads, joined_resource,
                                           permission_granted)

C = "spring.cloud.nacos.config."


def ids(props, profiles=()):
    reads, problems = config_reads(props, profiles)
    return [(r.namespace, r.group, r.data_id) for r in reads], problems


@pytest.mark.parametrize("props,profiles,expected", [
    # NacosPropertySourceLocator.loadApplicationConfiguration@2023.0.0.0-RC1: prefix, prefix.ext, prefix-profile.ext
    ({"spring.application.name": "orders"}, (),
     [("", "DEFAULT_GROUP", "orders"), ("", "DEFAULT_GROUP", "orders.properties")]),
    ({"spring.application.name": "orders", C + "file-extension": "yaml", "spring.profiles.active": "prod, eu"}, (),
     [("", "DEFAULT_GROUP", "orders"), ("", "DEFAULT_GROUP", "orders.yaml"), ("", "DEFAULT_GROUP", "orders-prod.yaml"),
      ("", "DEFAULT_GROUP", "orders-eu.yaml")]),
    # profiles given from outside win over the property
    ({"spring.application.name": "orders", "spring.profiles.active": "dev"}, ("prod",),
     [("", "DEFAULT_GROUP", "orders"), ("", "DEFAULT_GROUP", "orders.properties"),
      ("", "DEFAULT_GROUP", "orders-prod.properties")]),
    # prefix beats name beats spring.application.name; relaxed binding (fileExtension == file-extension)
    ({"spring.application.name": "app", C + "name": "named", C + "prefix": "pre", C + "fileExtension": "json"}, (),
     [("", "DEFAULT_GROUP", "pre"), ("", "DEFAULT_GROUP", "pre.json")]),
    ({"spring.application.name": "app", C + "name": "named"}, (),
     [("", "DEFAULT_GROUP", "named"), ("", "DEFAULT_GROUP", "named.properties")]),
    # namespace "public" becomes "" (NacosConfigProperties.resolveNamespace); group applies to the app's own configs
    ({"spring.application.name": "a", C + "namespace": "public", C + "group": "G"}, (),
     [("", "G", "a"), ("", "G", "a.properties")]),
    ({"spring.application.name": "a", C + "namespace": "dev-ns"}, (),
     [("dev-ns", "DEFAULT_GROUP", "a"), ("dev-ns", "DEFAULT_GROUP", "a.properties")]),
    # shared, then extension, then the application's (NacosPropertySourceLocator.locate); their group defaults
    # to DEFAULT_GROUP, not to spring.cloud.nacos.config.group
    ({C + "group": "APP", C + "shared-configs[0].data-id": "common.yaml",
      C + "extension-configs[1].data-id": "ext.yaml", C + "extension-configs[1].group": "EXT",
      C + "extension-configs[0].dataId": "first.yaml", "spring.application.name": "a"}, (),
     [("", "DEFAULT_GROUP", "common.yaml"), ("", "DEFAULT_GROUP", "first.yaml"), ("", "EXT", "ext.yaml"),
      ("", "APP", "a"), ("", "APP", "a.properties")]),
    # spring.config.import nacos: entries (NacosConfigDataLocationResolver): path = data ID, ?group= the group
    ({"spring.config.import": "optional:nacos:orders.yaml?group=ORD&refreshEnabled=true, nacos:base.yaml,"
                              " classpath:x.yml", C + "group": "APP"}, (),
     [("", "ORD", "orders.yaml"), ("", "APP", "base.yaml")]),
    ({}, (), []),
    ({"SPRING.APPLICATION.NAME": "Loud"}, (), [("", "DEFAULT_GROUP", "Loud"), ("", "DEFAULT_GROUP", "Loud.properties")]),
])
def test_config_reads(props, profiles, expected):
    assert ids(props, profiles) == (expected, [])


@pytest.mark.parametrize("entry,message", [
    ("nacos:", "dataId must be specified"),            # NacosConfigDataLocationResolver.java:165@2023.0.0.0-RC1
    ("optional:nacos:/", "dataId must be specified"),
    ("nacos:a/b.yaml", "illegal dataId"),              # dataIdFor: more than one path segment
])
def test_config_import_problems(entry, message):
    reads, problems = config_reads({"spring.config.import": entry})
    assert reads == [] and problems == [ConfigProblem(f"spring.config.import {entry}", message)]


def test_origin_names_the_property():
    reads, _ = config_reads({"spring.application.name": "a", "spring.profiles.active": "p",
                             C + "shared-configs[0].data-id": "s"})
    assert [r.origin for r in reads] == [C + "shared-configs[0]", "spring.application.name",
                                         "spring.application.name", "spring.application.name + profile p"]
    assert isinstance(reads[0], ConfigRead)


V2, V3 = (2, 4, 3), (3, 0, 3)


@pytest.mark.parametrize("version,namespace,expected", [
    (V2, "", ":DEFAULT_GROUP:config/a"),            # NacosRoleServiceImpl.joinResource@2.4.3: public is ""
    (V2, "public", ":DEFAULT_GROUP:config/a"),
    ((2, 2, 0), "public", ":DEFAULT_GROUP:config/a"),  # NamespaceUtil.processNamespaceParameter@2.2.0
    (V3, "", "public:DEFAULT_GROUP:config/a"),      # AbstractCheckedRoleService.joinResource@3.0.3
    (V3, "public", "public:DEFAULT_GROUP:config/a"),
    (V2, "dev", "dev:DEFAULT_GROUP:config/a"),
    (V3, "dev", "dev:DEFAULT_GROUP:config/a"),
])
def test_joined_resource(version, namespace, expected):
    assert joined_resource(version, namespace, "DEFAULT_GROUP", "config", "a") == expected


def granted(version, roles, perms, namespace="", group="DEFAULT_GROUP", kind="config", name="a", action="r"):
    return permission_granted(version, roles, [Permission(*p) for p in perms], namespace, group, kind, name, action)


@pytest.mark.parametrize("version,roles,perms,request_,expected", [
    (V2, ["ROLE_ADMIN"], [], {}, True),                                     # global admin passes everything
    (V2, [], [("*:*:*", "rw")], {}, False),                                 # no role: no permission
    (V2, ["dev"], [(":*:*", "r")], {}, True),                               # 2.x: public is ""
    (V2, ["dev"], [("public:*:*", "r")], {}, False),                        # ... so "public:" never matches it
    (V3, ["dev"], [("public:*:*", "r")], {}, True),                         # 3.x: public named
    (V3, ["dev"], [(":*:*", "r")], {}, True),                               # 3.x: ":" prefixed with public
    (V2, ["dev"], [("dev:*:*", "rw")], {"namespace": "dev"}, True),
    (V2, ["dev"], [("dev:*:*", "rw")], {"namespace": "prod"}, False),
    (V2, ["dev"], [("dev:*:*", "w")], {"namespace": "dev"}, False),        # action must contain r
    (V2, ["dev"], [("dev:*:*", "w")], {"namespace": "dev", "action": "w"}, True),
    (V2, ["dev"], [("dev:G:config/*", "r")], {"namespace": "dev", "group": "G"}, True),
    (V2, ["dev"], [("dev:G:config/*", "r")], {"namespace": "dev", "kind": "naming"}, False),
    (V2, ["dev"], [("dev:*:naming/*", "r")], {"namespace": "dev", "kind": "naming", "name": "svc"}, True),
    (V2, ["dev"], [("dev:*:*", "r")], {"namespace": "dev", "name": "console/users"}, False),   # console resources
    (V2, ["dev"], [("dev", "r")], {"namespace": "dev"}, False),             # whole-string match (Pattern.matches)
    (V2, ["dev"], [("dev:(:*", "r")], {"namespace": "dev"}, False),         # broken regex: not granted
    (V2, ["a", "b"], [("x:*:*", "r"), ("dev:*:*", "r")], {"namespace": "dev"}, True),   # any role's permission
])
def test_permission_granted(version, roles, perms, request_, expected):
    assert granted(version, roles, perms, **request_) is expected
