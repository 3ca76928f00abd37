"""Who calls the agent API (app/api/agent.py, agent_git.py): an agent, by its token, and the build it
holds under a lease."""
from datetime import timedelta

from flask import g, request

from ..records.models import Agent, Build, Status, utcnow
from .errors import ApiError

SEEN_EVERY = timedelta(seconds=10)
# A canceled build's last lines (the agent's "Canceled", its steps' ends) are taken this long.
CANCELED_GRACE = timedelta(seconds=30)


def an_agent():
    """Every route needs an agent's token; nothing else opens them, and an agent's token opens nothing else."""
    if request.method == "OPTIONS":
        return
    header = request.headers.get("Authorization", "")
    agent = Agent.of_token(header[len("Bearer "):].strip()) if header.startswith("Bearer ") else None
    if agent is None:
        raise ApiError(401, "Invalid or revoked agent token")
    # What it last did says it is live (see queue_reason); written at most every few seconds.
    if agent.last_seen_at is None or utcnow() - agent.last_seen_at > SEEN_EVERY:
        Agent.update(last_seen_at=utcnow()).where(Agent.id == agent.id).execute()
    g.agent = agent


def held(lease, *statuses):
    """The build this agent holds under `lease`, in one of `statuses` (by default running, or canceled
    within CANCELED_GRACE, while its last lines arrive); 409 if it holds it no longer."""
    if not lease.startswith(g.agent.lease_prefix()) or len(lease) > 128:
        raise ApiError(404, "No such lease")
    build = Build.get_or_none((Build.worker_id == lease) & Build.status.in_(statuses or (Status.RUNNING, Status.CANCELED)))
    if build is not None and build.status == Status.CANCELED and not statuses and (
            build.finished_at is None or utcnow() - build.finished_at > CANCELED_GRACE):
        build = None
    if build is None:
        raise ApiError(409, "This lease is no longer held: the build was taken over, finished or deleted")
    return build
