"""GET /metrics for Prometheus: the builds waiting, running and kept, and how long the oldest has
waited. Read from the database at each scrape, so every process's builds count whichever process
is scraped; behind a token of its own (STOKER_METRICS_TOKEN), not a user's."""
import functools
import hmac

from flask import Blueprint, Response, current_app, request
from peewee import fn

from ..records.models import AppBuild, AppBuildStatus, Build, Project, Status, User, db, utcnow
from .errors import ApiError

bp = Blueprint("metrics", __name__)


class Records:
    """What the database holds now, as gauges."""

    def collect(self):
        from prometheus_client.core import GaugeMetricFamily

        with db.connection_context():
            builds = dict(Build.select(Build.status, fn.COUNT(Build.id)).group_by(Build.status).tuples())
            oldest = Build.select(Build.started_at).where(Build.status == Status.QUEUED) \
                .order_by(Build.started_at).first()
            app_builds = dict(AppBuild.select(AppBuild.status, fn.COUNT(AppBuild.id))
                              .group_by(AppBuild.status).tuples())
            projects = Project.select().count()
            users = User.select().where(~User.disabled).count()

        def by_status(name, documentation, statuses, counts):
            family = GaugeMetricFamily(name, documentation, labels=["status"])
            for status in statuses:
                family.add_metric([status], counts.get(status, 0))
            return family

        yield by_status("stoker_builds", "CI builds kept, by status", Status.ALL, builds)
        yield GaugeMetricFamily("stoker_build_queue_oldest_seconds",
                                "How long the oldest queued CI build has waited (0: none waits)",
                                value=(utcnow() - oldest.started_at).total_seconds() if oldest else 0)
        yield by_status("stoker_app_builds", "App builds kept, by status", AppBuildStatus.ALL, app_builds)
        yield GaugeMetricFamily("stoker_projects", "Projects", value=projects)
        yield GaugeMetricFamily("stoker_users", "Accounts not disabled", value=users)


@functools.cache
def registry():
    """The collectors, made at the first scrape: a server without metrics never loads
    prometheus_client (2 MB of memory)."""
    from prometheus_client import CollectorRegistry, GCCollector, ProcessCollector

    made = CollectorRegistry()
    made.register(Records())
    # This process's own: CPU, memory, open files, garbage collections.
    ProcessCollector(registry=made)
    GCCollector(registry=made)
    return made


@bp.get("/metrics")
def metrics():
    token = current_app.config["STOKER_METRICS_TOKEN"]
    if not token:
        raise ApiError(404, "Metrics are off; STOKER_METRICS_TOKEN turns them on")
    given = request.headers.get("Authorization", "").encode("utf-8", "surrogateescape")
    if not hmac.compare_digest(given, f"Bearer {token}".encode()):
        raise ApiError(401, "Metrics need the header Authorization: Bearer <STOKER_METRICS_TOKEN>")
    from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

    return Response(generate_latest(registry()), content_type=CONTENT_TYPE_LATEST)
