"""Every setting Stoker reads, each from one environment variable with its default.

Nothing else in Stoker reads os.environ; the README's configuration table
lists exactly what `from_env` reads.
"""
import os
import re
import secrets
from datetime import timedelta
from ipaddress import ip_network
from pathlib import Path
from urllib.parse import urlsplit

from pipeline.backend import BACKENDS
from pipeline.imagebuilder import default_image_builder
from pipeline.images import DEFAULT_IMAGE
from pipeline.mobile.android.builder import default_android_image

TRUE_WORDS = {"1", "true", "yes", "on"}
PRIVATE_RANGES = "10.0.0.0/8,172.16.0.0/12,192.168.0.0/16,100.64.0.0/10"
# How STOKER_SMTP_URL may reach its server, each with its usual port.
SMTP_SCHEMES = {"smtp": 25, "smtp+starttls": 587, "smtps": 465}
# Where `npm ci` puts the dashboard's browser libraries (package.json beside setup.cfg).
CHECKOUT = Path(__file__).resolve().parent.parent


def from_env(environ=None):
    """Return Flask config keys read from the environment, defaults filled in."""
    env = os.environ if environ is None else environ
    data_dir = Path(env.get("STOKER_DATA_DIR", ".stoker")).resolve()
    host = env.get("STOKER_HOST", "127.0.0.1")
    port = int(env.get("PORT", "8000"))
    return {
        "STOKER_DATA_DIR": str(data_dir),
        "DATABASE_URL": env.get("DATABASE_URL") or f"sqlite:///{data_dir / 'stoker.db'}",
        "SECRET_KEY": env.get("SECRET_KEY"),
        "JWT_SECRET_KEY": env.get("JWT_SECRET_KEY"),
        "JWT_ACCESS_TOKEN_EXPIRES": timedelta(hours=float(env.get("STOKER_TOKEN_HOURS", "12"))),
        "REDIS_URL": env.get("REDIS_URL") or None,
        # Where builds run: a name in pipeline.backend.BACKENDS.
        "STOKER_BACKEND": _one_of(env, "STOKER_BACKEND", "docker", tuple(BACKENDS)),
        "STOKER_BUILD_IMAGE": env.get("STOKER_BUILD_IMAGE", DEFAULT_IMAGE),
        # The static busybox Stoker's own build image is made from; empty: the first one found.
        "STOKER_BUSYBOX": env.get("STOKER_BUSYBOX") or None,
        "STOKER_BUILD_NETWORK": env.get("STOKER_BUILD_NETWORK", "none"),
        # Builds on the default network get one of their own with a way out (see the README's *A way out*).
        "STOKER_BUILD_EGRESS": env.get("STOKER_BUILD_EGRESS", "1").lower() in TRUE_WORDS,
        # Networks (CIDRs) a build with a way out must not reach, besides the server's own: by default
        # the private ranges, where a company keeps what only its own machines should reach.
        "STOKER_BUILD_DENY": _networks(env, "STOKER_BUILD_DENY", PRIVATE_RANGES),
        # The networks a project may choose for its builds; the default one is always among them.
        "STOKER_BUILD_NETWORKS": tuple(dict.fromkeys(
            [env.get("STOKER_BUILD_NETWORK", "none"),
             *(net.strip() for net in env.get("STOKER_BUILD_NETWORKS", "").split(",") if net.strip())])),
        "STOKER_BUILD_CAPS": tuple(
            cap.strip().upper() for cap in
            env.get("STOKER_BUILD_CAPS", "CHOWN,DAC_OVERRIDE,FOWNER,FSETID,SETGID,SETUID").split(",")
            if cap.strip()
        ),
        # Registries (host or host:port) images may be pulled from; empty: any, Docker Hub included.
        "STOKER_PULL_REGISTRIES": tuple(host.strip() for host in env.get("STOKER_PULL_REGISTRIES", "").split(",")
                                        if host.strip()),
        # Where a build's own network for its services takes a /24 from.
        "STOKER_SERVICE_SUBNETS": tuple(net.strip() for net in env.get("STOKER_SERVICE_SUBNETS", "198.18.0.0/15")
                                        .split(",") if net.strip()),
        "STOKER_BUILD_PIDS": int(env.get("STOKER_BUILD_PIDS", "1024")),
        "STOKER_BUILD_MEMORY": env.get("STOKER_BUILD_MEMORY", "2g"),
        "STOKER_BUILD_CPUS": float(env.get("STOKER_BUILD_CPUS", "2")),
        "STOKER_WORKER_CONCURRENCY": int(env.get("STOKER_WORKER_CONCURRENCY", "2")),
        # The labels this host's workers carry: they take builds needing no more than these.
        "STOKER_WORKER_LABELS": tuple(sorted({label.strip() for label in env.get("STOKER_WORKER_LABELS", "").split(",")
                                              if label.strip()})),
        "STOKER_LEASE_SECONDS": float(env.get("STOKER_LEASE_SECONDS", "60")),
        "STOKER_POLL_SECONDS": float(env.get("STOKER_POLL_SECONDS", "2")),
        "STOKER_PUBLIC_URL": env.get("STOKER_PUBLIC_URL", f"http://{host}:{port}").rstrip("/"),
        "STOKER_ALLOW_LOCAL_REPOS": env.get("STOKER_ALLOW_LOCAL_REPOS", "0").lower() in TRUE_WORDS,
        "STOKER_ALLOW_PRIVATE_REPO_HOSTS":
            env.get("STOKER_ALLOW_PRIVATE_REPO_HOSTS", "0").lower() in TRUE_WORDS,
        "STOKER_ALLOW_PRIVATE_HOOK_HOSTS":
            env.get("STOKER_ALLOW_PRIVATE_HOOK_HOSTS", "0").lower() in TRUE_WORDS,
        "STOKER_LOG_MAX_BYTES": int(float(env.get("STOKER_LOG_MAX_MB", "20")) * 1024 * 1024),
        # The largest Git LFS file the server fetches for an agent's build.
        "STOKER_LFS_MAX_BYTES": int(float(env.get("STOKER_LFS_MAX_MB", "2048")) * 1024 * 1024),
        "STOKER_ARTIFACT_DIR": str(Path(env.get("STOKER_ARTIFACT_DIR") or data_dir / "artifacts").resolve()),
        "STOKER_ARTIFACT_MAX_BYTES": int(float(env.get("STOKER_ARTIFACT_MAX_MB", "100")) * 1024 * 1024),
        "STOKER_ARTIFACT_BUILD_MAX_BYTES": int(float(env.get("STOKER_ARTIFACT_BUILD_MAX_MB", "1024")) * 1024 * 1024),
        "STOKER_CACHE_MAX_BYTES": int(float(env.get("STOKER_CACHE_MAX_MB", "1024")) * 1024 * 1024),
        "STOKER_GITHUB_API_URL": env.get("STOKER_GITHUB_API_URL", "https://api.github.com").rstrip("/"),
        "STOKER_GIT_TIMEOUT": float(env.get("STOKER_GIT_TIMEOUT", "60")),
        "STOKER_NODE_MODULES": env.get("STOKER_NODE_MODULES", str(CHECKOUT / "node_modules")),
        "STOKER_ANDROID_IMAGE": env.get("STOKER_ANDROID_IMAGE") or default_android_image(),
        # What a step naming stoker-image-builder runs; "off": no step builds images here.
        "STOKER_IMAGE_BUILDER": _image_builder(env.get("STOKER_IMAGE_BUILDER") or default_image_builder()),
        "STOKER_ALLOW_PRIVATE_APP_URLS":
            env.get("STOKER_ALLOW_PRIVATE_APP_URLS", "0").lower() in TRUE_WORDS,
        "STOKER_DOWNLOAD_URL_SECONDS": int(env.get("STOKER_DOWNLOAD_URL_SECONDS", "3600")),
        "STOKER_APP_BUILD_TIMEOUT": float(env.get("STOKER_APP_BUILD_TIMEOUT", "300")),
        "STOKER_REGISTRATION": _one_of(env, "STOKER_REGISTRATION", "invitation", ("invitation", "open")),
        "STOKER_LOG_FORMAT": _one_of(env, "STOKER_LOG_FORMAT", "text", ("text", "json")),
        # Where people may sign in besides a password: each STOKER_OAUTH_<NAME>_KIND names one.
        "STOKER_OAUTH": sign_in_providers(env),
        "STOKER_LOGIN_FAILURES_PER_USER": int(env.get("STOKER_LOGIN_FAILURES_PER_USER", "10")),
        "STOKER_LOGIN_FAILURES_PER_ADDRESS": int(env.get("STOKER_LOGIN_FAILURES_PER_ADDRESS", "50")),
        "STOKER_CONNECTIONS_PER_ADDRESS": int(env.get("STOKER_CONNECTIONS_PER_ADDRESS", "128")),
        "STOKER_IDLE_SECONDS": float(env.get("STOKER_IDLE_SECONDS", "60")),
        "STOKER_METRICS_TOKEN": _long_enough(env, "STOKER_METRICS_TOKEN", 16),
        "STOKER_SMTP_URL": _smtp_url(env.get("STOKER_SMTP_URL") or None),
        "STOKER_MAIL_FROM": env.get("STOKER_MAIL_FROM", "stoker@localhost"),
        "STOKER_HOST": host,
        "PORT": port,
        # GitHub caps webhook payloads at 25 MB; nothing Stoker accepts is larger.
        "MAX_CONTENT_LENGTH": 25 * 1024 * 1024,
    }


def _long_enough(env, name, least):
    """A secret the server compares requests against: unset (None), or at least `least` characters."""
    value = env.get(name) or None
    if value is not None and len(value) < least:
        raise ValueError(f"{name} must be at least {least} characters long")
    return value


def _smtp_url(url):
    if url is None:
        return None
    parts = urlsplit(url)
    try:
        parts.port  # noqa: B018  (raises ValueError on a bad port)
    except ValueError:
        raise ValueError("STOKER_SMTP_URL has a bad port") from None
    if parts.scheme not in SMTP_SCHEMES or not parts.hostname:
        raise ValueError("STOKER_SMTP_URL must be smtp://, smtp+starttls:// or smtps://[user:password@]host[:port]")
    if (parts.username or parts.password) and parts.scheme == "smtp":
        # Plain smtp:// would send them in clear for anyone on the way to read.
        raise ValueError("STOKER_SMTP_URL has a user name or password: it must be smtp+starttls:// or smtps://, "
                         "so that they are sent encrypted")
    return url


def _networks(env, name, default):
    """A comma-separated list of IPv4 networks (CIDRs or addresses), each checked; `none`: none."""
    value = env.get(name, default).strip()
    networks = () if value.lower() == "none" else tuple(net.strip() for net in value.split(",") if net.strip())
    for network in networks:
        try:
            if ip_network(network, strict=False).version != 4:
                raise ValueError
        except ValueError:
            raise ValueError(f"{name}: {network!r} is not an IPv4 network such as 10.0.0.0/8") from None
    return networks


def _one_of(env, name, default, allowed):
    value = env.get(name, default).strip().lower()
    if value not in allowed:
        raise ValueError(f"{name} must be one of {', '.join(allowed)}, not {value!r}")
    return value


# What each kind of sign-in provider is, where a forge's public instance is, and the scopes asked
# by default: who the user is, and no more (an admin widens them to connect repositories too).
OAUTH_KINDS = {
    "github": ("GitHub", "https://github.com", "read:user"),
    "gitea": ("Gitea", None, "read:user"),
    "forgejo": ("Forgejo", None, "read:user"),
    "gitlab": ("GitLab", "https://gitlab.com", "read_user"),
    "oidc": ("OpenID Connect", None, "openid profile email"),
}
OAUTH_NAME = re.compile(r"[a-z][a-z0-9]{0,29}")


def sign_in_providers(env):
    """Each sign-in provider STOKER_OAUTH_<NAME>_KIND names, by its name in lower case, its settings
    checked: a provider set up wrong stops the server at start rather than a sign-in later."""
    providers = {}
    for key in sorted(env):
        match = re.fullmatch(r"STOKER_OAUTH_(\w+)_KIND", key)
        if not match:
            continue
        prefix, name = f"STOKER_OAUTH_{match[1]}_", match[1].lower()
        if not OAUTH_NAME.fullmatch(name):
            raise ValueError(f"{key}: the provider's name must be a letter then up to 29 letters or digits")
        kind = _one_of(env, key, "", tuple(OAUTH_KINDS))
        label, public_url, scopes = OAUTH_KINDS[kind]
        url = env.get(prefix + ("ISSUER" if kind == "oidc" else "URL")) or public_url or ""
        # An issuer is compared with its ID tokens' as it is spelt (Authentik's ends in a slash).
        url = url if kind == "oidc" else url.rstrip("/")
        parts = urlsplit(url)
        if parts.scheme not in ("https", "http") or not parts.hostname or parts.query or parts.fragment:
            raise ValueError(f"{prefix}{'ISSUER' if kind == 'oidc' else 'URL'} must be the provider's "
                             f"https:// address")
        client_id, client_secret = env.get(prefix + "CLIENT_ID"), env.get(prefix + "CLIENT_SECRET")
        if not client_id or not client_secret:
            raise ValueError(f"{prefix}CLIENT_ID and {prefix}CLIENT_SECRET are both needed")
        providers[name] = {
            "name": name, "kind": kind, "url": url, "client_id": client_id, "client_secret": client_secret,
            "label": env.get(prefix + "LABEL") or (label if kind != "oidc" else match[1].title()),
            "scopes": env.get(prefix + "SCOPES", scopes),
            "signup": _one_of(env, prefix + "SIGNUP", "invitation", ("invitation", "open")),
        }
    return providers


def persistent_secret(data_dir):
    """Return the server secret kept in the data dir, creating it once if absent.

    The secret is written to a private temporary file and then linked into
    place, so two processes starting together agree on one complete secret.
    """
    path = Path(data_dir) / "secret_key"
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        tmp = path.with_name(f".secret_key.{os.getpid()}.{secrets.token_hex(4)}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_urlsafe(48))
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
    return path.read_text().strip()


def _image_builder(name):
    return None if name.lower() in ("off", "none", "0", "false", "no") else name
