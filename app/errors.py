"""One error shape for the whole API: JSON {"message": ...} with the right status."""
import errno
import json
import logging

from flask import current_app, jsonify, request
from peewee import OperationalError
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


# Nothing Stoker takes is nested deeper; a deeper document is refused before it is walked.
MAX_JSON_DEPTH = 32


def request_body():
    """The request's raw body: 413 when it reaches the size cap (a chunked body is cut off there)."""
    body = request.get_data(cache=True)
    cap = current_app.config["MAX_CONTENT_LENGTH"]
    if cap is not None and len(body) >= cap:
        raise ApiError(413, f"Request body is larger than {cap // (1024 * 1024)} MB")
    return body


def parse_json(text, what="Request body"):
    """Parse JSON text into a JSON object, or raise a 400 that says what is wrong with it.

    Too deep, not UTF-8, or holding a string that is not Unicode text (a lone
    surrogate such as "\\ud800", which no database or hash can take) are all 400s.
    """
    try:
        data = json.loads(text)
    except RecursionError:
        raise ApiError(400, f"{what} is nested deeper than {MAX_JSON_DEPTH} levels") from None
    except ValueError:
        data = None
    if not isinstance(data, dict):
        raise ApiError(400, f"{what} must be a JSON object")
    _refuse_unusable(data, what)
    return data


def _refuse_unusable(data, what):
    """Raise a 400 naming the first part of a parsed document Stoker cannot use, if any."""
    waiting = [(data, 1, None)]
    while waiting:
        value, depth, field = waiting.pop()
        if depth > MAX_JSON_DEPTH:
            raise ApiError(400, f"{what} is nested deeper than {MAX_JSON_DEPTH} levels")
        if isinstance(value, dict):
            for key, item in value.items():
                if not _is_text(key):
                    raise ApiError(400, f"{what} has a key that is not valid Unicode text")
                waiting.append((item, depth + 1, field or key))
        elif isinstance(value, list):
            waiting.extend((item, depth + 1, field) for item in value)
        elif isinstance(value, str) and not _is_text(value):
            raise ApiError(400, f"{field} is not valid Unicode text (it holds a lone surrogate)")


def _is_text(value):
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def json_body():
    """Return the request's JSON object, or raise a 400 (413 if too large) saying what is wrong with it."""
    if not request.is_json:
        raise ApiError(400, "Request body must be a JSON object")
    return parse_json(request_body())


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


def flag(data, key, default=False):
    """`data[key]` if it is true or false; `default` when absent."""
    value = data.get(key, default)
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


def _disk_full(exc):
    """Whether `exc`, or an error it was raised while handling, says the disk is full (SQLite's own
    rollback after a full disk fails again, hiding the first error behind its own)."""
    while exc is not None:
        text = str(exc).lower()
        if getattr(exc, "errno", None) == errno.ENOSPC or "disk is full" in text or "no space left" in text:
            return True
        exc = exc.__cause__ or exc.__context__
    return False


def init_app(app):
    @app.errorhandler(ApiError)
    def _api_error(exc):
        return error_response(exc.status, exc.message, exc.headers)

    @app.errorhandler(HTTPException)
    def _http_error(exc):
        return error_response(exc.code, exc.description)

    @app.errorhandler(OperationalError)
    @app.errorhandler(OSError)
    def _unavailable(exc):
        # The transaction was rolled back: nothing was written.
        if isinstance(exc, OSError) and exc.errno != errno.ENOSPC:
            return _unexpected(exc)
        log.error("%s %s: %s", request.method, request.path, exc)
        if _disk_full(exc):
            return error_response(503, "Stoker's disk is full, so nothing was written; try again once there is room")
        return error_response(503, "The database is not available right now, so nothing was written; try again")

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
