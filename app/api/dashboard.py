"""The dashboard: the page people watch builds on (with the words it uses), the libraries it loads, and
status badges."""
from pathlib import Path

import anybadge
from flask import Blueprint, Response, current_app, render_template, send_file

from ..records.models import Build, Event, Project, Status
from ..records.words import by_kind
from .errors import ApiError
from .parsing import path_id

bp = Blueprint("dashboard", __name__)

# The browser libraries the page imports, from the packages `npm ci` installs (package.json).
VENDOR_FILES = {
    "socket.io.esm.min.js": "socket.io-client/dist/socket.io.esm.min.js",
    "ansi_up.js": "ansi_up/ansi_up.js",
}

CONTENT_SECURITY_POLICY = "; ".join([
    "default-src 'self'",
    # Build logs are hostile input: no script runs unless it is one of Stoker's own files.
    "script-src 'self'",
    # ansi_up colours log text with style attributes.
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data:",
    "connect-src 'self'",
    "frame-ancestors 'none'",
    "base-uri 'none'",
    "form-action 'self'",
])

BADGE_COLOURS = {
    Status.QUEUED: "#9a6700",
    Status.RUNNING: "#0969da",
    Status.PASSED: "#1a7f37",
    Status.FAILED: "#cf222e",
    Status.CANCELED: "#6e7781",
    Status.BLOCKED: "#9a6700",
    Status.DECLINED: "#6e7781",
    Status.SKIPPED: "#6e7781",
}


@bp.after_request
def _harden(response):
    response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


# One page for every address the dashboard shows; the script draws what the address names,
# so links to builds (GitHub's "Details", for one) open straight on them. The page carries the
# statuses, events and roles as app/records/words.py spells them, so the script spells none itself.
@bp.get("/")
@bp.get("/projects/new")
@bp.get("/projects/<int:project_id>")
@bp.get("/builds/<int:build_id>")
@bp.get("/apps")
@bp.get("/tokens")
@bp.get("/admin")
def page(**_ids):
    return render_template("dashboard.html", words=by_kind())


@bp.get("/vendor/<name>")
def vendor(name):
    relative = VENDOR_FILES.get(name)
    if relative is None:
        raise ApiError(404, "No such file")
    path = Path(current_app.config["STOKER_NODE_MODULES"]) / relative
    if not path.is_file():
        raise ApiError(503, f"{name} is not installed: run `npm ci` where Stoker is checked out")
    return send_file(path, mimetype="text/javascript", max_age=3600)


@bp.get("/badge/<project_id>.svg")
def badge(project_id):
    """The status of the latest build of a public project's branch, as an SVG for a README."""
    project = Project.get_or_none(Project.id == path_id(project_id, "projectId", "Badge"))
    if project is None or not project.public:
        raise ApiError(404, "Badge not found")
    latest = (project.builds.where((Build.branch == project.branch) & (Build.event == Event.PUSH))
              .order_by(Build.id.desc()).first())
    status = latest.status if latest else "no builds"
    badge = anybadge.Badge(label="build", value=status, default_color=BADGE_COLOURS.get(status, "#6e7781"))
    return Response(badge.badge_svg_text, mimetype="image/svg+xml", headers={
        # README hosts (GitHub's camo among them) would otherwise show a stale status.
        "Cache-Control": "no-cache, max-age=0",
        "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'",
    })
