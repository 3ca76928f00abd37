"""The stoker command: `serve` (web and embedded worker), `worker`, `make-image`, `make-android-image`.

stoker.py has patched the standard library for eventlet before this module
is imported; workers here are green threads, so a build waiting on git or
Docker never stalls a web request.
"""
import argparse
import logging
import os
import signal
import threading
import time

import eventlet
import eventlet.tpool
import eventlet.wsgi
import socketio

from pipeline.android.builder import DEFAULT_MIRROR

from . import config, create_app, datadir, db, github_status, realtime, wakeups
from .gate import GatedListener
from .worker import Worker, look_after_lost_builds, worker_name

log = logging.getLogger("stoker")


# Green threads for connections: far more than the per-address limit, so one address cannot take them all.
MAX_CONNECTIONS = 4096
# How long a stopping process keeps killing its build containers and waiting
# for their workers to record how the builds ended.
STOP_GRACE_SECONDS = 15


def run_until_signalled(app, serve_forever=None, watchers=()):
    """Run the workers (and the web server, if given) until SIGTERM or SIGINT, then stop cleanly.

    Stopping kills this process's build containers, and each interrupted build
    is recorded as failed, so a stopped Stoker leaves no container behind and no
    build `running`. Each of `watchers` runs as `watcher(app, stopping)` meanwhile.
    """
    stopping = threading.Event()
    workers = [Worker(app, worker_name(i), stopping)
               for i in range(app.config["STOKER_WORKER_CONCURRENCY"])]
    if workers:
        # Builds write their workspaces here: see app/datadir.py.
        datadir.mount_nosuid(app.config["STOKER_DATA_DIR"])
    threads = [eventlet.spawn(worker.run_forever) for worker in workers]
    if workers:
        threads.append(eventlet.spawn(look_after_lost_builds, app, stopping))
        threads.append(eventlet.spawn(github_status.deliver_forever, app, stopping))
        threads.append(eventlet.spawn(wakeups.relay_forever, app, stopping))
    threads += [eventlet.spawn(watcher, app, stopping) for watcher in watchers]
    threads.append(eventlet.spawn(db.checkpoint_forever, stopping, eventlet.tpool.execute))
    if workers:
        eventlet.spawn(say_if_the_android_image_is_missing, app)
    server = eventlet.spawn(serve_forever) if serve_forever else None

    signalled = []
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda signum, frame: signalled.append(signum))
    # A flag polled by a green thread: a signal handler must not touch the hub itself.
    while not signalled and not (server and server.dead):
        eventlet.sleep(0.2)

    log.info("stopping: %d worker(s) to finish", sum(w.busy for w in workers))
    stopping.set()
    app.extensions["stoker.doorbell"].ring()
    deadline = time.monotonic() + STOP_GRACE_SECONDS
    while any(w.busy for w in workers) and time.monotonic() < deadline:
        for worker in workers:
            worker.interrupt()
        eventlet.sleep(0.25)
    for thread in threads:
        # kill() only starts the unwinding; wait() lets each finally block (which
        # removes a container) finish before the process exits.
        thread.kill()
        try:
            thread.wait()
        except BaseException:
            pass
    if server:
        server.kill()


def say_if_the_android_image_is_missing(app):
    """Warn at start, not first at a user's failed app build, when this engine lacks the builder image."""
    import docker

    name = app.config["STOKER_ANDROID_IMAGE"]
    try:
        docker.from_env().images.get(name)
    except docker.errors.ImageNotFound:
        log.warning("the Android builder image %s is missing: Android app builds will fail until "
                    "'stoker make-android-image' makes it", name)
    except docker.errors.DockerException as exc:
        log.warning("cannot check for the Android builder image %s: %s", name, exc)


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
    listener = GatedListener(eventlet.listen((host, port)), app.config["STOKER_CONNECTIONS_PER_ADDRESS"])
    log.info("Stoker is listening on http://%s:%s (database %s, %d workers)",
             host, listener.getsockname()[1], app.config["DATABASE_URL"].split("://")[0],
             app.config["STOKER_WORKER_CONCURRENCY"])
    app.wsgi_app = ends_its_own_input(app.wsgi_app)
    # Password hashing takes ~100 ms of CPU; on the hub it would stall every other request.
    app.extensions["stoker.offload"] = eventlet.tpool.execute
    wsgi_app = socketio.WSGIApp(app.extensions["socketio"], app)
    # A connection that sends nothing for STOKER_IDLE_SECONDS is closed (Socket.IO pings every 25 s).
    run_until_signalled(app, lambda: eventlet.wsgi.server(listener, wsgi_app, max_size=MAX_CONNECTIONS,
                                                          socket_timeout=app.config["STOKER_IDLE_SECONDS"]),
                        watchers=[realtime.close_stale_sockets_forever])


def worker(args):
    app = create_app(serve_clients=False)
    log.info("Stoker worker running %d builds at a time", app.config["STOKER_WORKER_CONCURRENCY"])
    run_until_signalled(app)


def make_image(args):
    import docker

    from pipeline.images import make_busybox_image

    image = make_busybox_image(docker.from_env(), args.name)
    print(f"made {args.name} ({image.short_id})")


def make_android_image(args):
    import docker

    from pipeline.android.builder import make_android_image

    image = make_android_image(docker.from_env(), args.name, mirror=args.mirror)
    print(f"made {args.name} ({image.short_id})")


def main(argv=None):
    parser = argparse.ArgumentParser(prog="stoker", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("serve", help="run the web server with an embedded worker").set_defaults(run=serve)
    commands.add_parser("worker", help="run a worker alone").set_defaults(run=worker)
    image = commands.add_parser("make-image", help="import a busybox build image from this host")
    image.add_argument("--name", default="stoker-busybox:latest")
    image.set_defaults(run=make_image)
    android = commands.add_parser("make-android-image",
                                  help="debootstrap the Android builder image (root; a few minutes)")
    android.add_argument("--name", default=None, help="default: STOKER_ANDROID_IMAGE")
    android.add_argument("--mirror", default=DEFAULT_MIRROR, help="the Debian mirror to debootstrap from")
    android.set_defaults(run=make_android_image)
    args = parser.parse_args(argv)
    # Everything Stoker writes (database, secret, mirrors, workspaces) is for its own user alone.
    os.umask(0o077)
    if getattr(args, "name", "") is None:
        args.name = config.from_env()["STOKER_ANDROID_IMAGE"]
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    args.run(args)
