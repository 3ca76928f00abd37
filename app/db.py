"""Binds the models to SQLite or PostgreSQL, chosen by DATABASE_URL at run time."""
from pathlib import Path

from playhouse.db_url import connect

from .models import MODELS, db

SQLITE_PRAGMAS = {
    # WAL lets the web server read while a worker process writes.
    "journal_mode": "wal",
    "busy_timeout": 5000,
    "foreign_keys": 1,
    "synchronous": "normal",
}


def open_database(url):
    """Return a peewee database for a URL, with the pragmas SQLite needs."""
    if url.startswith("sqlite:///"):
        Path(url[len("sqlite:///"):]).parent.mkdir(parents=True, exist_ok=True)
        # IMMEDIATE: a transaction takes the write lock when it begins, so it
        # waits its turn (busy_timeout) instead of failing when it first writes.
        return connect(url, pragmas=SQLITE_PRAGMAS, lock_type="IMMEDIATE")
    return connect(url)


def init_app(app):
    """Open the configured database, create missing tables, and scope connections to requests."""
    db.initialize(open_database(app.config["DATABASE_URL"]))
    with db.connection_context():
        db.create_tables(MODELS, safe=True)

    @app.before_request
    def _connect():
        db.connect(reuse_if_open=True)

    @app.teardown_request
    def _close(exc):
        if not db.is_closed():
            db.close()
