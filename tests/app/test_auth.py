"""Registering, logging in, and the bearer token every other route demands."""
from datetime import timedelta

import pytest
from flask_jwt_extended import create_access_token

from app.records.models import User


def test_register_returns_the_new_user_and_stores_a_salted_slow_hash(client):
    response = client.post("/api/auth/register", json={"username": "ada", "password": "analytical"})
    assert response.status_code == 201
    body = response.get_json()
    assert body["message"] == "User registered"
    assert body["user"]["username"] == "ada"
    assert isinstance(body["user"]["id"], int)
    assert set(body["user"]) == {"id", "username", "admin"}

    client.post("/api/auth/register", json={"username": "bob", "password": "analytical"})
    ada, bob = User.get(username="ada"), User.get(username="bob")
    assert "analytical" not in ada.password_hash
    assert ada.password_hash.startswith("pbkdf2:sha256:600000$")
    assert ada.password_hash != bob.password_hash  # salted: same password, different hash


def test_a_hash_made_the_older_way_still_logs_in_and_is_made_again_the_new_way(client):
    from werkzeug.security import generate_password_hash

    client.post("/api/auth/register", json={"username": "old", "password": "analytical"})
    User.update(password_hash=generate_password_hash("analytical", method="scrypt")).execute()
    for _ in range(2):
        response = client.post("/api/auth/login", json={"username": "old", "password": "analytical"})
        assert response.status_code == 200
        assert User.get(username="old").password_hash.startswith("pbkdf2:sha256:600000$")
    assert client.post("/api/auth/login", json={"username": "old", "password": "wrong one"}).status_code == 401


def test_a_taken_username_is_a_409(client):
    client.post("/api/auth/register", json={"username": "ada", "password": "analytical"})
    response = client.post("/api/auth/register", json={"username": "ada", "password": "different1"})
    assert response.status_code == 409
    assert response.get_json() == {"message": "Username is already taken"}


@pytest.mark.parametrize("body", [
    {"username": "ab", "password": "password123"},
    {"username": "a" * 41, "password": "password123"},
    {"username": "has space", "password": "password123"},
    {"username": "semi;colon", "password": "password123"},
    {"username": "émile", "password": "password123"},
    {"username": 12345, "password": "password123"},
    {"username": "ada", "password": "short"},
    {"username": "ada", "password": 12345678},
    {"username": "ada"},
    {"password": "password123"},
])
def test_invalid_registrations_are_400_and_create_nobody(client, body):
    response = client.post("/api/auth/register", json=body)
    assert response.status_code == 400
    assert isinstance(response.get_json()["message"], str)
    assert User.select().count() == 0


@pytest.mark.parametrize("raw, content_type", [
    (b"not json", "application/json"),
    (b"[1, 2]", "application/json"),
    (b"", "application/json"),
    (b"username=ada", "application/x-www-form-urlencoded"),
])
def test_a_body_that_is_not_a_json_object_is_400(client, raw, content_type):
    response = client.post("/api/auth/register", data=raw, content_type=content_type)
    assert response.status_code == 400
    assert response.get_json() == {"message": "Request body must be a JSON object"}


def test_login_returns_a_token_that_opens_the_api(client, accounts):
    accounts.register("ada", "analytical")
    response = client.post("/api/auth/login", json={"username": "ada", "password": "analytical"})
    assert response.status_code == 200
    body = response.get_json()
    assert body["message"] == "Logged in"
    listed = client.get("/api/project/projects", headers={"Authorization": f"Bearer {body['accessToken']}"})
    assert listed.status_code == 200


def test_wrong_password_and_unknown_user_get_the_same_401(client, accounts):
    accounts.register("ada", "analytical")
    wrong = client.post("/api/auth/login", json={"username": "ada", "password": "not-it-at-all"})
    unknown = client.post("/api/auth/login", json={"username": "nobody", "password": "analytical"})
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.get_json() == unknown.get_json() == {"message": "Invalid username or password"}


@pytest.mark.parametrize("header", [
    None,
    "Bearer",
    "Bearer not-a-jwt",
    "Basic YWRhOmFuYWx5dGljYWw=",
    "Bearer eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.eyJzdWIiOiIxIn0.",
])
def test_protected_routes_answer_401_json_without_a_good_token(client, accounts, header):
    accounts.register("ada")
    headers = {"Authorization": header} if header else {}
    for method, path in [("get", "/api/project/projects"), ("post", "/api/project/projects"),
                         ("get", "/api/build/1"), ("post", "/api/build/rebuild/1")]:
        response = getattr(client, method)(path, headers=headers, json={})
        assert response.status_code == 401, (path, header)
        assert set(response.get_json()) == {"message"}


def test_expired_tokens_and_tokens_of_deleted_users_are_401(app, client, accounts):
    user = accounts.register("ada")
    with app.app_context():
        expired = create_access_token(identity=str(user["id"]), expires_delta=timedelta(seconds=-1))
        ghost = create_access_token(identity="999999")
    for token in (expired, ghost):
        response = client.get("/api/project/projects", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 401
        assert "message" in response.get_json()


def test_unknown_routes_and_methods_answer_in_the_same_json_shape(client):
    response = client.get("/api/nothing-here")
    assert response.status_code == 404
    assert set(response.get_json()) == {"message"}
    response = client.get("/api/auth/login")
    assert response.status_code == 405
    assert set(response.get_json()) == {"message"}
