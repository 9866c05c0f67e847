"""The ``remediator`` command line (typer): one module per command group, each parsing its options,
calling the flow (or a stage) and rendering with ``remediator.views``."""

from __future__ import annotations

from remediator.cli.common import Exit, app, main

# The commands are listed in --help in the order they register.
# isort: off
from remediator.cli import diagnose, fix, serve, review, policy, misc, doctor, incidents, mcp, scan  # noqa: F401
# isort: on

__all__ = ["Exit", "app", "main"]
