"""Each status is spelt once, in app/models.py; the OpenAPI document and the dashboard's
scripts spell them the same way."""
import json
import re
from pathlib import Path

from app.api.openapi import spec
from app.records.models import MobileStatus, Status

STATIC = Path(__file__).resolve().parent.parent / "app" / "static"


def js_list(path, name):
    found = re.search(rf"const {name} = (\[[^\]]*\]);", (STATIC / path).read_text())
    assert found, f"{path} has no list {name}"
    return json.loads(found.group(1))


def test_the_openapi_document_spells_each_status_as_the_models_do():
    schemas = spec()["components"]["schemas"]
    assert schemas["Status"]["enum"] == list(Status.ALL)
    assert schemas["Step"]["properties"]["status"] == {"$ref": "#/components/schemas/Status"}
    assert schemas["AppBuild"]["properties"]["status"]["enum"] == list(MobileStatus.ALL)


def test_the_dashboard_spells_each_status_as_the_models_do():
    assert set(js_list("dom.js", "STATUSES")) == {*Status.ALL, *MobileStatus.ALL}
    assert js_list("dom.js", "FINISHED") == list(Status.FINISHED)
    assert js_list("views/apps.js", "DONE") == list(MobileStatus.FINISHED)
