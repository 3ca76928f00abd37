"""The records Stoker keeps, by aggregate: accounts, projects, builds and app builds, and the words
they use; MODELS is every table, in the order they are made."""
from .accounts import ApiToken, ForgeAccount, Invitation, RevokedToken, SignInAttempt, SignInIdentity, User
from .agents import Agent
from .app_builds import AppArtifact, AppBuild, AppBundle
from .artifacts import BuildArtifact
from .base import BaseModel, IdField, LeasedJob, db, iso, utcnow
from .builds import Build, BuildLog, BuildStep, GithubStatus, StepLog
from .hooks import HookDelivery, ProjectHook
from .projects import AuditEntry, Member, Project, ProjectRegistry, ProjectSecret, Schedule
from .words import AppBuildStatus, Event, Forge, ForkPolicy, Role, Status

MODELS = (User, Invitation, ApiToken, ForgeAccount, Project, Member, AuditEntry, ProjectSecret, ProjectRegistry, Build, Schedule, BuildStep, GithubStatus, BuildLog, StepLog, RevokedToken,
          AppBundle, AppBuild, AppArtifact, SignInIdentity, SignInAttempt, Agent, ProjectHook, HookDelivery, BuildArtifact)

__all__ = ["Agent", "ApiToken", "AuditEntry", "BaseModel", "Build", "BuildArtifact", "BuildLog", "BuildStep", "Event", "ForgeAccount", "ForkPolicy", "Forge", "GithubStatus", "HookDelivery",
           "IdField", "Invitation", "LeasedJob", "MODELS", "Member", "AppArtifact", "AppBuild", "AppBundle",
           "AppBuildStatus", "Project", "ProjectHook", "ProjectRegistry", "ProjectSecret", "RevokedToken", "Role", "Schedule", "SignInAttempt", "SignInIdentity", "Status",
           "StepLog", "User", "db", "iso", "utcnow"]
