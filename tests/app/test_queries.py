"""However many builds pile up, the dashboard's first call stays small and every query finds
its rows through an index."""
import logging
import re

from app.api.projects import LISTED_BUILDS
from app.records import lifecycle
from app.records.jobs import APP_BUILD, BUILD
from app.records.models import Build, db
from tests.support import create_project, delivery, push_payload

# Tables that grow with every push; a full scan of one is a request that slows as Stoker ages.
GROWING = {"build", "buildlog", "buildstep", "steplog", "appbuild", "githubstatus", "appartifact", "auditentry"}


class Statements(logging.Handler):
    """Every SQL statement peewee runs while attached."""

    def __init__(self):
        super().__init__(logging.DEBUG)
        self.seen = []

    def emit(self, record):
        if isinstance(record.msg, tuple):
            self.seen.append(record.msg)


def full_scans(statements):
    """The (table, statement) pairs where a statement reads a growing table from end to end."""
    scans = set()
    for sql, params in statements:
        if not sql.lstrip().upper().startswith(("SELECT", "UPDATE", "DELETE", "WITH")):
            continue
        # The plan names a table by its alias where it has one, as peewee's "t1" for "build".
        tables = {alias: table for table, alias in re.findall(r'"?(\w+)"? AS "?(\w+)"?', sql)}
        for row in db.execute_sql(f"EXPLAIN QUERY PLAN {sql}", params).fetchall():
            # A MIN() or MAX() reading every row is planned as a SEARCH with no index.
            found = re.match(r"(?:SCAN (\w+)(?: AS \w+)?|SEARCH (\w+))$", row[-1])
            name = found and (found.group(1) or found.group(2))
            if found and tables.get(name, name) in GROWING:
                scans.add((tables.get(name, name), sql))
    return scans


def test_the_project_list_carries_the_newest_builds_only(client, accounts, local_repo):
    headers = accounts.headers()
    created = create_project(client, accounts.token(), local_repo, None, name="busy")
    with db.atomic():
        Build.insert_many([{"project": created["project"]["id"], "commit_hash": "a" * 40, "branch": "main"}
                           for _ in range(2 * LISTED_BUILDS)]).execute()
    listed = client.get("/api/project/projects", headers=headers).get_json()["projects"][0]
    newest = Build.select(Build.id).order_by(Build.id.desc()).limit(LISTED_BUILDS)
    assert [b["id"] for b in listed["builds"]] == [b.id for b in newest]
    assert listed["latestBuild"]["id"] == newest[0].id


def test_every_query_a_request_or_a_claim_makes_uses_an_index(app, client, accounts, local_repo):
    headers = accounts.headers()
    created = create_project(client, accounts.token(), local_repo, None, name="busy")
    project_id, secret = created["project"]["id"], created["project"]["webhookSecret"]
    statements = Statements()
    logger = logging.getLogger("peewee")
    logger.addHandler(statements)
    old_level = logger.level
    logger.setLevel(logging.DEBUG)
    try:
        body, signed = delivery(secret, push_payload(local_repo.repo.head.commit.hexsha))
        assert client.post(f"/api/webhooks/github/{project_id}", data=body, headers=signed).status_code == 202
        for path in ("/api/project/projects", f"/api/project/projects/{project_id}",
                     f"/api/project/projects/{project_id}/builds?limit=5&offset=1", "/api/build/1",
                     "/api/build/1/logs?offset=0", "/api/build/1/logs?offset=0&step=build", "/api/v1/builds",
                     "/api/auth/me"):
            assert client.get(path, headers=headers).status_code == 200, path
        assert client.post("/api/build/rebuild/1", headers=headers).status_code == 201
        with app.app_context(), db.connection_context():
            claimed = lifecycle.claim_next(BUILD, "w1", 60)
            lifecycle.renew_lease(BUILD, claimed.id, "w1", 60)
            lifecycle.claim_next(APP_BUILD, "w1", 60)
            lifecycle.recover_lost()
        assert client.post(f"/api/build/{claimed.id}/cancel", headers=headers).status_code == 200
        # The rebuild and the cancel were audited: the trail is read with them in it.
        audit = client.get(f"/api/project/projects/{project_id}/audit?limit=5&offset=1", headers=headers)
        assert audit.status_code == 200 and audit.get_json()["total"] >= 2
    finally:
        logger.removeHandler(statements)
        logger.setLevel(old_level)
    assert len(statements.seen) > 20
    with db.connection_context():
        assert full_scans(statements.seen) == set()
        # The check itself sees a scan when there is one, under an alias too.
        unindexed = ("SELECT id FROM build WHERE commit_message = ?", ["x"])
        assert full_scans([unindexed]) == {("build", unindexed[0])}
        aliased = ('SELECT "t1"."id" FROM "steplog" AS "t1" WHERE ("t1"."data" = ?)', ["x"])
        assert full_scans([aliased]) == {("steplog", aliased[0])}
        greatest = ('SELECT MAX("t1"."offset") FROM "steplog" AS "t1" WHERE ("t1"."data" = ?)', ["x"])
        assert full_scans([greatest]) == {("steplog", greatest[0])}
