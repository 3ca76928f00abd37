"""Administering build agents: each made with a token of its own (shown once, kept as a hash), seen
with what it runs, paused, or revoked at once."""
import json

from flask import Blueprint, current_app, jsonify

from ..records.jobs import BUILD
from ..records.lifecycle import move
from ..records.logs import append_note
from ..records.models import Agent, AuditEntry, Status, db
from ..services import services
from .callers import current_user, require_admin
from .errors import ApiError
from .fields import labels_field
from .parsing import flag, json_body, path_id

bp = Blueprint("agents", __name__, url_prefix="/api/admin/agents")
bp.before_request(require_admin)

def running_builds(agent):
    return [build_id for build_id, _ in agent.running().tuples()]


def _agent(agent_id):
    agent = Agent.get_or_none(Agent.id == path_id(agent_id, "agentId", "Agent"))
    if agent is None:
        raise ApiError(404, "Agent not found")
    return agent


@bp.post("")
def create_agent():
    """A new agent and its token, shown this once."""
    data = json_body()
    name = data.get("name")
    if not isinstance(name, str) or not 1 <= len(name.strip()) <= 100 or not name.isprintable():
        raise ApiError(400, "name must be 1 to 100 printable characters")
    labels = labels_field(data, "labels")
    token = Agent.new_token()
    with db.atomic():
        if Agent.select().where(Agent.name == name.strip()).exists():
            raise ApiError(409, "An agent of that name exists")
        agent = Agent.create(name=name.strip(), labels=json.dumps(labels), token_hash=Agent.hash_of(token))
        AuditEntry.note(None, current_user, "agent.create", agent.name)
    return jsonify(message="Agent created; its token is shown this once", agent=agent.to_json(), token=token), 201


@bp.get("")
def list_agents():
    return jsonify(message="Agents fetched",
                   agents=[agent.to_json(running_builds(agent)) for agent in Agent.select().order_by(Agent.id)])


@bp.patch("/<agent_id>")
def update_agent(agent_id):
    """Pause an agent (it finishes what it runs and takes nothing new), or change its labels."""
    data = json_body()
    agent = _agent(agent_id)
    unknown = sorted(set(data) - {"paused", "labels"})
    if unknown:
        raise ApiError(400, f"Only paused and labels can be changed; not {', '.join(unknown)[:200]}")
    changes = {}
    if "paused" in data:
        changes["paused"] = flag(data, "paused")
    if "labels" in data:
        changes["labels"] = json.dumps(labels_field(data, "labels"))
    if changes:
        with db.atomic():
            Agent.update(**changes).where(Agent.id == agent.id).execute()
            AuditEntry.note(None, current_user, "agent.update", agent.name)
    agent = Agent.get_by_id(agent.id)
    return jsonify(message="Agent updated", agent=agent.to_json(running_builds(agent)))


@bp.delete("/<agent_id>")
def revoke_agent(agent_id):
    """Revoke an agent at once: its token opens nothing from now on, and the builds it ran are
    queued again, for another to run."""
    agent = _agent(agent_id)
    with db.atomic():
        running = list(agent.running().tuples())
        agent.delete_instance()
        AuditEntry.note(None, current_user, "agent.revoke", agent.name)
    for build_id, lease in running:
        build = move(BUILD, build_id, Status.QUEUED, expect=Status.RUNNING, owner=lease, worker_id=None,
                     lease_expires_at=None)
        if build is not None:
            append_note(build, "The agent running this build was revoked; it is queued again")
    # Its requests for work held now look again, and end.
    services(current_app).wake_workers(current_app)
    return jsonify(message=f"Agent revoked; {len(running)} of its builds queued again")
