"""Health, for load balancers and orchestrators: `/healthz` (the process answers) and `/readyz` (what it
needs answers too: the database, Redis when configured, the engine when it runs builds).

Public and quick: each part is asked with a short deadline, and a part that fails is named, never
described (its address and error go to the log, not to whoever asks).
"""
import logging

import redis
from flask import Blueprint, current_app, jsonify
from peewee import InterfaceError, OperationalError

from ..records.models import db
from ..services import services

bp = Blueprint("health", __name__)
log = logging.getLogger(__name__)

# How long Redis may take to answer a ping before it is counted as not answering.
REDIS_SECONDS = 1.0


@bp.get("/healthz")
def alive():
    return jsonify(status="ok")


@bp.get("/readyz")
def ready():
    checks = {"database": _database()}
    if current_app.config["REDIS_URL"]:
        checks["redis"] = _redis()
    engine = services(current_app).engine
    if engine is not None:
        checks["engine"] = "ok" if engine.answering() else "not answering"
    failing = [part for part, said in checks.items() if said != "ok"]
    if failing:
        return jsonify(message=f"Not ready: {', '.join(failing)} not answering", status="not ready",
                       checks=checks), 503
    return jsonify(status="ready", checks=checks)


def _database():
    # A pooled connection may have been cut (the database restarted): one fresh try before a no.
    for attempt in range(2):
        try:
            db.execute_sql("SELECT 1")
            return "ok"
        except (OperationalError, InterfaceError) as exc:
            if attempt:
                log.warning("readiness: the database does not answer: %s", exc)
            if not db.is_closed():
                db.close()
    return "not answering"


def _redis():
    held = services(current_app)
    if held.health_redis is None:
        held.health_redis = redis.Redis.from_url(current_app.config["REDIS_URL"], socket_timeout=REDIS_SECONDS,
                                                 socket_connect_timeout=REDIS_SECONDS)
    try:
        held.health_redis.ping()
        return "ok"
    except redis.RedisError as exc:
        log.warning("readiness: Redis does not answer: %s", exc)
        return "not answering"
