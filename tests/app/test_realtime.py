"""Against a really running `stoker serve`: Socket.IO auth, and every status change reaching its owner."""
import time

import pytest
import socketio

from app.records.models import Status
from tests.support import api, create_project, delivery, login, push_payload, sentinel_build


def test_the_owner_sees_every_status_change_of_a_pushed_build_in_order(live_server, listeners, local_repo):
    alice, bob = login(live_server, "alice"), login(live_server, "bob")
    alice_events, bob_events = listeners(live_server, alice), listeners(live_server, bob)

    created = create_project(live_server, alice, local_repo, "sh ci.sh", name="demo")
    first = created["build"]["id"]
    assert alice_events.statuses_of(first, until=Status.PASSED) == [Status.QUEUED, Status.RUNNING, Status.PASSED]

    sha = local_repo.commit({"more.txt": "more\n"}, message="Push over the wire")
    body, headers = delivery(created["project"]["webhookSecret"], push_payload(sha))
    response = api(live_server, "POST", f"/api/webhooks/github/{created['project']['id']}", data=body, headers=headers)
    assert response.status_code == 202
    pushed = response.json()["build"]["id"]
    assert alice_events.statuses_of(pushed, until=Status.PASSED) == [Status.QUEUED, Status.RUNNING, Status.PASSED]

    stored = api(live_server, "GET", f"/api/build/{pushed}", alice).json()["build"]
    assert (stored["status"], stored["exitCode"], stored["commitHash"]) == (Status.PASSED, 0, sha)
    # Bob was connected all along and heard nothing of Alice's builds, only his own.
    own = sentinel_build(live_server, bob, bob_events, local_repo)
    assert {event["id"] for event in bob_events.heard} == {own}


def test_the_webhook_answers_without_waiting_for_the_build(live_server, local_repo):
    token = login(live_server, "alice")
    created = create_project(live_server, token, local_repo, "sleep 4", name="slow")
    sha = local_repo.commit({"slow.txt": "slow\n"})
    body, headers = delivery(created["project"]["webhookSecret"], push_payload(sha))

    started = time.monotonic()
    response = api(live_server, "POST", f"/api/webhooks/github/{created['project']['id']}", data=body, headers=headers)
    answered = time.monotonic() - started
    assert response.status_code == 202
    # The build sleeps for 4 s; an answer in well under that cannot have waited for it.
    assert answered < 1.0
    build = api(live_server, "GET", f"/api/build/{response.json()['build']['id']}", token).json()["build"]
    assert build["status"] in (Status.QUEUED, Status.RUNNING)


def test_the_api_stays_quick_while_a_build_runs(live_server, watched_build):
    token, events, build_id = watched_build("sleep 3", name="slow")

    timings = []
    for _ in range(10):
        started = time.monotonic()
        assert api(live_server, "GET", f"/api/build/{build_id}", token).status_code == 200
        timings.append(time.monotonic() - started)
    # Waiting on the container must not block the server: had it, each read would
    # have waited for the 3 s build.
    assert max(timings) < 1.0, timings
    assert api(live_server, "GET", f"/api/build/{build_id}", token).json()["build"]["status"] == Status.RUNNING


@pytest.mark.parametrize("auth", [None, {}, {"token": ""}, {"token": "not-a-jwt"}, {"token": 42}])
def test_connections_without_a_valid_token_are_refused(live_server, auth):
    client = socketio.Client(reconnection=False)
    with pytest.raises(socketio.exceptions.ConnectionError):
        client.connect(live_server.url, auth=auth, transports=["websocket"], wait_timeout=5)
    assert not client.connected


def test_a_token_in_the_query_string_is_not_accepted(live_server):
    token = login(live_server, "alice")
    client = socketio.Client(reconnection=False)
    with pytest.raises(socketio.exceptions.ConnectionError):
        client.connect(f"{live_server.url}?token={token}", transports=["websocket"], wait_timeout=5)
