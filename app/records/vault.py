"""Project secrets: encrypted at rest with a key derived from the server secret, masked in logs."""
import base64
import re

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat, PublicFormat

from pipeline.git.command import Access
from pipeline.masks import MIN_VALUE_LENGTH

from .models import Project, ProjectRegistry, ProjectSecret, db

SECRET_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
# Names Stoker sets itself in every build; a secret may not shadow them.
RESERVED = re.compile(r"(CI|STOKER)(_.*)?", re.IGNORECASE)
MAX_VALUE_BYTES = 64 * 1024


class VaultError(Exception):
    """Secrets could not be read; the message is fit to show the user."""


def fernet(server_secret):
    """The Fernet key for project secrets, derived from (never equal to) the server secret."""
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
               info=b"stoker project secrets v1").derive(server_secret.encode())
    return Fernet(base64.urlsafe_b64encode(key))


def check_name(name):
    if not SECRET_NAME.fullmatch(name):
        raise ValueError("a secret's name must be letters, digits and _, not starting with a digit, "
                         "at most 64 characters")
    if RESERVED.fullmatch(name):
        raise ValueError(f"{name} is set by Stoker in every build and cannot be a secret")
    return name


def check_value(value):
    if not isinstance(value, str) or len(value) < MIN_VALUE_LENGTH:
        raise ValueError(f"value must be a string of at least {MIN_VALUE_LENGTH} characters: "
                         "a shorter one could not be masked in the log")
    if len(value.encode()) > MAX_VALUE_BYTES or "\x00" in value:
        raise ValueError(f"value must be at most {MAX_VALUE_BYTES // 1024} KB, with no NUL characters")
    return value


def seal(server_secret, value):
    return fernet(server_secret).encrypt(value.encode()).decode()


def unseal(server_secret, sealed, what="the project's secrets"):
    """The value `seal` sealed; VaultError when this server's key cannot open it."""
    try:
        return fernet(server_secret).decrypt(sealed.encode()).decode()
    except InvalidToken:
        raise VaultError(f"{what} cannot be decrypted with this server's SECRET_KEY") from None


def secrets_of(build, server_secret):
    """The secrets `build` receives, as {name: value}, decrypted: those whose events include the
    build's, and none at all for a fork's pull request, whoever approved it."""
    if build.fork:
        return {}
    rows = ProjectSecret.select().where(ProjectSecret.project == build.project_id)
    return {row.name: unseal(server_secret, row.sealed) for row in rows if build.event in row.event_list}


def access_of(project, server_secret):
    """How git reaches the project's repository: its token or deploy key, unsealed, and the host
    key pinned on first contact."""
    return Access(
        token=project.repo_token_sealed and unseal(server_secret, project.repo_token_sealed, "the repoToken"),
        ssh_key=project.deploy_key_sealed and unseal(server_secret, project.deploy_key_sealed, "the deploy key"),
        known_hosts=project.ssh_known_hosts, pin=lambda known_hosts: pin_host_key(project.id, known_hosts))


def pin_host_key(project_id, known_hosts):
    """Keep the ssh host key a project's repository showed on first contact; a key pinned before stays."""
    with db.connection_context():
        Project.update(ssh_known_hosts=known_hosts).where(
            (Project.id == project_id) & Project.ssh_known_hosts.is_null()).execute()


def registries_of(project, server_secret):
    """The project's registry credentials, unsealed, each read once: ({host: (username, password)}, the
    hosts among them it gives its image builder)."""
    rows = list(ProjectRegistry.select().where(ProjectRegistry.project == project.id))
    return ({row.host: (row.username, unseal(server_secret, row.password_sealed, "the registry passwords"))
             for row in rows}, {row.host for row in rows if row.image_builds})


def make_deploy_key(comment):
    """A new Ed25519 key pair: (private key, OpenSSH public key line)."""
    key = Ed25519PrivateKey.generate()
    private = key.private_bytes(Encoding.PEM, PrivateFormat.OpenSSH, NoEncryption()).decode()
    public = key.public_key().public_bytes(Encoding.OpenSSH, PublicFormat.OpenSSH).decode()
    return private, f"{public} {comment}"
