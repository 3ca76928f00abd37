"""GitHub: its webhook deliveries proven and read into neutral records, and commit statuses sent
back (see app/forges/__init__.py for the interface every forge module gives)."""
import hashlib
import hmac
import re

from pipeline.git.inputs import check_branch, check_commit_hash

from ..records.models import Status
from ..records.vault import unseal
from . import shared
from .events import BadDelivery, Delete, Ping, PullRequest, PullRequestClosed, Push
from .hosting import PAGE_SIZE, ForgeError, call, hook_id_of, pages, repository_of, text

REFUSED = "Missing or invalid X-Hub-Signature-256"
# Where it keeps a pull request's head, in the base repository.
PULL_REF = "refs/pull/{number}/head"
COMMIT = re.compile(r"[0-9a-f]{40}")
# The pull request actions that bring a commit to build; "closed" ends one.
PULL_REQUEST_BUILDS = ("opened", "synchronize", "reopened", "ready_for_review")

# Each status in GitHub's words.
STATES = {
    Status.QUEUED: "pending",
    Status.RUNNING: "pending",
    Status.PASSED: "success",
    Status.FAILED: "failure",
    Status.CANCELED: "error",
    Status.BLOCKED: "pending",
    Status.DECLINED: "error",
    Status.SKIPPED: "success",
}
CONTEXT = "stoker"
GITHUB_URL = re.compile(r"(?:https://github\.com/|git@github\.com:)([A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+?)(?:\.git)?/?")


def repo_from_url(url):
    """'owner/repo' for a GitHub repository URL, else None."""
    match = GITHUB_URL.fullmatch(url)
    return match[1] if match else None


def _api(app, token):
    return app.config["STOKER_GITHUB_API_URL"], {"Authorization": f"Bearer {token}",
                                                  "Accept": "application/vnd.github+json",
                                                  "X-GitHub-Api-Version": "2022-11-28"}


def whoami(app, forge_url, token):
    """The login the token is; ForgeError when GitHub refuses it."""
    api, headers = _api(app, token)
    login = text(call(app, "GET", f"{api}/user", headers, checked=False), "login", 255)
    if login is None:
        raise ForgeError("GitHub did not say who the token is")
    return login


def repositories(app, forge_url, token):
    """The repositories the token may administer, by name."""
    api, headers = _api(app, token)
    found = pages(lambda page: call(app, "GET", f"{api}/user/repos", headers, checked=False,
                                    params={"per_page": PAGE_SIZE, "page": page, "sort": "full_name"}))
    return sorted((repo for repo in map(repository_of, found) if repo and repo.admin), key=lambda repo: repo.path)


def repository(app, forge_url, token, path):
    """The repository at `path` ("owner/repo") as the token sees it; None when it sees none there."""
    api, headers = _api(app, token)
    return repository_of(call(app, "GET", f"{api}/repos/{path}", headers, checked=False))


def add_hook(app, forge_url, token, path, url, secret):
    """Add a webhook sending pushes and pull requests to `url`, signed with `secret`; its id."""
    api, headers = _api(app, token)
    hook = call(app, "POST", f"{api}/repos/{path}/hooks", headers, checked=False, json={
        "name": "web", "active": True, "events": ["push", "pull_request"],
        "config": {"url": url, "content_type": "json", "secret": secret, "insecure_ssl": "0"}})
    return hook_id_of(hook)


def update_hook(app, forge_url, token, path, hook_id, url, secret):
    """Give the webhook Stoker added a new secret (and its address again)."""
    api, headers = _api(app, token)
    call(app, "PATCH", f"{api}/repos/{path}/hooks/{hook_id}/config", headers, checked=False,
         json={"url": url, "content_type": "json", "secret": secret, "insecure_ssl": "0"})


def remove_hook(app, forge_url, token, path, hook_id):
    api, headers = _api(app, token)
    call(app, "DELETE", f"{api}/repos/{path}/hooks/{hook_id}", headers, checked=False)


def send_status(app, project, build, status, description):
    """Tell GitHub the build's status; ForgeError (or VaultError) when it does not take it."""
    token = unseal(app.config["SECRET_KEY"], project.github_token_sealed, what="the project's GitHub token")
    # Rows owed before the outbox kept Stoker's own words hold GitHub's already.
    state = STATES.get(status, status)
    api, headers = _api(app, token)
    shared.sent(app, f"{api}/repos/{project.github_repo}/statuses/{build.commit_hash}", headers,
                {"state": state, "description": description, "context": CONTEXT,
                 "target_url": shared.build_url(app, build)}, checked=False)


def verify(secret, headers, body):
    """True when the X-Hub-Signature-256 header is GitHub's sha256 HMAC of the exact body bytes under `secret`."""
    header = headers.get("X-Hub-Signature-256")
    if not secret or not header or not header.startswith("sha256="):
        return False
    expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected.encode(), header.encode("utf-8", "surrogateescape"))


def delivery_id(headers):
    value = headers.get("X-GitHub-Delivery", "")
    return value if shared.DELIVERY_ID.fullmatch(value) else None


def read(headers, payload):
    """The delivery as a neutral record, or a string saying why it is nothing to build; `payload()`
    gives its JSON, read only for an event that builds."""
    event = headers.get("X-GitHub-Event", "")
    if event == "ping":
        return Ping()
    if event == "push":
        return _push(payload())
    if event == "pull_request":
        return _pull_request(payload())
    return f"{event[:100] or 'unnamed'} events are not built"


def _push(payload):
    ref, after = payload.get("ref"), payload.get("after")
    if payload.get("deleted") is True or shared.deletes(after):
        return Delete(ref if isinstance(ref, str) else "")
    if not isinstance(ref, str) or len(ref) > 300:
        raise BadDelivery("Push payload has no ref")
    if ref.startswith(("refs/heads/", "refs/tags/")):
        try:
            # Stored, shown and given to the build: a name git itself would refuse is refused here.
            check_branch(ref.split("/", 2)[2])
        except ValueError as exc:
            raise BadDelivery(f"Push payload 'ref': {exc}") from None
    try:
        commit_hash = check_commit_hash(after)
    except ValueError as exc:
        raise BadDelivery(f"Push payload 'after': {exc}") from None
    head = payload.get("head_commit")
    if not isinstance(head, dict):
        return "the push has no head commit"
    author = head.get("author") if isinstance(head.get("author"), dict) else {}
    message, author_name = head.get("message"), author.get("name")
    before = payload.get("before")
    return Push(ref=ref, after=commit_hash,
                # A new branch has none (all zeros): its changes are those since it left the default branch.
                before=before if isinstance(before, str) and COMMIT.fullmatch(before)
                and not shared.deletes(before) else None,
                message=message if isinstance(message, str) else None,
                author=author_name[:255] if isinstance(author_name, str) else None)


def _number(pull, payload):
    number = pull.get("number", payload.get("number"))
    if not isinstance(number, int) or isinstance(number, bool) or not 1 <= number <= 9_999_999_999:
        raise BadDelivery("Pull request payload: number must be a positive whole number")
    return number


def _pull_request(payload):
    action = payload.get("action")
    pull = payload.get("pull_request")
    if action == "closed":
        return PullRequestClosed(_number(pull if isinstance(pull, dict) else {}, payload))
    if action not in PULL_REQUEST_BUILDS:
        return f"pull request action {str(action)[:50]!r} builds nothing"
    if not isinstance(pull, dict) or not isinstance(pull.get("base"), dict) or not isinstance(pull.get("head"), dict):
        raise BadDelivery("Pull request payload has no pull_request with base and head")
    number = _number(pull, payload)
    base, head = pull["base"], pull["head"]
    base_repo = base.get("repo") if isinstance(base.get("repo"), dict) else {}
    head_repo = head.get("repo") if isinstance(head.get("repo"), dict) else None
    head_name = head_repo.get("full_name") if head_repo else None
    try:
        head_sha = check_commit_hash(head.get("sha"))
    except ValueError as exc:
        raise BadDelivery(f"Pull request payload 'head.sha': {exc}") from None
    title = pull.get("title") if isinstance(pull.get("title"), str) else ""
    url = pull.get("html_url") if isinstance(pull.get("html_url"), str) else None
    return PullRequest(number=number, head_sha=head_sha, head_branch=shared.branch(head.get("ref"), "Pull request payload 'head.ref'"),
                       base_branch=shared.branch(base.get("ref"), "Pull request payload 'base.ref'"),
                       head_repo=head_name[:200] if isinstance(head_name, str) else None,
                       # By the repositories' ids, never their names: a name can be taken again.
                       fork=head_repo is None or shared.repository_id(head_repo.get("id")) is None
                       or head_repo.get("id") != base_repo.get("id"),
                       title=title[:500], url=url and url[:500])
