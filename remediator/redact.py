"""Secrets never reach a log, a report, a snapshot, a model request or a PR: redaction of the shapes
secrets take in evidence.

``redact(text)`` replaces every secret *value* it recognises with ``***`` and keeps the name next
to it, so ``DB_PASS=hunter2`` becomes ``DB_PASS=***`` and the line still explains itself.

Why a table of our own and not detect-secrets at run time: its plugin set (AWS, Azure storage,
Basic-auth URLs, Artifactory, Cloudant, Discord, GitHub, GitLab, IBM, JWT, Mailchimp, NPM, OpenAI,
PyPI, SendGrid, Slack, Softlayer, Square, Stripe, Telegram, Twilio, private keys, keyword
assignments) is the reference this table covers, and ``tests/security/test_secrets.py`` checks it
against the library's own pattern objects (detect-secrets is in the ``test`` extra). But its
regexes are written for scanning source files line by line, not hostile evidence: several are
super-linear (its NPM pattern takes 1.6 s on 16 KB of ``/``; its keyword and IBM/Cloudant
assignment patterns take 150-270 ms per MB each, and its keyword prefix ``\\w*`` is quadratic on a
long word), it flags only quoted values in keyword assignments, and it knows none of the
Kubernetes shapes (bearer tokens, ``--from-literal``, env name/value pairs, base64 blobs).

Cost is LINEAR in the text: every pattern either starts with a literal, or starts at a token
boundary (a look-behind), so a run of characters is scanned from its start only, and every
repetition after a start is bounded or cannot fail after it has run. The adversarial inputs
(``a.a.a…``, ``password`` repeated, long base64, long runs of ``=`` or ``:``) are in the tests.

No false positives on ordinary lines is the other half: image digests and git SHAs (hex), paths,
Kubernetes names, ``passwordless``, ``token bucket``, ``secretName: x`` and ``key: app`` stay.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

Repl = str | Callable[[re.Match[str]], str]

_K = r"A-Za-z0-9_.\-"  # the characters of a key name (env var, YAML/JSON key, flag)
_TOKEN = r"A-Za-z0-9_\-"  # the characters of an API token

# The key names whose value is a secret. A look-behind per ending keeps the regex linear; the
# exact test (which part of the name it is) is ``secret_name``.
_ENDINGS = (
    "password", "passwd", "passphrase", "pwd", "pass", "secret", "token", "credential", "credentials",
    "creds", "auth", "key",
)  # fmt: skip
_ENDS_WITH_KEYWORD = "(?:" + "|".join(f"(?<={re.escape(e)})" for e in _ENDINGS) + ")"
_SUFFIXES = ("password", "passwd", "passphrase", "secret", "token", "credential", "credentials")
_PARTS = frozenset({"pass", "pwd", "creds", "auth"})
# "key" alone is a label-selector key or a cache key; these qualified keys are secrets (the
# qualifiers of detect-secrets' keyword plugin, plus a few common in Kubernetes and clouds).
_KEYS = tuple(
    q + "key"
    for q in (
        "api", "auth", "service", "account", "db", "database", "priv", "private", "client", "access",
        "secret", "ssh", "signing", "encryption", "master", "license", "subscription", "storage",
        "shared", "tls", "sas", "session", "webhook", "app", "consumer", "primary", "secondary",
    )
)  # fmt: skip
# keys whose value names a Secret object rather than holding one
_NAME_REFS = frozenset({"existingsecret", "imagepullsecret", "tlssecret", "secretsecret"})
_NOT_SECRET = frozenset(
    {"", "true", "false", "null", "none", "nil", "yes", "no", "on", "off", "enabled", "disabled", "required",
     "optional", "***", "<redacted>", "[redacted]", "redacted", "<nil>", "$", "-"}
)  # fmt: skip
_REFERENCE = re.compile(r"\$\{[^}]*\}|\$\([^)]*\)|\{\{.*\}\}|\$[A-Z_][A-Z0-9_]*")
_CAMEL = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z0-9]+")


def secret_name(key: str) -> bool:
    """Does this name (an env var, a YAML/JSON key, a flag, a Secret data key) hold a secret?

    ``DB_PASS``, ``dbPassword``, ``--password``, ``GITHUB_TOKEN``, ``client_secret``, ``apiKey``,
    ``AWS_SECRET_ACCESS_KEY``, ``tls.key``, ``MY_CREDENTIALS`` do; ``passwordless``, ``token_bucket``,
    ``secretName``, ``key``, ``monkey``, ``bypass``, ``PASSWORD_FILE`` do not."""
    low = re.sub(r"[^a-z0-9]", "", key.lower())
    if not low or low in _NAME_REFS:
        return False
    if low.endswith(_SUFFIXES) or low.endswith(_KEYS):
        return True
    parts = [p for chunk in re.split(r"[_.\-/:]+", key) for p in _CAMEL.findall(chunk)]
    return bool(parts) and parts[-1].lower() in _PARTS


def _trivial(value: str) -> bool:
    v = value.strip("\"'`")
    return v.lower() in _NOT_SECRET or bool(_REFERENCE.fullmatch(v))


def _masked(value: str) -> str:
    """``***`` keeping the quotes around the value."""
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'`":
        return value[0] + "***" + value[0]
    return "***"


def _assignment(m: re.Match[str]) -> str:
    key, sep, value = m.group("key"), m.group("sep"), m.group("val")
    whole = m.group(0)
    if _trivial(value):
        return whole
    if sep == ":" and m.start() > 0 and m.string[m.start() - 1] in "/@":
        return whole  # an image reference: registry/secret-sync:v1
    if re.sub(r"[^a-z0-9]", "", key.lower()) == "key":
        # "key" alone: a selector or cache key unless its value is a long opaque string
        v = value.strip("\"'`")
        if len(v) < 20 or "." in v or not re.fullmatch(r"[A-Za-z0-9+/=_\-]+", v):
            return whole
    elif not secret_name(key) or (key.upper() == "PWD" and value.startswith("/")):
        return whole  # PWD=/app is the shell's working directory
    return key + sep + _masked(value)


def _flag(m: re.Match[str]) -> str:
    if not secret_name(m.group("flag")) or _trivial(m.group("val")):
        return m.group(0)
    return m.group("flag") + m.group("gap") + _masked(m.group("val"))


def _env_pair(m: re.Match[str]) -> str:
    if not secret_name(m.group("n")) or _trivial(m.group("val")):
        return m.group(0)
    return m.group("head") + _masked(m.group("val"))


def _class_flips(s: str) -> float:
    """Share of neighbouring letters/digits that change class (lower, upper, digit): about 0.6 in
    random base64, under 0.1 in words, paths and CamelCase identifiers."""
    prev = ""
    flips = n = 0
    for ch in s[:256]:
        c = "d" if ch.isdigit() else "u" if ch.isupper() else "l" if ch.islower() else ""
        if not c:
            continue
        if prev and c != prev:
            flips += 1
        prev = c
        n += 1
    return flips / max(n - 1, 1)


_FIELD_NAME = re.compile(r"[A-Za-z][a-z]+(?:[A-Z][a-z]+)*")


def _blob(m: re.Match[str]) -> str:
    s = m.group(0)
    core = s.rstrip("=")
    if re.fullmatch(r"[0-9a-f]+|[0-9A-F]+", core):
        return s  # image digests, git SHAs, checksums
    if _class_flips(core) < 0.2 and not s.endswith("="):
        return s  # words, paths, identifiers (API paths, Java classes)
    if _FIELD_NAME.fullmatch(core):
        return s  # a camelCase field name (requiredDuringSchedulingIgnoredDuringExecution)
    return "***"


def _bearer(m: re.Match[str]) -> str:
    if _opaque(m.group(2)):
        return m.group(1) + " ***"
    return m.group(0)  # "token bucket", "Basic authentication"


def _opaque(v: str) -> bool:
    """Looks like a credential rather than a word: a digit, a symbol, or an inner capital."""
    return any(ch.isdigit() or ch in "._~+/=" for ch in v) or any(ch.isupper() for ch in v[1:])


def _authorization(m: re.Match[str]) -> str:
    if m.group("scheme") or _opaque(m.group("cred")):
        return m.group(1) + "***"
    return m.group(0)  # "may require authorization: server message"


def _openai(m: re.Match[str]) -> str:
    s = m.group(0)
    if "T3BlbkFJ" in s or s.startswith(("sk-proj-", "sk-svcacct-", "sk-admin-", "sk-ant-")):
        return "***"
    if len(s) >= 40 and _class_flips(s) >= 0.2:
        return "***"
    return s  # a Kubernetes name such as sk-learn-worker-5f7d9c


def _userpass(m: re.Match[str]) -> str:
    user, pw = m.group("user"), m.group("pw")
    if user.isdigit() and pw.isdigit():
        return m.group(0)  # docker run -u 1000:1000
    return m.group("head") + "***"


def _mysql_line(m: re.Match[str]) -> str:
    return re.sub(r"(?<!\S)-p(?=\S)\S+", "-p***", m.group(0))


_T = _TOKEN
_PROVIDERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    # (branch, literals one of which the branch needs); (?<![...].{n}) = no token character before
    # the n-character prefix just matched
    (r"(?:A3T[A-Z0-9]|ABIA|ACCA|AKIA|ASIA)(?<![A-Z0-9].{4})[0-9A-Z]{16}(?![A-Z0-9])",
     ("A3T", "ABIA", "ACCA", "AKIA", "ASIA")),
    (rf"gh[pousr]_(?<![{_T}].{{4}})[A-Za-z0-9_]{{36,}}", ("ghp_", "gho_", "ghu_", "ghs_", "ghr_")),
    (rf"github_pat_(?<![{_T}].{{11}})[A-Za-z0-9_]{{22,}}", ("github_pat_",)),
    (rf"gl(?:pat|dt|ft|soat|rt|cbt|imt|ptt|agent|oas)-[{_T}]{{20,}}",
     ("glpat-", "gldt-", "glft-", "glsoat-", "glrt-", "glcbt-", "glimt-", "glptt-", "glagent-", "gloas-")),
    (rf"GR1348941[{_T}]{{20,}}", ("GR1348941",)),
    (rf"AIza(?<![{_T}].{{4}})[{_T}]{{35}}", ("AIza",)),
    (rf"ya29\.[{_T}]{{20,}}", ("ya29.",)),
    (r"[xX][oO][xX][abposrABPOSR]-(?<![A-Za-z0-9\-].{5})[A-Za-z0-9\-]{10,}", ("xox", "XOX", "Xox")),
    (r"[spr]k_(?:live|test)_(?<![A-Za-z0-9_].{8})[0-9a-zA-Z]{16,}", ("k_live_", "k_test_")),
    (r"whsec_[A-Za-z0-9]{24,}", ("whsec_",)),
    (rf"SG\.(?<![{_T}].{{3}})[{_T}]{{22}}\.[{_T}]{{43}}", ("SG.",)),
    (r"sq0(?:csp|atp)-(?<![A-Za-z0-9_\-].{7})[0-9A-Za-z\\\-_]{22,}", ("sq0csp-", "sq0atp-")),
    (r"(?:AC|SK)(?<![A-Za-z0-9].{2})[a-z0-9]{32}(?![A-Za-z0-9])", ("AC", "SK")),
    (r"[0-9a-z]{32}-us(?<![0-9a-z].{35})[0-9]{1,2}(?![0-9])", ("-us",)),
    (rf"[0-9]{{8,10}}:[{_T}]{{35}}(?![{_T}])", (":",)),
    (rf"[MNO](?<![{_T}].)[{_T}]{{23,25}}\.[{_T}]{{6}}\.[{_T}]{{27}}", (".",)),
    (rf"pypi-AgE(?<![{_T}].{{8}})[{_T}]{{50,}}", ("pypi-AgE",)),
    (r"npm_(?<![A-Za-z0-9_].{4})[A-Za-z0-9]{36}", ("npm_",)),
    # JWTs (Kubernetes service-account tokens, OIDC id tokens)
    (rf"eyJ(?<![{_T}].{{3}})[{_T}]{{4,}}={{0,2}}\.[{_T}]{{4,}}={{0,2}}(?:\.[A-Za-z0-9_+/=\-]*)?", ("eyJ",)),
)  # fmt: skip


@dataclass(frozen=True)
class Rule:
    """One secret shape. ``gate``: literals of which one must occur in the text (in its lower-case
    form with ``lower``) for the regex to be worth running; a cheap substring search."""

    rx: re.Pattern[str]
    repl: Repl
    gate: tuple[str, ...] = ()
    lower: bool = False


def _rule(rx: str, repl: Repl = "***", gate: tuple[str, ...] = (), flags: int = 0, lower: bool = False) -> Rule:
    return Rule(re.compile(rx, flags), repl, gate, lower)


RULES: tuple[Rule, ...] = (
    # private keys (PEM, OpenSSH, PGP, SSH2) and PuTTY key files, also inside JSON with \n escapes
    _rule(
        r"-{4,5} ?BEGIN[A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)? ?-{4,5}.*?"
        r"(?:-{4,5} ?END[A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)? ?-{4,5}|\Z)",
        "[private key redacted]",
        ("BEGIN",),
        re.S,
    ),
    _rule(
        r"PuTTY-User-Key-File-\d+:.*?(?:Private-MAC: ?[0-9a-fA-F]*|\Z)",
        "[private key redacted]",
        ("PuTTY-User-Key-File-",),
        re.S,
    ),
    # credentials in URLs (Basic auth, Cloudant, database URLs), Slack webhooks, Softlayer
    _rule(r"(://[^/\s:@]{1,256}):[^/\s@]{1,1024}@", r"\1:***@", ("://",)),
    _rule(r"(https://hooks\.slack\.com/services/)[A-Za-z0-9_/]+", r"\1***", ("hooks.slack.com",)),
    _rule(r"(api\.softlayer\.com/soap/v3(?:\.1)?/)[a-z0-9]{64}", r"\1***", ("softlayer",), re.I, lower=True),
    # HTTP headers: everything after the scheme of Authorization, and cookies
    _rule(
        r"\b((?:proxy-)?authorization[\"']?[ \t]{0,16}[:=][ \t]{0,16}[\"']?)"
        r"(?P<scheme>(?:bearer|basic|token|digest|negotiate|ntlm)[ \t]+)?(?P<cred>[^\s\"',;]+)",
        _authorization,
        ("authorization",),
        re.I,
        lower=True,
    ),
    _rule(r"\b((?:set-)?cookie[ \t]{0,16}:[ \t]{0,16})[^\n]+", r"\1***", ("cookie",), re.I, lower=True),
    _rule(
        r"(?<![\w-])(bearer|basic|token)[ \t]+([A-Za-z0-9._~+/\-]{8,}=*)",
        _bearer,
        ("bearer", "basic", "token"),
        re.I,
        lower=True,
    ),
    # provider tokens (detect-secrets' plugin set): one alternation whose branches start with their
    # literal prefix (so the engine skips ahead) and then check the token boundary behind it
    _rule("|".join(b for b, _ in _PROVIDERS), gate=tuple(g for _, gs in _PROVIDERS for g in gs)),
    _rule(
        r"(?:(?<=[\s=:\"])|^)(?:AKC[a-zA-Z0-9]{10,}|AP[0-9ABCDEF][a-zA-Z0-9]{8,})(?=[\s\"]|$)",
        gate=("AKC", "AP"),
        flags=re.M,
    ),
    _rule(rf"(?<![{_T}])sk-[{_T}]{{20,}}", _openai, ("sk-",)),
    _rule(r"(AccountKey=)[A-Za-z0-9+/=]{20,}", r"\1***", ("AccountKey=",)),
    _rule(r"([?&]sig=)[A-Za-z0-9%+/=]{20,}", r"\1***", ("sig=",)),
    # command lines: kubectl create secret --from-literal, curl -u, mysql -p
    _rule(r"(--from-literal[= ][\"']?[^=\s\"']{1,253}=)[^\s\"']+", r"\1***", ("--from-literal",)),
    _rule(
        r"(?<!\S)(?P<head>(?:-u|--user|--proxy-user)(?:[ \t]+|=)?[\"']?(?P<user>[^\s:\"']{1,256}):)(?P<pw>[^\s\"']+)",
        _userpass,
        ("-u", "--user", "--proxy-user"),
    ),
    _rule(
        r"^[^\n]*\b(?:mysql|mysqldump|mysqladmin|mysqlimport|mysqlshow|mariadb)\b[^\n]*$",
        _mysql_line,
        ("mysql", "mariadb"),
        re.I | re.M,
        lower=True,
    ),
    # env entries and Helm parameters: name: DB_PASSWORD / value: hunter2 (YAML, JSON, one line or two)
    _rule(
        r"(?P<head>(?<![A-Za-z0-9_])[\"']?name[\"']?[ \t]{0,8}[:=][ \t]{0,8}[\"']?(?P<n>[" + _K + r"]{1,256})"
        r"[\"']?[ \t]{0,8},?\s{0,64}?[\"']?value[\"']?[ \t]{0,8}[:=][ \t]{0,8})"
        r"(?P<val>\"[^\"\n]{0,4096}\"|'[^'\n]{0,4096}'|[^\s,}\]]+)",
        _env_pair,
        ("value",),
    ),
    # key = value, key: value, "key": "value", 'key' => 'value', KEY := value
    _rule(
        rf"(?<![{_K}])(?P<key>[{_K}]{{1,256}})(?=[\"'\] \t:=]){_ENDS_WITH_KEYWORD}"
        r"(?P<sep>[\"'\]]{0,2}[ \t]{0,32}(?::=|=>|={1,3}|:)[ \t]{0,32})"
        r"(?P<val>\"[^\"\n]{1,4096}\"|'[^'\n]{1,4096}'|`[^`\n]{1,4096}`|[^\s\"'`,;&(){}\[\]<>]+)",
        _assignment,
        ("=", ":"),
        re.I,
    ),
    # --password hunter2, --token abc (the value after a space)
    _rule(
        rf"(?<![{_K}])(?P<flag>--?[A-Za-z][A-Za-z0-9_\-]{{0,64}})(?=[ \t]){_ENDS_WITH_KEYWORD}"
        r"(?P<gap>[ \t]{1,8})(?P<val>\"[^\"\n]{1,4096}\"|'[^'\n]{1,4096}'|(?!-)[^\s\"'`]+)",
        _flag,
        ("-",),
        re.I,
    ),
    # opaque base64 blobs (Secret data printed by kubectl, kubeconfig certificates and keys)
    _rule(r"(?<![A-Za-z0-9+/=_\-])[A-Za-z0-9+/]{40,}={0,2}(?![A-Za-z0-9+/=_\-])", _blob),
)


def redact(text: str) -> str:
    """The text with every secret value it recognises replaced by ``***``; linear in its length."""
    low: str | None = None
    for rule in RULES:
        if rule.gate:
            if rule.lower:
                if low is None:
                    low = text.lower()
                hay = low
            else:
                hay = text
            if not any(g in hay for g in rule.gate):
                continue
        new = rule.rx.sub(rule.repl, text)
        if new != text:
            text, low = new, None
    return text


def redact_data(data: Any) -> Any:
    """A copy of JSON-like data with every string redacted (keys are kept)."""
    if isinstance(data, str):
        return redact(data)
    if isinstance(data, dict):
        return {k: redact_data(v) for k, v in data.items()}
    if isinstance(data, list | tuple):
        return [redact_data(v) for v in data]
    return data
