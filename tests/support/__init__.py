"""What the tests share besides fixtures (those are in tests/conftest.py): real services,
running servers, the API as a client sees it, git repositories, GitHub's side and other forges',
web apps to package, hostile inputs, the app's routes, and waiting. Importing them does nothing else."""
from .api import ISO_MILLIS_Z, PASSWORD, Accounts, api, create_project, log_of, login, run_now, settings
from .bombs import BOMBS
from .containers import image_with_entrypoint, labelled
from .events import Listener, sentinel_build
from .forges import FakeForge, forge_body, forge_fixtures, forge_headers, hex_signature, signed_headers
from .github import delivery, github_payload, pull_request, push_payload, send, signature
from .http import LocalHttp, Site, raw_get
from .processes import processes_started
from .repos import LocalRepo
from .routes import concrete, routes
from .servers import LiveServer, free_port, start_agent, start_server, stop_agent, stop_server
from .services import (
                       CHROMIUM,
                       CHROMIUM_ARGS,
                       FORGE_FIXTURES,
                       IN_CI,
                       METRICS_TOKEN,
                       POSTGRES_ADMIN_DSN,
                       REDIS_URL,
                       SCREENSHOTS,
                       SECRET,
                       TEST_IMAGE,
                       WEBHOOK_FIXTURES,
                       unavailable,
)
from .waiting import wait_until
from .webapps import HOSTILE_NAME, png, serve_web_app

__all__ = ["Accounts", "BOMBS", "CHROMIUM", "CHROMIUM_ARGS", "FORGE_FIXTURES", "FakeForge", "HOSTILE_NAME", "IN_CI",
           "ISO_MILLIS_Z", "Listener", "LiveServer", "LocalHttp", "LocalRepo", "METRICS_TOKEN", "PASSWORD",
           "POSTGRES_ADMIN_DSN", "REDIS_URL", "SCREENSHOTS", "SECRET", "Site", "TEST_IMAGE", "WEBHOOK_FIXTURES", "api",
           "concrete", "create_project", "delivery", "forge_body", "forge_fixtures", "forge_headers", "free_port",
           "github_payload", "hex_signature", "image_with_entrypoint", "labelled", "log_of", "login", "png",
           "processes_started", "pull_request", "push_payload", "raw_get", "routes", "run_now", "send",
           "sentinel_build", "serve_web_app", "settings", "signature", "signed_headers", "start_agent", "start_server", "stop_agent", "stop_server",
           "unavailable", "wait_until"]
