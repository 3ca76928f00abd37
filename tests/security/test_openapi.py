"""The OpenAPI document: valid, true to every route, and the running server keeps to it."""
import re

from openapi_spec_validator import validate

from app.api.openapi import spec

METHODS = {"get", "post", "put", "patch", "delete"}


def test_the_document_is_served_and_valid_openapi(client):
    response = client.get("/api/openapi.json")
    assert response.status_code == 200
    document = response.get_json()
    assert document == spec()
    validate(document)


def test_the_document_names_exactly_the_routes_flask_serves(app):
    served = set()
    for rule in app.url_map.iter_rules():
        path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule)
        served |= {(path, method.lower()) for method in rule.methods} & {(path, m) for m in METHODS}
    documented = {(path, method) for path, item in spec()["paths"].items() for method in item if method in METHODS}
    assert documented == served


def test_every_operation_says_who_may_call_it_and_how_it_fails(app):
    for path, item in spec()["paths"].items():
        for method, operation in item.items():
            if method not in METHODS:
                continue
            statuses = set(operation["responses"])
            if operation.get("security", spec()["security"]):
                assert "401" in statuses, f"{method} {path} needs a token but documents no 401"
            if "{" in path and path.startswith("/api/"):
                # Numeric ids can be malformed (400); the v1 API's opaque ids are only ever unknown.
                expected = {"404"} if path.startswith("/api/v1/") else {"400", "404"}
                if method == "put" and path.startswith("/api/v1/"):
                    # A PUT that makes what it names when it is new: another account's is a 409, not a 404.
                    expected = {"409"}
                assert expected <= statuses, f"{method} {path} takes an id but documents no {expected}"
