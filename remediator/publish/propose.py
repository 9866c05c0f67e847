"""From a diagnosis to one pull request per app and cause: look up, clone/fetch, fix, commit, push,
open or update, decorate. Repeated incidents update the open PR; a PR closed without merging is
not proposed again until the evidence changes; a branch someone else pushed to is never forced."""

from __future__ import annotations

import contextlib
import functools
import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from remediator.diagnose import Diagnosis
from remediator.edits.plan import FixResult, plan_fix
from remediator.errors import RemediatorError, TemporaryError
from remediator.evidence.relations import dig
from remediator.evidence.store import Evidence
from remediator.model import Finding
from remediator.policy import Policy
from remediator.publish import body as prbody
from remediator.publish.base import Provider, PullRequest, branch_name, ends_with, marker, owned
from remediator.publish.body import code, inline, quote_block
from remediator.publish.checkout import Checkout, Identity, PushRejected
from remediator.publish.dryrun import DryRun

Action = Literal[
    "opened", "updated", "held", "unchanged", "rejected-before", "fixed-before", "no-edit", "healthy", "healthy-noted"
]
HEALTHY_MARK = "<!-- remediator: healthy -->"
AFTER_MERGE_MARK = "<!-- remediator: after-merge -->"

ReviewNotes = Callable[[Path, Iterable[str]], list[str]]
"""The bot's own review of the edited files as committed (clone root, repo-relative files) -> one
note per issue, for the PR body. Given by the caller: publishing does not run the review."""

Rejected = Callable[[str, str], str | None]
"""(app, fingerprint) -> the URL of a pull request that proposed exactly that change and was
rejected (the service's journal: ``/remediator close``, a PR closed unmerged), else None."""


@dataclass
class Outcome:
    action: Action
    message: str
    pr: PullRequest | None = None
    branch: str | None = None
    fix: FixResult | None = None
    warnings: list[str] = field(default_factory=list)
    dry_run: bool = False
    would: list[str] = field(default_factory=list)  # dry run: the writes that were not made


def cause_key(app: str, f: Finding) -> str:
    return hashlib.sha256(f"{app}|{f.category.value}|{f.culprit}".encode()).hexdigest()[:12]


def evidence_key(d: Diagnosis) -> str:
    """Changes when the diagnosis changes (a new finding, another culprit), not with timestamps."""
    items = sorted(f"{f.category.value}|{f.culprit}" for f in d.findings)
    return hashlib.sha256("\n".join(items).encode()).hexdigest()[:12]


def since(ev: Evidence, f: Finding) -> str | None:
    times = [e.time for ref in f.affects | {f.culprit} for e in ev.events_for(ref) if e.time]
    return min(times) if times else None


def propose(
    d: Diagnosis,
    ev: Evidence,
    policy: Policy,
    provider: Provider,
    checkout: Checkout,
    revision: str | None = None,
    why: tuple[str, str] | None = None,
    dry_run: bool = False,
    review_notes: ReviewNotes | None = None,
    rejected: Rejected | None = None,
) -> Outcome:
    """``why``: (narrative, its source) from model assist, for the PR body. ``dry_run``: read
    everything, write nothing (no push, PR, comment); the outcome lists what would be done.
    ``review_notes``: the review section of the PR body (none without it); its failure never
    blocks the fix."""
    would: list[str] = []
    if dry_run:
        provider = DryRun(provider, would)
        checkout.dry_run, checkout.would = True, would
    out = _propose(d, ev, policy, provider, checkout, revision, why, review_notes, rejected)
    if dry_run:
        out.dry_run, out.would = True, would
        if out.pr is not None and out.pr.number == 0:
            out.pr = None
        out.message = (
            "dry run, nothing pushed or posted; would " + "; ".join(would) if would else f"dry run: {out.message}"
        )
    return out


def _propose(
    d: Diagnosis,
    ev: Evidence,
    policy: Policy,
    provider: Provider,
    checkout: Checkout,
    revision: str | None,
    why: tuple[str, str] | None,
    review_notes: ReviewNotes | None,
    rejected: Rejected | None = None,
) -> Outcome:
    app = d.app or str(dig(ev.app, "metadata", "name") or "app")
    who = Identity(policy.git.name, policy.git.email)
    f = d.top
    healthy = f is None or (d.health == "Healthy" and f.category.value == "unknown")
    provider.check_access()  # before anything is cloned or pushed
    checkout.restrict(policy.git.branch_prefix, policy.git.protected_branches)
    login = provider.login(policy.pull_requests.bot_login)
    warnings: list[str] = []
    if login is None:
        warnings.append(
            f"cannot tell the bot's own {provider.name} login (set pull_requests.bot_login): no existing pull "
            "request or comment is trusted as the bot's"
        )
    bot = Bot(provider, login, policy.git.branch_prefix)

    @functools.cache
    def closed() -> tuple[PullRequest, ...]:
        """The bot's closed PRs, listed at most once per run (three steps read them)."""
        return tuple(bot.pulls("closed"))

    _after_merge(app, d, ev, bot, closed)
    if healthy:
        out = _healthy(app, policy, bot)
    else:
        assert f is not None
        out = _unhealthy(d, ev, policy, bot, checkout, revision, app, f, who, closed, why, review_notes, rejected)
    out.warnings[:0] = warnings
    return out


@dataclass
class Bot:
    """The provider as seen by the bot: only its own PRs (``owned``) and its own comments."""

    provider: Provider
    login: str | None
    prefix: str

    def pulls(self, state: Literal["open", "closed"]) -> list[PullRequest]:
        return [p for p in self.provider.pulls(state) if owned(p, self.login, self.prefix)]

    def own_comments(self, pr: PullRequest) -> list[str]:
        """The bodies of the bot's own comments, oldest first (none when the login is unknown)."""
        if not self.login:
            return []
        me = self.login.lower()
        return [c.body for c in self.provider.comments(pr) if c.author.lower() == me]

    def said(self, pr: PullRequest, tag: str) -> bool:
        return any(ends_with(c, tag) for c in self.own_comments(pr))


def _unhealthy(
    d: Diagnosis,
    ev: Evidence,
    policy: Policy,
    bot: Bot,
    checkout: Checkout,
    revision: str | None,
    app: str,
    f: Finding,
    who: Identity,
    closed: Callable[[], tuple[PullRequest, ...]],
    why: tuple[str, str] | None,
    review_notes: ReviewNotes | None,
    rejected: Rejected | None = None,
) -> Outcome:
    ck, ek = cause_key(app, f), evidence_key(d)
    mine = [p for p in bot.pulls("open") if p.marker.get("cause") == ck]
    if not mine:
        for p in closed():
            m = p.marker
            if not p.merged and m.get("cause") == ck and m.get("evidence") == ek:
                return Outcome(
                    "rejected-before",
                    f"PR #{p.number} proposed a fix for this cause and was closed without merging; not proposing it "
                    "again until the evidence changes",
                    pr=p,
                )
    for attempt in range(2):
        try:
            return _attempt(
                d, ev, policy, bot, checkout, revision, app, f, who, ck, ek, mine, closed, why, review_notes, rejected
            )
        except PushRejected as e:
            if attempt == 1:
                raise RemediatorError("git push was rejected twice (the base branch keeps moving); try again") from e
    raise AssertionError("unreachable")


def _attempt(
    d: Diagnosis,
    ev: Evidence,
    policy: Policy,
    bot: Bot,
    checkout: Checkout,
    revision: str | None,
    app: str,
    f: Finding,
    who: Identity,
    ck: str,
    ek: str,
    mine: list[PullRequest],
    closed: Callable[[], tuple[PullRequest, ...]],
    why: tuple[str, str] | None = None,
    review_notes: ReviewNotes | None = None,
    rejected: Rejected | None = None,
) -> Outcome:
    provider = bot.provider
    base = checkout.sync(revision)
    checkout.start_branch(f"{policy.git.branch_prefix}work", base)
    res = plan_fix(d, ev, checkout.path, policy)
    if not res.edits:
        reasons = "; ".join(f"{r.reason} ({r.rule})" for r in res.refused) or "the source already has the change"
        return Outcome("no-edit", f"no pull request: {reasons}", fix=res)
    fp = res.fingerprint
    refused = rejected(app, fp) if rejected is not None else None
    if refused:
        return Outcome(
            "rejected-before",
            f"{refused} proposed exactly this change and was rejected (closed without merging); not proposing it again",
            fix=res,
        )
    merged = next((p for p in closed() if p.merged and p.marker.get("fingerprint") == fp), None)
    if merged is not None:
        return Outcome(
            "fixed-before",
            f"PR #{merged.number} already made this exact change and was merged, yet the cause persists: "
            "not proposing it again (a person should look)",
            pr=merged,
            fix=res,
        )
    keys = {"app": app, "cause": ck, "category": f.category.value, "evidence": ek, "fingerprint": fp}
    pol = policy.pull_requests
    ctx = prbody.Context(
        app=app,
        health=d.health,
        sync=d.sync,
        since=since(ev, f),
        argocd_url=pol.argocd_url,
        app_namespace=str(dig(ev.app, "metadata", "namespace") or "argocd"),
        runbook=policy.runbooks.get(f.category.value) or pol.runbook,
        why=why[0] if why else None,
        why_source=why[1] if why else "deterministic",
    )
    title = prbody.title(res, app)

    def body_after_commit() -> str:
        """The PR body, with the bot's own review of the edited files as committed."""
        if review_notes is None:
            return prbody.body(res, ctx, keys)
        try:
            notes = review_notes(checkout.path, list(files))
        except Exception as e:  # the review is advisory; it never blocks the fix
            notes = [f"review not run: {type(e).__name__}: {e}"]
        return prbody.body(res, ctx, keys, notes)

    files = {e.file: e.new_text for e in res.edits}
    assert res.proposal is not None
    message = prbody.commit_message(res, app, fp)
    if mine:
        pr = mine[0]
        if pr.marker.get("fingerprint") == fp:
            said = _comment_once(bot, pr, prbody.incident_comment(f, ctx.since, False, False), ek)
            told = "added the new evidence as a comment" if said else "this incident was already commented"
            return Outcome("unchanged", f"PR #{pr.number} already proposes this change; {told}", pr, pr.branch, res)
        remote = checkout.remote_branches()
        if pr.branch in remote:
            checkout.fetch_branch(pr.branch)
            others = checkout.authors_since(pr.branch, base) - {who.email}
            if others:
                text = (
                    prbody.incident_comment(f, ctx.since, True, True)
                    + "\n"
                    + quote_block("".join(e.diff for e in res.edits).splitlines(), "diff")
                    + "\n"
                )
                _comment_once(bot, pr, text, ek + fp)
                return Outcome(
                    "held",
                    f"PR #{pr.number}: {', '.join(sorted(others))} pushed to {pr.branch}; commented instead of force-pushing",
                    pr,
                    pr.branch,
                    res,
                )
        checkout.start_branch(pr.branch, base)
        checkout.commit(files, message, who)
        body = body_after_commit()
        checkout.push(pr.branch, force=True, expect=remote.get(pr.branch))
        provider.update(pr, title, body)
        _comment_once(bot, pr, prbody.incident_comment(f, ctx.since, True, False), ek + fp)
        return Outcome(
            "updated",
            f"PR #{pr.number} updated with the new change (branch {pr.branch} force-pushed)",
            pr,
            pr.branch,
            res,
        )
    branch = branch_name(policy.git.branch_prefix, app, f.category.value, fp)
    remote = checkout.remote_branches()
    checkout.start_branch(branch, base)
    sha = checkout.commit(files, message, who)
    if sha is None:
        return Outcome("no-edit", "no pull request: the change is already on the base branch", fix=res)
    body = body_after_commit()
    pushed = False
    if branch in remote:  # left by an earlier run whose PR failed: reuse it when it holds our change
        checkout.fetch_branch(branch)
        if checkout.tree_of(f"origin/{branch}") != checkout.tree_of("HEAD"):
            if checkout.authors_since(branch, base) - {who.email}:
                raise RemediatorError(
                    f"branch {branch} exists on the remote with someone else's commits; not overwriting it"
                )
            checkout.push(branch, force=True, expect=remote[branch])
            pushed = True
    else:
        checkout.push(branch)
        pushed = True
    try:
        pr = provider.create(branch, base, title, body, pol.draft)
    except Exception as e:
        pr = _after_failed_create(bot, checkout, branch, pushed, e)
    if bot.login and pr.number and pr.author and pr.author.lower() != bot.login.lower():
        raise RemediatorError(
            f"PR #{pr.number} on the bot's branch {branch} was opened by {pr.author}, not by {bot.login}; "
            "not taking it over (close it, or delete the branch)"
        )
    warnings = provider.decorate(pr, pol.labels, pol.reviewers, pol.assignees)
    return Outcome("opened", f"opened PR #{pr.number}: {title}", pr, branch, res, warnings)


def _after_failed_create(bot: Bot, checkout: Checkout, branch: str, pushed: bool, error: Exception) -> PullRequest:
    """The create call failed, yet GitHub may have opened the PR (a 502 after the write): use the PR
    when one stands on the branch; delete a branch pushed by this run only when certainly no PR
    does. A PR without its branch cannot be recovered; an orphan branch is reused by the next run."""
    try:
        existing = bot.provider.find(branch)
    except Exception as e:
        why = str(e) if isinstance(e, RemediatorError) else type(e).__name__
        raise TemporaryError(
            f"branch {branch}: the branch is kept (the next run reuses it): opening its pull request failed and "
            f"whether one was opened is unknown ({why[:120]})"
        ) from e
    if existing is not None:
        return existing
    if pushed:  # no orphan branch without its PR
        with contextlib.suppress(RemediatorError):
            checkout.delete_remote_branch(branch)
    raise error


def alert_resolved(provider: Provider, policy: Policy, app: str, pr_url: str, text: str, key: str) -> bool:
    """Say on the bot's open PR ``pr_url`` for ``app`` that an alert resolved, once per ``key`` (the
    alert's fingerprint and start). Returns whether a comment was added."""
    bot = Bot(provider, provider.login(policy.pull_requests.bot_login), policy.git.branch_prefix)
    tag = marker(resolved=key)
    for pr in bot.pulls("open"):
        if pr.url == pr_url and pr.marker.get("app") == app and not bot.said(pr, tag):
            provider.comment(pr, text + "\n" + tag)
            return True
    return False


def _comment_once(bot: Bot, pr: PullRequest, text: str, key: str) -> bool:
    """Comment unless the bot's own last comment ends with the same key (one incident told twice).
    Returns whether a comment was added."""
    tag = marker(incident=key)
    previous = bot.own_comments(pr)
    if previous and ends_with(previous[-1], tag):
        return False
    bot.provider.comment(pr, text + "\n" + tag)
    return True


def _after_merge(app: str, d: Diagnosis, ev: Evidence, bot: Bot, closed: Callable[[], tuple[PullRequest, ...]]) -> None:
    """Once per merged bot PR of the app, after Argo CD synced: say whether the fix worked."""
    revision = str(dig(ev.app, "status", "sync", "revision") or "")
    if d.sync != "Synced" or not revision:
        return
    for pr in closed():
        if not pr.merged or pr.marker.get("app") != app:
            continue
        if bot.said(pr, AFTER_MERGE_MARK):
            continue
        f = d.top
        if f is None or d.health == "Healthy":
            verdict = "the app is **Healthy**. The fix worked."
        elif cause_key(app, f) == pr.marker.get("cause"):
            verdict = f"the app is still **{inline(d.health or 'Degraded')}** with the same cause ({inline(f.category.value)} on {code(f.culprit)}): the fix did not resolve it."
        else:
            verdict = f"the app is **{inline(d.health or 'Degraded')}** with a different finding now: \\[{inline(f.category.value)}\\] {code(f.culprit)}: {inline(f.summary)}"
        bot.provider.comment(
            pr, f"After the merge: Argo CD synced revision {code(revision[:12])}; {verdict}\n{AFTER_MERGE_MARK}"
        )


def _healthy(app: str, policy: Policy, bot: Bot) -> Outcome:
    provider = bot.provider
    open_prs = [p for p in bot.pulls("open") if p.marker.get("app") == app]
    if not open_prs:
        return Outcome("healthy", f"{app} is healthy; nothing to propose")
    for pr in open_prs:
        if not bot.said(pr, HEALTHY_MARK):
            provider.comment(
                pr,
                f"{inline(app)} is Healthy again without this change being merged: the cause may have been transient, or "
                f"fixed another way. {'Closing this PR (policy close_when_healthy).' if policy.pull_requests.close_when_healthy else 'Merge only if the failure is expected to return.'}\n{HEALTHY_MARK}",
            )
        if policy.pull_requests.close_when_healthy:
            provider.close(pr)
    return Outcome(
        "healthy-noted",
        f"{app} is healthy; noted on PR(s) {', '.join('#' + str(p.number) for p in open_prs)}",
        open_prs[0],
    )
