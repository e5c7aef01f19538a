"""The typed values the check engine works on. Frozen: checks read them, never change them."""
from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True, slots=True, order=True)
class ObjectRef:
    kind: str
    namespace: str
    name: str

    def __str__(self) -> str:
        return f"{self.kind}/{self.namespace}/{self.name}"


class Origin(enum.Enum):
    """Where a setting's value is written down, which decides whether a literal is a leak."""
    POD_SPEC = "pod spec"            # env value, -D flag or --arg written in the workload itself
    CONFIG_MAP = "ConfigMap"         # readable by anyone who can read ConfigMaps
    SECRET = "Secret"
    IMAGE_DEFAULT = "image default"  # the image's built-in application.properties


class State(enum.Enum):
    KNOWN = "known"                  # value holds what the container sees
    UNKNOWN = "unknown"              # lives in an object the input does not contain
    MISSING_OBJECT = "missing object"
    MISSING_KEY = "missing key"
    UNREADABLE = "unreadable"        # bytes that are not UTF-8 text, or Secret data that is not Base64


@dataclass(frozen=True, slots=True)
class Setting:
    """One resolved setting of one container. `where` describes the path to it and never holds the value."""
    value: str | None
    where: str
    origin: Origin
    state: State = State.KNOWN
    carrier: ObjectRef | None = None   # the Secret or ConfigMap holding the value
    key: str | None = None             # the key in the carrier

    @property
    def identity(self) -> tuple:
        """What two pods must share to run with the same value (compared in memory, never printed)."""
        if self.state is State.KNOWN:
            return ("value", self.value)
        return ("ref", self.carrier, self.key, self.state)


@dataclass(frozen=True, slots=True)
class Reference:
    """A reference from a pod template to a Secret/ConfigMap key (key None: the whole object)."""
    kind: str
    name: str
    key: str | None
    optional: bool
    where: str
    mount: bool = False                  # a volume (FailedMount) rather than env (CreateContainerConfigError)


@dataclass(frozen=True, slots=True)
class ConfigProblem:
    """Why a config file (Spring properties or YAML, Seata's HOCON) cannot be read (a line, never its text), what
    its reader does then, and the fix."""
    problem: str
    impact: str
    fix: str
    fails_start: bool = True   # False: only beyond this tool's own budget


@dataclass(frozen=True, slots=True)
class ConfigFileError:
    """A mounted config file its reader refuses, so the container fails at start-up. Never holds input text."""
    where: str       # path, the ConfigMap/Secret and key it comes from, the container
    problem: str     # what is wrong, with a line where one is known
    impact: str      # what the reader does with it, in its own words
    fix: str
    fails_start: bool = True   # False: the file is fine, only beyond this tool's budget


@dataclass(frozen=True, slots=True)
class ContainerConfig:
    name: str
    image: str
    settings: dict[str, Setting]
    started_at: datetime | None = None
    server: bool = False                 # the Nacos server container of a server pod


@dataclass(frozen=True, slots=True)
class PodConfig:
    """A pod template (of a workload) or a live Pod, with the auth-relevant settings of each container."""
    ref: ObjectRef
    labels: dict[str, str]
    containers: tuple[ContainerConfig, ...]
    references: tuple[Reference, ...]
    annotations: dict[str, str] = field(default_factory=dict)
    config_errors: tuple[ConfigFileError, ...] = ()


@dataclass(frozen=True, slots=True)
class ServerCluster:
    ref: ObjectRef                       # the workload running Nacos: StatefulSet, Deployment, ReplicaSet or Pod
    template: PodConfig
    container: str                       # name of the Nacos container
    version: tuple[int, ...] | None      # from the image tag; None when it is not a version
    pods: tuple[PodConfig, ...]
    service_names: frozenset[str]        # Services (same namespace) that select its pods
    on_delete: bool = False              # updateStrategy OnDelete: a pod takes a new template only when deleted


@dataclass(frozen=True, slots=True)
class Client:
    ref: ObjectRef
    template: PodConfig
    server_addresses: tuple[str, ...]
    servers: tuple[ObjectRef, ...]       # server workloads it reaches; empty when none is known
    labels: dict[str, str] = field(default_factory=dict)   # the workload's own labels (for client selectors)


@dataclass(frozen=True, slots=True)
class Caller:
    """A workload that calls the Nacos OpenAPI (curl, wget, a script) or holds a JWT-shaped token. `texts` and
    `calls` hold values in memory only (a call's URL may carry a token); nothing of them is ever printed."""
    ref: ObjectRef
    texts: tuple                         # sources.WorkloadText
    calls: tuple                         # (WorkloadText, openapi.OpenApiCall, the servers that call reaches)
    servers: tuple[ObjectRef, ...]       # known server workloads its calls reach; empty when none is known
    references: tuple[Reference, ...]    # the Secrets/ConfigMaps its texts come from
    labels: dict[str, str] = field(default_factory=dict)


class Severity(enum.IntEnum):
    INFO = 1
    WARNING = 2
    ERROR = 3

    def __str__(self) -> str:
        return self.name.lower()


@dataclass(frozen=True, slots=True, order=True)
class Finding:
    """Made by catalog.finding(), which fills reason and default severity from the code."""
    code: str
    obj: ObjectRef
    message: str
    reason: str
    severity: Severity
    cluster: ObjectRef | None = None     # the Nacos server cluster it concerns, for per-cluster status
    missing: ObjectRef | None = None     # NAG101/NAG103: the Secret or ConfigMap that does not exist
    clusters: tuple[ObjectRef, ...] = ()   # the clusters it concerns when it names several (cluster is then None)
