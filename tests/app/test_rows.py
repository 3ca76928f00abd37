"""Secrets, schedules and registry credentials are set and removed one way (app/rows.py)."""
import pytest
from flask import g

from app.api.errors import ApiError
from app.api.rows import put_row
from app.records.models import AuditEntry, Project, ProjectRegistry, User
from tests.support import create_project


def test_a_row_another_request_makes_at_the_same_moment_is_a_409_not_a_500(app, client, accounts, local_repo):
    create_project(client, accounts.token(), local_repo)
    project = Project.get_by_id(1)
    fields = {"username": "us", "password_sealed": "sealed"}

    def another_request_makes_it():
        # What a second PUT of the same new host does between this one's update and its insert.
        ProjectRegistry.create(project=project, host="registry.example.com", username="them", password_sealed="x")

    with app.test_request_context():
        g.caller = User.get(User.username == "alice")
        with pytest.raises(ApiError) as refused:
            put_row(ProjectRegistry, project, ("host", "registry.example.com"), "registry", fields,
                    before_create=another_request_makes_it)
        assert (refused.value.status, refused.value.message) == (409, "The registry was changed meanwhile; try again")
        assert not AuditEntry.select().where(AuditEntry.action.startswith("registry.")).exists()

        row, was_there = put_row(ProjectRegistry, project, ("host", "registry.example.com"), "registry", fields)
        assert (row.username, was_there) == ("us", False)
        assert put_row(ProjectRegistry, project, ("host", "registry.example.com"), "registry", fields)[1] is True
