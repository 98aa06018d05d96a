"""A local Hugging Face Hub for tests: a real HTTP server on 127.0.0.1 that serves repos the way huggingface.co does,
so that downloads go through huggingface_hub's own HTTP code (no mock, no internet).

What it serves (as read from huggingface_hub's file_download.py and hf_api.py):
- `HEAD|GET /{repo_id}/resolve/{revision}/{path}`: for a regular file, a same-host 307 redirect to
  `/api/resolve-cache/models/{repo_id}/{commit}/{path}`, which answers with `ETag` (the git blob sha1),
  `X-Repo-Commit` and `Content-Length`; for an LFS file (weights), a 302 redirect to a second listener, the "CDN",
  with `X-Linked-Etag` (sha256), `X-Linked-Size` and `X-Repo-Commit`; huggingface_hub does not follow a redirect to
  another host for metadata, then downloads from it.
- Errors with the Hub's `X-Error-Code`: `RepoNotFound` (401), `RevisionNotFound` (404), `EntryNotFound` (404, with
  `X-Repo-Commit`, so the absence is cached).
- `GET /api/models/{repo_id}[/revision/{revision}]` (`model_info`) and `GET /api/models/{repo_id}/tree/{revision}`
  (`list_repo_tree`, `list_repo_files`).
`stop()` closes both listeners: the next request fails to connect, as in an outage; `down_with = 503` answers every
request with that status instead, as a Hub that is down.

Example:
    >>> with HubServer() as server:
    ...     server.add_repo("org/bert", "path/to/saved/model")
    ...     hf_hub_download("org/bert", "config.json", endpoint=server.endpoint, cache_dir=cache)
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote, urlparse

LFS_SUFFIXES = (".h5", ".safetensors", ".bin", ".msgpack", ".npz")
RESOLVE = re.compile(r"^/(?P<repo>.+?)/resolve/(?P<revision>[^/]+)/(?P<path>.+)$")
RESOLVE_CACHE = re.compile(r"^/api/resolve-cache/models/(?P<repo>.+?)/(?P<commit>[0-9a-f]{40})/(?P<path>.+)$")
TREE = re.compile(r"^/api/models/(?P<repo>.+?)/tree/(?P<revision>[^/]+)/?$")
INFO = re.compile(r"^/api/models/(?P<repo>.+?)(?:/revision/(?P<revision>[^/]+))?/?$")
CDN = re.compile(r"^/lfs/(?P<sha256>[0-9a-f]{64})$")


class Repo:
    """One repo: commits by revision name, each a dict of path -> bytes."""

    def __init__(self) -> None:
        self.refs: dict[str, str] = {}
        self.commits: dict[str, dict[str, bytes]] = {}

    def commit_of(self, revision: str) -> str | None:
        if revision in self.commits:
            return revision
        return self.refs.get(revision)


class HubServer:
    """Serve repos added with `add_repo` at `endpoint`; every request is recorded in `requests` as
    `(method, path)`."""

    def __init__(self) -> None:
        self.repos: dict[str, Repo] = {}
        self.blobs: dict[str, bytes] = {}  # sha256 -> content, served by the "CDN"
        self.requests: list[tuple[str, str]] = []
        self.down_with: int | None = None  # an HTTP status (e.g. 503) to answer everything with: the Hub is down
        self._servers: list[ThreadingHTTPServer] = []
        self._ports: list[int] = []  # kept after stop(): the endpoint then refuses connections

    # ---- content ----------------------------------------------------------------------------------------------
    def add_repo(self, repo_id: str, folder: str | os.PathLike, revision: str = "main") -> str:
        """Publish every file under `folder` as a commit of `repo_id` at `revision`; returns the commit sha."""
        files = {}
        for root, _, names in os.walk(folder):
            for name in names:
                full = os.path.join(root, name)
                files[os.path.relpath(full, folder).replace(os.sep, "/")] = open(full, "rb").read()
        digest = hashlib.sha1(repr((repo_id, revision, sorted((k, hashlib.sha1(v).hexdigest())
                                                             for k, v in files.items()))).encode())
        commit = digest.hexdigest()
        repo = self.repos.setdefault(repo_id, Repo())
        repo.refs[revision] = commit
        repo.commits[commit] = files
        for content in files.values():
            self.blobs[hashlib.sha256(content).hexdigest()] = content
        return commit

    # ---- lifecycle --------------------------------------------------------------------------------------------
    def start(self) -> "HubServer":
        for _ in range(2):  # the Hub, then the "CDN" (another origin: another port)
            server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
            server.daemon_threads = True
            threading.Thread(target=server.serve_forever, name="hub-server", daemon=True).start()
            self._servers.append(server)
        self._ports = [server.server_address[1] for server in self._servers]
        return self

    def stop(self) -> None:
        """Close both listeners: later requests get "connection refused"."""
        for server in self._servers:
            server.shutdown()
            server.server_close()
        self._servers = []

    def __enter__(self) -> "HubServer":
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self._ports[0]}"

    @property
    def cdn(self) -> str:
        return f"http://127.0.0.1:{self._ports[1]}"

    # ---- HTTP ---------------------------------------------------------------------------------------------------
    def _handler(self):
        hub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:  # keep test output clean
                pass

            def do_HEAD(self) -> None:  # noqa: N802
                self._serve(body=False)

            def do_GET(self) -> None:  # noqa: N802
                self._serve(body=True)

            def _send(self, status: int, headers: dict[str, str] | None = None, content: bytes = b"",
                      body: bool = True) -> None:
                self.send_response(status)
                for key, value in (headers or {}).items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(content)))
                self.send_header("Connection", "close")  # no kept-alive socket outlives stop()
                self.close_connection = True
                self.end_headers()
                if body and content:
                    self.wfile.write(content)

            def _json(self, value, body: bool) -> None:
                self._send(200, {"Content-Type": "application/json"}, json.dumps(value).encode(), body)

            def _error(self, status: int, code: str, message: str, body: bool, commit: str | None = None) -> None:
                headers = {"X-Error-Code": code, "X-Error-Message": message, "Content-Type": "application/json"}
                if commit:
                    headers["X-Repo-Commit"] = commit
                self._send(status, headers, json.dumps({"error": message}).encode(), body)

            def _lookup(self, repo_id: str, revision: str, body: bool):
                repo = hub.repos.get(repo_id)
                if repo is None:
                    self._error(401, "RepoNotFound", "Repository not found", body)
                    return None
                commit = repo.commit_of(revision)
                if commit is None:
                    self._error(404, "RevisionNotFound", "Invalid rev id: " + revision, body)
                    return None
                return commit, repo.commits[commit]

            def _serve(self, body: bool) -> None:
                path = urlparse(self.path).path
                hub.requests.append((self.command, path))
                if hub.down_with is not None:
                    return self._send(hub.down_with, {"Content-Type": "text/plain"}, b"Service Unavailable", body)
                if match := CDN.match(path):
                    content = hub.blobs.get(match["sha256"])
                    if content is None:
                        return self._send(404, body=body)
                    return self._send(200, {"ETag": f'"{match["sha256"]}"'}, content, body)
                if match := RESOLVE_CACHE.match(path):
                    return self._file(unquote(match["repo"]), match["commit"], unquote(match["path"]), body,
                                      redirect=False)
                if match := RESOLVE.match(path):
                    return self._file(unquote(match["repo"]), unquote(match["revision"]), unquote(match["path"]),
                                      body, redirect=True)
                if match := TREE.match(path):
                    found = self._lookup(unquote(match["repo"]), unquote(match["revision"]), body)
                    if found:
                        return self._json([_tree_entry(name, content) for name, content in sorted(found[1].items())],
                                          body)
                    return None
                if match := INFO.match(path):
                    repo_id = unquote(match["repo"])
                    found = self._lookup(repo_id, unquote(match["revision"] or "main"), body)
                    if found:
                        return self._json({"id": repo_id, "modelId": repo_id, "sha": found[0], "private": False,
                                           "tags": [], "siblings": [{"rfilename": name} for name in sorted(found[1])]},
                                          body)
                    return None
                return self._send(404, body=body)

            def _file(self, repo_id: str, revision: str, filename: str, body: bool, redirect: bool) -> None:
                found = self._lookup(repo_id, revision, body)
                if not found:
                    return
                commit, files = found
                if filename not in files:
                    return self._error(404, "EntryNotFound", f"{filename} does not exist on \"{revision}\"", body,
                                       commit)
                content = files[filename]
                if filename.endswith(LFS_SUFFIXES):
                    sha256 = hashlib.sha256(content).hexdigest()
                    return self._send(302, {"Location": f"{hub.cdn}/lfs/{sha256}", "X-Repo-Commit": commit,
                                            "X-Linked-Etag": f'"{sha256}"', "X-Linked-Size": str(len(content)),
                                            "ETag": f'"{_git_sha1(content)}"'}, body=body)
                if redirect:  # regular files: the Hub answers from a commit-pinned, same-host location
                    return self._send(307, {"Location": f"/api/resolve-cache/models/{repo_id}/{commit}/{filename}",
                                            "X-Repo-Commit": commit}, body=body)
                return self._send(200, {"X-Repo-Commit": commit, "ETag": f'"{_git_sha1(content)}"'}, content, body)

        return Handler


def _git_sha1(content: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(content) + content).hexdigest()


def _tree_entry(name: str, content: bytes) -> dict:
    entry = {"type": "file", "oid": _git_sha1(content), "size": len(content), "path": name}
    if name.endswith(LFS_SUFFIXES):
        entry["lfs"] = {"oid": hashlib.sha256(content).hexdigest(), "size": len(content), "pointerSize": 134}
    return entry
