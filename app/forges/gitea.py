"""Gitea, and Forgejo, its fork, which sends the same deliveries with X-Forgejo-* headers besides
the X-Gitea-* ones: deliveries proven and read into neutral records, and commit statuses sent back.
GITEA and FORGEJO are the two forges of this kind (see app/forges/__init__.py for the interface)."""
import hashlib
import hmac

from ..records.models import Status
from ..records.vault import unseal
from . import shared
from .events import BadDelivery, Delete, PullRequest, PullRequestClosed, Push
from .hosting import PAGE_SIZE, ForgeError, call, hook_id_of, pages, repository_of, text

# The pull request actions that bring a commit to build; "closed" (merged or not) ends one. The
# rest (edited, label_updated, assigned, milestoned, review_requested, ...) change no commit.
PULL_REQUEST_BUILDS = ("opened", "reopened", "synchronized")

# Each status in Gitea's words (pending, success, error, failure, warning).
STATES = {
    Status.QUEUED: "pending",
    Status.RUNNING: "pending",
    Status.PASSED: "success",
    Status.FAILED: "failure",
    Status.CANCELED: "error",
    Status.BLOCKED: "pending",
    # Someone chose not to run a fork's code: nothing the code did wrong.
    Status.DECLINED: "warning",
    # The pipeline file's `when:` left the build out: as on GitHub, a required check is not held up.
    Status.SKIPPED: "success",
}
CONTEXT = "stoker"


class Gitea:
    """A forge that speaks Gitea's webhooks, known by its name and its headers' prefixes, its own first."""

    # Where it keeps a pull request's head, in the base repository.
    PULL_REF = "refs/pull/{number}/head"

    def __init__(self, name, prefixes):
        self.name, self.prefixes = name, prefixes
        self.REFUSED = f"Missing or invalid {prefixes[0]}Signature"

    def header(self, headers, name):
        """The forge's header `name` under the first of its prefixes that has it, else ''."""
        return next((headers.get(prefix + name) for prefix in self.prefixes if headers.get(prefix + name)), "")

    def verify(self, secret, headers, body):
        """True when the signature header is the hex sha256 HMAC of the exact body bytes under `secret`."""
        given = self.header(headers, "Signature")
        if not secret or not given:
            return False
        expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        return hmac.compare_digest(expected.encode(), given.encode("utf-8", "surrogateescape"))

    def delivery_id(self, headers):
        value = self.header(headers, "Delivery")
        return value if shared.DELIVERY_ID.fullmatch(value) else None

    def read(self, headers, payload):
        """The delivery as a neutral record, or a string saying why it is nothing to build; `payload()`
        gives its JSON, read only for an event that may build."""
        event = self.header(headers, "Event")
        if event == "push":
            return _push(payload())
        if event == "delete":
            return _delete(payload())
        if event == "pull_request":
            return _pull_request(payload())
        # `create` is not built either: for a new tag or branch the forge sends a `push` of
        # refs/tags/<name> (or refs/heads/<name>) as well, and that one builds; the create
        # (HookTag.json: the bare name and its commit) would build the same commit twice.
        return f"{event[:100] or 'unnamed'} events are not built"

    def send_status(self, app, project, build, status, description):
        """Tell the forge the build's status; ForgeError (or VaultError) when it does not take it."""
        token = unseal(app.config["SECRET_KEY"], project.github_token_sealed, what=f"the project's {self.name} token")
        answer, _ = shared.sent(app, f"{shared.forge_url(project)}/api/v1/repos/{project.github_repo}/statuses/"
                                     f"{build.commit_hash}",
                                {"Authorization": f"token {token}"},
                                {"state": STATES[status], "target_url": shared.build_url(app, build),
                                 "description": description, "context": CONTEXT})


    # A user's account on it (see hosting.py): its API answers as GitHub's does, under /api/v1.

    def _api(self, forge_url, token):
        return f"{forge_url}/api/v1", {"Authorization": f"token {token}"}

    def whoami(self, app, forge_url, token):
        """The login the token is; ForgeError when the forge refuses it."""
        api, headers = self._api(forge_url, token)
        login = text(call(app, "GET", f"{api}/user", headers), "login", 255)
        if login is None:
            raise ForgeError(f"{self.name} did not say who the token is")
        return login

    def repositories(self, app, forge_url, token):
        """The repositories the token may administer, by name."""
        api, headers = self._api(forge_url, token)
        found = pages(lambda page: call(app, "GET", f"{api}/user/repos", headers,
                                        params={"limit": PAGE_SIZE, "page": page}))
        return sorted((repo for repo in map(repository_of, found) if repo and repo.admin), key=lambda repo: repo.path)

    def repository(self, app, forge_url, token, path):
        api, headers = self._api(forge_url, token)
        return repository_of(call(app, "GET", f"{api}/repos/{path}", headers))

    def add_hook(self, app, forge_url, token, path, url, secret):
        """Add a webhook of the forge's own kind sending pushes and pull requests to `url`; its id."""
        api, headers = self._api(forge_url, token)
        return hook_id_of(call(app, "POST", f"{api}/repos/{path}/hooks", headers, json={
            "type": self.name.lower(), "active": True, "events": ["push", "pull_request"], "branch_filter": "*",
            "config": {"url": url, "content_type": "json", "secret": secret}}))

    def update_hook(self, app, forge_url, token, path, hook_id, url, secret):
        """Give the webhook Stoker added a new secret (and its address again)."""
        api, headers = self._api(forge_url, token)
        call(app, "PATCH", f"{api}/repos/{path}/hooks/{hook_id}", headers, json={
            "active": True, "config": {"url": url, "content_type": "json", "secret": secret}})

    def remove_hook(self, app, forge_url, token, path, hook_id):
        api, headers = self._api(forge_url, token)
        call(app, "DELETE", f"{api}/repos/{path}/hooks/{hook_id}", headers)


GITEA = Gitea("Gitea", ("X-Gitea-",))
FORGEJO = Gitea("Forgejo", ("X-Forgejo-", "X-Gitea-"))


def _push(payload):
    ref, after = payload.get("ref"), payload.get("after")
    if payload.get("deleted") is True or shared.deletes(after):
        return Delete(shared.text(ref, 300) or "")
    ref = shared.ref(ref, "Push payload 'ref'")
    commit_hash = shared.commit(after, "Push payload 'after'")
    message, author = shared.message_and_author(_pushed_commit(payload, commit_hash))
    return Push(ref=ref, after=commit_hash, before=shared.previous(payload.get("before")), message=message,
                author=author)


def _pushed_commit(payload, commit_hash):
    """The pushed commit's entry: head_commit, which older versions leave out (HookPush.json); else
    the one in `commits` that is it, as they list the newest first (HookPushMulti.json)."""
    if isinstance(payload.get("head_commit"), dict):
        return payload["head_commit"]
    commits = payload.get("commits") if isinstance(payload.get("commits"), list) else []
    return next((entry for entry in commits if isinstance(entry, dict) and entry.get("id") == commit_hash), None)


def _delete(payload):
    """A branch or tag deleted: the forge names it bare, and says which it was in ref_type."""
    name = shared.text(payload.get("ref"), 255) or ""
    return Delete(("refs/tags/" if payload.get("ref_type") == "tag" else "refs/heads/") + name)


def _repository_id(side):
    """The id of the repository a pull request's head or base is in: its repo's, else repo_id, which
    is all some versions send (HookPullRequestUpdated.json)."""
    repo = side.get("repo")
    return shared.repository_id(repo.get("id") if isinstance(repo, dict) else side.get("repo_id"))


def _pull_request(payload):
    action, pull = payload.get("action"), payload.get("pull_request")
    pull = pull if isinstance(pull, dict) else {}
    number = payload.get("number", pull.get("number"))
    if action == "closed":
        return PullRequestClosed(shared.number(number, "Pull request payload 'number'"))
    if action not in PULL_REQUEST_BUILDS:
        return f"pull request action {str(action)[:50]!r} builds nothing"
    if not isinstance(pull.get("base"), dict) or not isinstance(pull.get("head"), dict):
        raise BadDelivery("Pull request payload has no pull_request with base and head")
    base, head = pull["base"], pull["head"]
    head_id = _repository_id(head)
    head_repo = head.get("repo") if isinstance(head.get("repo"), dict) else {}
    return PullRequest(number=shared.number(number, "Pull request payload 'number'"),
                       head_sha=shared.commit(head.get("sha"), "Pull request payload 'head.sha'"),
                       head_branch=shared.branch(head.get("ref"), "Pull request payload 'head.ref'"),
                       base_branch=shared.branch(base.get("ref"), "Pull request payload 'base.ref'"),
                       head_repo=shared.text(head_repo.get("full_name"), 200),
                       # By the repositories' ids, never their names: a name can be taken again.
                       fork=head_id is None or head_id != _repository_id(base),
                       title=shared.text(pull.get("title"), 500) or "", url=shared.text(pull.get("html_url"), 500))
