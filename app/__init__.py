"""Stoker's web side and its workers, by room: api/ (HTTP), records/ (the records and what
moves them), forges/ (GitHub), live/ (Socket.IO, wake-ups), background/ (periodic work), worker/
(running jobs), and the process itself here: factory, cli, config, runtime, datadir, gate, services.

Nothing is imported here at the top: `app.runtime` must be importable, to
patch the standard library for eventlet, before Flask, peewee and the docker
SDK are (see stoker.py).
"""


def create_app(test_config=None, *, serve_clients=True):
    """Build the Flask app; `serve_clients=False` is for a worker process, which only emits."""
    from .factory import create_app as build

    return build(test_config, serve_clients=serve_clients)
