"""GitHub webhooks: a verified push to a project's branch becomes one queued build."""
import hashlib
import hmac
import re

from flask import Blueprint, jsonify, request
from peewee import IntegrityError

from pipeline.git import check_commit_hash

from .errors import ApiError, parse_json, path_id, request_body
from .jobs import BUILD
from .lifecycle import cancel_superseded, changes
from .models import Build, Project

bp = Blueprint("webhooks", __name__, url_prefix="/api/webhooks")

ALL_ZEROS = re.compile(r"0+")
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


def push_change(payload, branch):
    """Return the build fields a push asks for, or a string saying why it builds nothing."""
    ref, after = payload.get("ref"), payload.get("after")
    if payload.get("deleted") is True or (isinstance(after, str) and ALL_ZEROS.fullmatch(after)):
        return "the push deletes a branch or tag"
    if not isinstance(ref, str):
        raise ApiError(400, "Push payload has no ref")
    if ref.startswith("refs/tags/"):
        return "tag pushes are not built"
    if ref != f"refs/heads/{branch}":
        return f"push to {ref[:200]}, not to the project's branch {branch}"
    try:
        commit_hash = check_commit_hash(after)
    except ValueError as exc:
        raise ApiError(400, f"Push payload 'after': {exc}") from None
    head = payload.get("head_commit")
    if not isinstance(head, dict):
        return "the push has no head commit"
    author = head.get("author") if isinstance(head.get("author"), dict) else {}
    message, name = head.get("message"), author.get("name")
    if isinstance(message, str) and SKIP_CI.search(message):
        return "the head commit asks to skip CI"
    return {
        "commit_hash": commit_hash,
        "commit_message": message if isinstance(message, str) else None,
        "commit_author": name[:255] if isinstance(name, str) else None,
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
    # 3. Only a push to the project's branch builds.
    event = request.headers.get("X-GitHub-Event", "")
    if event == "ping":
        return jsonify(message="Pong")
    if event != "push":
        return jsonify(message=f"Ignored: {event[:100] or 'unnamed'} events are not built")
    change = push_change(read_payload(body), project.branch)
    if isinstance(change, str):
        return jsonify(message=f"Ignored: {change}")
    # 4. A delivery GitHub sends again is answered with the build it already made.
    delivery = request.headers.get("X-GitHub-Delivery", "")
    delivery = delivery if DELIVERY_ID.fullmatch(delivery) else None
    try:
        with changes() as batch:
            build = batch.queue(BUILD, project=project, branch=project.branch, delivery_id=delivery, **change)
    except IntegrityError:
        build = Build.get((Build.project == project) & (Build.delivery_id == delivery))
        return jsonify(message="Build already queued for this delivery", build=build.to_json())
    if project.auto_cancel:
        cancel_superseded(build)
    return jsonify(message="Build queued", build=build.to_json()), 202
