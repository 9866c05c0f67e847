"""Messages real software prints, as regexes: the log signatures the detectors look for."""

from __future__ import annotations

from remediator.detectors.base import Signatures

HOST = r"[A-Za-z0-9_][A-Za-z0-9_.-]*"

LOG_SIGNATURES = Signatures(
    {
        # Name resolution: Python/urllib3, Go, Node, Java, curl, libpq, glibc.
        "dns": [
            r"NameResolutionError\(.*?host='(?P<host>[^']+)'(?:, port=(?P<port>\d+))?",
            r"Failed to resolve '(?P<host>[^']+)'",
            r"lookup (?P<host>" + HOST + r")(?: on [^:]+(?::\d+)?)?: no such host",
            r"getaddrinfo (?:ENOTFOUND|EAI_AGAIN) (?P<host>" + HOST + r")",
            r"UnknownHostException: (?P<host>" + HOST + r")",
            r"Could not resolve host: (?P<host>" + HOST + r")",
            r'could not translate host name "(?P<host>[^"]+)" to address',
            r"(?:Name or service not known|Temporary failure in name resolution|nodename nor servname provided"
            r"|No address associated with hostname|server misbehaving)",
        ],
        # The name resolves but nobody answers, or the connection times out.
        "connect": [
            r"dial tcp (?P<addr>\[?[A-Za-z0-9_.:-]+\]?:\d+): (?:connect: )?(?:connection refused|i/o timeout|connect: no route to host)",
            r"HTTP(?:S)?ConnectionPool\(host='(?P<host>[^']+)', port=(?P<port>\d+)\).*(?:Connection refused|NewConnectionError|ConnectTimeout|timed out)",
            r"ECONNREFUSED (?P<addr>[A-Za-z0-9_.:-]+:\d+)",
            r"ETIMEDOUT (?P<addr>[A-Za-z0-9_.:-]+:\d+)",
            r"connect(?:ion)? to (?P<addr>[A-Za-z0-9_.-]+:\d+) (?:failed|refused|timed out)",
            r"(?:connection refused|Connection refused|ECONNREFUSED|connect: connection refused)",
            r"(?:Connection timed out|connect timed out|i/o timeout)",
        ],
        "rbac": [
            r'forbidden: User \\?"(?P<user>[^"\\]+)\\?" cannot (?P<verb>[a-z]+) resource \\?"(?P<resource>[^"\\]+)\\?"'
            r'(?: in API group \\?"(?P<group>[^"\\]*)\\?")?(?: in the namespace \\?"(?P<ns>[^"\\]+)\\?"| at the cluster scope)?',
            r"forbidden: User cannot (?P<verb>[a-z]+) (?P<resource>[a-z.]+)",
            r'User \\?"(?P<user>system:serviceaccount:[^"\\]+)\\?" cannot (?P<verb>[a-z]+) resource \\?"(?P<resource>[^"\\]+)',
        ],
        "model": [
            r"model \\?[\"'`](?P<model>[^\"'`\\]+)\\?[\"'`] not found",
            r"The model `(?P<model>[^`]+)` does not exist",
            r"model[_ ]not[_ ]found",
            r"(?:status code|status|code)[:= ]*404.*(?:/api/(?:chat|generate|embed\w*)|/v1/(?:chat/)?completions)",
            r"404 Client Error.*(?:/api/(?:chat|generate|embed\w*)|/v1/(?:chat/)?completions)",
            r"(?:/api/(?:chat|generate|embed\w*)|/v1/(?:chat/)?completions).*\b404\b",
            r"(?:Ollama|LLM|model server|vLLM)[^\n]*(?:status code|status)[:= ]*404",
        ],
        "disk": [
            r"No space left on device",
            r"\bENOSPC\b",
            r"disk quota exceeded",
            r"(?:database or )?disk is full",
        ],
        "exec": [
            r"exec format error",
            r'exec(?:: "| )(?P<path>[^":\s]+)"?: (?:no such file or directory|executable file not found in \$PATH|permission denied)',
            r"executable file not found in \$PATH",
        ],
        "config": [
            r"(?:invalid|bad|malformed) (?:config(?:uration)?|settings|option|flag|value)",
            r"config(?:uration)? (?:file )?(?:is )?(?:invalid|not valid|error)",
            r"(?:error|failed|unable|cannot|could not) (?:to )?(?:pars(?:e|ing)|load(?:ing)?|read(?:ing)?|decod(?:e|ing)|unmarshal(?:l?ing)?|validat(?:e|ing)) (?:the )?(?:config|configuration|settings|yaml|json|toml)",
            r"yaml: (?:line \d+|unmarshal errors)",
            r"json: cannot unmarshal",
            r"toml: ",
            r"flag provided but not defined",
            r"unknown (?:flag|shorthand flag|option|command line flag|directive|configuration key|field)",
            r"unrecognized arguments?",
            r"missing (?:required )?(?:config(?:uration)?|setting|option|field|parameter|environment variable|env var|key)",
            r"(?:environment variable|env(?:ironment)? var(?:iable)?)\s+\S+\s+(?:is )?(?:not set|required|missing|must be set)",
            r"\bKeyError: '[A-Z][A-Z0-9_]+'",
            r"validation errors? for \w*(?:Settings|Config)",
            r"pydantic.*ValidationError",
            r"must be (?:set|specified|provided)",
            r"\[emerg\]",
            r"invalid (?:port|value|URL|DSN|connection string|log level|duration)",
            r"(?:config|configuration) file .*(?:not found|does not exist|no such file)",
            # Postgres: FATAL:  configuration file "/etc/postgresql/postgresql.conf" contains errors
            r"configuration file .* contains errors",
            # Spring Boot failure analysis: Failed to bind properties under 'server.port' to java.lang.Integer
            r"Failed to bind properties under '[^']+'",
            r"Could not resolve placeholder '[^']+'",
            # Django, .NET options validation, MySQL/MariaDB server variables, Envoy bootstrap
            r"\bImproperlyConfigured\b",
            r"OptionsValidationException",
            r"unknown variable '[^']+'",
            r"(?:error|failed|unable to) (?:initializ(?:e|ing)) (?:the )?config(?:uration)?",
        ],
    },
    keywords=[
        # dns
        "resolve",
        "no such host",
        "ENOTFOUND",
        "EAI_AGAIN",
        "UnknownHost",
        "translate host",
        "not known",
        "name resolution",
        "nodename nor servname",
        "No address associated",
        "server misbehaving",
        # connect
        "refused",
        "timed out",
        "timeout",
        "ETIMEDOUT",
        "no route to host",
        "ConnectionPool",
        "connect to",
        # rbac
        "forbidden",
        # model
        "model",
        "404",
        # disk
        "space left",
        "ENOSPC",
        "quota exceeded",
        "disk is full",
        # exec
        "exec",
        "executable",
        # config
        "config",
        "settings",
        "invalid",
        "malformed",
        "yaml:",
        "json:",
        "toml:",
        "flag",
        "unknown",
        "unrecognized",
        "missing",
        "environment variable",
        "env var",
        "KeyError",
        "ValidationError",
        "must be",
        "[emerg]",
        "contains errors",
        "bind properties",
        "placeholder",
        "ImproperlyConfigured",
        "OptionsValidation",
        "variable",
        "initializ",
    ],
)
