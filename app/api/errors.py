"""One error shape for the whole API: JSON {"message": ...} with the right status."""
import errno
import logging

from flask import jsonify, request
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
