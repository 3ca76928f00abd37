"""GET /metrics: what Prometheus scrapes, behind the server's metrics token and no other."""
import pytest
from prometheus_client.parser import text_string_to_metric_families

from app import create_app
from app.config import from_env
from app.records.models import Status
from tests.support import METRICS_TOKEN, create_project


def scrape(client, token=METRICS_TOKEN):
    answer = client.get("/metrics", headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 200, answer.get_json()
    assert answer.content_type.startswith("text/plain")
    return {(sample.name, sample.labels.get("status")): sample.value
            for family in text_string_to_metric_families(answer.get_data(as_text=True)) for sample in family.samples}


@pytest.mark.both_databases
def test_a_scrape_counts_builds_by_status_and_the_oldest_ones_wait(client, accounts, local_repo, drain):
    created = create_project(client, accounts.token(), local_repo)
    client.post(f"/api/build/rebuild/{created['build']['id']}", headers=accounts.headers())
    waiting = scrape(client)
    assert waiting[("stoker_builds", Status.QUEUED)] == 2
    assert waiting[("stoker_builds", Status.PASSED)] == 0
    assert waiting[("stoker_build_queue_oldest_seconds", None)] > 0
    assert waiting[("stoker_projects", None)] == 1 and waiting[("stoker_users", None)] == 1
    assert waiting[("process_resident_memory_bytes", None)] > 0

    drain()
    done = scrape(client)
    assert (done[("stoker_builds", Status.QUEUED)], done[("stoker_builds", Status.PASSED)]) == (0, 2)
    assert done[("stoker_build_queue_oldest_seconds", None)] == 0


def test_only_the_metrics_token_reads_them(client, accounts):
    for headers in ({}, accounts.headers(), {"Authorization": "Bearer metrics-scraper-token-for-test"},
                    {"Authorization": METRICS_TOKEN}):
        answer = client.get("/metrics", headers=headers)
        assert (answer.status_code, answer.get_json()) == (
            401, {"message": "Metrics need the header Authorization: Bearer <STOKER_METRICS_TOKEN>"})


def test_without_a_token_set_there_are_no_metrics_and_a_short_one_is_refused(config):
    off = create_app({**config, "STOKER_METRICS_TOKEN": None}).test_client()
    answer = off.get("/metrics", headers={"Authorization": "Bearer "})
    assert (answer.status_code, answer.get_json()) == (
        404, {"message": "Metrics are off; STOKER_METRICS_TOKEN turns them on"})
    with pytest.raises(ValueError, match="STOKER_METRICS_TOKEN must be at least 16 characters long"):
        from_env({"STOKER_METRICS_TOKEN": "short"})
