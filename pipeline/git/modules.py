"""What a commit's .gitmodules names: read the same way in a checkout and in a bare mirror."""

GITLINK = "160000"
REGULAR = ("100644", "100755")


def submodules_at(git, commit, top):
    """(name, path, url, commit) of each submodule the commit's .gitmodules names that its tree has
    a commit for; `git(*args)` runs git in the repository, `top` is the commit's top level. As git
    does, a .gitmodules that is not a regular file (a link) names none."""
    if top.get(".gitmodules", ("",))[0] not in REGULAR:
        return []
    listed = git("config", "--blob", f"{commit}:.gitmodules", "-z", "--list")
    found = {}
    for item in filter(None, listed.split("\0")):
        key, _, value = item.partition("\n")
        section, _, rest = key.partition(".")
        name, _, setting = rest.rpartition(".")
        if section == "submodule" and setting in ("path", "url"):
            found.setdefault(name, {})[setting] = value
    wanted = {entry["path"]: name for name, entry in found.items() if "path" in entry and "url" in entry}
    if not wanted:
        return []
    entries = git("--literal-pathspecs", "ls-tree", "-z", commit, "--", *wanted)
    links = []
    for entry in filter(None, entries.split("\0")):
        info, _, path = entry.partition("\t")
        mode, _, sha = info.split(" ")
        if mode == GITLINK and path in wanted:
            links.append((wanted[path], path, found[wanted[path]]["url"], sha))
    return links
