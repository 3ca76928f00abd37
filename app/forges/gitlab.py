"""GitLab: its webhook deliveries proven (by the secret token, and by the signature newer GitLab
can add) and read into neutral records, and commit statuses sent back (see app/forges/__init__.py
for the interface every forge module gives)."""
import base64
import binascii
import hashlib
import hmac
import logging
import re
import time
from urllib.parse import quote

from ..records.models import Status
from ..records.vault import unseal
from . import hosting, shared
from .events import BadDelivery, Delete, PullRequest, PullRequestClosed, Push
from .hosting import ForgeError

log = logging.getLogger(__name__)

REFUSED = "Missing or invalid X-Gitlab-Token or webhook-signature"
# Where it keeps a merge request's head, in the target project.
PULL_REF = "refs/merge-requests/{number}/head"
# A Maintainer's access level, the least that may add a project's webhooks.
MAINTAINER = 40
# A signed delivery's timestamp further than this from now, either way, is taken for a replay.
SIGNED_WITHIN_SECONDS = 300
TIMESTAMP = re.compile(r"[0-9]{1,12}")
# The merge request actions that may bring a commit to build ("update" only with new commits);
# close and merge end one. The rest (approved, unapproved, ...) change no commit.
MERGE_REQUEST_BUILDS = ("open", "reopen", "update")
MERGE_REQUEST_ENDS = ("close", "merge")
# How a refusal names a merge request's field.
FIELD = "Merge request payload 'object_attributes.{}'"

# Each status in GitLab's words (pending, running, success, failed, canceled, skipped).
STATES = {
    Status.QUEUED: "pending",
    Status.RUNNING: "running",
    Status.PASSED: "success",
    Status.FAILED: "failed",
    Status.CANCELED: "canceled",
    Status.BLOCKED: "pending",
    Status.DECLINED: "canceled",
    Status.SKIPPED: "skipped",
}
STATUS_NAME = "stoker"


def verify(secret, headers, body):
    """True when the delivery carries the secret in X-Gitlab-Token, or is signed with it (the
    webhook-* headers) within SIGNED_WITHIN_SECONDS of now; one that carries both must pass both."""
    token, signatures = headers.get("X-Gitlab-Token"), headers.get("webhook-signature")
    if not secret or (token is None and signatures is None):
        return False
    if token is not None and not hmac.compare_digest(token.encode("utf-8", "surrogateescape"), secret.encode()):
        return False
    return signatures is None or _signed(secret, headers, body)


def _signed(secret, headers, body):
    """Whether webhook-signature holds a v1 signature of "{webhook-id}.{webhook-timestamp}.{body}"
    made within SIGNED_WITHIN_SECONDS of now (the Standard Webhooks scheme)."""
    delivery, stamp = headers.get("webhook-id") or "", headers.get("webhook-timestamp") or ""
    if not delivery or not TIMESTAMP.fullmatch(stamp) or abs(time.time() - int(stamp)) > SIGNED_WITHIN_SECONDS:
        return False
    signed = f"{delivery}.{stamp}.".encode("utf-8", "surrogateescape") + body
    expected = base64.b64encode(hmac.new(_signing_key(secret), signed, hashlib.sha256).digest())
    # Several signatures, space-separated, while the sender rotates its key: one that holds will do.
    given = [value for version, _, value in (entry.partition(",") for entry in headers["webhook-signature"].split())
             if version == "v1"]
    return any(hmac.compare_digest(expected, value.encode("utf-8", "surrogateescape")) for value in given)


def _signing_key(secret):
    """The signature's HMAC key: the secret's own bytes, as Gitea's and GitHub's are. A secret in
    the Standard Webhooks form (whsec_ and base64), the form GitLab takes a signing token in, is
    the key it encodes, as that scheme says."""
    if secret.startswith("whsec_"):
        try:
            return base64.b64decode(secret[len("whsec_"):], validate=True)
        except binascii.Error:
            pass
    return secret.encode()


def delivery_id(headers):
    """The delivery's id: webhook-id when GitLab signs (the same each time it sends a delivery
    again), else X-Gitlab-Event-UUID."""
    value = headers.get("webhook-id") or headers.get("X-Gitlab-Event-UUID") or ""
    return value if shared.DELIVERY_ID.fullmatch(value) else None


def read(headers, payload):
    """The delivery as a neutral record, or a string saying why it is nothing to build; `payload()`
    gives its JSON, read only for an event that may build."""
    event = headers.get("X-Gitlab-Event", "")
    if event in ("Push Hook", "Tag Push Hook"):
        return _push(payload())
    if event == "Merge Request Hook":
        return _merge_request(payload())
    return f"{event[:100] or 'unnamed'} events are not built"


def _push(payload):
    ref, after = payload.get("ref"), payload.get("after")
    if shared.deletes(after):
        return Delete(shared.text(ref, 300) or "")
    ref = shared.ref(ref, "Push payload 'ref'")
    # An annotated tag's `after` is the tag object; checkout_sha is the commit it names, the one to
    # build and report on (HookTag.json). A branch's are the same commit.
    checkout = payload.get("checkout_sha")
    commit_hash = (shared.commit(after, "Push payload 'after'") if checkout is None
                   else shared.commit(checkout, "Push payload 'checkout_sha'"))
    # GitLab lists the commits oldest first.
    listed = payload.get("commits") if isinstance(payload.get("commits"), list) else []
    commits = [entry for entry in listed if isinstance(entry, dict)]
    pushed = next((entry for entry in commits if entry.get("id") == commit_hash), commits[-1] if commits else None)
    message, author = shared.message_and_author(pushed)
    return Push(ref=ref, after=commit_hash, before=shared.previous(payload.get("before")), message=message,
                author=author)


def _merge_request(payload):
    attributes = payload.get("object_attributes")
    if not isinstance(attributes, dict):
        raise BadDelivery("Merge request payload has no object_attributes")
    action = attributes.get("action")
    if action in MERGE_REQUEST_ENDS:
        return PullRequestClosed(shared.number(attributes.get("iid"), FIELD.format("iid")))
    if action not in MERGE_REQUEST_BUILDS:
        return f"merge request action {str(action)[:50]!r} builds nothing"
    # GitLab says `oldrev` only when an update brought new commits; a title, label, assignee or
    # milestone changed is an update too.
    if action == "update" and not attributes.get("oldrev"):
        return "a merge request update with no new commit builds nothing"
    last_commit = attributes.get("last_commit") if isinstance(attributes.get("last_commit"), dict) else {}
    source = attributes.get("source") if isinstance(attributes.get("source"), dict) else {}
    source_id = shared.repository_id(attributes.get("source_project_id"))
    return PullRequest(
        number=shared.number(attributes.get("iid"), FIELD.format("iid")),
        head_sha=shared.commit(last_commit.get("id"), FIELD.format("last_commit.id")),
        head_branch=shared.branch(attributes.get("source_branch"), FIELD.format("source_branch")),
        base_branch=shared.branch(attributes.get("target_branch"), FIELD.format("target_branch")),
        head_repo=shared.text(source.get("path_with_namespace"), 200),
        # By the projects' ids, never their names: a name can be taken again.
        fork=source_id is None or source_id != shared.repository_id(attributes.get("target_project_id")),
        title=shared.text(attributes.get("title"), 500) or "", url=shared.text(attributes.get("url"), 500))


def send_status(app, project, build, status, description):
    """Tell GitLab the build's status; ForgeError (or VaultError) when it does not take it."""
    token = unseal(app.config["SECRET_KEY"], project.github_token_sealed, what="the project's GitLab token")
    state = STATES[status]
    repo = quote(project.github_repo, safe="")
    try:
        shared.sent(app, f"{shared.forge_url(project)}/api/v4/projects/{repo}/statuses/{build.commit_hash}",
                    {"PRIVATE-TOKEN": token}, {"state": state, "target_url": shared.build_url(app, build),
                                               "description": description, "name": STATUS_NAME})
    except shared.Refused as refused:
        if refused.status == 400 and "cannot transition" in refused.answer.lower():
            # GitLab refuses to set a status to the state it is in ("Cannot transition status via :run
            # from :running"): it already says what we meant.
            log.info("GitLab already has build %s's status as %s: %s", build.id, state, refused.answer[:200])
            return
        raise


# A user's account on it (see hosting.py).

def _api(forge_url, token):
    return f"{forge_url}/api/v4", {"PRIVATE-TOKEN": token}


def whoami(app, forge_url, token):
    """The username the token is; ForgeError when GitLab refuses it."""
    api, headers = _api(forge_url, token)
    login = hosting.text(hosting.call(app, "GET", f"{api}/user", headers), "username", 255)
    if login is None:
        raise ForgeError("GitLab did not say who the token is")
    return login


def repositories(app, forge_url, token):
    """The projects the token may administer (Maintainer or Owner), by path."""
    api, headers = _api(forge_url, token)
    found = hosting.pages(lambda page: hosting.call(app, "GET", f"{api}/projects", headers, params={
        "membership": "true", "min_access_level": MAINTAINER, "per_page": hosting.PAGE_SIZE, "page": page,
        "order_by": "path", "sort": "asc"}))
    return sorted((repo for repo in map(_project, found) if repo and repo.admin), key=lambda repo: repo.path)


def repository(app, forge_url, token, path):
    api, headers = _api(forge_url, token)
    return _project(hosting.call(app, "GET", f"{api}/projects/{quote(path, safe='')}", headers))


def _hook(url, secret):
    return {"url": url, "token": secret, "push_events": True, "tag_push_events": True, "merge_requests_events": True,
            "enable_ssl_verification": True}


def add_hook(app, forge_url, token, path, url, secret):
    """Add a project webhook sending pushes, tag pushes and merge requests to `url`, with `secret`
    as its secret token; its id."""
    api, headers = _api(forge_url, token)
    return hosting.hook_id_of(hosting.call(app, "POST", f"{api}/projects/{quote(path, safe='')}/hooks", headers,
                                           json=_hook(url, secret)))


def update_hook(app, forge_url, token, path, hook_id, url, secret):
    api, headers = _api(forge_url, token)
    hosting.call(app, "PUT", f"{api}/projects/{quote(path, safe='')}/hooks/{hook_id}", headers,
                 json=_hook(url, secret))


def remove_hook(app, forge_url, token, path, hook_id):
    api, headers = _api(forge_url, token)
    hosting.call(app, "DELETE", f"{api}/projects/{quote(path, safe='')}/hooks/{hook_id}", headers)


def _project(item):
    """A project as GitLab answers one, in words of no forge; None for an answer that is not one."""
    path, clone_url = hosting.path_of(hosting.text(item, "path_with_namespace", 200)), hosting.text(item, "http_url_to_repo")
    if path is None or clone_url is None:
        return None
    permissions = item.get("permissions") if isinstance(item.get("permissions"), dict) else {}
    levels = [access.get("access_level") for access in permissions.values() if isinstance(access, dict)]
    return hosting.Repository(
        path=path, clone_url=clone_url, private=item.get("visibility") != "public",
        default_branch=hosting.text(item, "default_branch", 255) or "main",
        admin=any(isinstance(level, int) and level >= MAINTAINER for level in levels), url=hosting.text(item, "web_url"))
