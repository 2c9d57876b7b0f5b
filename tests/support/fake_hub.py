"""A local stand-in for the Hugging Face Hub's file endpoints, on 127.0.0.1, for download tests.

It answers what huggingface_hub 2.4 asks:
- `GET /api/models/{repo}/revision/{rev}` (repo info; with `?blobs=True` each sibling carries
  size, blobId and, for LFS files, `lfs: {sha256, size, pointerSize}`);
- `HEAD|GET /{repo}/resolve/{rev}/{path}` with `X-Repo-Commit`, `ETag` (git blob id, or the
  SHA-256 for LFS files), `X-Linked-Etag` / `X-Linked-Size` and, for LFS files, a 302 to
  `/cdn/{sha256}` the way the hub redirects to its CDN;
- `Range: bytes=N-` answered with 206 and `Content-Range`.
It never sends Xet headers, so huggingface_hub stays on its plain HTTP path.

Faults for tests: drop the connection after N bytes, answer 500 afterwards, stall mid-body,
serve corrupt bytes.
Every request is recorded and every body byte counted.
"""

from __future__ import annotations

import hashlib
import json
import re
import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Optional
from urllib.parse import unquote, urlsplit

COMMIT = "0123456789abcdef0123456789abcdef01234567"
LFS_MIN_SIZE = 1024  # files at least this big are served as LFS files


@dataclass
class HubFile:
    data: bytes
    lfs: bool

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()

    @property
    def blob_id(self) -> str:
        return hashlib.sha1(b"blob %d\0" % len(self.data) + self.data).hexdigest()


@dataclass
class Faults:
    drop_after: dict[str, int] = field(default_factory=dict)  # path -> bytes sent before dropping, once
    errors_after_drop: dict[str, int] = field(default_factory=dict)  # path -> 500 answers after the drop
    corrupt: set[str] = field(default_factory=set)  # paths served with one byte flipped
    stall_after: dict[str, tuple[int, float]] = field(default_factory=dict)  # path -> (bytes, seconds), once


class FakeHub:
    def __init__(self) -> None:
        self.repos: dict[str, dict[str, HubFile]] = {}
        self.faults = Faults()
        self.requests: list[tuple[str, str, Optional[str]]] = []  # (method, path, Range header)
        self.bytes_served: dict[str, int] = {}
        self._lock = threading.Lock()
        self._server: Optional[ThreadingHTTPServer] = None
        self._thread: Optional[threading.Thread] = None

    # -- content -------------------------------------------------------------------------

    def add_file(self, repo: str, path: str, data: bytes) -> None:
        self.repos.setdefault(repo, {})[path] = HubFile(data, lfs=len(data) >= LFS_MIN_SIZE)

    def add_folder(self, repo: str, folder: Path) -> None:
        for file in sorted(folder.rglob("*")):
            if file.is_file():
                self.add_file(repo, file.relative_to(folder).as_posix(), file.read_bytes())

    def file(self, repo: str, path: str) -> HubFile:
        return self.repos[repo][path]

    # -- server --------------------------------------------------------------------------

    @property
    def url(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> "FakeHub":
        hub = self

        class Handler(_Handler):
            pass

        Handler.hub = hub
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        # A short poll: `stop()` returns at once instead of after serve_forever's default 0.5 s.
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, name="fake-hub", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(5)
        self._server = self._thread = None

    def __enter__(self) -> "FakeHub":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def record(self, method: str, path: str, range_header: Optional[str]) -> None:
        with self._lock:
            self.requests.append((method, path, range_header))

    def count(self, path: str, sent: int) -> None:
        with self._lock:
            self.bytes_served[path] = self.bytes_served.get(path, 0) + sent

    def gets(self, path_suffix: str) -> list[tuple[str, str, Optional[str]]]:
        return [r for r in self.requests if r[0] == "GET" and r[1].endswith(path_suffix)]


_RESOLVE = re.compile(r"^/(?P<repo>[^/]+/[^/]+)/resolve/(?P<rev>[^/]+)/(?P<path>.+)$")
_INFO = re.compile(r"^/api/models/(?P<repo>[^/]+/[^/]+)(?:/revision/(?P<rev>[^/]+))?$")
_CDN = re.compile(r"^/cdn/(?P<sha>[0-9a-f]{64})$")


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    hub: FakeHub

    def log_message(self, format: str, *args: object) -> None:  # keep test output quiet
        return None

    def do_HEAD(self) -> None:
        self._serve(head=True)

    def do_GET(self) -> None:
        self._serve(head=False)

    # -- routing -------------------------------------------------------------------------

    def _serve(self, head: bool) -> None:
        path = unquote(urlsplit(self.path).path)
        self.hub.record(self.command, path, self.headers.get("Range"))
        if match := _INFO.match(path):
            return self._repo_info(match["repo"], head)
        if match := _RESOLVE.match(path):
            return self._resolve(match["repo"], match["rev"], match["path"], head)
        if match := _CDN.match(path):
            for repo, files in self.hub.repos.items():
                for name, item in files.items():
                    if item.lfs and item.sha256 == match["sha"]:
                        return self._content(repo, name, item, head)
        self._error(404, "Entry not found")

    def _repo_info(self, repo: str, head: bool) -> None:
        files = self.hub.repos.get(repo)
        if files is None:
            return self._error(404, "Repository not found", {"X-Error-Code": "RepoNotFound"})
        siblings = []
        for name, item in sorted(files.items()):
            sibling = {"rfilename": name, "size": len(item.data), "blobId": item.blob_id}
            if item.lfs:
                sibling["lfs"] = {"sha256": item.sha256, "size": len(item.data), "pointerSize": 134}
            siblings.append(sibling)
        body = json.dumps({"id": repo, "modelId": repo, "sha": COMMIT, "private": False,
                           "siblings": siblings}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if not head:
            self.wfile.write(body)

    def _resolve(self, repo: str, rev: str, name: str, head: bool) -> None:
        files = self.hub.repos.get(repo)
        if files is None:
            return self._error(404, "Repository not found", {"X-Error-Code": "RepoNotFound"})
        if rev not in ("main", COMMIT):
            return self._error(404, "Revision not found", {"X-Error-Code": "RevisionNotFound"})
        item = files.get(name)
        if item is None:
            return self._error(404, "Entry not found", {"X-Error-Code": "EntryNotFound", "X-Repo-Commit": COMMIT})
        if item.lfs:
            self.send_response(302)
            self.send_header("Location", f"/cdn/{item.sha256}")
            self.send_header("X-Repo-Commit", COMMIT)
            self.send_header("ETag", f'"{item.blob_id}"')
            self.send_header("X-Linked-Etag", f'"{item.sha256}"')
            self.send_header("X-Linked-Size", str(len(item.data)))
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self._content(repo, name, item, head)

    # -- bodies --------------------------------------------------------------------------

    def _content(self, repo: str, name: str, item: HubFile, head: bool) -> None:
        hub, faults = self.hub, self.hub.faults
        if not head and faults.errors_after_drop.get(name, 0) > 0 and name not in faults.drop_after:
            faults.errors_after_drop[name] -= 1
            return self._error(500, "Internal Error")
        data = item.data
        if name in faults.corrupt:
            data = bytes([data[0] ^ 0xFF]) + data[1:]
        start = 0
        range_header = self.headers.get("Range")
        if range_header and (match := re.fullmatch(r"bytes=(\d+)-", range_header.strip())):
            start = int(match[1])
            if start >= len(data):
                return self._error(416, "Range Not Satisfiable")
        body = data[start:]
        self.send_response(206 if start else 200)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("X-Repo-Commit", COMMIT)
        self.send_header("ETag", f'"{item.sha256 if item.lfs else item.blob_id}"')
        if start:
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        self.end_headers()
        if head:
            return
        stall = faults.stall_after.pop(name, None)
        if stall is not None:  # send some, then go silent: the client's read timeout fires
            sent = body[: max(0, stall[0] - start)]
            hub.count(name, len(sent))  # counted first: the client may finish before write() returns
            self.wfile.write(sent)
            self.wfile.flush()
            time.sleep(stall[1])
            self.close_connection = True
            return
        limit = faults.drop_after.pop(name, None)
        if limit is not None:
            sent = body[: max(0, limit - start)]
            hub.count(name, len(sent))
            self.wfile.write(sent)
            self.wfile.flush()
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        hub.count(name, len(body))
        self.wfile.write(body)

    def _error(self, status: int, message: str, headers: Optional[dict[str, str]] = None) -> None:
        body = json.dumps({"error": message}).encode()
        self.send_response(status)
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)


def point_client_at(hub: FakeHub, monkeypatch, cache_dir: Path) -> None:
    """Aim huggingface_hub at `hub` for one test: HF_ENDPOINT, online, an empty hub cache.

    The test session runs with HF_HUB_OFFLINE=1, which huggingface_hub read at import.
    """
    from huggingface_hub import constants

    from latentstudio.models import network

    monkeypatch.setattr(network, "_set_by_us", False)  # restored after the test, like the rest
    monkeypatch.setenv("HF_ENDPOINT", hub.url)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(cache_dir))
    monkeypatch.setenv("HF_HUB_DISABLE_TELEMETRY", "1")
    monkeypatch.setattr(constants, "HF_HUB_DISABLE_TELEMETRY", True)
