"""Each status and kind word is spelt once, in app/records/words.py (or pipeline/words.py); the
OpenAPI document spells them the same way. The dashboard's scripts are served them (see
tests/app/test_dashboard.py)."""
from app.api.openapi import spec
from app.records.words import AppBuildStatus, Event, ForkPolicy, Role, Scope, Status


def test_the_openapi_document_spells_each_word_as_the_models_do():
    schemas = spec()["components"]["schemas"]
    assert schemas["Status"]["enum"] == list(Status.ALL)
    assert schemas["Step"]["properties"]["status"] == {"$ref": "#/components/schemas/Status"}
    assert schemas["AppBuild"]["properties"]["status"]["enum"] == list(AppBuildStatus.ALL)
    assert schemas["Event"]["enum"] == list(Event.ALL)
    assert schemas["Role"]["enum"] == list(Role.ALL)
    assert schemas["ApiToken"]["properties"]["scope"]["enum"] == list(Scope.ALL)
    for schema in ("NewProject", "Settings"):
        assert schemas[schema]["properties"]["forkPullRequests"]["enum"] == list(ForkPolicy.ALL)
