"""Hostile repository URLs and branch names are refused before any git process starts."""
import ipaddress
import socket
from pathlib import Path

import pytest

from app.records.models import Project
from pipeline.git import GitError
from pipeline.git.inputs import UnsafeRemote, network_pins
from tests.support import processes_started, unavailable


def a_name_for_loopback():
    """A host name this machine resolves to a loopback address, from /etc/hosts (no DNS query)."""
    for line in Path("/etc/hosts").read_text().splitlines():
        address, *names = line.split("#")[0].split()  or [""]
        if address.startswith("127.") and names:
            for name in names:
                if name != "localhost" and not name.endswith(".localhost"):
                    return name
    unavailable("no name in /etc/hosts maps to a loopback address")


HOSTILE_URLS = [
    "ext::sh -c touch% /tmp/stoker-pwned",
    "ext::sh -c id",
    "--upload-pack=touch /tmp/stoker-pwned",
    "-u touch /tmp/stoker-pwned",
    "https://github.com/octo/demo --upload-pack=id",
    "http://169.254.169.254/latest/meta-data/",
    "https://169.254.169.254/latest/meta-data/",
    "https://[fe80::1]/repo.git",
    "https://[::ffff:169.254.169.254]/repo.git",
    "https://127.0.0.1/repo.git",
    "https://localhost/repo.git",
    "https://user:pw@127.0.0.1/repo.git",
    "https://github.com@127.0.0.1/repo.git",
    "https://[::1]/repo.git",
    "https://0.0.0.0/repo.git",
    "https://10.0.0.1/repo.git",
    "https://172.16.0.1/repo.git",
    "https://192.168.1.1/repo.git",
    "https://2130706433/repo.git",          # 127.0.0.1 written as one number
    "https://0x7f000001/repo.git",
    "https://127.1/repo.git",
    "https://017700000001/repo.git",
    "git@127.0.0.1:owner/repo.git",
    "git@10.0.0.1:owner/repo.git",
    "ssh://git@10.0.0.1/owner/repo.git",
    "http://github.com/octo/demo.git",
    "ftp://example.com/repo.git",
]
LOCAL_ONLY = ["file:///etc", "/etc", "file:///tmp/repo", "./repo", "../repo"]
# (Names such as "main;id" are valid branches: git gets arguments, never a shell line.)
HOSTILE_BRANCHES = ["--foo", "-", "a..b", "../main", "a b", "a~1", "a^", "a:b", "@{-1}", "a\\b",
                    ".hidden", "main.lock", "refs/heads/../x", "", "x" * 300, "a\x00b"]


def create(client, headers, **fields):
    return client.post("/api/project/projects", headers=headers,
                       json={"name": "demo", "buildCommand": "true", **fields})


@pytest.mark.parametrize("url", HOSTILE_URLS + [a_name_for_loopback.__name__])
def test_a_hostile_repo_url_is_refused_before_git_starts(client, accounts, url):
    headers = accounts.headers()
    if url == a_name_for_loopback.__name__:
        url = f"https://{a_name_for_loopback()}/repo.git"  # a name, not a number: found by resolving it
    with processes_started() as spawned:
        response = create(client, headers, repoUrl=url)
    assert response.status_code == 400, response.get_json()
    assert spawned == []
    assert Project.select().count() == 0


@pytest.mark.parametrize("url", LOCAL_ONLY)
def test_local_paths_are_refused_before_git_starts_when_local_repos_are_off(app, client, accounts, url):
    app.config["STOKER_ALLOW_LOCAL_REPOS"] = False
    headers = accounts.headers()
    with processes_started() as spawned:
        response = create(client, headers, repoUrl=url)
    assert response.status_code == 400
    assert spawned == []


@pytest.mark.parametrize("branch", HOSTILE_BRANCHES)
def test_a_hostile_branch_is_refused_before_git_starts(client, accounts, local_repo, branch):
    headers = accounts.headers()
    with processes_started() as spawned:
        response = create(client, headers, repoUrl=local_repo.url, branch=branch)
    assert response.status_code == 400
    assert spawned == []


def test_the_watch_sees_git_start_for_a_good_project(client, accounts, local_repo):
    """Proof that the checks above would have seen a git process had one started."""
    headers = accounts.headers()
    with processes_started() as spawned:
        response = create(client, headers, repoUrl=local_repo.url)
    assert response.status_code == 201
    assert any("git" in str(args) for _, args in spawned)


def test_git_is_pinned_to_the_addresses_that_were_checked():
    name = a_name_for_loopback()
    addresses = {info[4][0] for info in socket.getaddrinfo(name, 443, type=socket.SOCK_STREAM)}
    assert all(not ipaddress.ip_address(a).is_global for a in addresses)
    with pytest.raises(UnsafeRemote, match=f"{name} resolves to a private or loopback address"):
        network_pins(f"https://{name}/repo.git", allow_private_hosts=False)
    pins = network_pins(f"https://{name}:8443/repo.git", allow_private_hosts=True)
    assert pins == ["-c", f"http.curloptResolve={name}:8443:{','.join(sorted(addresses))}"]
    assert network_pins("/srv/git/repo", allow_private_hosts=False) == []


def test_a_host_that_cannot_be_resolved_is_a_clear_git_error():
    host = "a" * 64 + ".example"  # a label too long to look up, so no DNS query leaves the machine
    with pytest.raises(GitError, match=f"cannot resolve the repository host {host}"):
        network_pins(f"https://{host}/repo.git", allow_private_hosts=False)
