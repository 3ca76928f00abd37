"""Projects and what belongs to one: its members and their roles, audit trail, secrets, registry
credentials and schedules."""
import json

from peewee import BooleanField, CharField, DateTimeField, ForeignKeyField, IntegerField, TextField

from pipeline.git.inputs import without_credentials

from .accounts import User
from .base import BaseModel, iso, utcnow
from .words import Event, Forge, ForkPolicy


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
    # Where its code lives (Forge), and that forge's own address for a self-hosted one (GitHub's
    # is the server's STOKER_GITHUB_API_URL).
    forge = CharField(max_length=16, default=Forge.GITHUB)
    forge_url = TextField(null=True)
    # Where commit statuses go: the repository's path on its forge ("owner/repo", GitLab's
    # "group/sub/project"), and a token sealed like a secret. Named when GitHub was the one forge.
    github_repo = CharField(max_length=200, null=True)
    github_token_sealed = TextField(null=True)
    # The webhook Stoker registered on the forge for it (a project connected from a forge account),
    # removed with it.
    forge_hook_id = CharField(max_length=64, null=True)
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
    # The labels (JSON) a worker or agent must carry all of to run its builds; null: any may.
    agent_labels = TextField(null=True)
    created_at = DateTimeField(default=utcnow)

    @property
    def branch_patterns(self):
        return json.loads(self.branches) if self.branches else [self.branch]

    @property
    def reports_status(self):
        """Whether its forge is told its builds' statuses: it has a repository and a token there, and
        a self-hosted forge's address."""
        return bool(self.github_repo and self.github_token_sealed and (self.forge == Forge.GITHUB or self.forge_url))

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
            "forge": self.forge,
            "forgeUrl": self.forge_url,
            "forgeRepo": self.github_repo,
            "reportsToForge": self.reports_status,
            # As before there were other forges: its repository there, whatever the forge.
            "githubRepo": self.github_repo,
            "reportsToGithub": self.reports_status and self.forge == Forge.GITHUB,
            "public": self.public,
            "branches": self.branch_patterns,
            "tags": self.tags,
            "pullRequests": self.pull_requests,
            "forkPullRequests": self.fork_pull_requests,
            "hasRepoToken": bool(self.repo_token_sealed),
            "deployKey": self.deploy_key_public,
            "network": self.network,
            "agentLabels": json.loads(self.agent_labels) if self.agent_labels else [],
            "webhookUrl": f"{public_url}/api/webhooks/{self.forge}/{self.id}",
            # Stoker added the webhook on the forge itself (a project connected from a forge account).
            "webhookAdded": self.forge_hook_id is not None,
            "badgeUrl": f"{public_url}/badge/{self.id}.svg",
            "createdAt": iso(self.created_at),
        }


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
    secret, and given to the engine's pull alone, never to a build's commands."""

    project = ForeignKeyField(Project, backref="registries", on_delete="CASCADE")
    host = CharField(max_length=255)
    username = CharField(max_length=255)
    password_sealed = TextField()
    # Given to the image builder too (its pushes and its Dockerfile's pulls), where the Dockerfile,
    # the repository's code, can read them; never for a pull request.
    image_builds = BooleanField(default=False)
    updated_at = DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("project", "host"), True),)

    def to_json(self):
        return {"host": self.host, "username": self.username, "imageBuilds": self.image_builds,
                "updatedAt": iso(self.updated_at)}


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
