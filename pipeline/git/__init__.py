"""Git for builds, in three parts: checking what users give (inputs.py), running git with a
project's credentials and nothing of this host's (command.py), and the bare mirror each repository's
builds are fetched into and exported from (mirror.py)."""


class GitError(Exception):
    """A git operation failed; the message is fit to show the user."""
