"""Project secrets: encrypted at rest with a key derived from the server secret, masked in logs."""
import base64
import codecs
import json
import re
from urllib.parse import quote, quote_plus

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat, PublicFormat

from pipeline.git.command import Access

from .models import Project, ProjectRegistry, ProjectSecret, db

SECRET_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
# Names Stoker sets itself in every build; a secret may not shadow them.
RESERVED = re.compile(r"(CI|STOKER)(_.*)?", re.IGNORECASE)
MAX_VALUE_BYTES = 64 * 1024
# Shorter values cannot be masked without masking ordinary text ("a", "on", "123").
MIN_VALUE_LENGTH = 4
MASK = "***"


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


def encodings(value):
    """The value and the forms a build is likely to print it in: base64 (standard and URL-safe,
    padded or not), percent-encoded and JSON-escaped."""
    raw = value.encode("utf-8", "surrogatepass")
    forms = {value, quote(value, safe=""), quote_plus(value, safe=""), json.dumps(value)[1:-1],
             json.dumps(value, ensure_ascii=False)[1:-1]}
    for encode in (base64.b64encode, base64.urlsafe_b64encode):
        encoded = encode(raw).decode()
        forms.update((encoded, encoded.rstrip("=")))
    return forms


def access_of(project, server_secret):
    """How git reaches the project's repository: its token or deploy key, unsealed, and the host
    key pinned on first contact."""
    def pin(known_hosts):
        with db.connection_context():
            Project.update(ssh_known_hosts=known_hosts).where(
                (Project.id == project.id) & Project.ssh_known_hosts.is_null()).execute()

    return Access(
        token=project.repo_token_sealed and unseal(server_secret, project.repo_token_sealed, "the repoToken"),
        ssh_key=project.deploy_key_sealed and unseal(server_secret, project.deploy_key_sealed, "the deploy key"),
        known_hosts=project.ssh_known_hosts, pin=pin)


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


class SecretMask:
    """Replaces secret values in text that arrives in pieces, including values split across pieces.

    Only a tail that could still become a secret is held back, so output
    without secrets is never delayed.
    """

    def __init__(self, values):
        parts = set()
        for value in values:
            parts.update(encodings(value))
            # A multi-line secret printed line by line is masked line by line.
            parts.update(line for line in value.splitlines() if len(line) >= MIN_VALUE_LENGTH)
        self.values = sorted((v for v in parts if v), key=len, reverse=True)
        self.carry = ""

    def fresh(self):
        """A mask of the same values for another stream of text (a step's own log, say)."""
        other = SecretMask(())
        other.values = self.values
        return other

    def feed(self, text):
        """Return the masked text that is safe to show now."""
        if not self.values:
            return text
        text = self.carry + text
        for value in self.values:
            text = text.replace(value, MASK)
        longest = len(self.values[0])
        for keep in range(min(longest - 1, len(text)), 0, -1):
            tail = text[-keep:]
            if any(value.startswith(tail) for value in self.values):
                self.carry = tail
                return text[:-keep]
        self.carry = ""
        return text

    def flush(self):
        """Return what was held back, once no more text will come."""
        text, self.carry = self.carry, ""
        return text

    def of_bytes(self):
        """A fresh mask of the same values for a stream of raw bytes (ByteMask)."""
        return ByteMask(self.fresh())

    def mask(self, text):
        """Mask a whole text at once (an error message, say)."""
        if text is None:
            return None
        for value in self.values:
            text = text.replace(value, MASK)
        return text


class ByteMask:
    """A SecretMask over raw output, for a step's stream masked before it is cut into lines and
    set among other steps' lines, where a value split in two would pass unmasked. Bytes that are
    not UTF-8 pass through as they came."""

    def __init__(self, mask):
        self.mask = mask
        self.decoder = codecs.getincrementaldecoder("utf-8")(errors="surrogateescape")

    def feed(self, raw):
        return self.mask.feed(self.decoder.decode(raw)).encode("utf-8", "surrogateescape")

    def flush(self):
        tail = self.mask.feed(self.decoder.decode(b"", final=True)) + self.mask.flush()
        return tail.encode("utf-8", "surrogateescape")
