"""The durable journal of incidents (SQLite): what arrived, where each run is, what it produced.

A restart - even after ``kill -9`` mid-run - re-queues the runs that were in flight; the PR flow
is idempotent (the open PR is found by its marker), so a re-run never opens a second PR. An
incident during which the process died ``max_attempts`` times (it kills the process: OOM, crash) is
parked as failed instead of being re-run at every start. What is stored is redacted
(``remediator.redact``): credentials in URLs and secret-shaped strings never reach the file.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from remediator.errors import InputError
from remediator.redact import redact

SCHEMA = """
CREATE TABLE IF NOT EXISTS incidents (
    id TEXT PRIMARY KEY,
    app TEXT NOT NULL,
    source TEXT NOT NULL,
    payload TEXT NOT NULL,
    state TEXT NOT NULL,            -- queued | running | done | failed | refused
    stage TEXT NOT NULL DEFAULT '',
    received REAL NOT NULL,
    due REAL NOT NULL,
    updated REAL NOT NULL,
    runs INTEGER NOT NULL DEFAULT 0,
    deduplicated INTEGER NOT NULL DEFAULT 0,
    outcome TEXT NOT NULL DEFAULT '',
    message TEXT NOT NULL DEFAULT '',
    pr_url TEXT NOT NULL DEFAULT '',
    cause TEXT NOT NULL DEFAULT '',
    crashes INTEGER NOT NULL DEFAULT 0,  -- runs during which the process died
    category TEXT NOT NULL DEFAULT '',   -- the top finding's category (e.g. oom-killed)
    culprit TEXT NOT NULL DEFAULT ''     -- the object the top finding blames (Kind/namespace/name)
);
CREATE INDEX IF NOT EXISTS incidents_app_state ON incidents(app, state);
CREATE INDEX IF NOT EXISTS incidents_state_due ON incidents(state, due);
CREATE TABLE IF NOT EXISTS attempts (
    app TEXT NOT NULL,
    cause TEXT NOT NULL,
    prs INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (app, cause)
);
CREATE TABLE IF NOT EXISTS pull_requests (  -- what became of the bot's PRs (GitHub events, commands)
    pr_url TEXT PRIMARY KEY,
    app TEXT NOT NULL,
    state TEXT NOT NULL,            -- merged (the fix awaits verification) | rejected
    fingerprint TEXT NOT NULL DEFAULT '',
    cause TEXT NOT NULL DEFAULT '',
    reason TEXT NOT NULL DEFAULT '',
    updated REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS pull_requests_app_fp ON pull_requests(app, fingerprint);
CREATE TABLE IF NOT EXISTS deliveries (  -- GitHub webhook deliveries handled (X-GitHub-Delivery)
    id TEXT PRIMARY KEY,
    received REAL NOT NULL
);
"""


@dataclass
class Incident:
    id: str
    app: str
    source: str
    payload: dict[str, Any]
    state: str
    stage: str
    received: float
    due: float
    runs: int
    deduplicated: int
    outcome: str
    message: str
    pr_url: str
    crashes: int = 0
    updated: float = 0.0
    cause: str = ""
    category: str = ""
    culprit: str = ""


COLUMNS = (
    "id, app, source, payload, state, stage, received, due, updated, runs, deduplicated, outcome, message, "
    "pr_url, cause, crashes, category, culprit"
)
STATES = ("queued", "running", "done", "failed", "refused")
LIST_DEFAULT = 50
LIST_MAX = 500
# Validated names: stored as they are (a revision is redacted like any other string).
PLAIN_KEYS = frozenset({"app", "namespace"})
MAX_RETRY_AFTER = 24 * 3600.0  # a code host asking for more is not believed


def scrub(value: Any, key: str = "") -> Any:
    """``value`` with every string redacted (URL credentials, tokens), except validated names."""
    if isinstance(value, str):
        return value if key in PLAIN_KEYS else redact(value)
    if isinstance(value, dict):
        return {k: scrub(v, str(k)) for k, v in value.items()}
    if isinstance(value, list):
        return [scrub(v) for v in value]
    return value


class Journal:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        try:
            if path.is_dir():
                raise IsADirectoryError("it is a directory")
            path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(SCHEMA)
            cols = {r[1] for r in self._db.execute("PRAGMA table_info(incidents)")}
            if "crashes" not in cols:  # a journal from before the crash count
                self._db.execute("ALTER TABLE incidents ADD COLUMN crashes INTEGER NOT NULL DEFAULT 0")
            for col in ("category", "culprit"):  # a journal from before they were kept
                if col not in cols:
                    self._db.execute(f"ALTER TABLE incidents ADD COLUMN {col} TEXT NOT NULL DEFAULT ''")
        except (OSError, sqlite3.Error) as e:
            why = e.strerror if isinstance(e, OSError) and e.strerror else str(e) or type(e).__name__
            raise InputError(f"journal {path}: cannot open or create it as an SQLite database ({why})") from e

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _row(self, r: tuple[Any, ...]) -> Incident:
        return Incident(
            id=r[0], app=r[1], source=r[2], payload=json.loads(r[3]), state=r[4], stage=r[5], received=r[6],
            due=r[7], runs=r[9], deduplicated=r[10], outcome=r[11], message=r[12], pr_url=r[13], crashes=r[15],
            updated=r[8], cause=r[14], category=r[16], culprit=r[17],
        )  # fmt: skip

    def recover(self, max_attempts: int = 3) -> tuple[int, int]:
        """Runs that were in flight when the process died go back to the queue, unless the process
        has now died during ``max_attempts`` runs of that incident: then it is parked as failed (an
        incident that kills the process is not re-run at every start). Returns (resumed, parked)."""
        now = time.time()
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.execute("UPDATE incidents SET crashes=crashes+1, updated=? WHERE state='running'", (now,))
                parked = self._db.execute(
                    "UPDATE incidents SET state='failed', stage='parked', outcome='parked', message="
                    "'the process died during ' || crashes || ' runs of this incident; parked (not re-run: "
                    "a person should look)' WHERE state='running' AND crashes>=?",
                    (max_attempts,),
                ).rowcount
                resumed = self._db.execute(
                    "UPDATE incidents SET state='queued', stage='recovered' WHERE state='running'"
                ).rowcount
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        return resumed, parked

    def interrupted(self, ids: set[str]) -> int:
        """Runs still in flight when a graceful stop's grace ran out go back to the queue without
        counting as a crash (the process did not die of them)."""
        if not ids:
            return 0
        with self._lock:
            marks = ",".join("?" * len(ids))
            return self._db.execute(
                f"UPDATE incidents SET state='queued', stage='interrupted', updated=? WHERE state='running' AND id IN ({marks})",
                (time.time(), *sorted(ids)),
            ).rowcount

    def requeue(self, iid: str, after: float, reason: str) -> float:
        """Put a run that was told to come back later (``Retry-After``) back in the queue, due in
        ``after`` seconds (at most a day); the reason is journaled. Returns the due time."""
        now = time.time()
        due = now + min(max(after, 0.0), MAX_RETRY_AFTER)
        with self._lock:
            self._db.execute(
                "UPDATE incidents SET state='queued', stage='waiting', outcome='retry', message=?, due=?, updated=? "
                "WHERE id=?",
                (redact(reason)[:2000], due, now, iid),
            )
        return due

    def submit(self, app: str, source: str, payload: dict[str, Any], settle: float) -> tuple[str, bool]:
        """Queue an incident, or fold it into the app's incident still waiting (latest state wins).
        Returns (incident id, deduplicated)."""
        now = time.time()
        body = json.dumps(scrub(payload))
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                row = self._db.execute(
                    "SELECT id FROM incidents WHERE app=? AND state='queued' ORDER BY received LIMIT 1", (app,)
                ).fetchone()
                if row:  # the debounce moves the due time later, never earlier (a Retry-After stands)
                    self._db.execute(
                        "UPDATE incidents SET payload=?, source=?, due=MAX(due, ?), updated=?, "
                        "deduplicated=deduplicated+1 WHERE id=?",
                        (body, source, now + settle, now, row[0]),
                    )
                    self._db.execute("COMMIT")
                    return str(row[0]), True
                iid = uuid.uuid4().hex[:16]
                self._db.execute(
                    "INSERT INTO incidents (id, app, source, payload, state, received, due, updated) VALUES (?,?,?,?,?,?,?,?)",
                    (iid, app, source, body, "queued", now, now + settle, now),
                )
                self._db.execute("COMMIT")
                return iid, False
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    def refuse(self, app: str, source: str, payload: dict[str, Any], reason: str) -> str:
        now = time.time()
        iid = uuid.uuid4().hex[:16]
        with self._lock:
            self._db.execute(
                "INSERT INTO incidents (id, app, source, payload, state, stage, received, due, updated, outcome, message) "
                "VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                (
                    iid,
                    app,
                    source,
                    json.dumps(scrub(payload)),
                    "refused",
                    "received",
                    now,
                    now,
                    now,
                    "refused",
                    redact(reason),
                ),
            )
        return iid

    def resolve(self, app: str, alert: dict[str, Any]) -> tuple[Incident, str] | None:
        """Record a resolved alert (once per fingerprint and start) in the ``resolved`` list of the
        app's latest incident that was not refused. Returns that incident and the app's latest pull
        request URL (from an earlier incident while this one waits), or None when the app has none."""
        with self._lock:
            r = self._db.execute(
                f"SELECT {COLUMNS} FROM incidents WHERE app=? AND state!='refused' ORDER BY received DESC LIMIT 1",
                (app,),
            ).fetchone()
            if r is None:
                return None
            inc = self._row(r)
            seen = inc.payload.setdefault("resolved", [])
            key = (alert.get("fingerprint"), alert.get("startsAt"))
            if isinstance(seen, list) and all((a.get("fingerprint"), a.get("startsAt")) != key for a in seen):
                seen.append(scrub(alert))
                self._db.execute(
                    "UPDATE incidents SET payload=?, updated=? WHERE id=?",
                    (json.dumps(inc.payload), time.time(), inc.id),
                )
            pr = self._db.execute(
                "SELECT pr_url FROM incidents WHERE app=? AND pr_url!='' ORDER BY received DESC LIMIT 1", (app,)
            ).fetchone()
        return inc, str(pr[0]) if pr else ""

    def claim(self, busy: set[str], limit: int) -> list[Incident]:
        """Due queued incidents of apps not running now, marked running (one per app)."""
        now = time.time()
        out: list[Incident] = []
        with self._lock:
            rows = self._db.execute(
                f"SELECT {COLUMNS} FROM incidents WHERE state='queued' AND due<=? ORDER BY due LIMIT ?",
                (now, limit * 4 + 16),
            ).fetchall()
            for r in rows:
                if len(out) >= limit:
                    break
                app = r[1]
                if app in busy or any(i.app == app for i in out):
                    continue
                self._db.execute(
                    "UPDATE incidents SET state='running', stage='started', runs=runs+1, updated=? WHERE id=? AND state='queued'",
                    (now, r[0]),
                )
                out.append(self._row(r))
        return out

    def stage(self, iid: str, stage: str) -> None:
        with self._lock:
            self._db.execute("UPDATE incidents SET stage=?, updated=? WHERE id=?", (stage, time.time(), iid))

    def finish(
        self,
        iid: str,
        state: str,
        outcome: str,
        message: str,
        pr_url: str = "",
        cause: str = "",
        category: str = "",
        culprit: str = "",
    ) -> None:
        with self._lock:
            self._db.execute(
                "UPDATE incidents SET state=?, stage='finished', outcome=?, message=?, pr_url=?, cause=?, category=?, "
                "culprit=?, updated=? WHERE id=?",
                (
                    state,
                    outcome,
                    redact(message)[:2000],
                    redact(pr_url),
                    cause,
                    category,
                    redact(culprit),
                    time.time(),
                    iid,
                ),
            )

    def count_pr(self, app: str, cause: str) -> int:
        """Count one more PR opened for (app, cause); returns the new total."""
        with self._lock:
            self._db.execute(
                "INSERT INTO attempts (app, cause, prs) VALUES (?,?,1) ON CONFLICT(app, cause) DO UPDATE SET prs=prs+1",
                (app, cause),
            )
            row = self._db.execute("SELECT prs FROM attempts WHERE app=? AND cause=?", (app, cause)).fetchone()
            return int(row[0])

    def prs_for(self, app: str, cause: str) -> int:
        with self._lock:
            row = self._db.execute("SELECT prs FROM attempts WHERE app=? AND cause=?", (app, cause)).fetchone()
            return int(row[0]) if row else 0

    def depth(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM incidents WHERE state='queued'").fetchone()[0])

    def get(self, iid: str) -> Incident | None:
        with self._lock:
            r = self._db.execute(f"SELECT {COLUMNS} FROM incidents WHERE id=?", (iid,)).fetchone()
        return self._row(r) if r else None

    def all(self) -> list[Incident]:
        with self._lock:
            rows = self._db.execute(f"SELECT {COLUMNS} FROM incidents ORDER BY received").fetchall()
        return [self._row(r) for r in rows]

    @classmethod
    def open_readonly(cls, path: Path) -> Journal:
        """The journal at ``path`` for reading only (``remediator incidents``): never created,
        never migrated, never written; a missing or foreign file is an ``InputError``."""
        if not path.is_file():
            why = "it is a directory" if path.is_dir() else "no such file"
            raise InputError(f"journal {path}: {why} (serve writes it; pass its path with --journal)")
        self = cls.__new__(cls)
        self.path = path
        self._lock = threading.Lock()
        try:
            self._db = sqlite3.connect(
                f"file:{quote(str(path.resolve()))}?mode=ro", uri=True, check_same_thread=False, isolation_level=None
            )
            self._db.execute(f"SELECT {COLUMNS} FROM incidents LIMIT 0").fetchall()
        except sqlite3.Error as e:
            raise InputError(f"journal {path}: not a readable remediator journal ({e})") from e
        return self

    def recent(self, app: str | None = None, state: str | None = None, limit: int = LIST_DEFAULT) -> list[Incident]:
        """The most recently received incidents first, at most ``limit`` (1 to 500), of ``app`` and
        in ``state`` when given. Read-only."""
        if not 1 <= limit <= LIST_MAX:
            raise InputError(f"limit: {limit} is not between 1 and {LIST_MAX}")
        if state is not None and state not in STATES:
            raise InputError(f"state: {state!r} is not one of {', '.join(STATES)}")
        where: list[str] = []
        args: list[Any] = []
        if app:
            where.append("app=?")
            args.append(app)
        if state:
            where.append("state=?")
            args.append(state)
        sql = f"SELECT {COLUMNS} FROM incidents"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY received DESC, rowid DESC LIMIT ?"
        with self._lock:
            rows = self._db.execute(sql, (*args, limit)).fetchall()
        return [self._row(r) for r in rows]

    def ping(self) -> bool:
        try:
            with self._lock:
                self._db.execute("SELECT 1").fetchone()
            return True
        except sqlite3.Error:
            return False

    # --- the bot's pull requests, as GitHub tells (remediator.service.commands) ---------------

    def first_delivery(self, delivery: str) -> bool:
        """Record a webhook delivery id; False when it was handled before (a replay). Ids older than
        a week are forgotten."""
        now = time.time()
        with self._lock:
            self._db.execute("DELETE FROM deliveries WHERE received<?", (now - 7 * 24 * 3600,))
            return bool(
                self._db.execute(
                    "INSERT OR IGNORE INTO deliveries (id, received) VALUES (?,?)", (delivery[:100], now)
                ).rowcount
            )

    def forget_delivery(self, delivery: str) -> None:
        """Handling the delivery failed: a redelivery (GitHub's "Redeliver", or its own retry) is
        then acted on rather than answered as a replay."""
        with self._lock:
            self._db.execute("DELETE FROM deliveries WHERE id=?", (delivery[:100],))

    def pr_closed(self, app: str, pr_url: str, merged: bool, fingerprint: str, cause: str, reason: str) -> None:
        """A bot PR was merged (its fix now awaits verification) or closed unmerged (rejected: the
        same change, ``fingerprint``, is not proposed again for ``app``); the app's incidents that
        name the PR say so at once."""
        state = "merged" if merged else "rejected"
        now = time.time()
        with self._lock:
            self._db.execute(
                "INSERT INTO pull_requests (pr_url, app, state, fingerprint, cause, reason, updated) "
                "VALUES (?,?,?,?,?,?,?) ON CONFLICT(pr_url) DO UPDATE SET state=excluded.state, "
                "fingerprint=excluded.fingerprint, cause=excluded.cause, reason=excluded.reason, updated=excluded.updated",
                (redact(pr_url), app, state, fingerprint, cause, redact(reason)[:500], now),
            )
            self._db.execute(
                "UPDATE incidents SET outcome=?, message=?, updated=? WHERE app=? AND pr_url=? AND state='done'",
                (
                    "merged" if merged else "rejected",
                    "PR merged: the fix awaits verification (the next run after the sync says whether it worked)"
                    if merged
                    else redact(f"PR closed without merging: {reason}")[:2000],
                    now,
                    app,
                    redact(pr_url),
                ),
            )

    def rejected(self, app: str, fingerprint: str) -> str | None:
        """The URL of the app's rejected PR that proposed exactly the change ``fingerprint``, if any."""
        if not fingerprint:
            return None
        with self._lock:
            row = self._db.execute(
                "SELECT pr_url FROM pull_requests WHERE app=? AND fingerprint=? AND state='rejected' "
                "ORDER BY updated DESC LIMIT 1",
                (app, fingerprint),
            ).fetchone()
        return str(row[0]) if row else None

    def pr_state(self, pr_url: str) -> str | None:
        """merged | rejected, when the journal knows what became of the PR."""
        with self._lock:
            row = self._db.execute("SELECT state FROM pull_requests WHERE pr_url=?", (redact(pr_url),)).fetchone()
        return str(row[0]) if row else None
