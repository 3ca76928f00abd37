"""Schedules: named cron lines, each due time one build (event cron), however many processes run."""
import socket
from datetime import timedelta

import psycopg2
import pytest

from app.background.schedules import fire_due
from app.records.models import Build, Project, Schedule, Status, db, utcnow
from tests.support import create_project, start_server, stop_server, wait_until

pytestmark = pytest.mark.both_databases


@pytest.fixture
def project(client, accounts, local_repo, drain):
    created = create_project(client, accounts.token(), local_repo, "echo nightly $NIGHTLY $STOKER_EVENT")
    drain()
    return created["project"]["id"], accounts.headers()


def test_a_schedule_is_set_listed_replaced_and_deleted(client, project):
    project_id, headers = project
    url = f"/api/project/projects/{project_id}/schedules"
    made = client.put(f"{url}/nightly", json={"cron": "0 3 * * *", "variables": {"NIGHTLY": "1"}}, headers=headers)
    assert made.status_code == 201, made.get_json()
    schedule = made.get_json()["schedule"]
    assert (schedule["name"], schedule["cron"], schedule["branch"], schedule["variables"]) == (
        "nightly", "0 3 * * *", "main", {"NIGHTLY": "1"})
    assert schedule["nextRunAt"].endswith("T03:00:00.000Z") and schedule["lastRunAt"] is None
    replaced = client.put(f"{url}/nightly", json={"cron": "*/15 * * * *"}, headers=headers)
    assert replaced.status_code == 200 and replaced.get_json()["schedule"]["cron"] == "*/15 * * * *"
    assert [s["name"] for s in client.get(url, headers=headers).get_json()["schedules"]] == ["nightly"]
    assert client.delete(f"{url}/nightly", headers=headers).status_code == 200
    assert client.delete(f"{url}/nightly", headers=headers).status_code == 404

    for name, body, words in [("x", {"cron": "* * * *"}, "cron"), ("x", {"cron": "61 * * * *"}, "cron"),
                              ("x", {"cron": "@daily"}, "cron"), ("x", {"cron": "* * * * * *"}, "cron"),
                              ("x", {}, "cron"), ("x", {"cron": "0 0 31 2 *"}, "cron"), ("x", {"cron": "0 0 31 4 *"}, "cron"),
                              ("x", {"cron": "0 3 * * *", "branch": "a..b"}, "branch"),
                              ("x", {"cron": "0 3 * * *", "variables": {"STOKER_X": "1"}}, "variables"),
                              ("-x", {"cron": "0 3 * * *"}, "name")]:
        answer = client.put(f"{url}/{name}", json=body, headers=headers)
        assert answer.status_code == 400 and words in answer.get_json()["message"], (body, answer.get_json())
    assert Schedule.select().count() == 0


def test_a_due_time_makes_one_build_and_missed_times_make_one_too(app, client, project, drain):
    project_id, headers = project
    client.put(f"/api/project/projects/{project_id}/schedules/nightly",
               json={"cron": "* * * * *", "variables": {"NIGHTLY": "yes"}}, headers=headers)
    # Due an hour ago: sixty times missed while Stoker was down.
    Schedule.update(next_run_at=utcnow() - timedelta(hours=1)).execute()
    assert fire_due(app) == 1
    assert fire_due(app) == 0
    build = Build.get(Build.event == "cron")
    assert (build.schedule, build.branch, build.ref) == ("nightly", "main", "refs/heads/main")
    assert Schedule.get().next_run_at > utcnow()
    assert drain() == 1
    log = client.get(f"/api/build/{build.id}/logs", headers=headers).get_data(as_text=True)
    assert "nightly yes cron" in log
    answer = client.get(f"/api/build/{build.id}", headers=headers).get_json()["build"]
    assert (answer["event"], answer["schedule"], answer["status"]) == ("cron", "nightly", Status.PASSED)


@pytest.mark.parametrize("database_kind", ["postgresql"], indirect=True)
def test_a_due_time_makes_exactly_one_build_across_two_processes(client, project, database_url, tmp_path,
                                                                  live_database):
    """Both processes read the due time before either takes it: the test holds the schedule's row
    until both wait to write it, so the compare-and-set decides, not which process looks first."""
    project_id, headers = project
    client.put(f"/api/project/projects/{project_id}/schedules/often", json={"cron": "0 0 1 1 *"}, headers=headers)
    with live_database():
        Schedule.update(next_run_at=utcnow() - timedelta(minutes=5)).execute()
    table = Schedule._meta.table_name

    def taking():
        """The other connections whose last statement is the schedule's compare-and-set: pid to
        (state, what it waits on)."""
        return {pid: (state, wait) for pid, state, wait in db.execute_sql(
            "SELECT pid, state, wait_event_type FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid() AND query LIKE %s", (f'UPDATE "{table}"%',))}

    holder = psycopg2.connect(database_url)
    env = {"DATABASE_URL": database_url, "STOKER_POLL_SECONDS": "0.2"}
    workers = []
    try:
        holder.cursor().execute(f'SELECT id FROM "{table}" FOR UPDATE')
        workers += [start_server("worker", {**env, "STOKER_DATA_DIR": str(tmp_path / f"w{i}")}, tmp_path,
                                 wait_for_http=False) for i in range(2)]
        with live_database():
            wait_until(lambda: [wait for _, wait in taking().values()].count("Lock") == 2, timeout=20,
                       what=lambda: workers[0].log() + workers[1].log())
            waiting = set(taking())
            holder.rollback()  # both go on, each with the due time it read
            # Both are done with it: their transactions are over (or their connections closed).
            wait_until(lambda: all(state == "idle" for pid, (state, _) in taking().items() if pid in waiting))
            built = wait_until(lambda: Build.get_or_none((Build.event == "cron") & (Build.status == Status.PASSED)),
                               what=lambda: workers[0].log() + workers[1].log())
            assert Build.select().where(Build.event == "cron").count() == 1
            assert built.schedule == "often"
    finally:
        holder.close()
        for worker in workers:
            stop_server(worker)


@pytest.mark.parametrize("database_kind", ["sqlite"], indirect=True)
def test_a_schedule_whose_remote_never_answers_holds_back_no_other_projects_schedule(
        client, accounts, project, local_repo, database_url, tmp_path, live_database):
    stuck, headers = project
    quiet = create_project(client, accounts.token(), local_repo, "echo quiet", name="quiet")["project"]["id"]
    for project_id in (stuck, quiet):  # the stuck one first: it is looked at first
        assert client.put(f"/api/project/projects/{project_id}/schedules/nightly", json={"cron": "0 0 1 1 *"},
                          headers=headers).status_code == 201
    tarpit = socket.socket()
    tarpit.bind(("127.0.0.1", 0))
    tarpit.listen(8)  # takes connections, and never says a word
    try:
        with live_database():
            Project.update(repo_url=f"https://127.0.0.1:{tarpit.getsockname()[1]}/stuck.git").where(
                Project.id == stuck).execute()
            Schedule.update(next_run_at=utcnow() - timedelta(minutes=1)).execute()
        worker = start_server("worker", {"DATABASE_URL": database_url, "STOKER_DATA_DIR": str(tmp_path / "w"),
                                         "STOKER_ALLOW_PRIVATE_REPO_HOSTS": "1", "STOKER_GIT_TIMEOUT": "120"},
                              tmp_path, wait_for_http=False)
        try:
            with live_database():
                built = wait_until(lambda: Build.get_or_none((Build.event == "cron") & (Build.project == quiet)),
                                   timeout=15, what=worker.log)
                assert built.schedule == "nightly"
                assert not Build.select().where((Build.event == "cron") & (Build.project == stuck)).exists()
        finally:
            stop_server(worker)
    finally:
        tarpit.close()
