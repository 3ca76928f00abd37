"""Accounts: users, the invitations that let one more register, API tokens, revoked login tokens, and
the forge accounts users connect."""

from peewee import BooleanField, CharField, DateTimeField, ForeignKeyField, TextField, fn

from .base import BaseModel, iso, secret_hash, utcnow


class User(BaseModel):
    username = CharField(max_length=40, unique=True)
    password_hash = CharField(max_length=255)
    # Admins invite others and manage accounts; the first account is one.
    admin = BooleanField(default=False)
    # A disabled account cannot log in, and its tokens stop working at once.
    disabled = BooleanField(default=False)
    created_at = DateTimeField(default=utcnow)

    def to_json(self):
        return {"id": self.id, "username": self.username, "admin": self.admin}

    def admin_json(self):
        return {**self.to_json(), "disabled": self.disabled}


# Logins and registrations look names up in any case. Not unique: a database made before names
# were unique in any case may hold some that differ in case alone (registration keeps new ones out).
User.add_index(User.index(fn.LOWER(User.username), name="user_username_lower"))


class Invitation(BaseModel):
    """A one-time code an admin hands out to let one more person register; only its hash is kept."""

    code_hash = CharField(max_length=64, unique=True)
    created_by = ForeignKeyField(User, backref="invitations", on_delete="CASCADE")
    expires_at = DateTimeField()
    used_by = ForeignKeyField(User, null=True, on_delete="SET NULL")
    used_at = DateTimeField(null=True)
    created_at = DateTimeField(default=utcnow)

    @classmethod
    def usable(cls, code_hash):
        """The unused, unexpired invitation with this code's hash from an admin not since disabled, as a query."""
        return (cls.select().join(User, on=(cls.created_by == User.id))
                .where((cls.code_hash == code_hash) & cls.used_at.is_null() & (cls.expires_at > utcnow())
                       & ~User.disabled))

    @classmethod
    def use(cls, code_hash, user):
        """Use the invitation up for `user`; False if it was not there to use."""
        return bool(cls.update(used_by=user, used_at=utcnow())
                    .where(cls.id.in_(cls.usable(code_hash).select(cls.id))).execute())


class ApiToken(BaseModel):
    """A long-lived token for scripts, `stk_` and random bytes; only its sha256 is kept."""

    user = ForeignKeyField(User, backref="api_tokens", on_delete="CASCADE")
    name = CharField(max_length=100)
    # "read": GET alone; "write": whatever the user may do, but manage API tokens.
    scope = CharField(max_length=8)
    token_hash = CharField(max_length=64, unique=True)
    created_at = DateTimeField(default=utcnow)
    expires_at = DateTimeField(null=True)
    last_used_at = DateTimeField(null=True)

    PREFIX = "stk_"

    hash_of = staticmethod(secret_hash)

    @classmethod
    def of_value(cls, value):
        """The unexpired token whose value this is, its enabled user joined, or None."""
        if not isinstance(value, str) or not value.startswith(cls.PREFIX) or len(value) > 200:
            return None
        row = (cls.select(cls, User).join(User)
               .where((cls.token_hash == cls.hash_of(value)) & ~User.disabled).first())
        if row is None or (row.expires_at is not None and row.expires_at <= utcnow()):
            return None
        return row

    def to_json(self):
        return {"id": self.id, "name": self.name, "scope": self.scope, "createdAt": iso(self.created_at),
                "expiresAt": iso(self.expires_at), "lastUsedAt": iso(self.last_used_at)}


class RevokedToken(BaseModel):
    """An access token signed out before it expired: refused everywhere until it would have expired."""

    jti = CharField(max_length=64, unique=True)
    expires_at = DateTimeField(index=True)

    @classmethod
    def covers(cls, jti):
        """True if the token with this `jti` was revoked."""
        return cls.select().where(cls.jti == str(jti)).exists()


class ForgeAccount(BaseModel):
    """A user's account on a forge, connected with a token of theirs (sealed like a secret): what lists
    the repositories they may administer and connects one as a project."""

    user = ForeignKeyField(User, backref="forge_accounts", on_delete="CASCADE")
    forge = CharField(max_length=16)
    # A self-hosted forge's address; null for GitHub, whose API is the server's STOKER_GITHUB_API_URL.
    url = TextField(null=True)
    login = CharField(max_length=255)
    token_sealed = TextField()
    created_at = DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("user", "forge"), True),)

    def to_json(self):
        return {"forge": self.forge, "url": self.url, "login": self.login, "connectedAt": iso(self.created_at)}


class SignInIdentity(BaseModel):
    """An account at a sign-in provider (a forge, or an OpenID Connect issuer) that signs in as a user.
    It is known by the provider's address and its own id there, never by a name or an e-mail address,
    which another account there may take."""

    user = ForeignKeyField(User, backref="sign_in_identities", on_delete="CASCADE")
    # The provider's name in the settings (STOKER_OAUTH_<NAME>_*), as shown.
    provider = CharField(max_length=30)
    # The address it was at: the same name pointed at another server is another provider.
    issuer = CharField(max_length=500)
    subject = CharField(max_length=255)
    login = CharField(max_length=255)
    created_at = DateTimeField(default=utcnow)
    last_used_at = DateTimeField(null=True)

    class Meta:
        indexes = ((("issuer", "subject"), True),)

    def to_json(self):
        return {"id": self.id, "provider": self.provider, "login": self.login, "linkedAt": iso(self.created_at),
                "lastUsedAt": iso(self.last_used_at)}


class SignInAttempt(BaseModel):
    """A sign-in sent to a provider: what its callback must match (the state, the browser that set
    out) and what finishing it needs (the PKCE verifier, the nonce, an invitation, or the user linking
    the provider). It is used by the first callback that names it, and gone once its code is exchanged."""

    state_hash = CharField(max_length=64, unique=True)
    browser_hash = CharField(max_length=64)
    provider = CharField(max_length=30)
    verifier = CharField(max_length=128)
    nonce = CharField(max_length=64)
    invitation_hash = CharField(max_length=64, null=True)
    link_user = ForeignKeyField(User, null=True, on_delete="CASCADE")
    # The client's address, so that one client cannot fill the table for everyone.
    address = CharField(max_length=64, index=True)
    expires_at = DateTimeField(index=True)
    # Set by its callback: used once, and, for a sign-in, who it signed in as and the hash of the
    # code the browser exchanges for a login token.
    used = BooleanField(default=False)
    signed_in = ForeignKeyField(User, null=True, on_delete="CASCADE")
    code_hash = CharField(max_length=64, null=True, unique=True)
