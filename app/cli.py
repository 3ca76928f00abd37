"""The stoker command: `serve` (web and embedded worker), `worker`, `agent`, `firewall`, `make-image`,
`make-android-image`, `make-image-builder`.

stoker.py has patched the standard library (app/runtime.py) before this
module is imported; workers here are green threads, so a build waiting on
git or Docker never stalls a web request.
"""
import argparse
import logging
import os
import signal
import socket
import threading
import time
from contextlib import ExitStack
from urllib.parse import urlsplit

import socketio
from pythonjsonlogger.json import JsonFormatter

from pipeline import workspaces
from pipeline.backend import BuildError
from pipeline.debian import DEFAULT_MIRROR
from pipeline.imagebuilder import default_image_builder
from pipeline.images import DEFAULT_IMAGE, NoBusybox, cannot_make, find_busybox, is_own, make_busybox_image, registry_of
from pipeline.runner import building

from . import client, config, create_app, datadir, runtime
from .background import caches, hooks, mirrors, retention, schedules, statuses
from .gate import GatedListener
from .live import realtime, wakeups
from .records import db
from .runners import make_runner
from .services import services
from .worker import REMOVE_WHAT_LOST_BUILDS_LEFT, TAKE_BACK_LOST_BUILDS, Worker, worker_name
from .worker.recovery import process_alive

log = logging.getLogger("stoker")


# Green threads for connections: far more than the per-address limit, so one address cannot take them all.
MAX_CONNECTIONS = 4096
# How long a stopping process keeps killing its build containers and waiting
# for their workers to record how the builds ended.
STOP_GRACE_SECONDS = 15
# Every background task a process may run; each says which processes need it (see runtime.Periodic).
BACKGROUND = (TAKE_BACK_LOST_BUILDS, REMOVE_WHAT_LOST_BUILDS_LEFT, statuses.DELIVERY, hooks.DELIVERY, wakeups.RELAY,
              realtime.CLOSE_STALE_SOCKETS, db.CHECKPOINT, schedules.FIRE_SCHEDULES, mirrors.REMOVE_UNUSED_MIRRORS,
              caches.REMOVE_UNUSED_CACHES, retention.REMOVE_ORPHAN_ARTIFACTS)


def run_until_signalled(app, serve_forever=None):
    """Run the workers (and the web server, if given) until SIGTERM or SIGINT, then stop cleanly.

    Stopping kills this process's build containers, and each interrupted build
    is recorded as failed, so a stopped Stoker leaves no container behind and no
    build `running`. The background tasks this process needs run meanwhile.
    """
    stopping = threading.Event()
    workers = [Worker(app, worker_name(i), stopping)
               for i in range(app.config["STOKER_WORKER_CONCURRENCY"])]
    with ExitStack() as held:
        if workers:
            # Builds write their workspaces here: see app/datadir.py.
            held.enter_context(datadir.kept_nosuid(app.config["STOKER_DATA_DIR"]))
            runtime.spawn(say_which_images, app)
            guard_builds(app.config, services(app).engine)
        _run_until_signalled(app, workers, stopping, serve_forever)


def _run_until_signalled(app, workers, stopping, serve_forever):
    roles = (("workers",) if workers else ()) + (("clients",) if serve_forever else ())
    threads = [runtime.spawn(worker.run_forever) for worker in workers]
    threads += runtime.supervise(app, BACKGROUND, stopping, roles=roles)
    server = runtime.spawn(serve_forever) if serve_forever else None

    signalled = []
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda signum, frame: signalled.append(signum))
    # A flag polled by a green thread: a signal handler must not touch the hub itself.
    while not signalled and not (server and server.dead):
        runtime.sleep(0.2)

    log.info("stopping: %d worker(s) to finish", sum(w.busy for w in workers))
    stopping.set()
    services(app).doorbell.ring()
    deadline = time.monotonic() + STOP_GRACE_SECONDS
    while any(w.busy for w in workers) and time.monotonic() < deadline:
        for worker in workers:
            worker.interrupt()
        runtime.sleep(0.25)
    runtime.stop(threads)
    if server:
        server.kill()


def denied_to_builds(config):
    """What a build with a way out must not reach besides this host and the other builds: the
    admin's STOKER_BUILD_DENY, and the addresses of the database, Redis and SMTP servers."""
    hosts = [urlsplit(url).hostname for url in (config["DATABASE_URL"], config["REDIS_URL"], config["STOKER_SMTP_URL"])
             if url and not url.startswith("sqlite")]
    addresses = list(config["STOKER_BUILD_DENY"])
    for host in filter(None, hosts):
        try:
            addresses += sorted({info[4][0] for info in socket.getaddrinfo(host, None, socket.AF_INET)})
        except OSError as exc:
            log.warning("cannot keep builds from %s: its address is not known (%s)", host, exc)
    return addresses


def guard_builds(config, engine):
    """Keep builds with a way out from what they must not reach, before any runs; say so either way."""
    if not config["STOKER_BUILD_EGRESS"]:
        log.info("builds' way out: off (STOKER_BUILD_EGRESS=0): builds on the default network have none")
        return
    denied = denied_to_builds(config)
    try:
        engine.guard(denied)
    except BuildError as exc:
        log.warning("builds' way out: NOT GUARDED: builds can reach this host and its networks (%s); "
                    "run 'stoker firewall' as root, or set STOKER_BUILD_EGRESS=0", exc)
        return
    log.info("builds' way out: on, and kept from this host, other builds, 169.254.0.0/16%s",
             "".join(f", {address}" for address in denied))


def firewall(args):
    """Write the packet filter's rules that keep builds with a way out apart, as `serve` and `worker`
    do at start: for a host where they run without the privilege to."""
    from pipeline.backend import named

    app_config = config.from_env()
    backend = named(app_config["STOKER_BACKEND"], service_subnets=app_config["STOKER_SERVICE_SUBNETS"])
    try:
        backend.guard(denied_to_builds(app_config))
    except BuildError as exc:
        raise SystemExit(f"stoker firewall: {exc}")
    print("builds' way out is guarded")


def say_which_images(app):
    """Say at start, a line for each of Stoker's images, whether this engine has it, and if not
    whether it will be made on first need or cannot be (and why): not first at a user's failed build."""
    engine, config = services(app).engine, app.config
    build_image, android_image = config["STOKER_BUILD_IMAGE"], config["STOKER_ANDROID_IMAGE"]
    image_builder = config["STOKER_IMAGE_BUILDER"]
    try:
        present = {name: engine.has_image(name) for name in (build_image, android_image, image_builder) if name}
    except BuildError as exc:
        log.warning("cannot tell which of Stoker's images the engine has: %s", exc)
        return
    if present[build_image]:
        log.info("build image %s: present", build_image)
    elif not is_own(build_image):
        log.info("build image %s: missing; pulled from %s on the first build that needs it",
                 build_image, registry_of(build_image))
    else:
        try:
            log.info("build image %s: missing; made from %s on the first build that needs it",
                     build_image, find_busybox(config["STOKER_BUSYBOX"]))
        except NoBusybox as exc:
            log.warning("build image %s: %s", build_image, cannot_make(build_image, exc))
    if present[android_image]:
        log.info("Android builder image %s: present", android_image)
    else:
        log.warning("Android builder image %s: missing; Android app builds fail until "
                    "'stoker make-android-image' makes it (as root, from a Debian mirror)", android_image)
    if image_builder is None:
        log.info("image builder: off (STOKER_IMAGE_BUILDER); no step builds images")
    elif present[image_builder]:
        log.info("image builder %s: present", image_builder)
    else:
        log.warning("image builder %s: missing; steps that build images fail until "
                    "'stoker make-image-builder' makes it (as root, from a Debian mirror)", image_builder)


def ends_its_own_input(wsgi_app):
    """Mark requests as ended by the server, as eventlet's wsgi does for chunked bodies.

    eventlet decodes chunked bodies and stops at their end, but does not say so;
    without `wsgi.input_terminated`, Werkzeug reads a body sent without a
    Content-Length as empty, and never holds it to MAX_CONTENT_LENGTH.
    """

    def app(environ, start_response):
        environ["wsgi.input_terminated"] = True
        return wsgi_app(environ, start_response)

    return app


def serve(args):
    app = create_app()
    host, port = app.config["STOKER_HOST"], app.config["PORT"]
    listener = GatedListener(runtime.listen(host, port), app.config["STOKER_CONNECTIONS_PER_ADDRESS"])
    log.info("Stoker is listening on http://%s:%s (database %s, %d workers)",
             host, listener.getsockname()[1], app.config["DATABASE_URL"].split("://")[0],
             app.config["STOKER_WORKER_CONCURRENCY"])
    app.wsgi_app = ends_its_own_input(app.wsgi_app)
    wsgi_app = socketio.WSGIApp(services(app).socketio, app)
    # A connection that sends nothing for STOKER_IDLE_SECONDS is closed (Socket.IO pings every 25 s).
    run_until_signalled(app, lambda: runtime.serve(listener, wsgi_app, max_connections=MAX_CONNECTIONS,
                                                   idle_seconds=app.config["STOKER_IDLE_SECONDS"]))


def worker(args):
    app = create_app(serve_clients=False)
    log.info("Stoker worker running %d builds at a time", app.config["STOKER_WORKER_CONCURRENCY"])
    run_until_signalled(app)


def agent(args):
    """Run builds the server at --server hands this host, holding only the agent's token."""
    from pipeline.backend import named

    from .agent import BuildAgent

    # Out of the environment: no git or ssh process it starts inherits it.
    token = os.environ.pop("STOKER_AGENT_TOKEN", None)
    if not token:
        raise SystemExit("stoker agent: set STOKER_AGENT_TOKEN to the agent's token (an admin makes one with "
                         "POST /api/admin/agents)")
    settings = config.from_env()
    datadir.make_private(settings["STOKER_DATA_DIR"])
    engine = named(settings["STOKER_BACKEND"], service_subnets=settings["STOKER_SERVICE_SUBNETS"])
    build_agent = BuildAgent(args.server, token, settings, engine, make_runner,
                             settings["STOKER_WORKER_CONCURRENCY"])
    log.info("Stoker agent running %d builds at a time for %s", build_agent.concurrency, args.server)
    with datadir.kept_nosuid(settings["STOKER_DATA_DIR"]):
        guard_builds(settings, engine)
        # What an agent that crashed here left: its workspaces, and its containers still running.
        workspaces.sweep_data_dir(settings["STOKER_DATA_DIR"])
        try:
            engine.remove_orphans(socket.gethostname(), process_alive)
        except BuildError as exc:
            log.warning("cannot remove orphaned build containers: %s", exc)
        slots = build_agent.start()
        signalled = []
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda signum, frame: signalled.append(signum))
        while not signalled and not build_agent.stopping.is_set():
            runtime.sleep(0.2)
        build_agent.stop()
        deadline = time.monotonic() + STOP_GRACE_SECONDS
        while build_agent.running and time.monotonic() < deadline:
            build_agent.kill_all()
            runtime.sleep(0.25)
        runtime.stop(slots)
    if not signalled:
        raise SystemExit("stoker agent: stopped, its token refused")


def make_image(args):
    import docker

    try:
        image = make_busybox_image(docker.from_env(), args.name, config.from_env()["STOKER_BUSYBOX"])
    except NoBusybox as exc:
        raise SystemExit(f"stoker make-image: {exc}; install one with 'apt-get install busybox-static', "
                         f"or name one with STOKER_BUSYBOX")
    print(f"made {args.name} ({image.short_id})")


def make_debian_image(args):
    import docker

    from pipeline.imagebuilder import make_image_builder
    from pipeline.mobile.android.builder import make_android_image

    make = {"make-android-image": make_android_image, "make-image-builder": make_image_builder}[args.command]
    try:
        image = make(docker.from_env(), args.name, mirror=args.mirror)
    except RuntimeError as exc:
        raise SystemExit(f"stoker {args.command}: {exc}") from None
    print(f"made {args.name} ({image.short_id})")


def main(argv=None):
    parser = argparse.ArgumentParser(prog="stoker", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("serve", help="run the web server with an embedded worker").set_defaults(run=serve)
    commands.add_parser("worker", help="run a worker alone").set_defaults(run=worker)
    agent_command = commands.add_parser("agent", help="run builds a server hands this host over its agent API "
                                                       "(STOKER_AGENT_TOKEN; no database or server secret)")
    agent_command.add_argument("--server", required=True, help="the server's address, e.g. https://ci.example.com")
    agent_command.set_defaults(run=agent)
    commands.add_parser("firewall", help="keep builds with a way out from this host and its networks "
                                          "(root; serve and worker do it at start when they can)"
                        ).set_defaults(run=firewall)
    image = commands.add_parser("make-image", help="make the default build image from this host's busybox "
                                                   "(ahead of time: the first build that needs it makes it too)")
    image.add_argument("--name", default=DEFAULT_IMAGE)
    image.set_defaults(run=make_image)
    android = commands.add_parser("make-android-image",
                                  help="debootstrap the Android builder image (root; a few minutes)")
    android.add_argument("--name", default=None, help="default: STOKER_ANDROID_IMAGE")
    android.add_argument("--mirror", default=DEFAULT_MIRROR, help="the Debian mirror to debootstrap from")
    android.set_defaults(run=make_debian_image)
    builder = commands.add_parser("make-image-builder",
                                  help="debootstrap the image builder steps build images with (root; a few minutes)")
    builder.add_argument("--name", default=None, help="default: STOKER_IMAGE_BUILDER")
    builder.add_argument("--mirror", default=DEFAULT_MIRROR, help="the Debian mirror to debootstrap from")
    builder.set_defaults(run=make_debian_image)
    client.add_commands(commands)
    args = parser.parse_args(argv)
    if args.run in (serve, worker, agent):
        # Everything Stoker writes (database, secret, mirrors, workspaces) is for its own user alone;
        # not so the images it makes, whose files their containers' users must be able to read.
        os.umask(0o077)
    if getattr(args, "name", "") is None:
        setting = "STOKER_IMAGE_BUILDER" if args.command == "make-image-builder" else "STOKER_ANDROID_IMAGE"
        args.name = config.from_env()[setting] or default_image_builder()
    set_up_logging(os.environ.get("STOKER_LOG_FORMAT", "text").strip().lower())
    args.run(args)


class _OfTheBuild(logging.Filter):
    """Names the build a line is about (`build_id`) where the thread saying it runs one."""

    def filter(self, record):
        build_id = building.get()
        if build_id is not None:
            record.build_id = build_id
        return True


def set_up_logging(shape):
    """Stoker's own log lines on stderr: as text, or (`json`) one JSON object a line, with `time`,
    `level`, `logger`, `message`, the build it is about where there is one, and a traceback's text."""
    handler = logging.StreamHandler()
    if shape == "json":
        handler.setFormatter(JsonFormatter("%(levelname)s %(name)s %(message)s", timestamp="time",
                                           rename_fields={"levelname": "level", "name": "logger"}))
        handler.addFilter(_OfTheBuild())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=logging.INFO, handlers=[handler], force=True)
