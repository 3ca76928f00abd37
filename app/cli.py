"""The stoker command: `serve` (web and embedded worker), `worker`, `make-image`.

stoker.py has patched the standard library for eventlet before this module
is imported; workers here are green threads, so a build waiting on git or
Docker never stalls a web request.
"""
import argparse
import logging
import threading

import eventlet
import eventlet.wsgi
import socketio

from . import create_app

log = logging.getLogger("stoker")


def start_workers(app, count):
    """Start `count` workers as green threads; return the event that stops them."""
    from pipeline.worker import Worker, worker_name

    stopping = threading.Event()
    for index in range(count):
        eventlet.spawn(Worker(app, worker_name(index)).run_forever, stopping)
    return stopping


def serve(args):
    app = create_app()
    start_workers(app, app.config["STOKER_WORKER_CONCURRENCY"])
    host, port = app.config["STOKER_HOST"], app.config["PORT"]
    listener = eventlet.listen((host, port))
    log.info("Stoker is listening on http://%s:%s (database %s)",
             host, listener.getsockname()[1], app.config["DATABASE_URL"].split("://")[0])
    eventlet.wsgi.server(listener, socketio.WSGIApp(app.extensions["socketio"], app))


def worker(args):
    app = create_app(serve_clients=False)
    count = app.config["STOKER_WORKER_CONCURRENCY"]
    start_workers(app, count)
    log.info("Stoker worker running %d builds at a time", count)
    threading.Event().wait()


def make_image(args):
    import docker

    from pipeline.images import make_busybox_image

    image = make_busybox_image(docker.from_env(), args.name)
    print(f"made {args.name} ({image.short_id})")


def main(argv=None):
    parser = argparse.ArgumentParser(prog="stoker", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("serve", help="run the web server with an embedded worker").set_defaults(run=serve)
    commands.add_parser("worker", help="run a worker alone").set_defaults(run=worker)
    image = commands.add_parser("make-image", help="import a busybox build image from this host")
    image.add_argument("--name", default="stoker-busybox:latest")
    image.set_defaults(run=make_image)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    args.run(args)
