"""Reading a request: its body, JSON objects, ids in paths, numbers, flags and pages, each refused
with a 400 (see errors.py) that names what is wrong."""
import json

from flask import current_app, request

from .errors import ApiError

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
