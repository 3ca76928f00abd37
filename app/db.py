"""Binds the models to SQLite or PostgreSQL, chosen by DATABASE_URL at run time."""
from pathlib import Path

from playhouse.db_url import connect
from playhouse.migrate import SchemaMigrator, migrate

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


def add_missing_columns(database):
    """Add columns that models gained since the tables were made; nothing is dropped or changed."""
    migrator = SchemaMigrator.from_database(database)
    operations = []
    for model in MODELS:
        table = model._meta.table_name
        present = {column.name for column in database.get_columns(table)}
        for field in model._meta.sorted_fields:
            if field.column_name not in present:
                operations.append(migrator.add_column(table, field.column_name, field))
    if operations:
        with database.atomic():
            migrate(*operations)


def init_app(app):
    """Open the configured database, create missing tables, and scope connections to requests."""
    db.initialize(open_database(app.config["DATABASE_URL"]))
    with db.connection_context():
        db.create_tables(MODELS, safe=True)
        add_missing_columns(db.obj)

    @app.before_request
    def _connect():
        db.connect(reuse_if_open=True)

    @app.teardown_request
    def _close(exc):
        if not db.is_closed():
            db.close()
