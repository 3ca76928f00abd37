"""The database a newer Stoker meets: columns it gained are added, and nothing is lost."""

import pytest

from app import create_app
from app.records.models import AppArtifact, AppBuild, AppBundle, Build, BuildLog, Member, Project, User, db
from tests.support import wait_until

pytestmark = pytest.mark.both_databases


def test_columns_added_since_the_tables_were_made_appear_with_their_defaults(config):
    create_app(config)
    owner = User.create(username="old", password_hash="x")
    Project.create(owner=owner, name="from an older Stoker", repo_url="/r", branch="main",
                   build_command="true", image="i", webhook_secret="s")
    for column in ("timeout_seconds", "auto_cancel"):
        db.execute_sql(f"ALTER TABLE project DROP COLUMN {column}")
    db.close()

    create_app(config)  # a newer Stoker starts on the older database
    columns = {c.name for c in db.get_columns("project")}
    assert {"timeout_seconds", "auto_cancel"} <= columns
    project = Project.get(Project.name == "from an older Stoker")
    assert (project.timeout_seconds, project.auto_cancel) == (3600, False)


def test_an_indexed_column_added_since_gets_its_column_first_and_then_its_index(config):
    create_app(config)
    db.execute_sql("DROP INDEX build_status")
    db.execute_sql("ALTER TABLE build DROP COLUMN status")
    db.close()

    create_app(config)  # before, the index was made first, on a column not there yet, and the start failed
    assert "status" in {c.name for c in db.get_columns("build")}
    assert "build_status" in {i.name for i in db.get_indexes("build")}


def test_app_builds_from_before_two_artifacts_keep_theirs_and_new_ones_keep_both(config):
    create_app(config)
    owner = User.create(username="old", password_hash="x")
    bundle = AppBundle.create(owner=owner, bundle_id="com.example.old", platform="android")
    build = AppBuild.create(uid="0" * 36, owner=owner, bundle_record=bundle, platform="android", name="Old",
                            bundle_id="com.example.old", version="1.0.0", url="https://example.com/")
    AppArtifact.create(build=build, kind="apk", file_name="old.apk", content_type="x", sha256="0", data=b"apk")
    # As an older Stoker made the table: one artifact per build, and no kind or size.
    db.execute_sql("DROP INDEX appartifact_build_id_kind")
    db.execute_sql("ALTER TABLE appartifact DROP COLUMN kind")
    db.execute_sql("ALTER TABLE appartifact DROP COLUMN size")
    db.execute_sql("CREATE UNIQUE INDEX appartifact_build_id ON appartifact (build_id)")
    db.close()

    create_app(config)
    old = AppArtifact.get(AppArtifact.build == build)
    assert (old.kind, old.file_name, bytes(old.data)) == (None, "old.apk", b"apk")
    AppArtifact.create(build=build, kind="aab", file_name="old.aab", content_type="x", sha256="1", data=b"aab")
    assert AppArtifact.select().where(AppArtifact.build == build).count() == 2


def test_an_older_database_gains_an_admin_its_oldest_account(config):
    create_app(config)
    for name in ("first", "second"):
        User.create(username=name, password_hash="x")
    db.execute_sql("ALTER TABLE user DROP COLUMN admin" if db.obj.__class__.__name__.endswith("SqliteDatabase")
                   else 'ALTER TABLE "user" DROP COLUMN admin')
    db.close()

    create_app(config)
    assert [(u.username, u.admin) for u in User.select().order_by(User.id)] == [("first", True), ("second", False)]


def test_projects_from_before_members_are_their_owners_to_administer(config):
    create_app(config)
    owners = [User.create(username=name, password_hash="x") for name in ("first", "second")]
    for owner in owners:
        Project.create(owner=owner, name=f"{owner.username}'s", repo_url="/r", branch="main",
                       build_command="true", image="i", webhook_secret="s")
    db.drop_tables([Member])
    db.close()

    create_app(config)
    assert [(m.project.name, m.user.username, m.role) for m in Member.select().order_by(Member.id)] == [
        ("first's", "first", "admin"), ("second's", "second", "admin")]
    db.close()
    create_app(config)  # and only once
    assert Member.select().count() == 2


def test_processes_starting_together_on_an_empty_database_all_start(database_url, tmp_path, docker_client):
    """A Procfile's first start: web and worker processes create the schema at once, and none fails."""
    import concurrent.futures

    from tests.support import start_server, stop_server

    env = {"DATABASE_URL": database_url, "STOKER_DATA_DIR": str(tmp_path / "data")}
    kinds = [("serve", {"STOKER_WORKER_CONCURRENCY": "0"}, True)] * 2 + [("worker", {}, False)] * 2
    with concurrent.futures.ThreadPoolExecutor(len(kinds)) as pool:
        starting = [pool.submit(start_server, command, {**env, **extra}, tmp_path, wait_for_http=http)
                    for command, extra, http in kinds]
    # Each one that started is stopped, even when another failed to.
    servers = [future.result() for future in starting if future.exception() is None]
    try:
        for future in starting:
            future.result()
        wait_until(lambda: all("Stoker" in s.log() for s in servers), timeout=20,
                   what=lambda: "\n".join(s.log() for s in servers))
        for server in servers:
            assert server.process.poll() is None, server.log()
            assert "Error" not in server.log(), server.log()
    finally:
        for server in servers:
            stop_server(server)


def test_the_id_of_a_deleted_newest_row_is_never_given_again(config):
    create_app(config)
    owner = User.create(username="owner", password_hash="x")
    project = Project.create(owner=owner, name="p", repo_url="/r", branch="main", build_command="true", image="i",
                             webhook_secret="s")
    newest = Build.create(project=project, branch="main", commit_hash="a" * 40)
    newest.delete_instance()
    assert Build.create(project=project, branch="main", commit_hash="b" * 40).id == newest.id + 1


# PostgreSQL's sequences never gave an id twice.
@pytest.mark.parametrize("database_kind", ["sqlite"], indirect=True)
def test_an_sqlite_database_from_before_stops_giving_ids_again_and_keeps_every_row(config):
    create_app(config)
    owner = User.create(username="owner", password_hash="x")
    project = Project.create(owner=owner, name="p", repo_url="/r", branch="main", build_command="true", image="i",
                             webhook_secret="s")
    builds = [Build.create(project=project, branch="main", commit_hash=c * 40) for c in "abc"]
    BuildLog.create(build=builds[0], offset=0, length=3, data="one")
    # The build table as Stoker made it before: no AUTOINCREMENT.
    (made,) = db.execute_sql("SELECT sql FROM sqlite_master WHERE name = 'build'").fetchone()
    db.execute_sql("PRAGMA foreign_keys = OFF")
    db.execute_sql(made.replace(" AUTOINCREMENT", "").replace('"build"', '"build_old"', 1))
    db.execute_sql('INSERT INTO "build_old" SELECT * FROM "build"')
    db.execute_sql('DROP TABLE "build"')
    db.execute_sql('ALTER TABLE "build_old" RENAME TO "build"')
    db.execute_sql("PRAGMA foreign_keys = ON")
    builds[2].delete_instance()
    assert Build.create(project=project, branch="main", commit_hash="d" * 40).id == builds[2].id  # given twice, as before
    db.close()

    create_app(config)  # a newer Stoker starts on it
    (made,) = db.execute_sql("SELECT sql FROM sqlite_master WHERE name = 'build'").fetchone()
    assert "AUTOINCREMENT" in made
    assert [b.commit_hash[0] for b in Build.select().order_by(Build.id)] == ["a", "b", "d"]
    assert [piece.data for piece in BuildLog.select()] == ["one"]
    assert "build_status" in {i.name for i in db.get_indexes("build")}
    Build.get(Build.commit_hash == "d" * 40).delete_instance()
    assert Build.create(project=project, branch="main", commit_hash="e" * 40).id == builds[2].id + 1
    assert db.execute_sql("PRAGMA foreign_keys").fetchone() == (1,)
