"""Project secrets: encrypted at rest with a key derived from the server secret, masked in logs."""
import base64
import re

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from .models import ProjectSecret

SECRET_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
# Names Stoker sets itself in every build; a secret may not shadow them.
RESERVED = re.compile(r"CI|STOKER(_.*)?", re.IGNORECASE)
MAX_VALUE_BYTES = 64 * 1024
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
    if not isinstance(value, str) or not value:
        raise ValueError("value must be a non-empty string")
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


class SecretMask:
    """Replaces secret values in text that arrives in pieces, including values split across pieces.

    Only a tail that could still become a secret is held back, so output
    without secrets is never delayed.
    """

    def __init__(self, values):
        parts = set()
        for value in values:
            parts.add(value)
            # A multi-line secret printed line by line is masked line by line.
            parts.update(line for line in value.splitlines() if len(line) >= 4)
        self.values = sorted((v for v in parts if v), key=len, reverse=True)
        self.carry = ""

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

    def mask(self, text):
        """Mask a whole text at once (an error message, say)."""
        if text is None:
            return None
        for value in self.values:
            text = text.replace(value, MASK)
        return text
