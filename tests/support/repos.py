"""Real git repositories, committed to as a developer would."""
import hashlib

import git

# What sends every .bin file through Git LFS.
LFS_ATTRIBUTES = "*.bin filter=lfs diff=lfs merge=lfs -text\n"


def lfs_pointer(content):
    """(oid, pointer): the file git keeps for `content` (bytes) kept in Git LFS, as git-lfs writes it."""
    oid = hashlib.sha256(content).hexdigest()
    return oid, f"version https://git-lfs.github.com/spec/v1\noid sha256:{oid}\nsize {len(content)}\n"


class LocalRepo:
    """A real git repository in a temporary folder, committed to as a developer would."""

    def __init__(self, path, branch="main"):
        self.path = path
        self.repo = git.Repo.init(path, initial_branch=branch)
        self.url = str(path)

    def commit(self, files, message="A commit", author="Ada Lovelace"):
        for name, content in files.items():
            target = self.path / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(content) if isinstance(content, bytes) else target.write_text(content)
            self.repo.index.add([name])
        actor = git.Actor(author, "ada@example.com")
        return self.repo.index.commit(message, author=actor, committer=actor).hexsha

    def branch(self, name):
        self.repo.git.checkout("-B", name)

    # What the git command line does and GitPython does not: tags, submodules, LFS files.

    def git(self, *args):
        """Run git in the repository as its developer, returning its output."""
        who = {"GIT_AUTHOR_NAME": "Ada Lovelace", "GIT_AUTHOR_EMAIL": "ada@example.com",
               "GIT_COMMITTER_NAME": "Ada Lovelace", "GIT_COMMITTER_EMAIL": "ada@example.com"}
        with self.repo.git.custom_environment(**who):
            return self.repo.git.execute(["git", *args])

    def tag(self, name, message=None):
        """Tag the head: annotated with `message`, else a lightweight tag."""
        self.git("tag", *(["-a", "-m", message] if message else []), name)

    def link_submodule(self, path, url, commit, name=None):
        """Record, without fetching it, a submodule at `path` at `commit` whose URL is `url` as written."""
        gitmodules = self.path / ".gitmodules"
        text = gitmodules.read_text() if gitmodules.exists() else ""
        gitmodules.write_text(text + f'[submodule "{name or path}"]\n\tpath = {path}\n\turl = {url}\n')
        self.git("update-index", "--add", "--cacheinfo", f"160000,{commit},{path}")
        self.git("add", ".gitmodules")
        self.git("commit", "-q", "-m", f"Add the submodule {name or path}")
        return self.repo.head.commit.hexsha

    def commit_lfs(self, files, pattern="*.bin"):
        """Commit `files` ({name: bytes}) through Git LFS: pointers in git, their content in the
        repository's own LFS store."""
        self.git("lfs", "install", "--local")
        self.git("lfs", "track", pattern)
        for name, content in files.items():
            (self.path / name).write_bytes(content)
        self.git("add", ".gitattributes", *files)
        self.git("commit", "-q", "-m", "Add LFS files")
        return self.repo.head.commit.hexsha
