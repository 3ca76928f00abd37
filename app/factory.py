"""The Flask app, put together: configuration, database, tokens, events and every blueprint."""
from flask import Flask
from flask_jwt_extended import JWTManager

from . import config, datadir
from .api import (
    admin,
    agent,
    agent_git,
    agents,
    app_builds,
    artifacts,
    auth,
    builds,
    bundles,
    callers,
    dashboard,
    downloads,
    errors,
    forges,
    health,
    hooks,
    lint,
    members,
    metrics,
    openapi,
    projects,
    registries,
    schedules,
    secrets,
    signin,
    throttle,
    webhooks,
)
from .live import realtime, wakeups
from .records import db
from .services import Services


def create_app(test_config=None, *, serve_clients=True):
    """Build the Flask app; `serve_clients=False` is for a worker process, which only emits."""
    app = Flask(__package__)
    app.config.from_mapping(config.from_env())
    if test_config:
        app.config.update(test_config)
    datadir.make_private(app.config["STOKER_DATA_DIR"])
    if not app.config["SECRET_KEY"]:
        app.config["SECRET_KEY"] = config.persistent_secret(app.config["STOKER_DATA_DIR"])
    app.config["JWT_SECRET_KEY"] = app.config["JWT_SECRET_KEY"] or app.config["SECRET_KEY"]
    app.json.sort_keys = False

    errors.init_app(app)
    db.init_app(app)
    jwt = JWTManager(app)
    errors.init_jwt(jwt)
    jwt.user_lookup_loader(callers.load_user)
    jwt.token_in_blocklist_loader(callers.is_revoked)
    app.extensions["stoker"] = Services(announce=realtime.emit_to_users, wake_workers=wakeups.wake_workers)
    throttle.init_app(app)
    realtime.init_app(app, serve_clients=serve_clients)
    wakeups.init_app(app)

    for blueprint in (auth.bp, signin.bp, admin.bp, agents.bp, agent.bp, agent_git.bp, projects.bp, forges.bp, secrets.bp, members.bp, registries.bp, hooks.bp, lint.bp, schedules.bp, builds.bp, webhooks.bp, dashboard.bp, openapi.bp,
                      app_builds.bp, bundles.bp, artifacts.bp, downloads.bp, metrics.bp, health.bp):
        app.register_blueprint(blueprint)
    return app
