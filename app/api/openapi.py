"""The OpenAPI document of every route, served as JSON."""
from functools import cache
from pathlib import Path

import yaml
from flask import Blueprint, jsonify

bp = Blueprint("openapi", __name__)

SPEC_FILE = Path(__file__).with_name("openapi.yaml")


@cache
def spec():
    """The document, read from openapi.yaml once."""
    return yaml.safe_load(SPEC_FILE.read_text())


@bp.get("/api/openapi.json")
def openapi_json():
    return jsonify(spec())
