"""Every finding code: its reason (Event and condition reason), severity, condition type, message and fix.

Codes and reasons are stable: users filter on them, suppress them, and write alerts against them.
Message fields name objects, keys and pods; no field may ever carry a secret value, key, token or a hash of one.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from .model import Finding, ObjectRef, Severity

ERROR, WARNING, INFO = Severity.ERROR, Severity.WARNING, Severity.INFO

# Condition types, one per concern (design.md "The custom resource").
SECRETS_RESOLVED = "SecretsResolved"
TOKEN_KEY_VALID = "TokenKeyValid"
TOKEN_KEY_CONSISTENT = "TokenKeyConsistent"
IDENTITY_CONSISTENT = "IdentityConsistent"
CLIENTS_CONFIGURED = "ClientsConfigured"
TOKENS_VALID = "TokensValid"
PROBE_SUCCEEDED = "ProbeSucceeded"
CLIENTS_AUTHENTICATED = "ClientsAuthenticated"
SERVER_FOUND = "ServerFound"
CONCERNS = (SECRETS_RESOLVED, TOKEN_KEY_VALID, TOKEN_KEY_CONSISTENT, IDENTITY_CONSISTENT, CLIENTS_CONFIGURED,
            TOKENS_VALID)


LOG_IN_INSTEAD = ("log in with username/password from a Secret instead of a static token: a Nacos client library "
                  "logs in and refreshes the token by itself; a script calls POST /nacos/v1/auth/login (3.x: "
                  "/nacos/v3/auth/user/login) before its calls and sends the accessToken of that answer")


@dataclass(frozen=True, slots=True)
class Entry:
    code: str
    reason: str
    severity: Severity
    concern: str
    title: str
    message: str      # str.format template over the fields a check passes
    fix: str          # str.format template, same fields
    explanation: str  # for `nacos-auth-guard explain CODE`


_ENTRIES = [
    Entry("NAG001", "ServerNotFound", ERROR, SERVER_FOUND,
          "The NacosAuthCheck names a server workload that does not exist",
          "NacosAuthCheck {check} names {server_kind} {server}, which does not exist in namespace {namespace}: "
          "nothing is checked.",
          "set spec.server.kind and spec.server.name to the workload that runs the Nacos server (StatefulSet, "
          "Deployment, ReplicaSet or Pod), or delete this NacosAuthCheck.",
          "Each NacosAuthCheck watches one Nacos server cluster, named by spec.server (kind and name, or the older "
          "statefulSetName) in the check's own namespace. Until that workload exists the check is Stalled."),
    Entry("NAG002", "InvalidSpec", ERROR, SERVER_FOUND,
          "The NacosAuthCheck's spec is invalid",
          "NacosAuthCheck {check} has an invalid spec ({problem}): the operator marks it Stalled (reason "
          "InvalidSpec), checks nothing for it and does not enforce it at admission.",
          "correct the spec: {problem}; `kubectl explain nacosauthcheck.spec` shows every field.",
          "The operator validates each NacosAuthCheck before it evaluates it (the CRD's schema catches most of "
          "this at apply time; older CRDs and dry runs may not). lint applies the same validation, so a spec the "
          "operator would refuse fails the gate instead of silently switching the check off."),
    Entry("NAG101", "SecretNotFound", ERROR, SECRETS_RESOLVED,
          "A referenced Secret does not exist",
          "{where} in {obj} references Secret {name}, which does not exist in namespace {namespace}: {impact}.",
          "create Secret {name} in namespace {namespace} with the keys the workload reads, or correct the reference.",
          "Kubernetes resolves secretKeyRef and envFrom when a container starts. A missing Secret keeps the pod in "
          "CreateContainerConfigError (or, with optional: true, starts it without the setting, e.g. with no "
          "password, which Nacos answers with 403 user not found!, before 2.2.1 unknown user!)."),
    Entry("NAG102", "SecretKeyMissing", ERROR, SECRETS_RESOLVED,
          "A referenced Secret exists but lacks the key",
          "{where} in {obj} reads key {key!r} of Secret {name}, which has no such key: {impact}.",
          "add key {key!r} to Secret {name} (kubectl edit secret {name} -n {namespace}) or correct the key name.",
          "A secretKeyRef to a key the Secret does not hold fails the container start like a missing Secret."),
    Entry("NAG103", "ConfigMapNotFound", ERROR, SECRETS_RESOLVED,
          "A referenced ConfigMap carrying auth settings does not exist",
          "{where} in {obj} references ConfigMap {name}, which does not exist in namespace {namespace}: {impact}.",
          "create ConfigMap {name} in namespace {namespace}, or correct the reference.",
          "ConfigMaps that carry Nacos settings (env, envFrom, a mounted application.properties) must exist "
          "before the pod starts."),
    Entry("NAG104", "ConfigMapKeyMissing", ERROR, SECRETS_RESOLVED,
          "A referenced ConfigMap exists but lacks the key",
          "{where} in {obj} reads key {key!r} of ConfigMap {name}, which has no such key: {impact}.",
          "add key {key!r} to ConfigMap {name} or correct the key name.",
          "A configMapKeyRef to a missing key fails the container start."),
    Entry("NAG105", "PlaintextCredential", WARNING, SECRETS_RESOLVED,
          "A credential is written in plain text",
          "{setting} of {obj} is a literal in {where}: anyone who can read the {origin} can read it.",
          "move it into a Secret and reference it with valueFrom.secretKeyRef.",
          "Token keys, identity values, passwords and access tokens belong in Secrets, which RBAC can restrict; "
          "pod specs and ConfigMaps are readable far more widely."),
    Entry("NAG106", "ConfigFileInvalid", ERROR, SECRETS_RESOLVED,
          "A mounted config file cannot be read",
          "{where} of {obj} cannot be read, {problem}: {impact} The settings in it are not checked.",
          "{fix}.",
          "A mounted application.properties or Spring YAML file is read when the process starts; one its reader "
          "refuses stops the start (a `\\u` in a .properties file must be followed by four hex digits: Nacos and "
          "Spring Boot throw `Malformed \\uxxxx encoding.`; a Seata registry.conf typesafe config cannot parse stops "
          "the Seata server). The settings it would carry stay unknown. YAML is refused beyond 1,000 levels of "
          "nesting or 100,000 values added by aliases (an alias bomb); a registry.conf with an include (never "
          "followed), over 8 KiB or 16 levels deep is not read (a warning)."),
    Entry("NAG201", "TokenKeyMissing", ERROR, TOKEN_KEY_VALID,
          "The server needs a token secret key and has none",
          "{obj} sets no token secret key ({properties}) although {why}: {impact}.",
          "set NACOS_AUTH_TOKEN from a Secret holding a random key, e.g. "
          "kubectl create secret generic nacos-auth -n {namespace} --from-literal=token=$(openssl rand -base64 32).",
          "Since 2.2.0.1 Nacos has no default key. The server needs one when auth is on, in 3.x also when console "
          "auth is on (the default), and 2.2.0-2.2.1 load it at startup even with auth off (2.2.2 checks it only "
          "with auth on); without it the server refuses to start. nacos-docker 3.x images also exit at once when env NACOS_AUTH_TOKEN is empty, and the "
          "v2.2.1 image does not start without it (its application.properties has no default for the placeholder)."),
    Entry("NAG202", "TokenKeyNotBase64", ERROR, TOKEN_KEY_VALID,
          "The token secret key is not valid Base64",
          "The token secret key of {obj} ({where}) is not valid Base64 text: {impact}.",
          "generate the key with `openssl rand -base64 32` and store that output.",
          "Nacos Base64-decodes the configured key (standard alphabet) to get its HMAC key. 2.2.0, 2.2.0.1 and 2.3.0+ "
          "refuse to start with text that does not decode (2.3.0+ only where auth, in 3.x also console auth, is "
          "on); 1.4.x and 2.0.0-2.0.3 start, but every login fails; 2.0.4-2.1.x and 2.2.1-2.2.x fall back to the "
          "text's own bytes, which a later version derives differently (a warning there)."),
    Entry("NAG203", "TokenKeyTooShort", ERROR, TOKEN_KEY_VALID,
          "The decoded token secret key is shorter than 32 bytes",
          "The token secret key of {obj} ({where}) decodes to {length} bytes; Nacos requires at least 32: "
          "{impact}.",
          "generate a longer key with `openssl rand -base64 32` (remember: the length counts after decoding).",
          "HMAC-SHA signing needs a key of at least 256 bits; Nacos 2.2.0+ checks the length of the decoded key at "
          "start, older versions when the first login signs a token."),
    Entry("NAG204", "TokenKeyWellKnown", ERROR, TOKEN_KEY_VALID,
          "The token secret key is a published default",
          "The token secret key of {obj} ({where}) is a published default value{why}: {impact}.",
          "{remedy}replace it with a random key (`openssl rand -base64 32`) stored in a Secret, and restart all "
          "server pods together.",
          "Published keys (the pre-2.2.0.1 default, documentation and chart examples), as written or in the forms "
          "users copy them (the text, its Base64, the Base64 of that), let anyone sign tokens. An error where a kind "
          "of auth checks tokens (auth.enabled: client and open API; 3.x also admin.enabled and console.enabled, both "
          "on by default); a warning where auth is off everywhere, since turning it on would make forged tokens "
          "valid. A key that is too short or not Base64 signs nothing: NAG202/NAG203 say so instead."),
    Entry("NAG205", "TokenKeyMismatch", ERROR, TOKEN_KEY_CONSISTENT,
          "Server pods of one cluster use different token keys",
          "{groups} of {obj} are configured with different token secret keys: a token issued by one group is "
          "rejected by the other, so clients routed there get 403 \"{error}\".",
          "give every pod the same key (one Secret) and restart all pods of {obj} together: {restart}.",
          "A token is signed by the node that issued it and verified by whichever node serves the next request."),
    Entry("NAG206", "TokenKeyStale", ERROR, TOKEN_KEY_CONSISTENT,
          "Pods run a token key that is no longer the Secret's",
          "Secret {name} (key {key!r}) {change}, after {stale} of {obj} started: {impact}.",
          "restart all pods of {obj} together so they all load the current key: {restart}.",
          "Env from a Secret is read once at container start; a rotated Secret reaches only pods started later. "
          "An error when the value is known to have changed (the operator saw it change); from the Secret's "
          "managedFields alone (lint, scan, an operator that has seen no change yet) a warning, or info when every "
          "pod started before the write: those times also move when the same manager edits only labels or "
          "annotations (every Helm upgrade), so whether the key changed cannot be told from them."),
    Entry("NAG207", "AuthEnabledMismatch", ERROR, TOKEN_KEY_CONSISTENT,
          "Auth is on in some server pods and off in others",
          "Auth is enabled in {enabled} and disabled in {disabled} of {obj}: requests succeed or fail with 403 "
          "depending on the pod that serves them.",
          "set nacos.core.auth.enabled (NACOS_AUTH_ENABLE) the same everywhere and restart all pods together: "
          "{restart}.",
          "Every node of a cluster must agree on whether auth is required."),
    Entry("NAG208", "UserAgentAuthBypass", ERROR, TOKEN_KEY_VALID,
          "Requests with a Nacos-Server user agent skip auth",
          "{obj} {cause}: any client whose User-Agent starts with Nacos-Server bypasses authentication.",
          "{remedy}.",
          "The user-agent whitelist is the CVE-2021-29441 bypass. Up to 1.4.0 it cannot be turned off; 1.4.1 to "
          "2.4.x honour nacos.core.auth.enable.userAgentAuthWhite (1.4.1 defaults it to true, later versions to "
          "false); from 2.5.0 the setting is no longer read and server identity alone applies."),
    Entry("NAG301", "IdentityMissing", ERROR, IDENTITY_CONSISTENT,
          "The server needs a server identity and has none",
          "{obj} sets no server identity {missing} although {why}: {impact}.",
          "set NACOS_AUTH_IDENTITY_KEY and NACOS_AUTH_IDENTITY_VALUE from a Secret, the same on every pod.",
          "Nodes authenticate cluster-internal requests with the identity key/value header, and a node with auth "
          "on needs one even alone: from 1.4.1 such a node answers every HTTP request (2.5.x: every client and "
          "console API request) with 403 `Invalid server identity key or value`, and from 2.2.1 it refuses to "
          "start, except in standalone mode from 2.3.1. 3.x's admin auth (on by default) requires it at startup, "
          "standalone or not, auth on or off. nacos-docker 3.x images exit at once when env NACOS_AUTH_IDENTITY_KEY or _VALUE is empty; the v2.2.1 image "
          "does not start when either is unset, auth on or off."),
    Entry("NAG302", "IdentityMismatch", ERROR, IDENTITY_CONSISTENT,
          "Server pods use different identity key/value",
          "{groups} of {obj} are configured with different server identity {what}: a node does not recognise "
          "another's identity (it logs `Invalid server identity value for <key> from <ip>`) and checks the call as "
          "a user's, so {calls} between them fail with 403 \"{error}\".",
          "give every pod the same identity key and value (one Secret) and restart all pods together: {restart}.",
          "Each node sends its identity header on internal calls. A node with another identity does not answer "
          "`Invalid server identity key or value` (only a node with no identity at all says that): it falls "
          "through to user auth, which fails. In 1.x and 2.x only HTTP calls between nodes carry the identity "
          "(2.x gRPC cluster traffic is not checked) and only with auth on; in 3.x the cluster-internal APIs "
          "(distro, member reports, config sync) check it even with auth off."),
    Entry("NAG303", "IdentityWellKnown", ERROR, IDENTITY_CONSISTENT,
          "The server identity value is a published default",
          "The server identity value of {obj} ({where}) is a published default: anyone who sends it is treated "
          "as a cluster member and bypasses the authentication of {scopes}.",
          "set a random identity value (`openssl rand -hex 16`) from a Secret, the same on every pod.",
          "Published identity pairs (old image and jar defaults, chart defaults, nacos-docker's env files and CI) make "
          "the identity check worthless."),
    Entry("NAG401", "ClientCredentialsMissing", ERROR, CLIENTS_CONFIGURED,
          "A client of an auth-enabled server sends no credentials",
          "{obj} talks to Nacos {server} (auth enabled) but sets no username/password or access token: "
          "its requests fail with 403 \"{error}\".",
          "set the client's username and password from a Secret (e.g. SPRING_CLOUD_NACOS_USERNAME and "
          "SPRING_CLOUD_NACOS_PASSWORD, or NACOS_USERNAME/NACOS_PASSWORD) or map your own env names with the "
          "annotation nacosguard.io/client-env.",
          "With auth on every API call needs a token; the Java client logs in with username/password itself. "
          "Spring Cloud Alibaba reads username/password from 2.1.2.RELEASE and 2.2.1.RELEASE on (2.1.1 and 2.2.0 "
          "have no such property: NacosDiscoveryProperties.java at those tags), so an older app sends none whatever "
          "its env says. "
          "Without credentials Nacos answers `unknown user!` up to 2.2.0.1, `user not found!` in 2.2.1-2.5 and "
          "`Code: 401, Message: User not found! Please check user exist or password is right!.` in 3.x."),
    Entry("NAG403", "ClientDefaultAdminLogin", WARNING, CLIENTS_CONFIGURED,
          "A client logs in with the published default admin login",
          "{obj} logs in to Nacos {server} as user nacos with its published default password ({where}): "
          "{impact}.",
          "create a user for this client with only the permissions it needs (console: Authority Control), put its "
          "name and password in a Secret, and give the nacos admin a password of its own.",
          "Up to 2.3.x the database schema created user nacos with password nacos as the admin; 2.4.0 dropped it, "
          "so a 2.4+ server answers that login `user not found!` unless someone created the user. Either way the "
          "password is published."),
    Entry("NAG404", "ClientModuleCredentialsMissing", ERROR, CLIENTS_CONFIGURED,
          "A Spring Cloud Alibaba module has no login of its own",
          "{obj} points Spring Cloud Alibaba's {module} module at {server} with an address of its own ({where}) "
          "but gives it no username/password it reads: the {module} module reads only "
          "spring.cloud.nacos.{module}.username/password and spring.cloud.nacos.username/password, not the other "
          "module's, so its {purpose} fail with 403 "
          "\"{error}\".",
          "set spring.cloud.nacos.username and spring.cloud.nacos.password (env SPRING_CLOUD_NACOS_USERNAME and "
          "SPRING_CLOUD_NACOS_PASSWORD from a Secret), which both modules read, or spring.cloud.nacos.{module}."
          "username/password.",
          "NacosConfigProperties and NacosDiscoveryProperties each fall back only to spring.cloud.nacos.username/"
          "password (NacosConfigProperties.java:118-124, NacosDiscoveryProperties.java:668-673@2022.0.0.0, the "
          "same in 2.2.9.RELEASE): credentials set under spring.cloud.nacos.config.* do not reach discovery, nor "
          "the other way round."),
    Entry("NAG402", "ClientServerUnknown", INFO, CLIENTS_CONFIGURED,
          "A client's server address matches no known Nacos Service",
          "{obj} is configured with Nacos server address {address}, which matches no Service in front of a known "
          "Nacos server: its credentials are not checked.",
          "point it at the Nacos Service (e.g. nacos-headless.<namespace>.svc.cluster.local:8848), or include the "
          "server's manifests in the input.",
          "Clients are matched to servers through Services: name, name.namespace, name.namespace.svc[.cluster."
          "local] and pod DNS names. The address is shown without userinfo, query or parameters, and not at all "
          "when credentials in it cannot be cut off safely."),
    Entry("NAG405", "SeataCredentialsMissing", ERROR, CLIENTS_CONFIGURED,
          "Seata's Nacos registry or config center sends no login",
          "{obj} logs in to Nacos for Spring Cloud Alibaba, but its Seata {block} of type nacos points at {server} "
          "({where}) without both seata.{block}.nacos.username and password: Seata's own Nacos client logs in "
          "only with both, so its {purpose} fail with 403 \"{error}\".",
          "set seata.{block}.nacos.username and seata.{block}.nacos.password (env SEATA_{BLOCK}_NACOS_USERNAME and "
          "SEATA_{BLOCK}_NACOS_PASSWORD from a Secret).",
          "seata-spring-boot-starter builds a Nacos client of its own from seata.registry.nacos.* and "
          "seata.config.nacos.* (RegistryNacosProperties.java, ConfigNacosProperties.java@v1.5.2) and sends a "
          "login only when username and password are both non-blank (NacosRegistryServiceImpl.java:196-204, "
          "NacosConfiguration.java:238-246@v1.4.2): spring.cloud.nacos.* credentials never reach it."),
    Entry("NAG501", "AccessTokenMalformed", ERROR, TOKENS_VALID,
          "A static access token is not a valid Nacos token",
          "The access token of {obj} ({where}) is not a valid Nacos token, {detail}: every request fails with "
          "{answer}.",
          LOG_IN_INSTEAD + ".",
          "Nacos tokens are JWTs signed with HMAC-SHA (HS256, or HS384/HS512 for longer keys) with sub (username) "
          "and exp claims; 2.2.1 and later accept only the exact header Nacos writes itself."),
    Entry("NAG502", "AccessTokenExpired", ERROR, TOKENS_VALID,
          "A static access token has expired",
          "The access token of {obj} ({where}) {detail}: every request fails with 403 \"{error}\".",
          LOG_IN_INSTEAD + ".",
          "A static token is never refreshed; it stops working at its exp time."),
    Entry("NAG503", "AccessTokenExpiring", WARNING, TOKENS_VALID,
          "A static access token expires soon",
          "The access token of {obj} ({where}) {detail}: after that every request fails with 403 "
          "\"{error}\".",
          LOG_IN_INSTEAD + ", before it expires.",
          "The warning window is --token-expiry-warning-days (spec.tokenExpiryWarningDays), 7 days by default."),
    Entry("NAG504", "AccessTokenSignatureInvalid", ERROR, TOKENS_VALID,
          "A static access token was signed with another key",
          "The access token of {obj} ({where}) was not signed with the token secret key of {server}: every "
          "request fails with 403 \"{error}\".",
          LOG_IN_INSTEAD + " (or issue a new token from this server).",
          "A token verifies only on nodes whose key signed it; a rotated key invalidates every static token."),
    Entry("NAG505", "AccessTokenNeverExpires", WARNING, TOKENS_VALID,
          "A static access token never expires",
          "The access token of {obj} ({where}) {detail}: whoever copies it keeps access until the token secret key "
          "changes.",
          LOG_IN_INSTEAD + "; to revoke this one, rotate the token secret key.",
          "Nacos reads a token without an exp claim as expiring at the moment it checks it (2.2.1 and later: "
          "NacosJwtPayload starts exp at the parse time; before 2.2.1 jjwt checks exp only when present), so such a "
          "token is accepted for as long as its signature verifies. Nacos itself always writes exp."),
    Entry("NAG506", "OpenApiCallUnauthenticated", ERROR, CLIENTS_CONFIGURED,
          "An OpenAPI call to an auth-enabled server sends no token or login",
          "{obj} calls the Nacos OpenAPI of {server} (auth enabled) with curl or wget and sends no access token, "
          "username/password or other header ({where}): the server answers 403 \"{error}\".",
          "log in first and send the token: TOKEN=$(curl -s -X POST {base}{login} "
          "--data-urlencode username=$NACOS_USERNAME --data-urlencode password=$NACOS_PASSWORD | sed -E "
          "'s/.*\"accessToken\":\"([^\"]+)\".*/\\1/'), then add accessToken=$TOKEN to the call's query; "
          "NACOS_USERNAME and NACOS_PASSWORD from a Secret (secretKeyRef).",
          "The config and instance APIs are @Secured: with auth on, a request with neither an accessToken nor "
          "username/password fails in the auth filter (AuthFilter.java, NacosAuthPluginService.java@2.5.0; "
          "AbstractWebAuthFilter.java@3.0.3). 2.x: /v1/cs/configs, /v2/cs/config, /v1 and /v2 /ns/instance. 3.x "
          "answers 410 to the v1/v2 admin and console mappings before any auth check, so only its client API is "
          "judged: /v1/cs/configs (not the console's search/export/beta forms), /v1/ns/instance/list and /beat, "
          "/v3/client/cs/config, /v3/client/ns/instance[/list]. Only calls read well enough to be sure are "
          "reported: curl or wget with no header, no cookie, no config file and no unresolved variable."),
    Entry("NAG611", "ClientLoginFailed", ERROR, CLIENTS_AUTHENTICATED,
          "A client cannot log in with the credentials it is configured with",
          "{obj} cannot log in on {server} with the username and password it is configured with ({where}): "
          "pod {pod} answered {answer}{hint}. The client gets 403 on every request (`user not found!`).",
          "put this user's current password in {source}, or create the user (2.x: POST /nacos/v1/auth/users with "
          "username and password, console: Authority Control > User List > Create User; 3.x: POST "
          "/nacos/v3/auth/user), and grant its role read on the namespaces the client reads.",
          "With spec.probe.clients.enabled the operator logs in on one ready server pod with exactly the username "
          "and password each client resolves to (from its Secret, ConfigMap, literal or mounted Spring file), as its "
          "client library would: POST /nacos/v3/auth/user/login on 3.x, else /nacos/v1/auth/login. Nacos answers "
          "the same `user not found!` for an unknown user and for a wrong password (AbstractAuthenticationManager"
          ".java@2.4.3; 3.x: `User not found! Please check user exist or password is right!`). Servers from 2.4.0 "
          "create no `nacos` user of their own (the INSERT left derby-schema.sql and mysql-schema.sql at 2.4.0), so "
          "a client still using nacos/nacos fails there."),
    Entry("NAG612", "ClientConfigReadDenied", ERROR, CLIENTS_AUTHENTICATED,
          "A client's user may not read the configs the client loads",
          "{obj} logs in on {server}, but its user ({where}) may not read {configs} in namespace {namespace}: "
          "Nacos answers {answer}. The application starts without these configs (a spring.config.import entry "
          "without optional: stops the start){assumed}.",
          "grant one of this user's roles read (r) on resource {resource}: on 2.x POST /nacos/v1/auth/permissions with role=<role>&resource={resource}&action=r (console: Authority Control > Permission Management > Add), on 3.x POST /nacos/v3/auth/permission with the same fields; or point the client at a namespace its user may read.",
          "After a successful login the operator reads each config the client loads, derived as Spring Cloud "
          "Alibaba derives them (spring.application.name or prefix, file-extension, active profiles, "
          "shared-configs, extension-configs, spring.config.import nacos: entries; NacosPropertySourceLocator and "
          "NacosConfigDataLocationResolver@2023.0.0.0-RC1), over HTTP with the client's token. The auth plugin decides "
          "a gRPC read by the client the same way: a permission of one of the user's roles whose resource "
          "(namespace:group:config/dataId, '*' a wildcard) matches and whose action holds r (NacosRoleServiceImpl"
          ".hasPermission@2.4.3, AbstractCheckedRoleService@3.0.3). Nothing is ever written."),
    Entry("NAG613", "ClientServiceReadDenied", ERROR, CLIENTS_AUTHENTICATED,
          "A discovery client's user may not read its naming namespace",
          "{obj} logs in on {server}, but its user ({where}) may not read service {service} (group {group}) in "
          "naming namespace {namespace}: Nacos answers {answer}. It can neither find other services nor register "
          "its own there{assumed}.",
          "grant one of this user's roles read and write (rw) on resource {resource}: on 2.x POST /nacos/v1/auth/permissions with role=<role>&resource={resource}&action=rw (console: Authority Control > Permission Management > Add), on 3.x POST /nacos/v3/auth/permission with the same fields; or point the client at a namespace its user may read.",
          "For a client with spring.cloud.nacos.discovery settings the operator reads the instance list of the "
          "client's own service (spring.cloud.nacos.discovery.service, else spring.application.name; its group and "
          "namespace) with the client's token: GET /nacos/v1/ns/instance/list (2.x, @Secured READ, "
          "InstanceController.java@2.4.3) or /nacos/v3/client/ns/instance/list (3.x, InstanceOpenApiController"
          ".java@3.0.3), without a UDP port, so no subscription is made. Registering needs write on the same "
          "resource, which is never tried."),
    Entry("NAG614", "ClientConfigMissing", INFO, CLIENTS_AUTHENTICATED,
          "A config a client names does not exist",
          "{obj} names {configs} in namespace {namespace} of {server}, which its user may read but which does not "
          "exist: the client loads nothing from it.",
          "create the config in that namespace and group (console: Configuration Management > Create), or remove "
          "the entry.",
          "Only configs named explicitly (shared-configs, extension-configs, spring.config.import) are reported: "
          "the data IDs Spring Cloud Alibaba derives from the application name (`orders`, `orders.yaml`, "
          "`orders-dev.yaml`) are looked up whether or not they exist. A missing config is not a permission "
          "problem: Nacos checks the permission before it looks for the config."),
    Entry("NAG615", "ClientLoginUnverified", WARNING, CLIENTS_AUTHENTICATED,
          "A client's login or reads could not be checked",
          "The operator could not check the login of {obj} on {server} ({where}): {detail}.",
          "check that the server pods are ready and serve Nacos on port {port} ({scheme}; spec.probe.port and "
          "spec.probe.scheme), and that NetworkPolicies let the operator reach them.",
          "A login or read without an answer, or with an answer Nacos does not give for these requests, proves "
          "nothing either way; it is tried again at the next client interval (spec.probe.clients.intervalSeconds)."),
    Entry("NAG616", "ClientRegistrationUnverified", INFO, CLIENTS_AUTHENTICATED,
          "A discovery client's right to register is not verified",
          "{obj} registers service {service} in naming namespace {namespace} of {server}: its user may read it, "
          "but whether it may register (write) is not verified, since the operator never writes to Nacos.",
          "make sure a role of this user has rw (not only r) on resource {resource}.",
          "Registering an instance needs the write action on namespace:group:naming/service. Finding it out would "
          "mean registering, which the operator never does."),
    Entry("NAG601", "ProbeLoginFailed", ERROR, PROBE_SUCCEEDED,
          "The probe user cannot log in",
          "The probe user (Secret {secret}) cannot log in on {pods} of {obj}: {detail}. Clients that log in with "
          "this user fail the same way.",
          "check the username and password in Secret {secret} (keys {username_key!r}, {password_key!r}) and that "
          "the user exists in this Nacos cluster (Nacos answers `user not found!` for a wrong password too).",
          "With spec.probe.enabled the operator logs in on every ready server pod directly (pod IP, POST "
          "/nacos/v1/auth/login, or /nacos/v3/auth/user/login on 3.x) with the user in "
          "spec.probe.credentialsSecretRef. A failed login shows what static checks cannot see: a deleted user, a "
          "changed password, a server that refuses every request."),
    Entry("NAG602", "ProbeTokenRejected", ERROR, PROBE_SUCCEEDED,
          "Server pods reject each other's tokens",
          "{groups} of {obj} reject each other's tokens ({detail}): they run different token secret keys, so a "
          "client that logged in on one group gets 403 from the other.",
          "give every pod the same token secret key (one Secret) and restart all pods of {obj} together.",
          "The probe presents the token each pod issued to every pod. A token verifies only on pods whose key "
          "signed it (Nacos answers `Invalid signature`, before 2.2.1 `token invalid!`), whatever the pod specs "
          "say: keys baked into images or set outside the manifests show here."),
    Entry("NAG603", "ProbeUnreachable", WARNING, PROBE_SUCCEEDED,
          "The probe could not check some server pods",
          "The probe could not check {pods} of {obj}: {detail}.",
          "check that the pods are ready and serve Nacos on port {port} ({scheme}; spec.probe.port and "
          "spec.probe.scheme), and that NetworkPolicies let the operator reach them.",
          "Pods the probe cannot reach are not compared: their key and clock stay unknown. The probe sends one "
          "request per pod and step, with spec.probe.timeoutSeconds each, and never retries within a run."),
    Entry("NAG604", "ProbeClockSkew", WARNING, PROBE_SUCCEEDED,
          "The clocks of the server pods disagree",
          "The clocks of {obj}'s pods disagree: {ahead} is at least {seconds} s ahead of {behind}: {impact}.",
          "synchronise the clocks of the Kubernetes nodes these pods run on (NTP, chrony).",
          "A token's exp is set by the issuing pod's clock and checked against the clock of the pod that serves "
          "the request. Each pod's clock is read from its login answer (exp - tokenTtl, else the Date header). "
          "Clients refresh a token when a tenth of its lifetime is left, from 2.5.1 when a random 1/15 to 1/10 is "
          "left: a skew beyond a fifteenth is an error, as is a pod that rejects a fresh token as expired; a skew "
          "of 10 s or more is a warning."),
    Entry("NAG605", "ProbeCredentialsMissing", ERROR, PROBE_SUCCEEDED,
          "The probe's credentials cannot be read",
          "spec.probe.credentialsSecretRef of {obj} {problem}: the live probe cannot log in and does not run.",
          "create Secret {secret} in namespace {namespace} with keys {username_key!r} and {password_key!r} holding "
          "the probe user's name and password (a Nacos user without any role is enough).",
          "The operator reads the probe credentials from its Secret cache, never from the API on demand."),
]

CATALOG: dict[str, Entry] = {entry.code: entry for entry in _ENTRIES}


def finding(code: str, obj: ObjectRef, *, cluster: ObjectRef | None = None, severity: Severity | None = None,
            **fields: object) -> Finding:
    entry = CATALOG[code]
    fields = {"obj": obj, "namespace": obj.namespace, **fields}
    message = f"{entry.message.format(**fields)} Fix: {entry.fix.format(**fields)}"
    return Finding(code, obj, message, entry.reason, severity or entry.severity, cluster)


def describe(code: str) -> str:
    entry = CATALOG[code.upper()]
    fix = re.sub(r"\{(\w+)(![rs])?\}", r"<\1>", entry.fix)
    return (f"{entry.code} {entry.reason} ({entry.severity}, condition {entry.concern})\n"
            f"{entry.title}.\n\n{entry.explanation}\n\nFix: {fix}")
