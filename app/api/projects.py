"""Projects: a repository and branch to build, with its own webhook secret."""
import base64
import json
import re
import secrets
from urllib.parse import urlsplit

from flask import Blueprint, current_app, jsonify

from pipeline.git import GitError
from pipeline.git.command import NO_ACCESS, Access
from pipeline.git.inputs import UnsafeRemote, check_repo_url, is_ssh, without_credentials
from pipeline.globs import check_patterns
from pipeline.imagebuilder import is_image_builder
from pipeline.images import IMAGE_REFERENCE
from pipeline.plan import MAX_TIMEOUT

from .. import runtime
from ..background import caches, mail, mirrors
from ..background.retention import MAX_KEEP_BUILDS
from ..forges import FORGES, github
from ..forges.hosting import ForgeError, path_of
from ..records import remotes, vault
from ..records.jobs import BUILD
from ..records.lifecycle import cancel_unfinished, changes, queue_build
from ..records.models import Build, Event, Forge, ForkPolicy, Member, Project, Role, db
from .access import audit, project_for
from .callers import current_user, require_login
from .errors import ApiError
from .fields import branch_field, check_variables, forge_account, forge_answer, forge_url_field, is_token, labels_field
from .parsing import flag, json_body, page_args, whole_number

bp = Blueprint("projects", __name__, url_prefix="/api/project")
bp.before_request(require_login)

DEFAULT_BUILD_COMMAND = "make"
MAX_COMMAND_LENGTH = 16_384


def _text(data, key, *, default=None, max_length):
    value = data.get(key, default)
    if not isinstance(value, str) or not value.strip():
        raise ApiError(400, f"{key} must be a non-empty string")
    if len(value) > max_length:
        raise ApiError(400, f"{key} must be at most {max_length} characters")
    if "\x00" in value:
        raise ApiError(400, f"{key} must not contain NUL characters")
    return value


# An ssh remote as git writes it: git@host:owner/repo.git, or ssh://git@host[:port]/owner/repo.git.
SSH_REMOTE = re.compile(r"(?:ssh://)?[A-Za-z0-9._-]+@(?P<host>[A-Za-z0-9.-]+)(?::\d+)?[:/](?P<path>.+)")
# The names each forge setting had when GitHub was the only forge, still taken.
FORGE_ALIASES = {"githubRepo": "forgeRepo", "githubToken": "forgeToken"}


def _forge_fields(data, project=None):
    """Where the project's code lives and where commit statuses go: its forge, a self-hosted forge's
    address, the repository's path there (from repoUrl when it can be told) and a token; `project`:
    the one being changed, whose settings stand where `data` is silent."""
    data = dict(data)
    # A message names the settings as the caller does: by their first names if it uses those.
    legacy = any(old in data for old in FORGE_ALIASES) and not any(new in data for new in FORGE_ALIASES.values())
    named = {new: old if legacy else new for old, new in FORGE_ALIASES.items()}
    for old, new in FORGE_ALIASES.items():
        if old in data:
            if new in data and data[new] != data[old]:
                raise ApiError(400, f"{old} and {new} are one setting; give one of them")
            data[new] = data.pop(old)
    fields = {}
    forge = data.get("forge", project.forge if project else Forge.GITHUB)
    if forge not in Forge.ALL:
        raise ApiError(400, f"forge must be one of {', '.join(Forge.ALL)}")
    fields["forge"] = forge
    forge_url = data.get("forgeUrl", project.forge_url if project else None)
    if forge == Forge.GITHUB:
        if forge_url is not None:
            raise ApiError(400, "forgeUrl is for a self-hosted forge; GitHub's is the server's STOKER_GITHUB_API_URL")
    elif forge_url is not None:
        forge_url = forge_url_field(forge_url, "forgeUrl")
    fields["forge_url"] = forge_url
    repo = data.get("forgeRepo", project.github_repo if project else None)
    repo_url = data.get("repoUrl", project.repo_url if project else None)
    if repo is None and "forgeRepo" not in data and isinstance(repo_url, str):
        repo = repo_on_forge(forge, forge_url, repo_url)
    if repo is not None and path_of(repo, nested=forge == Forge.GITLAB) is None:
        raise ApiError(400, f"{named['forgeRepo']} must be the repository's path on its forge: 'owner/repo'"
                            + (" ('group/subgroup/project')" if forge == Forge.GITLAB else ""))
    fields["github_repo"] = repo
    if "forgeToken" in data:
        token = data["forgeToken"]
        if token is None:
            fields["github_token_sealed"] = None
        else:
            if not is_token(token, 500):
                raise ApiError(400, f"{named['forgeToken']} must be a token of 1 to 500 printable ASCII characters")
            if repo is None:
                raise ApiError(400, f"{named['forgeRepo']} ('owner/repo') is needed to report to the forge "
                                    "from this repoUrl")
            fields["github_token_sealed"] = vault.seal(current_app.config["SECRET_KEY"], token)
    if forge != Forge.GITHUB and forge_url is None and (
            fields.get("github_token_sealed") or (project and project.github_token_sealed and "forgeToken" not in data)):
        raise ApiError(400, f"forgeUrl (the {forge} server's address, https://...) is needed to report to it")
    return fields


def repo_on_forge(forge, forge_url, repo_url):
    """The repository's path on its forge as `repo_url` says it, when it is on that forge; else None."""
    if forge == Forge.GITHUB:
        return github.repo_from_url(repo_url)
    if forge_url is None:
        return None
    host = urlsplit(forge_url).hostname
    match = SSH_REMOTE.fullmatch(repo_url)
    if match:
        remote_host, path = match["host"], match["path"]
    else:
        parts = urlsplit(repo_url)
        remote_host, path = parts.hostname, parts.path
        prefix = urlsplit(forge_url).path.rstrip("/")
        if prefix and path.startswith(prefix + "/"):
            path = path[len(prefix):]
    path = path.strip("/")
    path = path[:-4] if path.endswith(".git") else path
    on_forge = remote_host and remote_host.lower() == (host or "").lower()
    return path_of(path) if on_forge else None


def _setting_fields(data, *, creating):
    """Check the settings present in `data` (on creation, with defaults for those absent) and
    return them as model fields; a 400 names the first field at fault."""
    config = current_app.config
    fields = {}

    def given(key):
        return creating or key in data

    if given("name"):
        fields["name"] = _text(data, "name", max_length=100).strip()
    if given("buildCommand"):
        fields["build_command"] = _text(data, "buildCommand", default=DEFAULT_BUILD_COMMAND,
                                        max_length=MAX_COMMAND_LENGTH)
    if given("image"):
        fields["image"] = _text(data, "image", default=config["STOKER_BUILD_IMAGE"], max_length=255)
        if not IMAGE_REFERENCE.fullmatch(fields["image"]):
            raise ApiError(400, "image must be a Docker image reference such as 'alpine:3.20'")
        if is_image_builder(fields["image"]):
            raise ApiError(400, "image cannot be stoker-image-builder, which runs only as a step of its own")
    for key, column, default in (("autoCancel", "auto_cancel", False), ("public", "public", False),
                                 ("tags", "tags", False), ("pullRequests", "pull_requests", True)):
        if given(key):
            fields[column] = flag(data, key, default)
    if given("forkPullRequests"):
        policy = data.get("forkPullRequests", ForkPolicy.APPROVE)
        if policy not in ForkPolicy.ALL:
            raise ApiError(400, f"forkPullRequests must be one of {', '.join(ForkPolicy.ALL)}")
        fields["fork_pull_requests"] = policy
    if given("concurrency"):
        concurrency = data.get("concurrency")
        fields["concurrency"] = None if concurrency is None else whole_number(
            data, "concurrency", 1, 1000, ", or null for no limit")
    if given("keepBuilds"):
        keep = data.get("keepBuilds")
        fields["keep_builds"] = None if keep is None else whole_number(
            data, "keepBuilds", 1, MAX_KEEP_BUILDS, ", or null to keep every build")
    if given("timeoutSeconds"):
        fields["timeout_seconds"] = whole_number(data, "timeoutSeconds", 1, MAX_TIMEOUT, default=3600)
    if given("branch"):
        fields["branch"] = branch_field(data, "main")
    if "network" in data:
        network = data["network"]
        if network is not None and network not in config["STOKER_BUILD_NETWORKS"]:
            raise ApiError(400, f"network must be one of {', '.join(config['STOKER_BUILD_NETWORKS'])} "
                                "(STOKER_BUILD_NETWORKS), or null for the server's default")
        fields["network"] = network
    if "agentLabels" in data:
        labels = labels_field(data, "agentLabels")
        fields["agent_labels"] = json.dumps(labels) if labels else None
    if "branches" in data:
        try:
            fields["branches"] = json.dumps(check_patterns(data["branches"], "branches"))
        except ValueError as exc:
            raise ApiError(400, str(exc)) from None
    if "notifyEmails" in data:
        try:
            addresses = mail.check_addresses(data["notifyEmails"], "notifyEmails")
            fields["notify_emails"] = json.dumps(addresses) if addresses else None
        except ValueError as exc:
            raise ApiError(400, str(exc)) from None
    return fields


def _project_fields(data):
    """Check a create request's fields, each with a message naming what is wrong."""
    fields = _setting_fields(data, creating=True)
    fields.update(_forge_fields(data))
    fields.update(_repo_fields(data, creating=True))
    return fields


def _repo_fields(data, creating=False):
    """repoUrl (needed `creating`) and repoToken, where present in `data`, as model fields."""
    config = current_app.config
    fields = {}
    if creating or "repoUrl" in data or "repoToken" not in data:
        try:
            fields["repo_url"] = check_repo_url(data.get("repoUrl"), config["STOKER_ALLOW_LOCAL_REPOS"],
                                                config["STOKER_ALLOW_PRIVATE_REPO_HOSTS"])
        except ValueError as exc:
            raise ApiError(400, str(exc)) from None
    if "repoToken" in data:
        token = data["repoToken"]
        if token is not None and (not isinstance(token, str) or not 1 <= len(token) <= 1000
                                  or not token.isprintable() or " " in token):
            raise ApiError(400, "repoToken must be a token of 1 to 1000 printable characters without spaces, "
                                "or null to remove it")
        fields["repo_token_sealed"] = token and vault.seal(config["SECRET_KEY"], token)
    return fields


def _project_head(project, branch):
    """As _branch_head, reached with the project's token or deploy key."""
    return _branch_head(project.repo_url, branch, vault.access_of(project, current_app.config["SECRET_KEY"]))


def _branch_head(repo_url, branch, access=NO_ACCESS):
    """The head commit of `branch`: 400 for a remote Stoker may not reach, 422 when there is no such
    branch (a project that can never build is refused)."""
    try:
        return remotes.remote_head(current_app.config, repo_url, branch, access)
    except UnsafeRemote as exc:
        raise ApiError(400, str(exc)) from None
    except GitError as exc:
        raise ApiError(422, f"Cannot build {without_credentials(repo_url)} branch {branch}: {exc}") from None


@bp.post("/projects")
def create_project():
    """A new project, its creator its admin, and its first build at the branch head. With
    `deployKey`, its key pair is made instead, and it builds once GitHub has the public half."""
    # 1. Check every field before any git process starts; a repository connected from the caller's
    #    forge account says its own address, branch and credentials.
    data = json_body()
    connect = flag(data, "connect", False)
    if connect:
        data = _from_forge(data)
    fields = _project_fields(data)
    with_key = flag(data, "deployKey", False)
    if with_key:
        if not is_ssh(fields["repo_url"]):
            raise ApiError(400, "deployKey needs an ssh repoUrl (git@host:owner/repo or ssh://...)")
        private, public = runtime.off_the_hub(vault.make_deploy_key, f"stoker-{fields['name']}")
        fields.update(deploy_key_sealed=vault.seal(current_app.config["SECRET_KEY"], private),
                      deploy_key_public=public)
        head = None
    else:
        # 2. The branch must exist now: a project that can never build is refused.
        token = data.get("repoToken")
        head = _branch_head(fields["repo_url"], fields["branch"], Access(token=token) if token else NO_ACCESS)
    # 3. Project and first build are written together or not at all; a connected one's first build
    #    waits for its webhook, which needs its address.
    with changes() as batch:
        project = Project.create(owner=current_user.id, webhook_secret=_webhook_secret(fields["forge"]), **fields)
        Member.create(project=project, user=current_user.id, role=Role.ADMIN)
        audit(project, "project.create", project.name)
        build = head and not connect and batch.queue(BUILD, project=project, commit_hash=head, branch=project.branch,
                                                     ref=f"refs/heads/{project.branch}")
    if connect:
        build = _add_webhook(project, data["forgeToken"], head)
    body = project.to_json(current_app.config["STOKER_PUBLIC_URL"])
    body["webhookSecret"] = project.webhook_secret
    body["role"] = Role.ADMIN
    return jsonify(message="Project created", project=body, build=build and build.to_json()), 201


def _webhook_secret(forge):
    """A fresh webhook secret; GitLab's in the Standard Webhooks form (whsec_ and base64), the one form
    it takes as a signing token as well as a secret token, so that one secret does for both."""
    if forge == Forge.GITLAB:
        return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()
    return secrets.token_hex(32)


def _from_forge(data):
    """A create request for a repository of the caller's forge account (`forgeRepo`): its address,
    branch and whether it is private from the forge, the account's token to report statuses with and,
    for a private one, to fetch it. A 400 (or 403, 404) when the forge says no."""
    forge = data.get("forge", Forge.GITHUB)
    if forge not in Forge.ALL:
        raise ApiError(400, f"forge must be one of {', '.join(Forge.ALL)}")
    if "repoUrl" in data or "forgeUrl" in data:
        raise ApiError(400, "connect takes the repository's address from the forge: give forgeRepo, not repoUrl "
                            "or forgeUrl")
    path = data.get("forgeRepo")
    if path_of(path, nested=forge == Forge.GITLAB) is None:
        raise ApiError(400, "forgeRepo must be the repository's path on its forge: 'owner/repo'")
    account, token = forge_account(forge)
    repository = forge_answer(FORGES[forge].repository, account.url, token, path)
    if repository is None:
        raise ApiError(404, f"forgeRepo {path} is not on {forge}, or your account there cannot see it")
    if not repository.admin:
        raise ApiError(403, f"your {forge} account may not administer {path}, so it cannot add its webhook")
    _check_clone_url(forge, account.url, repository.clone_url)
    return {**data, "name": data.get("name", repository.path.rsplit("/", 1)[1][:100]), "repoUrl": repository.clone_url,
            "branch": data.get("branch", repository.default_branch), "forgeUrl": account.url,
            "forgeRepo": repository.path, "forgeToken": token, **({"repoToken": token} if repository.private else {})}


def _check_clone_url(forge, forge_url, clone_url):
    """The address a forge gave to clone a repository from must be on that forge: the account's token
    goes with it. (A local path, where the admin allows them, is for tests; check_repo_url decides.)"""
    parts = urlsplit(clone_url)
    if not parts.scheme:
        return
    hosts = ({urlsplit(forge_url).hostname} if forge_url else
             {"github.com", urlsplit(current_app.config["STOKER_GITHUB_API_URL"]).hostname})
    if parts.scheme not in ("https", "http") or parts.hostname not in hosts:
        raise ApiError(422, f"the {forge} server gave a clone address elsewhere than itself: {without_credentials(clone_url)[:200]}")


def _add_webhook(project, token, head):
    """Add the connected project's webhook on its forge, then queue its first build; if the forge will
    not take the webhook, the project goes again and the API says why."""
    url = f"{current_app.config['STOKER_PUBLIC_URL']}/api/webhooks/{project.forge}/{project.id}"
    module = FORGES[project.forge]
    try:
        hook_id = module.add_hook(current_app, project.forge_url, token, project.github_repo, url,
                                  project.webhook_secret)
    except BaseException as exc:
        project.delete_instance()
        if isinstance(exc, ForgeError):
            raise ApiError(exc.status, f"the forge would not take the webhook: {exc}") from None
        raise
    try:
        with changes() as batch:
            Project.update(forge_hook_id=hook_id).where(Project.id == project.id).execute()
            project.forge_hook_id = hook_id
            return head and batch.queue(BUILD, project=project, commit_hash=head, branch=project.branch,
                                        ref=f"refs/heads/{project.branch}")
    except BaseException:
        # Nothing half-made stays: neither the project nor its webhook on the forge.
        project.delete_instance()
        try:
            module.remove_hook(current_app, project.forge_url, token, project.github_repo, hook_id)
        except ForgeError:
            pass
        raise


def _remove_webhook(project):
    """Take the webhook Stoker added off the forge; what went wrong, if anything (the project goes anyway)."""
    if project.forge_hook_id is None:
        return None
    try:
        token = vault.unseal(current_app.config["SECRET_KEY"], project.github_token_sealed, "the forge token")
        FORGES[project.forge].remove_hook(current_app, project.forge_url, token, project.github_repo,
                                          project.forge_hook_id)
    except (ForgeError, vault.VaultError) as exc:
        return f"its webhook on {project.forge} could not be removed ({exc}): remove it there"
    return None


# The projects list carries each project's newest builds only; the paged route has the rest.
LISTED_BUILDS = 20


@bp.get("/projects")
def list_projects():
    """The projects the caller is a member of, each with their role and its newest LISTED_BUILDS
    builds, however many it has."""
    public_url = current_app.config["STOKER_PUBLIC_URL"]
    listed = []
    mine = (Project.select(Project, Member.role).join(Member)
            .where(Member.user == current_user.id).order_by(Project.id).objects())
    for project in mine:
        newest = project.builds.order_by(Build.id.desc()).limit(LISTED_BUILDS)
        history = [build.to_json() for build in newest]
        listed.append({**project.to_json(public_url), "role": project.role, "builds": history,
                       "latestBuild": history[0] if history else None})
    return jsonify(message="Projects fetched", projects=listed)


@bp.get("/projects/<project_id>")
def get_project(project_id):
    project = project_for(project_id)
    return jsonify(message="Project fetched", project=project_json(project))


def project_json(project):
    """A project as its member sees it: with their role in it."""
    return {**project.to_json(current_app.config["STOKER_PUBLIC_URL"]), "role": project.role}


SETTINGS = ("name", "repoUrl", "repoToken", "branch", "branches", "tags", "pullRequests", "forkPullRequests",
            "buildCommand", "image", "timeoutSeconds", "autoCancel", "concurrency", "keepBuilds", "notifyEmails",
            "public", "forge", "forgeUrl", "forgeRepo", "forgeToken", "githubRepo", "githubToken", "network",
            "agentLabels")


def _tokens_left_behind(project, data, fields):
    """A token goes nowhere but where it was given for: a repository token stays only with its
    repository's address, a forge token only with its forge, address and repository there, unless the
    same request gives a new one. (Otherwise any admin could send one, a user's own from a connected
    account perhaps, to a host of theirs, or read another repository the token reaches.)"""
    dropped = {}
    if fields.get("repo_url", project.repo_url) != project.repo_url and "repoToken" not in data:
        dropped["repo_token_sealed"] = None
    moved = any(fields.get(column, getattr(project, column)) != getattr(project, column)
                for column in ("forge", "forge_url", "github_repo"))
    if moved and "forgeToken" not in data and "githubToken" not in data:
        dropped["github_token_sealed"] = None
    return dropped


@bp.patch("/projects/<project_id>")
def update_project(project_id):
    """Change any of the project's settings; nothing changes unless every one given is good."""
    project = project_for(project_id, Role.ADMIN)
    data = json_body()
    unknown = sorted(set(data) - set(SETTINGS))
    if unknown:
        raise ApiError(400, f"{', '.join(unknown)[:200]} cannot be changed; the settings are {', '.join(SETTINGS)}")
    fields = _setting_fields(data, creating=False)
    if "repoUrl" in data or "repoToken" in data:
        fields.update(_repo_fields(data))
    if set(data) & {"forge", "forgeUrl", "forgeRepo", "forgeToken", *FORGE_ALIASES}:
        fields.update(_forge_fields(data, project))
    fields.update(_tokens_left_behind(project, data, fields))
    if fields.get("branch", project.branch) != project.branch or {"repo_url", "repo_token_sealed"} & set(fields):
        # Whatever changed, the project must still reach its branch with what it will have.
        changed = Project(**{**project.__data__, **fields})
        _project_head(changed, changed.branch)
    if fields:
        with db.atomic():
            Project.update(**fields).where(Project.id == project.id).execute()
            for key in SETTINGS:
                if key in data:
                    audit(project, "setting.change", key)
        project = Project.get_by_id(project.id)
        project.role = Role.ADMIN
    return jsonify(message="Project updated", project=project_json(project))


@bp.delete("/projects/<project_id>")
def delete_project(project_id):
    """Stop the project's unfinished builds (their workers kill the containers within a second),
    then remove it and everything of it; mirrors go on each worker host (see app/background/mirrors.py)."""
    project = project_for(project_id, Role.ADMIN)
    cancel_unfinished(project.id, None, reason="the project was deleted")
    with db.atomic():
        # The database's cascades take its builds, logs, steps, secrets, schedules and members; a
        # build queued meanwhile goes too, and a worker that took one sees it gone and halts.
        project.delete_instance()
        audit(None, "project.delete", f"{project.name} (#{project.id})")
    # A mirror still in use for a moment (its upkeep after the project's last build) is waited for.
    mirrors.remove_unused_mirrors(current_app, wait=5)
    caches.remove_unused_caches(current_app)
    trouble = _remove_webhook(project)
    return jsonify(message="Project deleted" + (f"; {trouble}" if trouble else ""))


@bp.post("/projects/<project_id>/deploy-key")
def make_deploy_key(project_id):
    """A new Ed25519 key pair for the project's ssh remote, replacing any before it; the public half
    is the answer, to paste into the repository's deploy keys. The host key pinned stays."""
    project = project_for(project_id, Role.ADMIN)
    if not is_ssh(project.repo_url):
        raise ApiError(400, "A deploy key is for an ssh repoUrl (git@host:owner/repo or ssh://...); "
                            "give an https:// one a repoToken")
    private, public = runtime.off_the_hub(vault.make_deploy_key, f"stoker-{project.name}")
    with db.atomic():
        Project.update(deploy_key_sealed=vault.seal(current_app.config["SECRET_KEY"], private),
                       deploy_key_public=public).where(Project.id == project.id).execute()
        audit(project, "deploy_key.create", public.split()[1][-12:])
    return jsonify(message="Deploy key made; add its public key to the repository's deploy keys",
                   deployKey={"publicKey": public}), 201


@bp.post("/projects/<project_id>/webhook-secret")
def rotate_webhook_secret(project_id):
    """A new webhook secret, shown this once: deliveries signed with the old one are refused from now
    on, so it goes into the forge's webhook settings next."""
    project = project_for(project_id, Role.ADMIN)
    secret = _webhook_secret(project.forge)
    message = "Webhook secret replaced; put it in the repository's webhook settings"
    if project.forge_hook_id is not None:
        message = _renew_webhook(project, secret)
    with db.atomic():
        Project.update(webhook_secret=secret).where(Project.id == project.id).execute()
        audit(project, "webhook_secret.rotate")
    return jsonify(message=message, webhookSecret=secret), 201


def _renew_webhook(project, secret):
    """Give a connected project's webhook on its forge the new secret; what the admin is told. A
    secret is replaced whatever the forge says: one that leaked must stop working here at once."""
    url = f"{current_app.config['STOKER_PUBLIC_URL']}/api/webhooks/{project.forge}/{project.id}"
    try:
        if project.github_token_sealed is None:
            raise ForgeError("the project has no forgeToken")
        token = vault.unseal(current_app.config["SECRET_KEY"], project.github_token_sealed, "the forge token")
        FORGES[project.forge].update_hook(current_app, project.forge_url, token, project.github_repo,
                                          project.forge_hook_id, url, secret)
    except (ForgeError, vault.VaultError) as exc:
        return (f"Webhook secret replaced, but its webhook on {project.forge} could not be changed ({exc}): put "
                f"the new secret in the repository's webhook settings")
    return f"Webhook secret replaced, and in its webhook on {project.forge}"


@bp.delete("/projects/<project_id>/host-key")
def forget_host_key(project_id):
    """Forget the ssh host key pinned on first contact (the server's key was changed on purpose, say):
    the next contact pins the key it meets then."""
    project = project_for(project_id, Role.ADMIN)
    with db.atomic():
        Project.update(ssh_known_hosts=None).where(Project.id == project.id).execute()
        audit(project, "host_key.reset")
    return jsonify(message="Pinned host key forgotten; the next contact pins the key it meets")


@bp.post("/projects/<project_id>/builds")
def run_build(project_id):
    """Build the head of a branch now (default: the project's), with variables of the caller's."""
    project = project_for(project_id, Role.WRITE)
    data = json_body()
    branch = branch_field(data, project.branch)
    variables = check_variables(data, project)
    head = _project_head(project, branch)
    build = queue_build(project, commit_hash=head, branch=branch, event=Event.MANUAL, ref=f"refs/heads/{branch}",
                        variables=json.dumps(variables) if variables else None, triggered_by=current_user.id)
    audit(project, "build.run", f"{build.id} with variables {', '.join(sorted(variables))}" if variables else build.id)
    return jsonify(message="Build queued", build=build.to_json()), 201


@bp.get("/projects/<project_id>/builds")
def list_builds(project_id):
    """One page of the project's builds, newest first."""
    project = project_for(project_id)
    limit, offset = page_args()
    builds = project.builds.order_by(Build.id.desc())
    page = [build.to_json() for build in builds.limit(limit).offset(offset)]
    return jsonify(message="Builds fetched", builds=page, total=builds.count(),
                   limit=limit, offset=offset)
