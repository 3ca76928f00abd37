"""One error shape for the whole API: JSON {"message": ...} with the right status."""
import logging

from flask import jsonify, request
from werkzeug.exceptions import HTTPException

log = logging.getLogger(__name__)


class ApiError(Exception):
    """An error whose message is safe and useful to show to the client."""

    def __init__(self, status, message, headers=None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}


def error_response(status, message, headers=None):
    return jsonify(message=message), status, headers or {}


def json_body():
    """Return the request's JSON object, or raise a 400 saying what is wrong with it."""
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise ApiError(400, "Request body must be a JSON object")
    return data


# Ids beyond a signed 64-bit integer cannot exist; they are 404s, not database errors.
LARGEST_ID = 2**63 - 1


def path_id(text, field, record):
    """Return a path segment as a positive id: 400 if it is not one, 404 if it cannot exist."""
    digits = text.lstrip("0")
    if not text.isascii() or not text.isdecimal() or not digits:
        raise ApiError(400, f"{field} must be a positive integer")
    if len(digits) > 19 or int(digits) > LARGEST_ID:
        raise ApiError(404, f"{record} not found")
    return int(digits)


def whole_number(data, key, low, high, alternative="", default=None):
    """`data[key]` if it is a whole number from `low` to `high` (true and false are not numbers)."""
    value = data.get(key, default)
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise ApiError(400, f"{key} must be a whole number from {low} to {high}{alternative}")
    return value


def flag(data, key):
    """`data[key]` if it is true or false; false when absent."""
    value = data.get(key, False)
    if not isinstance(value, bool):
        raise ApiError(400, f"{key} must be true or false")
    return value


def page_args(default_limit=20, max_limit=100):
    """Return (limit, offset) from the query string: 400 unless both are whole numbers in range."""
    values = {}
    for name, default, high in (("limit", default_limit, max_limit), ("offset", 0, LARGEST_ID)):
        text = request.args.get(name, str(default))
        if not (text.isascii() and text.isdecimal() and len(text) <= 19 and int(text) <= high):
            raise ApiError(400, f"{name} must be a whole number from 0 to {high}")
        values[name] = int(text)
    return values["limit"], values["offset"]


def init_app(app):
    @app.errorhandler(ApiError)
    def _api_error(exc):
        return error_response(exc.status, exc.message, exc.headers)

    @app.errorhandler(HTTPException)
    def _http_error(exc):
        return error_response(exc.code, exc.description)

    @app.errorhandler(Exception)
    def _unexpected(exc):
        log.exception("unhandled error on %s %s", request.method, request.path)
        return error_response(500, "Internal server error")


# Every way flask-jwt-extended can refuse a token, each a 401 in the one error shape
# (its own default for a malformed token is a 422).
JWT_REFUSALS = {
    "unauthorized_loader": "Missing or malformed Authorization header",
    "invalid_token_loader": "Invalid token",
    "expired_token_loader": "Token has expired",
    "revoked_token_loader": "Token has been revoked",
    "user_lookup_error_loader": "Token's user no longer exists or is disabled",
    "needs_fresh_token_loader": "Fresh token required",
}


def init_jwt(jwt):
    for loader, message in JWT_REFUSALS.items():
        getattr(jwt, loader)(lambda *args, message=message: error_response(401, message))
