"""The database a newer Stoker meets: columns it gained are added, and nothing is lost."""
from app import create_app
from app.models import Project, User, db


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
