"""Where the tests find the real services they use, and what happens when one is missing."""
import os
import warnings
from pathlib import Path

import pytest

IN_CI = os.environ.get("CI") == "true"
POSTGRES_ADMIN_DSN = "postgresql://postgres@127.0.0.1:5432/test"
REDIS_URL = "redis://127.0.0.1:6379/0"
TEST_IMAGE = "stoker-busybox:latest"
WEBHOOK_FIXTURES = Path(__file__).resolve().parents[3] / "shared" / "fixtures" / "github-webhooks"
# Gitea's, Forgejo's and GitLab's (and Bitbucket's), a folder each.
FORGE_FIXTURES = WEBHOOK_FIXTURES.parent / "forge-webhooks"
SECRET = "test-secret-that-is-long-enough-for-hs256-signing"
METRICS_TOKEN = "metrics-scraper-token-for-tests"
CHROMIUM = Path("/usr/bin/chromium")
# Headless, and quiet: this machine refuses every connection but loopback.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run"]
# Screenshots from the browser tests, for a person to look at.
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-output" / "screenshots"


def unavailable(what):
    """Fail under CI; elsewhere skip, saying so loudly."""
    if IN_CI:
        pytest.fail(f"{what} (CI=true: a missing service fails the run)")
    warnings.warn(f"SKIPPING: {what}")
    pytest.skip(what, allow_module_level=True)
