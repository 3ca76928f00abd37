"""GitHub webhooks: a verified push or pull request the project takes in becomes one build."""
import hashlib
import hmac
import json
import re

from flask import Blueprint, jsonify, request
from peewee import IntegrityError

from pipeline.git import check_branch, check_commit_hash
from pipeline.globs import matches

from .errors import ApiError, parse_json, path_id, request_body
from .jobs import BUILD
from .lifecycle import cancel_superseded, cancel_unfinished, changes
from .models import Build, Event, ForkPolicy, Project, Status

bp = Blueprint("webhooks", __name__, url_prefix="/api/webhooks")

ALL_ZEROS = re.compile(r"0+")
COMMIT = re.compile(r"[0-9a-f]{40}")
DELIVERY_ID = re.compile(r"[A-Za-z0-9-]{1,64}")
SKIP_CI = re.compile(r"\[(skip ci|ci skip)\]", re.IGNORECASE)


def signature_matches(secret, body, header):
    """True when `header` is GitHub's sha256 HMAC of the exact body bytes under `secret`."""
    if not secret or not header or not header.startswith("sha256="):
        return False
    expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected.encode(), header.encode("utf-8", "surrogateescape"))


def read_payload(body):
    """The delivery's JSON object, sent as JSON or as GitHub's form-encoded `payload` field."""
    if request.mimetype == "application/x-www-form-urlencoded":
        body = request.form.get("payload", "")
    return parse_json(body, "Webhook body")


def push_change(payload, project):
    """Return the build fields a push asks for, or a string saying why it builds nothing."""
    ref, after = payload.get("ref"), payload.get("after")
    if payload.get("deleted") is True or (isinstance(after, str) and ALL_ZEROS.fullmatch(after)):
        return "the push deletes a branch or tag"
    if not isinstance(ref, str) or len(ref) > 300:
        raise ApiError(400, "Push payload has no ref")
    if ref.startswith("refs/tags/"):
        if not project.tags:
            return "tag pushes are not built"
        event, name = Event.TAG, ref[len("refs/tags/"):]
    elif ref.startswith("refs/heads/"):
        event, name = Event.PUSH, ref[len("refs/heads/"):]
        if not matches(project.branch_patterns, name):
            return f"push to {ref[:200]}, which the project's branches do not take in"
    else:
        return f"push to {ref[:200]}, neither a branch nor a tag"
    try:
        # Stored, shown and given to the build: a name git itself would refuse is refused here.
        check_branch(name)
    except ValueError as exc:
        raise ApiError(400, f"Push payload 'ref': {exc}") from None
    try:
        commit_hash = check_commit_hash(after)
    except ValueError as exc:
        raise ApiError(400, f"Push payload 'after': {exc}") from None
    head = payload.get("head_commit")
    if not isinstance(head, dict):
        return "the push has no head commit"
    author = head.get("author") if isinstance(head.get("author"), dict) else {}
    message, author_name = head.get("message"), author.get("name")
    if isinstance(message, str) and SKIP_CI.search(message):
        return "the head commit asks to skip CI"
    before = payload.get("before")
    return {
        "commit_hash": commit_hash,
        "commit_message": message if isinstance(message, str) else None,
        "commit_author": author_name[:255] if isinstance(author_name, str) else None,
        "event": event,
        "ref": ref,
        "branch": name,
        # A new branch has none (all zeros): its changes are those since it left the default branch.
        "before_hash": before if isinstance(before, str) and COMMIT.fullmatch(before)
        and not ALL_ZEROS.fullmatch(before) else None,
    }


PULL_REQUEST_BUILDS = ("opened", "synchronize", "reopened", "ready_for_review")


def _branch(value, what):
    try:
        return check_branch(value)
    except ValueError as exc:
        raise ApiError(400, f"Pull request payload '{what}': {exc}") from None


def pull_request_change(payload, project):
    """The build fields a pull request's event asks for, "closed" for one that ended, or a string
    saying why it builds nothing."""
    action = payload.get("action")
    if action == "closed":
        return "closed"
    if action not in PULL_REQUEST_BUILDS:
        return f"pull request action {str(action)[:50]!r} builds nothing"
    if not project.pull_requests:
        return "pull requests are not built"
    pull = payload.get("pull_request")
    if not isinstance(pull, dict) or not isinstance(pull.get("base"), dict) or not isinstance(pull.get("head"), dict):
        raise ApiError(400, "Pull request payload has no pull_request with base and head")
    number = pull.get("number", payload.get("number"))
    if not isinstance(number, int) or isinstance(number, bool) or not 1 <= number <= 9_999_999_999:
        raise ApiError(400, "Pull request payload: number must be a positive whole number")
    base, head = pull["base"], pull["head"]
    base_branch = _branch(base.get("ref"), "base.ref")
    if not matches(project.branch_patterns, base_branch):
        return f"pull request into {base_branch[:200]}, which the project's branches do not take in"
    base_repo = base.get("repo") if isinstance(base.get("repo"), dict) else {}
    head_repo = head.get("repo") if isinstance(head.get("repo"), dict) else None
    head_name = head_repo.get("full_name") if head_repo else None
    fork = head_repo is None or head_name != base_repo.get("full_name")
    if fork and project.fork_pull_requests == ForkPolicy.IGNORE:
        return "pull requests from forks are not built"
    try:
        commit_hash = check_commit_hash(head.get("sha"))
    except ValueError as exc:
        raise ApiError(400, f"Pull request payload 'head.sha': {exc}") from None
    title = pull.get("title") if isinstance(pull.get("title"), str) else ""
    if SKIP_CI.search(title):
        return "the pull request's title asks to skip CI"
    url = pull.get("html_url") if isinstance(pull.get("html_url"), str) else None
    return {
        "commit_hash": commit_hash,
        "event": Event.PULL_REQUEST,
        "ref": f"refs/pull/{number}/head",
        "branch": _branch(head.get("ref"), "head.ref"),
        "fork": fork,
        "pull_request": json.dumps({
            "number": number, "title": title[:500], "url": url and url[:500], "baseBranch": base_branch,
            "headRepo": head_name[:200] if isinstance(head_name, str) else None, "fork": fork,
        }),
        "status": Status.BLOCKED if fork and project.fork_pull_requests == ForkPolicy.APPROVE else Status.QUEUED,
    }


@bp.post("/github/<project_id>")
def github(project_id):
    # 1. The project whose secret must have signed this delivery.
    project = Project.get_or_none(Project.id == path_id(project_id, "projectId", "Project"))
    if project is None:
        raise ApiError(404, "Project not found")
    # 2. The signature covers the raw bytes; nothing in them is read before it is checked.
    body = request_body()
    if not signature_matches(project.webhook_secret, body, request.headers.get("X-Hub-Signature-256")):
        raise ApiError(401, "Missing or invalid X-Hub-Signature-256")
    # 3. Pushes the project's branches (or tags) take in, and pull requests into them, build.
    event = request.headers.get("X-GitHub-Event", "")
    if event == "ping":
        return jsonify(message="Pong")
    if event not in ("push", "pull_request"):
        return jsonify(message=f"Ignored: {event[:100] or 'unnamed'} events are not built")
    payload = read_payload(body)
    change = push_change(payload, project) if event == "push" else pull_request_change(payload, project)
    if change == "closed":
        return _close_pull_request(project, payload)
    if isinstance(change, str):
        return jsonify(message=f"Ignored: {change}")
    # 4. A delivery GitHub sends again is answered with the build it already made.
    delivery = request.headers.get("X-GitHub-Delivery", "")
    delivery = delivery if DELIVERY_ID.fullmatch(delivery) else None
    try:
        with changes() as batch:
            build = batch.queue(BUILD, project=project, delivery_id=delivery, **change)
    except IntegrityError:
        build = Build.get((Build.project == project) & (Build.delivery_id == delivery))
        return jsonify(message="Build already queued for this delivery", build=build.to_json())
    if project.auto_cancel:
        cancel_superseded(build)
    elif build.event == Event.PULL_REQUEST:
        # A pull request's new commit makes its older ones moot: those still waiting never start, so
        # a stream of pushes to one pull request cannot fill the queue ahead of other projects.
        cancel_superseded(build, waiting_only=True)
    return jsonify(message="Build queued", build=build.to_json()), 202


def _close_pull_request(project, payload):
    """Cancel the closed pull request's builds that have not finished; build nothing."""
    pull = payload.get("pull_request") if isinstance(payload.get("pull_request"), dict) else {}
    number = pull.get("number", payload.get("number"))
    if not isinstance(number, int) or isinstance(number, bool) or number < 1:
        raise ApiError(400, "Pull request payload: number must be a positive whole number")
    canceled = cancel_unfinished(project.id, f"refs/pull/{number}/head", reason=f"pull request #{number} was closed")
    return jsonify(message=f"Pull request closed: {len(canceled)} build(s) canceled")
