"""A forge's REST API on 127.0.0.1 for one user, answering as GitHub's, Gitea's (and Forgejo's) or
GitLab's documentation says, for what Stoker asks of it: who a token is, the repositories it may
administer, one repository, its webhooks, and commit statuses. It keeps every call it was sent.
(forges.py's FakeForge is the statuses alone, answering as a test scripts it.)"""
import json
import re
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from urllib.parse import parse_qs, unquote, urlsplit

from .http import LocalHttp, reply_json

PAGE = 2  # a small page, so that listing must follow pages as it would on a real forge


@dataclass
class Repository:
    path: str
    clone_url: str
    private: bool = False
    admin: bool = True
    default_branch: str = "main"
    hooks: dict = field(default_factory=dict)
    # Its webhooks are refused, as a forge refuses one whose URL it cannot reach.
    refuses_hooks: bool = False


class ForgeServer:
    """`kind`: github, gitea, forgejo or gitlab. `token`: the one token it takes, for `login`.
    `url` is what Stoker is given: the API's base for GitHub, the server's address for the others."""

    def __init__(self, kind, token, login="alice", repositories=()):
        self.kind, self.token, self.login = kind, token, login
        self.repositories = {repository.path: repository for repository in repositories}
        self.calls = []
        self.next_hook = 100
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self, method):
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                body = json.loads(raw) if raw else None
                fake.calls.append({"method": method, "path": self.path, "body": body,
                                   "auth": self.headers.get("Authorization") or self.headers.get("PRIVATE-TOKEN")})
                reply_json(self, *fake.answer(method, self.path, self.headers, body))

            def do_GET(self):
                self._answer("GET")

            def do_POST(self):
                self._answer("POST")

            def do_DELETE(self):
                self._answer("DELETE")

            def do_PATCH(self):
                self._answer("PATCH")

            def do_PUT(self):
                self._answer("PUT")

            def log_message(self, *args):
                pass

        self.http = LocalHttp(Handler)
        self.url = self.http.url

    def close(self):
        self.http.close()

    # What each forge's API answers.

    def authorized(self, headers):
        if self.kind == "gitlab":
            given = headers.get("PRIVATE-TOKEN") or (headers.get("Authorization") or "").removeprefix("Bearer ")
        else:
            given = re.sub(r"^(token|Bearer) ", "", headers.get("Authorization") or "")
        return given == self.token

    def answer(self, method, raw_path, headers, body):
        if not self.authorized(headers):
            return 401, {"message": "Bad credentials"}
        parts = urlsplit(raw_path)
        query = {key: values[0] for key, values in parse_qs(parts.query).items()}
        prefix = {"github": "", "gitea": "/api/v1", "forgejo": "/api/v1", "gitlab": "/api/v4"}[self.kind]
        if not parts.path.startswith(prefix + "/"):
            return 404, {"message": "Not Found"}
        path = parts.path[len(prefix):]
        if self.kind == "gitlab":
            return self._gitlab(method, path, query, body)
        return self._github_like(method, path, query, body)

    def _page(self, items, query, size_key):
        page, size = int(query.get("page", 1)), min(int(query.get(size_key, PAGE)), PAGE)
        return items[(page - 1) * size:page * size]

    def _github_like(self, method, path, query, body):
        if method == "GET" and path == "/user":
            return 200, {"login": self.login, "id": 7}
        if method == "GET" and path == "/user/repos":
            listed = [self._repo_json(repo) for repo in self.repositories.values()]
            return 200, self._page(listed, query, "per_page" if self.kind == "github" else "limit")
        match = re.fullmatch(r"/repos/([^/]+/[^/]+)(/.*)?", path)
        if not match or match[1] not in self.repositories:
            return 404, {"message": "Not Found"}
        repo, rest = self.repositories[match[1]], match[2] or ""
        if method == "GET" and rest == "":
            return 200, self._repo_json(repo)
        if method == "POST" and rest == "/hooks":
            if repo.refuses_hooks:
                return 422, {"message": "Validation Failed"}
            # GitHub takes one webhook to an address per repository.
            if self.kind == "github" and any(hook["config"]["url"] == body["config"]["url"]
                                             for hook in repo.hooks.values()):
                return 422, {"message": "Validation Failed", "errors": [{"message": "Hook already exists on this repository"}]}
            self.next_hook += 1
            repo.hooks[self.next_hook] = body
            return 201, {"id": self.next_hook, "active": True, "config": body.get("config"), "events": body.get("events")}
        hook = re.fullmatch(r"/hooks/(\d+)(/config)?", rest)
        if hook and int(hook[1]) not in repo.hooks:
            return 404, {"message": "Not Found"}
        if method == "DELETE" and hook:
            return 204, repo.hooks.pop(int(hook[1])) and None
        # GitHub changes a webhook's config at its own address; Gitea and Forgejo the webhook's.
        if method == "PATCH" and hook and bool(hook[2]) == (self.kind == "github"):
            changed = repo.hooks[int(hook[1])]
            changed["config"] = {**changed["config"], **(body if self.kind == "github" else body["config"])}
            return 200, changed["config"] if self.kind == "github" else {"id": int(hook[1]), **changed}
        if method == "POST" and rest.startswith("/statuses/"):
            return 201, {"state": body.get("state")}
        return 404, {"message": "Not Found"}

    def _repo_json(self, repo):
        owner, name = repo.path.split("/", 1)
        return {"id": abs(hash(repo.path)) % 10_000, "full_name": repo.path, "name": name, "owner": {"login": owner},
                "private": repo.private, "default_branch": repo.default_branch, "clone_url": repo.clone_url,
                "ssh_url": f"git@forge.test:{repo.path}.git", "html_url": f"https://forge.test/{repo.path}",
                "permissions": {"admin": repo.admin, "push": True, "pull": True}}

    def _gitlab(self, method, path, query, body):
        if method == "GET" and path == "/user":
            return 200, {"username": self.login, "id": 7}
        if method == "GET" and path == "/projects":
            wanted = int(query.get("min_access_level", 0))
            listed = [self._project_json(repo) for repo in self.repositories.values()
                      if (40 if repo.admin else 30) >= wanted]
            return 200, self._page(listed, query, "per_page")
        match = re.fullmatch(r"/projects/([^/]+)(/.*)?", path)
        found = match and unquote(match[1]) in self.repositories
        if not found:
            return 404, {"message": "404 Project Not Found"}
        repo, rest = self.repositories[unquote(match[1])], match[2] or ""
        if method == "GET" and rest == "":
            return 200, self._project_json(repo)
        if method == "POST" and rest == "/hooks":
            if repo.refuses_hooks:
                return 422, {"message": "Invalid url given"}
            self.next_hook += 1
            repo.hooks[self.next_hook] = body
            return 201, {"id": self.next_hook, "url": body.get("url")}
        hook = re.fullmatch(r"/hooks/(\d+)", rest)
        if hook and int(hook[1]) not in repo.hooks:
            return 404, {"message": "404 Not found"}
        if method == "DELETE" and hook:
            return 204, repo.hooks.pop(int(hook[1])) and None
        if method == "PUT" and hook:
            repo.hooks[int(hook[1])] = {**repo.hooks[int(hook[1])], **body}
            return 200, {"id": int(hook[1]), **repo.hooks[int(hook[1])]}
        if method == "POST" and rest.startswith("/statuses/"):
            return 201, {"status": body.get("state")}
        return 404, {"message": "404 Not Found"}

    def _project_json(self, repo):
        return {"id": abs(hash(repo.path)) % 10_000, "path_with_namespace": repo.path, "name": repo.path.rsplit("/", 1)[1],
                "visibility": "private" if repo.private else "public", "default_branch": repo.default_branch,
                "http_url_to_repo": repo.clone_url, "ssh_url_to_repo": f"git@forge.test:{repo.path}.git",
                "web_url": f"https://forge.test/{repo.path}",
                "permissions": {"project_access": {"access_level": 40 if repo.admin else 30}, "group_access": None}}
