"""What the tests share besides fixtures (those are in tests/conftest.py): real services,
running servers, the API as a client sees it, git repositories, GitHub's side, and waiting."""
from .api import ISO_MILLIS_Z, PASSWORD, Accounts, api, create_project, login, run_now
from .containers import labelled
from .events import Listener
from .github import delivery, github_payload, push_payload, signature
from .http import LocalHttp, Site, raw_get
from .repos import LocalRepo
from .servers import LiveServer, free_port, start_server, stop_server
from .services import (
                       CHROMIUM,
                       CHROMIUM_ARGS,
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

__all__ = ["Accounts", "CHROMIUM", "CHROMIUM_ARGS", "IN_CI", "ISO_MILLIS_Z", "LiveServer", "Listener", "LocalHttp",
           "LocalRepo", "METRICS_TOKEN", "PASSWORD", "POSTGRES_ADMIN_DSN", "REDIS_URL", "SCREENSHOTS", "SECRET", "Site", "TEST_IMAGE",
           "WEBHOOK_FIXTURES", "api", "create_project", "delivery", "free_port", "github_payload", "labelled", "login",
           "push_payload", "raw_get", "run_now", "signature", "start_server", "stop_server", "unavailable", "wait_until"]
