"""Slow-loris against ``remediator serve`` (a real process on 127.0.0.1): 1,000 unauthenticated
connections that never finish their request (nothing sent, half a request line, unfinished headers,
a body that never comes), then a normal client.

Prints the figures; the last line is JSON:
{"connections", "request_timeout_s", "healthz_p50_ms_while_held", "hook_status_while_held",
 "open_after_timeout", "all_closed_after_s"}. Targets: every held connection closed within the request
timeout (plus a second of slack), and normal requests answered while they are held.
"""

from __future__ import annotations

import json
import os
import selectors
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

CONNECTIONS, TIMEOUT, SECRET = 1000, 5.0, "slowloris-secret"
PARTIAL = [
    b"",
    b"POST /v1/hooks/argocd HTT",
    b"POST /v1/hooks/argocd HTTP/1.1\r\nHost: x\r\nX-Slow: ",
    b"POST /v1/hooks/argocd HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n{",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp_s:
        tmp = Path(tmp_s)
        (tmp / "snapshots").mkdir()
        port = free_port()
        cmd = [
            sys.executable, "-m", "remediator", "serve", "--host", "127.0.0.1", "--port", str(port),
            "--journal", str(tmp / "journal.sqlite"), "--snapshots", str(tmp / "snapshots"),
            "--provider", "local", "--request-timeout", str(TIMEOUT), "--log-level", "ERROR",
        ]  # fmt: skip
        env = {**os.environ, "REMEDIATOR_WEBHOOK_SECRET": SECRET}
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        base = f"http://127.0.0.1:{port}"
        try:
            for _ in range(400):
                try:
                    if httpx.get(base + "/healthz", timeout=0.5).status_code == 200:
                        break
                except httpx.HTTPError:
                    time.sleep(0.05)
            sel = selectors.DefaultSelector()
            t0 = time.monotonic()
            for i in range(CONNECTIONS):
                sk = socket.create_connection(("127.0.0.1", port))
                sk.setblocking(False)
                if PARTIAL[i % len(PARTIAL)]:
                    sk.sendall(PARTIAL[i % len(PARTIAL)])
                sel.register(sk, selectors.EVENT_READ)
            opened_s = time.monotonic() - t0
            lat = []
            with httpx.Client(base_url=base) as c:
                for _ in range(50):
                    t = time.perf_counter()
                    assert c.get("/healthz").status_code == 200
                    lat.append((time.perf_counter() - t) * 1000)
                hook = c.post(
                    "/v1/hooks/argocd",
                    json={"app": "shop-a", "health": "Degraded"},
                    headers={"X-Remediator-Token": SECRET},
                ).status_code
            open_now, closed_at = CONNECTIONS, 0.0
            deadline = t0 + TIMEOUT + 10
            open_after_timeout = None
            while open_now and time.monotonic() < deadline:
                for key, _ in sel.select(timeout=0.1):
                    conn = key.fileobj
                    assert isinstance(conn, socket.socket)
                    try:
                        data = conn.recv(65536)
                    except ConnectionResetError:
                        data = b""
                    if not data:
                        sel.unregister(conn)
                        conn.close()
                        open_now -= 1
                        closed_at = time.monotonic() - t0
                if open_after_timeout is None and time.monotonic() - t0 > TIMEOUT + 1:
                    open_after_timeout = open_now
            if open_after_timeout is None:
                open_after_timeout = open_now
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(30)
    p50 = statistics.median(lat)
    print(f"opened {CONNECTIONS} slow connections in {opened_s:.1f}s; request timeout {TIMEOUT:g}s")
    print(f"while held: GET /healthz p50 {p50:.1f} ms; a hook answered {hook}")
    print(f"still open {TIMEOUT + 1:g}s after opening: {open_after_timeout}; all closed after {closed_at:.1f}s")
    print(
        json.dumps(
            {
                "connections": CONNECTIONS,
                "request_timeout_s": TIMEOUT,
                "healthz_p50_ms_while_held": round(p50, 2),
                "hook_status_while_held": hook,
                "open_after_timeout": open_after_timeout,
                "all_closed_after_s": round(closed_at, 1),
            }
        )
    )
    if open_after_timeout or hook != 202:
        sys.exit(1)


if __name__ == "__main__":
    main()
