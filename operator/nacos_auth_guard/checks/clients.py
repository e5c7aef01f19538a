"""NAG401: a client of an auth-enabled server that sends no credentials; NAG404: a Spring Cloud Alibaba module of one
that sends none although the other module does; NAG402: a client whose server address matches no known Nacos
Service."""
from __future__ import annotations

from typing import Iterable

from ..catalog import finding
from ..model import Client, ContainerConfig, Finding, Setting, State
from ..nacos import DEFAULT_ADMIN_LOGIN, default_admin_impact, login_error
from ..discovery import service_candidates, split_addresses
from ..redaction import address_for_message
from .. import seata
from ..sources import MODULE_WITHOUT_LOGIN, SCA_MODULES, SEATA_MODULE
from . import CheckContext, auth_enabled, server_settings


def configured(setting: Setting | None) -> bool:
    """Set to something: a non-empty value, or a reference (a missing one is reported as NAG101 instead)."""
    return setting is not None and (setting.state is not State.KNOWN or bool(setting.value))


def sends_credentials(container: ContainerConfig) -> bool:
    settings = container.settings
    login = configured(settings.get("username")) and configured(settings.get("password"))
    return login or configured(settings.get("accessToken"))


def uses_default_admin(container: ContainerConfig) -> bool:
    username, password = container.settings.get("username"), container.settings.get("password")
    return all(setting is not None and setting.state is State.KNOWN for setting in (username, password)) and \
        (username.value, password.value) == DEFAULT_ADMIN_LOGIN


def nacos_containers(client: Client) -> list[ContainerConfig]:
    return [c for c in client.template.containers if "serverAddr" in c.settings] or list(client.template.containers)


def shown_addresses(client: Client) -> str:
    """The client's server addresses as configured, without the credentials an address can carry."""
    values = dict.fromkeys(setting.value for c in client.template.containers
                           if (setting := c.settings.get("serverAddr")) is not None and setting.value)
    return "; ".join(address_for_message(value) for value in values)


def _modules_without_login(client: Client, server) -> Iterable[Finding]:
    """NAG404: a Spring Cloud Alibaba module whose own address reaches `server` and that has no login of its own
    (sources.MODULE_WITHOUT_LOGIN), while the other module has one; NAG405: the same for Seata's registry or config
    center in an app whose Spring Cloud Alibaba settings log in."""
    for container in nacos_containers(client):
        for module in (*SCA_MODULES, *(SEATA_MODULE + block for block in seata.BLOCKS)):
            address = container.settings.get(MODULE_WITHOUT_LOGIN + module)
            if address is None or not _reaches(address.value or "", client.ref.namespace, server):
                continue
            block = module.removeprefix(SEATA_MODULE)
            yield finding("NAG405" if module != block else "NAG404", client.ref, cluster=server.ref,
                          server=str(server.ref), module=module, block=block, BLOCK=block.upper(),
                          where=address.where, purpose=MODULE_PURPOSE[module], error=login_error(server.version))


MODULE_PURPOSE = {"config": "config reads and listeners", "discovery": "instance registrations and lookups",
                  SEATA_MODULE + "registry": "lookups of the Seata server (TC) cluster",
                  SEATA_MODULE + "config": "config reads"}


def _reaches(addresses: str, namespace: str, server) -> bool:
    return any((server.ref.namespace, name) in service_candidates(host, namespace)
               for host in split_addresses(addresses) for name in server.service_names)


def check_clients(ctx: CheckContext) -> Iterable[Finding]:
    for client in ctx.topology.clients:
        if not client.servers:
            if client.server_addresses:
                yield finding("NAG402", client.ref, address=shown_addresses(client))
            continue
        for server_ref in client.servers:
            server = ctx.servers_by_ref[server_ref]
            if not auth_enabled(server_settings(server.template)):
                continue
            if not any(sends_credentials(c) for c in nacos_containers(client)):
                yield finding("NAG401", client.ref, cluster=server_ref, server=str(server_ref),
                              error=login_error(server.version))
            else:
                yield from _modules_without_login(client, server)
            default_login = next((c for c in nacos_containers(client) if uses_default_admin(c)), None)
            if default_login is not None:
                yield finding("NAG403", client.ref, cluster=server_ref, server=str(server_ref),
                              where=default_login.settings["password"].where,
                              impact=default_admin_impact(server.version))
