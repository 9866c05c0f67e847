"""``remediator incidents``: what the service did, read from its journal."""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from remediator.cli.common import TextOrJson, app, errors_as_exit_codes


class State(StrEnum):
    queued = "queued"
    running = "running"
    done = "done"
    failed = "failed"
    refused = "refused"


@app.command("incidents")
def incidents_cmd(
    app_name: Annotated[str | None, typer.Option("--app", help="only this application's incidents")] = None,
    state: Annotated[State | None, typer.Option("--state", help="only incidents in this state")] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=500, help="at most this many, newest first")] = 50,
    journal_path: Annotated[
        Path, typer.Option("--journal", help="the SQLite journal serve writes (same default as serve)")
    ] = Path("remediator-journal.sqlite"),
    fmt: Annotated[TextOrJson, typer.Option("--format", help="output format")] = TextOrJson.text,
) -> None:
    """List what the service did: recent incidents with their state, category, attempts and PR.

    Reads the journal without writing to it; safe while serve runs."""
    from remediator.service.journal import Journal
    from remediator.views.incidents import incident_json, incidents_text

    with errors_as_exit_codes():
        journal = Journal.open_readonly(journal_path)
        try:
            found = journal.recent(app_name, state.value if state else None, limit)
        finally:
            journal.close()
    if fmt is TextOrJson.json:
        typer.echo(json.dumps({"incidents": [incident_json(i) for i in found]}, indent=2))
    else:
        typer.echo(incidents_text(found), nl=False)
