"""Binds the models to SQLite or PostgreSQL, chosen by DATABASE_URL at run time."""
import logging
import random
import sqlite3
import time
from contextlib import closing
from pathlib import Path

from peewee import OperationalError, PostgresqlDatabase, Value, fn
from playhouse.db_url import connect
from playhouse.migrate import SchemaMigrator, migrate
from playhouse.pool import PooledSqliteDatabase

from ..datadir import make_file_private
from ..runtime import Periodic, off_the_hub
from .models import MODELS, Member, Project, Role, User, db

log = logging.getLogger(__name__)

SQLITE_PRAGMAS = {
    # SQLite's own wait would sleep in C: see PatientSqliteDatabase. First, so that
    # the pragmas after it (and sqlite3.connect's default of 5 s) never wait that way.
    "busy_timeout": 0,
    # WAL lets the web server read while a worker process writes.
    "journal_mode": "wal",
    "foreign_keys": 1,
    "synchronous": "normal",
}
# Per Stoker process: at most this many connections, each closed after five idle minutes;
# a request finding them all in use waits its turn for up to 30 s.
# connect_timeout: a database that does not answer is said to be so (a 503, /readyz) in seconds, not minutes.
POSTGRES_POOL = {"max_connections": 20, "stale_timeout": 300, "timeout": 30, "connect_timeout": 5}
# How long a statement waits its turn for SQLite's write lock before it fails.
SQLITE_WAIT_SECONDS = 15
# Kept open for the life of the process: closing the last connection to a WAL
# database checkpoints it, with an fsync, on the hub (see PatientSqliteDatabase).
SQLITE_POOL = {"max_connections": 32, "stale_timeout": None, "timeout": 30}
# How often the WAL is checkpointed in the background; well before SQLite's own
# checkpoint at 1000 pages, which would run (and fsync) inside some commit.
CHECKPOINT_SECONDS = 1.0


class PatientSqliteDatabase(PooledSqliteDatabase):
    """SQLite that never makes the eventlet hub wait: not for the lock, not for the disk.

    Connections are pooled and never closed. When a process closes its last
    connection to a WAL database, SQLite checkpoints it and fsyncs, inside the
    close; with a connection per request, that happened on most requests, and
    while Docker was busy writing, one fsync could stall every green thread for
    hundreds of milliseconds. Checkpoints run in a real thread instead; see
    `checkpoint`.

    SQLite's busy handler sleeps inside the C library. Under eventlet that stops
    every green thread of the process, including the one holding the lock, so
    a writer could wait its whole timeout for a lock that can only be released
    once it stops waiting. Here a busy BEGIN, statement, COMMIT or connection
    pragma (none of which has done anything when SQLite says busy) is tried
    again after a sleep that lets the rest of the process run.
    """

    def begin(self, lock_type=None):
        return _patiently(super().begin, lock_type)

    def execute_sql(self, sql, params=None):
        return _patiently(super().execute_sql, sql, params)

    def commit(self):
        return _patiently(super().commit)

    def _set_pragmas(self, conn):
        # journal_mode needs the lock too, when a connection opens while another writes.
        return _patiently(super()._set_pragmas, conn)


def _patiently(operation, *args):
    deadline = time.monotonic() + SQLITE_WAIT_SECONDS
    pause = 0.001
    while True:
        try:
            return operation(*args)
        except (OperationalError, sqlite3.OperationalError) as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
        time.sleep(pause * random.uniform(0.5, 1.5))
        pause = min(pause * 2, 0.05)


def checkpoint(app=None):
    """Checkpoint the SQLite database's WAL, on an OS thread so the hub waits for no fsync.

    The checkpoint is PASSIVE: it copies what no reader still needs and never
    waits for a lock.
    """
    path = db.obj.database
    try:
        off_the_hub(_checkpoint, path)
    except sqlite3.Error as exc:
        log.warning("could not checkpoint %s: %s", path, exc)


def _checkpoint(path):
    with closing(sqlite3.connect(path, timeout=0, isolation_level=None)) as conn:
        conn.execute("PRAGMA wal_checkpoint(PASSIVE)")


# Nothing to do on PostgreSQL.
CHECKPOINT = Periodic("checkpointing SQLite", checkpoint, every=CHECKPOINT_SECONDS,
                      applies=lambda app: isinstance(db.obj, PatientSqliteDatabase))


def open_database(url):
    """Return a peewee database for a URL, with the pragmas SQLite needs."""
    if url.startswith("sqlite:///"):
        path = url[len("sqlite:///"):]
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        # IMMEDIATE: a transaction takes the write lock when it begins, so it
        # waits its turn there instead of failing when it first writes.
        # A pooled connection serves one thread at a time, but not always the thread that opened it.
        return PatientSqliteDatabase(path, pragmas=SQLITE_PRAGMAS, lock_type="IMMEDIATE", check_same_thread=False,
                                     **SQLITE_POOL)
    scheme, _, rest = url.partition("://")
    if scheme in ("postgres", "postgresql"):
        # Pooled: a new PostgreSQL connection starts a server process (milliseconds), and
        # every request and every claim would otherwise pay for one.
        return connect(f"postgresql+pool://{rest}", **POSTGRES_POOL)
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


def create_missing_indexes(database):
    """Create the indexes models name that the tables lack. Only those: even CREATE INDEX IF NOT
    EXISTS locks its table against writes first, so on every start it would wait behind any
    transaction holding a row of it, and hold every writer of that table up meanwhile."""
    for model in MODELS:
        present = {index.name for index in database.get_indexes(model._meta.table_name)}
        if any(index._name not in present for index in model._meta.fields_to_index()):
            model._schema.create_indexes(safe=True)


# Unique indexes a model no longer has, by table: they would refuse rows the model now allows.
RETIRED_INDEXES = {
    # One artifact per app build, until an Android build made an App Bundle and an APK.
    "appartifact": ("appartifact_build_id",),
}


def drop_retired_indexes(database):
    for table, names in RETIRED_INDEXES.items():
        present = {index.name for index in database.get_indexes(table)}
        for name in names:
            if name in present:
                database.execute_sql(f'DROP INDEX "{name}"')


# PostgreSQL advisory lock keys, one for each thing that must happen one process at a time.
ADVISORY_LOCKS = {"schema": 0x570CE201, "accounts": 0x570CE202}


def take_turns(name):
    """Inside a transaction: wait until no other transaction that took `name` is still open.

    On PostgreSQL this is an advisory lock the database holds until the
    transaction ends. SQLite needs nothing: its IMMEDIATE transactions already
    take turns.
    """
    if isinstance(db.obj, PostgresqlDatabase):
        db.execute_sql("SELECT pg_advisory_xact_lock(%s)", (ADVISORY_LOCKS[name],))


def create_schema():
    """Create missing tables and columns, and make sure an account can administer the rest.

    One process at a time: several processes starting together on an empty
    database would otherwise each create the same tables, and all but one fail.
    """
    if isinstance(db.obj, PatientSqliteDatabase):
        count_ids_onward()
    with db.connection_context(), db.atomic():
        take_turns("schema")
        # Columns before indexes: an index on a column an older table lacks cannot be made yet.
        existing = set(db.get_tables())
        db.create_tables([model for model in MODELS if model._meta.table_name not in existing])
        add_missing_columns(db.obj)
        drop_retired_indexes(db.obj)
        create_missing_indexes(db.obj)
        # Accounts made before there were admins: the oldest becomes one, as the first account would.
        if not User.select().where(User.admin).exists():
            User.update(admin=True).where(User.id == User.select(fn.MIN(User.id))).execute()
        # Projects made before there were members: their owner becomes their admin.
        if Member._meta.table_name not in existing:
            Member.insert_from(Project.select(Project.id, Project.owner, Value(Role.ADMIN), Project.created_at),
                               [Member.project, Member.user, Member.role, Member.created_at]).execute()
    if isinstance(db.obj, PatientSqliteDatabase):
        # Password hashes and webhook secrets: for Stoker's user alone, whatever the umask was.
        for suffix in ("", "-wal", "-shm"):
            make_file_private(db.obj.database + suffix)


# How peewee made every table's first column.
ID_COLUMN = '("id" INTEGER NOT NULL PRIMARY KEY'


def count_ids_onward():
    """Remake each SQLite table made before ids were AUTOINCREMENT, rows and all, so that no id is
    ever given twice from now on.

    SQLite cannot add AUTOINCREMENT to a table: the table is made anew under another name, filled,
    and takes the old one's place (its indexes are made again after). Foreign keys are off meanwhile,
    or dropping the old table would delete every row that refers to it.
    """
    with db.connection_context():
        db.execute_sql("PRAGMA foreign_keys = OFF")
        try:
            with db.atomic():
                made = dict(db.execute_sql("SELECT name, sql FROM sqlite_master WHERE type = 'table'").fetchall())
                for model in MODELS:
                    table = model._meta.table_name
                    if table not in made or "AUTOINCREMENT" in made[table]:
                        continue
                    columns = made[table][made[table].index("("):]
                    if not columns.startswith(ID_COLUMN):
                        raise RuntimeError(f"cannot make the ids of table {table} AUTOINCREMENT: "
                                           f"its id is not the column Stoker made")
                    db.execute_sql(f'CREATE TABLE "{table}__anew" '
                                   + columns.replace(ID_COLUMN, ID_COLUMN + " AUTOINCREMENT", 1))
                    db.execute_sql(f'INSERT INTO "{table}__anew" SELECT * FROM "{table}"')
                    db.execute_sql(f'DROP TABLE "{table}"')
                    db.execute_sql(f'ALTER TABLE "{table}__anew" RENAME TO "{table}"')
        finally:
            db.execute_sql("PRAGMA foreign_keys = ON")


def init_app(app):
    """Open the configured database, create missing tables, and scope connections to requests."""
    db.initialize(open_database(app.config["DATABASE_URL"]))
    create_schema()

    @app.before_request
    def _connect():
        try:
            db.connect(reuse_if_open=True)
        except OperationalError:
            # Said where the database is first asked (a 503), or not at all (/healthz, /readyz's own answer).
            pass

    @app.teardown_request
    def _close(exc):
        if not db.is_closed():
            db.close()
