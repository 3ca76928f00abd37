"""The records Stoker keeps: users, projects and builds, and app builds."""
import hashlib
import json
from datetime import datetime, timezone

from peewee import (
    SQL,
    AutoField,
    BigIntegerField,
    BlobField,
    BooleanField,
    CharField,
    DatabaseProxy,
    DateTimeField,
    ForeignKeyField,
    IntegerField,
    Model,
    NodeList,
    SqliteDatabase,
    TextField,
    fn,
)

from pipeline.git import without_credentials

db = DatabaseProxy()


class Status:
    """Every state a build can be in; the only place these words are spelt."""

    QUEUED = "queued"
    RUNNING = "running"
    PASSED = "passed"
    FAILED = "failed"
    CANCELED = "canceled"
    # A fork's pull request waits for someone to approve it (then queued) or decline it.
    BLOCKED = "blocked"
    DECLINED = "declined"
    # The pipeline file's `when:` left this build out (or, for a step: a step after a failed one
    # never runs, or its own `when:` left it out).
    SKIPPED = "skipped"
    ALL = (QUEUED, RUNNING, PASSED, FAILED, CANCELED, BLOCKED, DECLINED, SKIPPED)
    FINISHED = (PASSED, FAILED, CANCELED, DECLINED, SKIPPED)
    # Not yet finished and not yet running: what a new push may cancel.
    WAITING = (BLOCKED, QUEUED)


class Event:
    """What started a build."""

    PUSH = "push"
    TAG = "tag"
    PULL_REQUEST = "pull_request"
    MANUAL = "manual"
    CRON = "cron"
    ALL = (PUSH, TAG, PULL_REQUEST, MANUAL, CRON)
    # What a secret is given to unless its owner says otherwise; a fork's pull request gets none ever.
    SECRET_DEFAULT = (PUSH, TAG, MANUAL, CRON)


class ForkPolicy:
    """What a pull request from a fork does: waits for approval, builds, or is ignored."""

    APPROVE = "approve"
    BUILD = "build"
    IGNORE = "ignore"
    ALL = (APPROVE, BUILD, IGNORE)


def utcnow():
    """Naive UTC now: every timestamp is stored in UTC without an offset."""
    return datetime.now(timezone.utc).replace(tzinfo=None)


def iso(moment):
    """Format a stored UTC time as ISO 8601 with milliseconds and a Z, or None."""
    if moment is None:
        return None
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


class IdField(AutoField):
    """An id never given twice: SQLite would hand a deleted newest row's id to the next row (and
    with it whatever still pointed at the old one) unless its table says AUTOINCREMENT.
    PostgreSQL's sequences never go back."""

    def ddl(self, ctx):
        made = super().ddl(ctx)
        return NodeList((made, SQL("AUTOINCREMENT"))) if isinstance(db.obj, SqliteDatabase) else made


class BaseModel(Model):
    id = IdField()

    class Meta:
        database = db


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


class Project(BaseModel):
    owner = ForeignKeyField(User, backref="projects", on_delete="CASCADE")
    name = CharField(max_length=100)
    repo_url = TextField()
    branch = CharField(max_length=255)
    build_command = TextField()
    image = CharField(max_length=255)
    webhook_secret = CharField(max_length=128)
    timeout_seconds = IntegerField(default=3600)
    # A new push to a branch cancels that branch's builds still queued or running.
    auto_cancel = BooleanField(default=False)
    # At most this many of the project's builds run at once; None for no limit of its own.
    concurrency = IntegerField(null=True)
    # Only its newest this many finished builds are kept (see app/retention.py); None for all.
    keep_builds = IntegerField(null=True)
    # Addresses (a JSON list) mailed when its branch's build fails or passes again (app/mail.py).
    notify_emails = TextField(null=True)
    # Where commit statuses go: "owner/repo" on GitHub, and a token sealed like a secret.
    github_repo = CharField(max_length=200, null=True)
    github_token_sealed = TextField(null=True)
    # Public projects show their status badge to anyone; nothing else of them is public.
    public = BooleanField(default=False)
    # Glob patterns (a JSON list) of the branches whose pushes build; null: `branch` alone.
    branches = TextField(null=True)
    # Whether tag pushes build, pull requests into a matching branch build, and what a fork's do.
    tags = BooleanField(default=False)
    pull_requests = BooleanField(default=True)
    fork_pull_requests = CharField(max_length=16, default=ForkPolicy.APPROVE)
    # How git reaches a private repository, sealed like a secret: a token for https:// remotes,
    # a deploy key (Ed25519, OpenSSH form) for ssh ones with its public half and the pinned host key.
    repo_token_sealed = TextField(null=True)
    deploy_key_sealed = TextField(null=True)
    deploy_key_public = TextField(null=True)
    ssh_known_hosts = TextField(null=True)
    # The Docker network its builds run on, one of STOKER_BUILD_NETWORKS; null: the server's default.
    network = CharField(max_length=255, null=True)
    created_at = DateTimeField(default=utcnow)

    @property
    def branch_patterns(self):
        return json.loads(self.branches) if self.branches else [self.branch]

    @property
    def notify_addresses(self):
        return json.loads(self.notify_emails) if self.notify_emails else []

    def summary_json(self):
        return {"id": self.id, "name": self.name, "repoUrl": without_credentials(self.repo_url),
                "branch": self.branch}

    def to_json(self, public_url):
        return {
            **self.summary_json(),
            "buildCommand": self.build_command,
            "image": self.image,
            "timeoutSeconds": self.timeout_seconds,
            "autoCancel": self.auto_cancel,
            "concurrency": self.concurrency,
            "keepBuilds": self.keep_builds,
            "notifyEmails": self.notify_addresses,
            "githubRepo": self.github_repo,
            "reportsToGithub": bool(self.github_repo and self.github_token_sealed),
            "public": self.public,
            "branches": self.branch_patterns,
            "tags": self.tags,
            "pullRequests": self.pull_requests,
            "forkPullRequests": self.fork_pull_requests,
            "hasRepoToken": bool(self.repo_token_sealed),
            "deployKey": self.deploy_key_public,
            "network": self.network,
            "webhookUrl": f"{public_url}/api/webhooks/github/{self.id}",
            "badgeUrl": f"{public_url}/badge/{self.id}.svg",
            "createdAt": iso(self.created_at),
        }


class Role:
    """What a project's member may do; each role may do everything the ones before it may."""

    READ = "read"
    WRITE = "write"
    ADMIN = "admin"
    ALL = (READ, WRITE, ADMIN)

    @classmethod
    def allows(cls, role, needed):
        return cls.ALL.index(role) >= cls.ALL.index(needed)


class Member(BaseModel):
    """A user's part in a project. Whoever creates a project is its first admin."""

    project = ForeignKeyField(Project, backref="members", on_delete="CASCADE")
    user = ForeignKeyField(User, backref="memberships", on_delete="CASCADE")
    role = CharField(max_length=8)
    created_at = DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("project", "user"), True), (("user", "project"), False))

    @classmethod
    def user_ids(cls, project_id):
        """Everyone who hears the project's live events: its members, as they are now."""
        return [user_id for (user_id,) in cls.select(cls.user).where(cls.project == project_id).tuples()]

    def to_json(self):
        return {"username": self.user.username, "role": self.role, "since": iso(self.created_at)}


class AuditEntry(BaseModel):
    """Who did what to a project (or, with no project, to their own tokens), and when."""

    project = ForeignKeyField(Project, null=True, backref="audit_entries", on_delete="CASCADE")
    # The username is kept as well, so the entry still says who after the account is gone.
    user = ForeignKeyField(User, null=True, on_delete="SET NULL")
    username = CharField(max_length=40)
    action = CharField(max_length=40)
    # What it was done to: a setting's name, a secret's, a member's, a build's id.
    target = TextField(null=True)
    created_at = DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("project", "id"), False),)

    @classmethod
    def note(cls, project, user, action, target=None):
        cls.create(project=project, user=user.id, username=user.username, action=action,
                   target=None if target is None else str(target)[:500])

    def to_json(self):
        return {"id": self.id, "user": self.username, "action": self.action, "target": self.target,
                "at": iso(self.created_at)}


class LeasedJob(BaseModel):
    """What every kind of job a worker takes carries (see app/jobs.py): the worker that holds it
    and until when, and how often a lost worker's run of it was queued again. No table of its own."""

    worker_id = CharField(max_length=128, null=True)
    # The running worker renews this; past it, the job is taken back (see lifecycle.recover_lost).
    lease_expires_at = DateTimeField(null=True)
    attempts = IntegerField(default=0)


class Build(LeasedJob):
    project = ForeignKeyField(Project, backref="builds", on_delete="CASCADE")
    status = CharField(max_length=16, default=Status.QUEUED, index=True)
    commit_message = TextField(null=True)
    branch = CharField(max_length=255)
    commit_author = CharField(max_length=255, null=True)
    commit_hash = CharField(max_length=64)
    exit_code = IntegerField(null=True)
    error = TextField(null=True)
    # When the record was created, as the API has always named it.
    started_at = DateTimeField(default=utcnow)
    # When a worker last took it up to run.
    run_started_at = DateTimeField(null=True)
    finished_at = DateTimeField(null=True)
    # GitHub's X-GitHub-Delivery id, so a redelivered push builds once.
    delivery_id = CharField(max_length=64, null=True)
    event = CharField(max_length=16, default=Event.PUSH)
    # The ref the commit was fetched by: refs/heads/<branch>, refs/tags/<tag> or refs/pull/<n>/head.
    ref = CharField(max_length=300, null=True)
    # The pull request it builds, as the API shows it (JSON), or null.
    pull_request = TextField(null=True)
    # A fork's pull request: never given the project's secrets, whoever approved it.
    fork = BooleanField(default=False)
    parent = ForeignKeyField("self", null=True, backref="rebuilds", on_delete="SET NULL")
    triggered_by = ForeignKeyField(User, null=True, on_delete="SET NULL")
    # Variables a manual or scheduled run gives the build (a JSON object), or null.
    variables = TextField(null=True)
    # The name of the schedule that made it, for a cron build.
    schedule = CharField(max_length=64, null=True)
    # What the pushed branch pointed at before the push (for `when: path`); null for a new branch.
    before_hash = CharField(max_length=64, null=True)

    class Meta:
        # (project, id): a project's newest builds are read straight off the index, never sorted.
        indexes = ((("project", "delivery_id"), True), (("project", "id"), False))

    @property
    def full_ref(self):
        """The ref it was fetched by; a build from before refs were kept was its branch's push."""
        return self.ref or f"refs/heads/{self.branch}"

    def to_json(self, with_project=False):
        data = {
            "id": self.id,
            "status": self.status,
            "commit": self.commit_message,
            "branch": self.branch,
            "commitAuthor": self.commit_author,
            "commitHash": self.commit_hash,
            "exitCode": self.exit_code,
            "error": self.error,
            "projectId": self.project_id,
            "startedAt": iso(self.started_at),
            "runStartedAt": iso(self.run_started_at),
            "finishedAt": iso(self.finished_at),
            "event": self.event,
            "ref": self.full_ref,
            "pullRequest": json.loads(self.pull_request) if self.pull_request else None,
            "parentId": self.parent_id,
            "triggeredBy": self.triggered_by.username if self.triggered_by_id else None,
            "schedule": self.schedule,
        }
        if with_project:
            data["project"] = self.project.summary_json()
        return data


class ProjectSecret(BaseModel):
    """A value given to a project's builds as an environment variable; stored only encrypted."""

    project = ForeignKeyField(Project, backref="secrets", on_delete="CASCADE")
    name = CharField(max_length=64)
    sealed = TextField()
    # The events (a JSON list) whose builds receive it; null: Event.SECRET_DEFAULT.
    events = TextField(null=True)
    updated_at = DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("project", "name"), True),)

    @property
    def event_list(self):
        return json.loads(self.events) if self.events else list(Event.SECRET_DEFAULT)

    def to_json(self):
        return {"name": self.name, "events": self.event_list, "updatedAt": iso(self.updated_at)}


class ProjectRegistry(BaseModel):
    """Credentials for pulling a project's images from one registry; the password sealed like a
    secret, and given to the engine's pull alone, never to a build."""

    project = ForeignKeyField(Project, backref="registries", on_delete="CASCADE")
    host = CharField(max_length=255)
    username = CharField(max_length=255)
    password_sealed = TextField()
    updated_at = DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("project", "host"), True),)

    def to_json(self):
        return {"host": self.host, "username": self.username, "updatedAt": iso(self.updated_at)}


class Schedule(BaseModel):
    """A named cron line of a project's (UTC): each due time makes one build of its branch, event cron."""

    project = ForeignKeyField(Project, backref="schedules", on_delete="CASCADE")
    name = CharField(max_length=64)
    cron = CharField(max_length=100)
    branch = CharField(max_length=255)
    # Variables its builds are given (a JSON object), or null.
    variables = TextField(null=True)
    next_run_at = DateTimeField(index=True)
    last_run_at = DateTimeField(null=True)
    created_at = DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("project", "name"), True),)

    def to_json(self):
        return {"name": self.name, "cron": self.cron, "branch": self.branch,
                "variables": json.loads(self.variables) if self.variables else {},
                "nextRunAt": iso(self.next_run_at), "lastRunAt": iso(self.last_run_at)}


class BuildStep(BaseModel):
    """One step of a build that ran from a .stoker.yml: how it ended and how long it took."""

    build = ForeignKeyField(Build, backref="steps", on_delete="CASCADE")
    position = IntegerField()
    name = CharField(max_length=100)
    status = CharField(max_length=16)
    exit_code = IntegerField(null=True)
    started_at = DateTimeField(null=True)
    finished_at = DateTimeField(null=True)
    # The matrix combination it ran for (a JSON object), or null.
    matrix = TextField(null=True)

    class Meta:
        indexes = ((("build", "position"), False),)

    def to_json(self):
        seconds = None
        if self.started_at and self.finished_at:
            seconds = round((self.finished_at - self.started_at).total_seconds(), 3)
        return {"name": self.name, "status": self.status, "exitCode": self.exit_code,
                "startedAt": iso(self.started_at), "finishedAt": iso(self.finished_at),
                "durationSeconds": seconds, "matrix": json.loads(self.matrix) if self.matrix else None}


class GithubStatus(BaseModel):
    """A commit status owed to GitHub for one build; kept until it is delivered or given up."""

    build = ForeignKeyField(Build, backref="github_statuses", on_delete="CASCADE")
    state = CharField(max_length=16)
    description = CharField(max_length=140)
    attempts = IntegerField(default=0)
    next_try_at = DateTimeField(default=utcnow, index=True)
    done = BooleanField(default=False, index=True)


class BuildLog(BaseModel):
    """One piece of a build's log: `length` UTF-8 bytes starting at byte `offset`."""

    build = ForeignKeyField(Build, backref="log_pieces", on_delete="CASCADE")
    offset = BigIntegerField()
    length = IntegerField()
    data = TextField()

    class Meta:
        indexes = ((("build", "offset"), True),)


class StepLog(BaseModel):
    """One piece of one step's own log (as BuildLog is of the build's): what
    GET /api/build/:id/logs?step=<name> reads, apart from the steps that ran beside it."""

    build = ForeignKeyField(Build, backref="step_log_pieces", on_delete="CASCADE")
    step = CharField(max_length=100)
    offset = BigIntegerField()
    length = IntegerField()
    data = TextField()

    class Meta:
        indexes = ((("build", "step", "offset"), True),)


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

    @staticmethod
    def hash_of(value):
        return hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()

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


class MobileStatus:
    """The states of an app build, as the v1 API names them."""

    QUEUED = "queued"
    BUILDING = "building"
    SUCCESS = "success"
    FAILED = "failed"
    ALL = (QUEUED, BUILDING, SUCCESS, FAILED)
    FINISHED = (SUCCESS, FAILED)
    WAITING = (QUEUED,)


class MobileBundle(BaseModel):
    """A bundle id on one platform: the one account it belongs to, and its signing key once made."""

    owner = ForeignKeyField(User, backref="mobile_bundles", on_delete="CASCADE")
    bundle_id = CharField(max_length=255)
    platform = CharField(max_length=16)
    # The private key (PKCS#8, base64) sealed like a project secret, and its certificate (DER).
    key_sealed = TextField(null=True)
    certificate = BlobField(null=True)
    created_at = DateTimeField(default=utcnow)

    class Meta:
        # The name it had before the feature was called mobile builds: existing databases keep their rows.
        table_name = "appbundle"
        indexes = ((("bundle_id", "platform"), True),)


class MobileBuild(LeasedJob):
    """A web app's URL to be made into a native app; `uid` is the id the API shows."""

    uid = CharField(max_length=36, unique=True)
    owner = ForeignKeyField(User, backref="mobile_builds", on_delete="CASCADE")
    # The bundle whose signing key it is signed with; `bundle_id` is the bundle id itself.
    bundle_record = ForeignKeyField(MobileBundle, column_name="app_bundle_id", object_id_name="bundle_record_id",
                                    backref="builds", on_delete="CASCADE")
    platform = CharField(max_length=16)
    name = CharField(max_length=255)
    bundle_id = CharField(max_length=255)
    version = CharField(max_length=255)
    url = TextField()
    # A JSON list of the API's permission words.
    permissions = TextField(default="[]")
    status = CharField(max_length=16, default=MobileStatus.QUEUED, index=True)
    error = TextField(null=True)
    created_at = DateTimeField(default=utcnow)
    completed_at = DateTimeField(null=True)

    class Meta:
        # The name it had before the feature was called mobile builds: existing databases keep their rows.
        table_name = "appbuild"
        indexes = ((("owner", "id"), False),)

    @property
    def artifact_kind(self):
        return "apk" if self.platform == "android" else "xcode-project"

    def to_json(self, download_url=None):
        data = {
            "id": self.uid,
            "status": self.status,
            "platform": self.platform,
            "artifact": self.artifact_kind,
            "name": self.name,
            "bundleId": self.bundle_id,
            "version": self.version,
            "url": self.url,
            "permissions": json.loads(self.permissions),
            "createdAt": iso(self.created_at),
        }
        if self.status in MobileStatus.FINISHED:
            data["completedAt"] = iso(self.completed_at)
        if self.status == MobileStatus.SUCCESS and download_url:
            data["downloadUrl"] = download_url
        if self.status == MobileStatus.FAILED:
            data["error"] = self.error
        return data


class MobileArtifact(BaseModel):
    """What a successful app build made, kept in the database so any web process can serve it."""

    build = ForeignKeyField(MobileBuild, backref="artifacts", on_delete="CASCADE", unique=True)
    file_name = CharField(max_length=255)
    content_type = CharField(max_length=100)
    sha256 = CharField(max_length=64)
    data = BlobField()

    class Meta:
        # The name it had before the feature was called mobile builds: existing databases keep their rows.
        table_name = "appartifact"


MODELS = (User, Invitation, ApiToken, Project, Member, AuditEntry, ProjectSecret, ProjectRegistry, Build, Schedule, BuildStep, GithubStatus, BuildLog, StepLog, RevokedToken,
          MobileBundle, MobileBuild, MobileArtifact)
