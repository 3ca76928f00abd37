"""A user's forge accounts: connected with a token of theirs, they list the repositories the user may
administer, and one of those becomes a project in one step (projects.py, `connect`)."""
from flask import Blueprint, current_app, jsonify

from ..forges import FORGES
from ..records import vault
from ..records.models import AuditEntry, Forge, ForgeAccount, db, utcnow
from .callers import current_user, require_login
from .errors import ApiError
from .fields import forge_account, forge_answer, forge_url_field, is_token
from .parsing import json_body

bp = Blueprint("forges", __name__, url_prefix="/api/forges")
bp.before_request(require_login)


def forge_named(forge):
    if forge not in Forge.ALL:
        raise ApiError(404, "No such forge")
    return FORGES[forge]


@bp.get("")
def list_accounts():
    rows = ForgeAccount.select().where(ForgeAccount.user == current_user.id).order_by(ForgeAccount.forge)
    return jsonify(message="Forge accounts fetched", forges=[row.to_json() for row in rows])


@bp.put("/<forge>")
def connect_account(forge):
    """Connect (or connect again) the caller's account on `forge` with a token of theirs, which the
    forge must take; 201 new, 200 replaced. The token is sealed and never shown again."""
    module = forge_named(forge)
    data = json_body()
    token = data.get("token")
    if not is_token(token, 500):
        raise ApiError(400, "token must be 1 to 500 printable ASCII characters")
    if forge == Forge.GITHUB:
        if data.get("url") is not None:
            raise ApiError(400, "url is for a self-hosted forge; GitHub's is the server's STOKER_GITHUB_API_URL")
        url = None
    else:
        url = forge_url_field(data.get("url"), "url")
    login = forge_answer(module.whoami, url, token)
    fields = {"url": url, "login": login, "token_sealed": vault.seal(current_app.config["SECRET_KEY"], token),
              "created_at": utcnow()}
    with db.atomic():
        replaced = ForgeAccount.update(**fields).where(
            (ForgeAccount.user == current_user.id) & (ForgeAccount.forge == forge)).execute()
        if not replaced:
            ForgeAccount.create(user=current_user.id, forge=forge, **fields)
        AuditEntry.note(None, current_user, "forge.connect", f"{forge} as {login}")
    account = ForgeAccount.get((ForgeAccount.user == current_user.id) & (ForgeAccount.forge == forge))
    return jsonify(message=f"Connected to {forge} as {login}", forge=account.to_json()), 200 if replaced else 201


@bp.delete("/<forge>")
def disconnect_account(forge):
    forge_named(forge)
    with db.atomic():
        deleted = ForgeAccount.delete().where(
            (ForgeAccount.user == current_user.id) & (ForgeAccount.forge == forge)).execute()
        if not deleted:
            raise ApiError(404, f"No {forge} account is connected")
        AuditEntry.note(None, current_user, "forge.disconnect", forge)
    return jsonify(message=f"Disconnected from {forge}")


@bp.get("/<forge>/repositories")
def list_repositories(forge):
    """The repositories the caller may administer on `forge`, through their connected account."""
    module = forge_named(forge)
    account, token = forge_account(forge)
    found = forge_answer(module.repositories, account.url, token)
    return jsonify(message="Repositories fetched", repositories=[repository.to_json() for repository in found])
