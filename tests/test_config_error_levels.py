"""config-error reads lines at error level and the startup failures frameworks print."""

from __future__ import annotations

import pytest

from remediator.detectors.config_error import below_error
from remediator.detectors.signatures import LOG_SIGNATURES


def config_hit(line: str) -> bool:
    return LOG_SIGNATURES.may_match(line) and any(rx.search(line) for rx in LOG_SIGNATURES.patterns["config"])


@pytest.mark.parametrize(
    "line",
    [
        'time=2026-11-28T07:01:02Z level=WARN msg="unknown field in config, ignoring" field=legacy_mode',
        '{"level":"warn","msg":"unknown field \\"x\\" in config"}',
        "2026-11-28 07:00:01.118 UTC [1] WARNING:  invalid value for parameter, using default",
        "WARNING:root:missing config key cache_ttl, using 60",
        '2026/11/28 07:00:01 [warn] 1#1: invalid value "x" in nginx.conf',
    ],
)
def test_warnings_are_below_error(line: str) -> None:
    assert config_hit(line)
    assert below_error(line)


@pytest.mark.parametrize(
    "line",
    [
        '2026-11-28 06:40:01.118 UTC [1] LOG:  invalid value for parameter "shared_buffers": "512MBB"',
        '2026-11-28 06:40:01.118 UTC [1] FATAL:  configuration file "/etc/postgresql/postgresql.conf" contains errors',
        "Failed to bind properties under 'server.port' to java.lang.Integer:",
        "java.lang.IllegalArgumentException: Could not resolve placeholder 'DB_URL' in value \"${DB_URL}\"",
        "django.core.exceptions.ImproperlyConfigured: SECRET_KEY setting must not be empty.",
        "2026-11-28T07:00:01.000000Z 0 [ERROR] [MY-000067] [Server] unknown variable 'innodb_bufer_pool_size=1G'.",
        '2026/11/28 07:00:01 [emerg] 1#1: unknown directive "listn" in /etc/nginx/conf.d/default.conf:2',
        'level=error msg="error loading config from \\"/etc/prometheus/prometheus.yml\\""',
    ],
)
def test_errors_count(line: str) -> None:
    assert config_hit(line)
    assert not below_error(line)
