"""Client logins against the Nacos emulator: a wrong password, a missing user, a user without read on its namespace,
a missing data ID and a healthy client each get their own outcome, with no password or token in any result."""
from __future__ import annotations

import asyncio
import base64

import pytest

from nacos_auth_guard.client_login import ReadOutcome, classify_config_read, run_client_login
from nacos_auth_guard.client_probe import config_reads
from nacos_auth_guard.probe import Credentials
from support import canary
from support.nacos_emulator import Node, NacosEmulator

KEY = base64.b64decode(canary.TOKEN_KEY)
PASSWORD = canary.PASSWORD
PROPS = {"spring.application.name": "orders", "spring.cloud.nacos.config.namespace": "dev",
         "spring.cloud.nacos.config.file-extension": "yaml"}


def node(version: int, perms: tuple = (("dev:*:*", "r"),)) -> Node:
    return Node(KEY, users={"orders": PASSWORD, "nobody": PASSWORD}, version=version,
                roles={"orders": ("orders-role",), "admin": ("ROLE_ADMIN",)}, permissions={"orders-role": perms},
                configs=frozenset({("dev", "DEFAULT_GROUP", "orders.yaml")}))


def login(version: int, username: str, password: str, perms: tuple = (("dev:*:*", "r"),), api=None):
    reads, _ = config_reads(PROPS)
    with NacosEmulator({"nacos-0": node(version, perms)}) as nacos:
        result = asyncio.run(run_client_login(nacos.targets(api)[0], Credentials(username, password), reads))
        issued = nacos.issued()
    text = repr(result) + "".join(r.answer.describe() for r in result.reads) + result.answer.describe()
    canary.assert_no_secret(text, "client login result")
    assert issued == [] or all(token not in text for token in issued)
    return result


@pytest.mark.parametrize("version", [2, 3])
def test_healthy_client_reads_its_configs(version):
    result = login(version, "orders", PASSWORD)
    assert result.logged_in
    assert [(r.read.data_id, r.outcome) for r in result.reads] == [("orders", ReadOutcome.MISSING),
                                                                    ("orders.yaml", ReadOutcome.READABLE)]


@pytest.mark.parametrize("version,message", [(2, "user not found!"),
                                             (3, "User not found! Please check user exist or password is right!")])
@pytest.mark.parametrize("username,password", [("orders", "wrong"), ("ghost", PASSWORD)])
def test_wrong_password_and_missing_user_look_the_same(version, message, username, password):
    result = login(version, username, password)
    assert not result.logged_in and result.reads == ()
    assert (result.answer.status, result.answer.message) == (403, message)


@pytest.mark.parametrize("version", [2, 3])
def test_user_without_read_on_its_namespace(version):
    result = login(version, "orders", PASSWORD, perms=(("prod:*:*", "rw"),))
    assert result.logged_in
    assert {r.outcome for r in result.reads} == {ReadOutcome.DENIED}
    wanted = "Code: 403, Message: authorization failed!." if version == 3 else "authorization failed!"   # AuthResult@3.0.3
    assert {r.answer.message for r in result.reads} == {wanted}


def test_user_without_roles_is_denied():
    result = login(2, "nobody", PASSWORD)
    assert result.logged_in and {r.outcome for r in result.reads} == {ReadOutcome.DENIED}


def test_public_permission_form_differs_per_version():
    reads, _ = config_reads({"spring.application.name": "orders"})
    for version, granted in ((2, False), (3, True)):   # "public:*:*" matches public only on 3.x
        with NacosEmulator({"n": node(version, (("public:*:*", "r"),))}) as nacos:
            result = asyncio.run(run_client_login(nacos.targets()[0], Credentials("orders", PASSWORD), reads))
        assert (result.reads[0].outcome is ReadOutcome.MISSING) is granted


def test_unreachable_server_is_no_crash():
    with NacosEmulator({"n": Node(KEY, down=True)}) as nacos:
        result = asyncio.run(run_client_login(nacos.targets()[0], Credentials("orders", PASSWORD), []))
    assert not result.logged_in and result.answer.status is None and result.answer.message == "connection refused"


@pytest.mark.parametrize("status,message,outcome", [
    (200, "", ReadOutcome.READABLE),
    (404, "config data not exist", ReadOutcome.MISSING),
    (200, "resource not found", ReadOutcome.MISSING),
    (403, "authorization failed!", ReadOutcome.DENIED),
    (403, "token invalid!", ReadOutcome.FAILED),
    (500, "", ReadOutcome.FAILED),
])
def test_classify_config_read(status, message, outcome):
    assert classify_config_read(status, message) is outcome


@pytest.mark.parametrize("version", [2, 3])
@pytest.mark.parametrize("perms,outcome", [((("dev:*:*", "r"),), ReadOutcome.READABLE),
                                           ((("dev:*:config/*", "rw"),), ReadOutcome.DENIED),   # config only
                                           ((("dev:G:*", "r"),), ReadOutcome.DENIED)])          # another group
def test_instance_list_read_with_the_client_token(version, perms, outcome):
    """NamingHttpResourceParser@2.4.3: the resource is dev:DEFAULT_GROUP:naming/orders (group from groupName)."""
    from nacos_auth_guard.client_probe import NamingRead
    with NacosEmulator({"nacos-0": node(version, perms)}) as nacos:
        result = asyncio.run(run_client_login(nacos.targets()[0], Credentials("orders", PASSWORD), (),
                                              NamingRead("dev", "DEFAULT_GROUP", "orders")))
        paths = [path for _, path in nacos.stats["nacos-0"].requests]
    assert result.logged_in and result.naming.outcome is outcome
    wanted = "/nacos/v3/client/ns/instance/list" if version == 3 else "/nacos/v1/ns/instance/list"
    assert any(path.startswith(wanted) for path in paths)
    assert not any("udpPort" in path for path in paths)   # no subscriber is made
