"""Real git repositories, committed to as a developer would."""
import git


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
            target.write_text(content)
            self.repo.index.add([name])
        actor = git.Actor(author, "ada@example.com")
        return self.repo.index.commit(message, author=actor, committer=actor).hexsha

    def branch(self, name):
        self.repo.git.checkout("-B", name)
