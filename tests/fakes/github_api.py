"""A FAKE GitHub REST server on 127.0.0.1 for PyGithub: the endpoints remediator uses (the token's
user, repository, pulls list/get/create/update, issue comments, labels, assignees, requested
reviewers), real status codes and headers, a 422 for a duplicate PR, injectable failures (502,
secondary rate limit 403 with Retry-After, 429, 401; optionally answered after the write was made),
pulls and comments by other users and from forks, every request recorded, and anything else
answered 404 and listed as unexpected.

With ``app_public_key`` (PEM) it is also a GitHub App's side: ``GET /app``, ``GET /repos/{o}/{r}/installation``
and ``POST /app/installations/{id}/access_tokens`` accept only an RS256 JWT signed by the App's key
(checked with PyJWT), and the installation tokens they issue are accepted like ``token`` until
:meth:`FakeGitHub.revoke_tokens`."""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jwt

from tests.fakes.loopback import LoopbackServer


@dataclass
class Recorded:
    method: str
    path: str
    body: Any
    authorization: str


@dataclass
class FakeRepo:
    owner: str
    name: str
    default_branch: str = "main"
    push: bool = True
    pulls: list[dict[str, Any]] = field(default_factory=list)
    comments: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    review_comments: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    reviews: dict[int, list[dict[str, Any]]] = field(default_factory=dict)


@dataclass(frozen=True)
class Failure:
    status: int
    headers: dict[str, str]
    body: Any
    after: bool  # the request is carried out, then answered with the failure (a 502 after the write)
    when: Callable[[dict[str, str]], bool] | None  # only requests whose query matches


class FakeGitHub(LoopbackServer):
    prefix = "/api/v3"

    def __init__(
        self,
        owner: str = "acme",
        name: str = "deploy",
        token: str = "ghp_faketoken1234567890abcdefghij0123456789",
        login: str | None = "remediator-bot",
        app_public_key: str | None = None,
        app_id: str = "4242",
        app_slug: str = "remediator-app",
        installation_id: int = 77,
    ) -> None:
        """``login``: the token's user, author of the pulls and comments it creates; None: an App
        installation token, whose ``GET /user`` answers 403. ``app_public_key``: serve the App
        ``app_id`` (slug ``app_slug``) installed on the repository as ``installation_id``."""
        self.repo = FakeRepo(owner, name)
        self.token = token
        self.login = login
        self.app_public_key = app_public_key
        self.app_id = app_id
        self.app_slug = app_slug
        self.installation_id = installation_id
        self.issued: list[str] = []  # installation tokens, in the order issued
        # the installation's permissions (GET /repos/{o}/{r}/installation)
        self.app_permissions: dict[str, str] = {"contents": "write", "pull_requests": "write", "metadata": "read"}
        self.valid: set[str] = {token}
        self.jwt_rejections: list[str] = []  # why a JWT was refused
        self.requests: list[Recorded] = []
        self.unexpected: list[str] = []
        self.failures: dict[str, list[Failure]] = {}
        self.collaborators: dict[str, str] = {}  # login -> admin | maintain | write | triage | read
        self.lock = threading.Lock()
        self._serve(self._handler())

    def fail(
        self,
        key: str,
        status: int,
        headers: dict[str, str] | None = None,
        body: Any = None,
        times: int = 1,
        after: bool = False,
        when: Callable[[dict[str, str]], bool] | None = None,
    ) -> None:
        """Answer the next ``times`` requests matching ``key`` ("POST /repos/acme/deploy/pulls") with ``status``;
        ``after``: carry the request out first; ``when``: only requests whose query it accepts."""
        f = Failure(status, headers or {}, body or {"message": "injected"}, after, when)
        self.failures.setdefault(key, []).extend([f] * times)

    def add_pull(
        self,
        head: str,
        body: str,
        title: str = "a pull request",
        user: str = "someone",
        head_repo: str | None = None,
        base: str = "main",
    ) -> dict[str, Any]:
        """A pull request opened by ``user`` (from the fork ``head_repo`` when given)."""
        p = {"number": len(self.repo.pulls) + 1, "state": "open", "title": title, "body": body, "head": head,
             "base": base, "draft": False, "merged_at": None, "user": user, "head_repo": head_repo}  # fmt: skip
        self.repo.pulls.append(p)
        return p

    def add_comment(self, number: int, body: str, user: str = "someone") -> None:
        r = self.repo
        c = {"id": 5000 + sum(len(v) for v in r.comments.values()), "body": body, "user": {"login": user},
             "url": self.url + f"/repos/{r.owner}/{r.name}/issues/comments/1", "html_url": "https://github.example/c"}  # fmt: skip
        r.comments.setdefault(number, []).append(c)

    def _take_failure(self, key: str, query: dict[str, str]) -> Failure | None:
        pending = self.failures.get(key) or []
        for i, f in enumerate(pending):
            if f.when is None or f.when(query):
                return pending.pop(i)
        return None

    # --- state helpers for tests ------------------------------------------------------

    def close_pull(self, number: int, merged: bool = False) -> None:
        for p in self.repo.pulls:
            if p["number"] == number:
                p["state"] = "closed"
                p["merged_at"] = "2026-11-22T00:00:00Z" if merged else None

    def revoke_tokens(self) -> None:
        """Every installation token issued so far is now rejected with 401 (as an expired one)."""
        with self.lock:
            self.valid.difference_update(self.issued)

    def _jwt_ok(self, authorization: str) -> bool:
        if self.app_public_key is None or not authorization.startswith("Bearer "):
            self.jwt_rejections.append("no App key or not a Bearer token")
            return False
        try:
            header = jwt.get_unverified_header(authorization[7:])
            claims = jwt.decode(authorization[7:], self.app_public_key, algorithms=["RS256"])
        except jwt.PyJWTError as e:
            self.jwt_rejections.append(f"{type(e).__name__}: {e}")
            return False
        if header.get("alg") != "RS256" or str(claims.get("iss")) != self.app_id:
            self.jwt_rejections.append(f"alg {header.get('alg')} iss {claims.get('iss')}")
            return False
        return True

    def _app_route(self, method: str, path: str, authorization: str) -> tuple[int, Any] | None:
        """The App endpoints (JWT-authenticated), or None for any other path."""
        r = self.repo
        if not (path == "/app" or path.startswith("/app/") or path == f"/repos/{r.owner}/{r.name}/installation"):
            return None
        if not self._jwt_ok(authorization):
            return 401, {"message": "A JSON web token could not be decoded"}
        if method == "GET" and path == "/app":
            return 200, {"id": int(self.app_id), "slug": self.app_slug, "name": "Remediator App",
                         "owner": {"login": r.owner, "id": 2, "type": "Organization"}}  # fmt: skip
        if method == "GET" and path == f"/repos/{r.owner}/{r.name}/installation":
            return 200, {"id": self.installation_id, "app_id": int(self.app_id), "app_slug": self.app_slug,
                         "account": {"login": r.owner, "id": 2, "type": "Organization"},
                         "permissions": dict(self.app_permissions)}  # fmt: skip
        m = re.fullmatch(r"/app/installations/(\d+)/access_tokens", path)
        if m and method == "POST":
            if int(m.group(1)) != self.installation_id:
                return 404, {"message": "Not Found"}
            token = f"ghs_installation{len(self.issued) + 1:04d}" + "x" * 20
            self.issued.append(token)
            self.valid.add(token)
            expires = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 3600))
            return 201, {"token": token, "expires_at": expires, "permissions": {"contents": "write"}}
        return 404, {"message": "Not Found"}

    def count(self, method: str, pattern: str) -> int:
        return sum(1 for r in self.requests if r.method == method and re.fullmatch(pattern, r.path.split("?")[0]))

    # --- the server ---------------------------------------------------------------------

    def _repo_json(self, full_name: str) -> dict[str, Any]:
        owner, name = full_name.split("/", 1)
        return {"id": abs(hash(full_name)) % 10**6, "name": name, "full_name": full_name,
                "owner": {"login": owner, "id": 3, "type": "User"}, "url": self.url + f"/repos/{full_name}"}  # fmt: skip

    def _pull_json(self, p: dict[str, Any]) -> dict[str, Any]:
        base = self.url + f"/repos/{self.repo.owner}/{self.repo.name}"
        own = f"{self.repo.owner}/{self.repo.name}"
        head_repo = p.get("head_repo") or own
        return {
            "id": 1000 + p["number"],
            "number": p["number"],
            "url": f"{base}/pulls/{p['number']}",
            "html_url": f"https://github.example/{self.repo.owner}/{self.repo.name}/pull/{p['number']}",
            "issue_url": f"{base}/issues/{p['number']}",
            "state": p["state"],
            "title": p["title"],
            "body": p["body"],
            "draft": p.get("draft", False),
            "merged_at": p.get("merged_at"),
            "user": {"login": p.get("user") or "remediator-bot", "id": 7, "type": "Bot"},
            "head": {
                "ref": p["head"],
                "label": f"{head_repo.split('/')[0]}:{p['head']}",
                "sha": "0" * 40,
                "repo": self._repo_json(head_repo),
            },
            "base": {
                "ref": p["base"],
                "label": f"{self.repo.owner}:{p['base']}",
                "sha": "1" * 40,
                "repo": self._repo_json(own),
            },
            "labels": [{"name": n} for n in p.get("labels", [])],
            "assignees": [{"login": a} for a in p.get("assignees", [])],
            "requested_reviewers": [{"login": r} for r in p.get("reviewers", [])],
        }

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body go out without waiting for delayed ACKs

            def log_message(self, *args: Any) -> None:
                pass

            def _send(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.send_header("X-RateLimit-Limit", "5000")
                self.send_header("X-RateLimit-Remaining", "4999")
                self.send_header("X-RateLimit-Reset", "4102444800")
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

            def _handle(self, method: str) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                try:
                    body = json.loads(raw) if raw else None
                except ValueError:
                    body = None
                parts = urlsplit(self.path)
                path = parts.path.removeprefix("/api/v3")
                query = {k: v[0] for k, v in parse_qs(parts.query).items()}
                with fake.lock:
                    fake.requests.append(
                        Recorded(
                            method,
                            path + (f"?{parts.query}" if parts.query else ""),
                            body,
                            self.headers.get("Authorization", ""),
                        )
                    )
                    key = f"{method} {path}"
                    failure = fake._take_failure(key, query)
                    if failure is not None and not failure.after:
                        self._send(failure.status, failure.body, failure.headers)
                        return
                    authorization = self.headers.get("Authorization") or ""
                    app_answer = fake._app_route(method, path, authorization) if fake.app_public_key else None
                    if app_answer is not None:
                        status, out = app_answer
                    elif not authorization.startswith("token ") or authorization[6:] not in fake.valid:
                        self._send(
                            401, {"message": "Bad credentials", "documentation_url": "https://docs.github.com/rest"}
                        )
                        return
                    else:
                        status, out = fake._route(method, path, query, body)
                    if failure is not None:
                        self._send(failure.status, failure.body, failure.headers)
                        return
                if status == 404:
                    fake.unexpected.append(key)
                self._send(status, out)

            def do_GET(self) -> None:
                self._handle("GET")

            def do_POST(self) -> None:
                self._handle("POST")

            def do_PATCH(self) -> None:
                self._handle("PATCH")

            def do_DELETE(self) -> None:
                self._handle("DELETE")

        return Handler

    def _route(self, method: str, path: str, query: dict[str, str], body: Any) -> tuple[int, Any]:
        r = self.repo
        prefix = f"/repos/{r.owner}/{r.name}"
        if method == "GET" and path == "/user":
            if self.login is None:
                return 403, {"message": "Resource not accessible by integration"}
            return 200, {"login": self.login, "id": 7, "type": "User", "url": self.url + "/user"}
        if method == "GET" and path == prefix:
            return 200, {
                "id": 1,
                "name": r.name,
                "full_name": f"{r.owner}/{r.name}",
                "owner": {"login": r.owner, "id": 2, "type": "Organization"},
                "default_branch": r.default_branch,
                "private": True,
                "url": self.url + prefix,
                "html_url": f"https://github.example/{r.owner}/{r.name}",
                "permissions": {"admin": False, "maintain": False, "push": r.push, "triage": True, "pull": True},
            }
        if method == "GET" and path == f"{prefix}/pulls":
            state = query.get("state", "open")
            out = [p for p in r.pulls if state == "all" or p["state"] == state]
            if "head" in query:
                out = [
                    p for p in out if f"{(p.get('head_repo') or r.owner).split('/')[0]}:{p['head']}" == query["head"]
                ]
            return 200, [self._pull_json(p) for p in out]
        if method == "POST" and path == f"{prefix}/pulls":
            if not r.push:
                return 403, {"message": "Resource not accessible by integration"}
            for p in r.pulls:
                if p["state"] == "open" and p["head"] == body["head"]:
                    return 422, {
                        "message": "Validation Failed",
                        "errors": [
                            {
                                "resource": "PullRequest",
                                "code": "custom",
                                "message": f"A pull request already exists for {r.owner}:{body['head']}.",
                            }
                        ],
                    }
            p = {
                "number": len(r.pulls) + 1,
                "state": "open",
                "title": body["title"],
                "body": body.get("body") or "",
                "head": body["head"],
                "base": body["base"],
                "draft": bool(body.get("draft")),
                "merged_at": None,
                "user": self.login or "remediator-app[bot]",
            }
            r.pulls.append(p)
            return 201, self._pull_json(p)
        m = re.fullmatch(rf"{prefix}/pulls/(\d+)", path)
        if m:
            found = [x for x in r.pulls if x["number"] == int(m.group(1))]
            if not found:
                return 404, {"message": "Not Found"}
            p = found[0]
            if method == "PATCH":
                for k in ("title", "body", "state"):
                    if k in (body or {}):
                        p[k] = body[k]
            return 200, self._pull_json(p)
        m = re.fullmatch(rf"{prefix}/commits/([0-9a-f]{{7,40}})", path)
        if m and method == "GET":
            return 200, {
                "sha": m.group(1),
                "url": self.url + f"{prefix}/commits/{m.group(1)}",
                "commit": {"message": "x"},
            }
        m = re.fullmatch(rf"{prefix}/pulls/(\d+)/comments", path)
        if m and method == "GET":
            return 200, r.review_comments.get(int(m.group(1)), [])
        m = re.fullmatch(rf"{prefix}/pulls/comments/(\d+)", path)
        if m:
            cid = int(m.group(1))
            for lst in r.review_comments.values():
                for c in lst:
                    if c["id"] == cid:
                        if method == "PATCH":
                            c["body"] = body["body"]
                        return 200, c
            return 404, {"message": "Not Found"}
        m = re.fullmatch(rf"{prefix}/pulls/(\d+)/reviews", path)
        if m and method == "POST":
            n = int(m.group(1))
            rid = 9000 + sum(len(v) for v in r.reviews.values())
            review = {"id": rid, "body": body.get("body"), "event": body.get("event"), "commit_id": body.get("commit_id"),
                      "state": "COMMENTED", "user": {"login": "remediator-bot"}}  # fmt: skip
            r.reviews.setdefault(n, []).append(review)
            for c in body.get("comments") or []:
                lst = r.review_comments.setdefault(n, [])
                cid = 7000 + sum(len(v) for v in r.review_comments.values())
                lst.append({"id": cid, "path": c["path"], "line": c.get("line"), "side": c.get("side"), "body": c["body"],
                            "commit_id": body.get("commit_id"), "pull_request_review_id": rid,
                            "url": self.url + f"{prefix}/pulls/comments/{cid}", "user": {"login": "remediator-bot"}})  # fmt: skip
            return 200, review
        m = re.fullmatch(rf"{prefix}/issues/(\d+)/comments", path)
        if m:
            n = int(m.group(1))
            if method == "POST":
                c = {
                    "id": 5000 + sum(len(v) for v in r.comments.values()),
                    "body": body["body"],
                    "user": {"login": self.login or "remediator-app[bot]"},
                    "url": self.url + f"{prefix}/issues/comments/1",
                    "html_url": "https://github.example/c",
                }
                r.comments.setdefault(n, []).append(c)
                return 201, c
            return 200, r.comments.get(n, [])
        m = re.fullmatch(rf"{prefix}/collaborators/([^/]+)/permission", path)
        if m and method == "GET":
            role = self.collaborators.get(m.group(1))
            if role is None:
                return 404, {"message": f"{m.group(1)} is not a user"}
            legacy = {"maintain": "write", "triage": "read"}.get(role, role)  # GitHub's `permission` field
            return 200, {
                "permission": legacy,
                "role_name": role,
                "user": {"login": m.group(1), "id": 9, "type": "User"},
            }
        m = re.fullmatch(rf"{prefix}/issues/(\d+)/labels", path)
        if m and method == "POST":
            p = next(x for x in r.pulls if x["number"] == int(m.group(1)))
            names = body if isinstance(body, list) else body.get("labels", [])
            p["labels"] = sorted(set(p.get("labels", [])) | set(names))
            return 200, [{"name": n} for n in p["labels"]]
        m = re.fullmatch(rf"{prefix}/issues/(\d+)/assignees", path)
        if m and method == "POST":
            p = next(x for x in r.pulls if x["number"] == int(m.group(1)))
            p["assignees"] = body.get("assignees", [])
            return 201, self._pull_json(p)
        m = re.fullmatch(rf"{prefix}/pulls/(\d+)/requested_reviewers", path)
        if m and method == "POST":
            p = next(x for x in r.pulls if x["number"] == int(m.group(1)))
            p["reviewers"] = body.get("reviewers", [])
            return 201, self._pull_json(p)
        return 404, {"message": "Not Found"}
