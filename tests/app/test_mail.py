"""Mail to a project's notifyEmails, through a real SMTP server on loopback: a failure of its branch
and its fix, nothing else, and nothing lost when the mail server cannot be reached."""
import email
import logging

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

from app.records.models import Project, Status
from tests.support import create_project, free_port, run_now

TEAM = ["team@example.com", "lead@example.com"]


class Mailbox:
    def __init__(self):
        self.received = []

    async def handle_DATA(self, server, session, envelope):
        self.received.append((envelope.rcpt_tos, email.message_from_bytes(envelope.content)))
        return "250 OK"


@pytest.fixture
def mailbox():
    box = Mailbox()
    server = Controller(box, hostname="127.0.0.1", port=free_port())
    server.start()
    yield box, f"smtp://127.0.0.1:{server.port}"
    server.stop()


@pytest.fixture
def config(config, mailbox):
    return {**config, "STOKER_SMTP_URL": mailbox[1], "STOKER_MAIL_FROM": "ci@stoker.test"}


@pytest.fixture
def project(client, accounts, local_repo):
    return create_project(client, accounts.token(), local_repo, "sh ci.sh", notifyEmails=TEAM)["project"]


def build(client, accounts, project, drain, branch=None):
    return run_now(client, accounts.headers(), project["id"], drain, **({"branch": branch} if branch else {}))


def test_the_team_hears_when_its_branch_fails_and_when_it_is_fixed_and_of_nothing_else(
        client, accounts, local_repo, drain, mailbox, project):
    box, _ = mailbox
    drain()  # the first build passes: no news
    assert project["notifyEmails"] == TEAM
    local_repo.commit({"ci.sh": "echo broken; exit 3\n"}, message="Break the build\n\nWith a body.")
    failed = build(client, accounts, project, drain)
    assert failed["status"] == Status.FAILED
    [(to, message)] = box.received
    assert sorted(to) == sorted(TEAM)
    assert message["Subject"] == f"[Stoker] demo: main failed (#{failed['id']})"
    assert message["From"] == "ci@stoker.test"
    body = message.get_payload(decode=True).decode().replace("\r\n", "\n")
    assert f"Commit:    {failed['commitHash'][:12]} Break the build\n" in body
    assert "Exit code: 3\n" in body and f"http://stoker.test/builds/{failed['id']}\n" in body
    assert "broken" not in body  # the log stays in Stoker

    build(client, accounts, project, drain)  # still failing: the team hears again
    local_repo.repo.git.checkout("-b", "feature")
    assert build(client, accounts, project, drain, "feature")["status"] == Status.FAILED  # another branch
    local_repo.repo.git.checkout("main")
    local_repo.commit({"ci.sh": "true\n"}, message="Fix the build")
    fixed = build(client, accounts, project, drain)
    build(client, accounts, project, drain)  # passing after passing: no news
    assert [m["Subject"] for _, m in box.received] == [
        f"[Stoker] demo: main failed (#{failed['id']})", f"[Stoker] demo: main failed (#{failed['id'] + 1})",
        f"[Stoker] demo: main fixed (#{fixed['id']})"]


def test_a_mail_server_that_cannot_be_reached_changes_nothing_else(config, client, accounts, local_repo, drain,
                                                                    mailbox, project, caplog):
    client.application.config["STOKER_SMTP_URL"] = f"smtp://127.0.0.1:{free_port()}"
    local_repo.commit({"ci.sh": "exit 3\n"}, message="Break the build")
    drain()
    with caplog.at_level(logging.WARNING, logger="app.background.mail"):
        failed = build(client, accounts, project, drain)
    assert (failed["status"], failed["exitCode"]) == (Status.FAILED, 3)
    assert f"build {failed['id']}: mail to team@example.com, lead@example.com not sent" in caplog.text
    assert mailbox[0].received == []


@pytest.mark.parametrize("addresses", ["team@example.com", ["not an address"], ["a@b.com\r\nBcc: x@evil.test"],
                                       [f"u{n}@example.com" for n in range(21)], [7], ["x" * 250 + "@a.com"]])
def test_bad_addresses_are_a_400_naming_the_field_and_change_nothing(client, accounts, project, addresses):
    answer = client.patch(f"/api/project/projects/{project['id']}", json={"notifyEmails": addresses},
                          headers=accounts.headers())
    assert answer.status_code == 400 and "notifyEmails" in answer.get_json()["message"]
    assert Project.get_by_id(project["id"]).notify_addresses == TEAM
    cleared = client.patch(f"/api/project/projects/{project['id']}", json={"notifyEmails": []},
                           headers=accounts.headers())
    assert cleared.get_json()["project"]["notifyEmails"] == []


@pytest.mark.parametrize("url", ["http://mail.example.com", "smtp://", "smtp://mail.example.com:99999", "mail.example.com",
                                 "smtp://ci:secret@mail.example.com", "smtp://ci@mail.example.com:2525"])
def test_a_mail_server_address_stoker_cannot_use_stops_it_at_start(url):
    from app.config import from_env

    with pytest.raises(ValueError, match="STOKER_SMTP_URL"):
        from_env({"STOKER_SMTP_URL": url})


def test_credentials_go_to_the_mail_server_encrypted_or_not_at_all():
    from app.config import from_env

    with pytest.raises(ValueError, match="smtp\\+starttls:// or smtps://"):
        from_env({"STOKER_SMTP_URL": "smtp://ci:secret@mail.example.com"})
    for url in ("smtp+starttls://ci:secret@mail.example.com", "smtps://ci:secret@mail.example.com:465",
                "smtp://mail.example.com"):
        assert from_env({"STOKER_SMTP_URL": url})["STOKER_SMTP_URL"] == url


def test_credentials_never_cross_plain_smtp_however_the_url_was_set(client, accounts, local_repo, drain, project,
                                                                    caplog):
    box, tried = Mailbox(), []

    def authenticator(server, session, envelope, mechanism, auth_data):
        tried.append(auth_data)
        return AuthResult(success=True)

    # A server that would take a password in clear; the URL set past the configuration's check.
    server = Controller(box, hostname="127.0.0.1", port=free_port(), auth_require_tls=False,
                        authenticator=authenticator)
    server.start()
    try:
        client.application.config["STOKER_SMTP_URL"] = f"smtp://ci:secret@127.0.0.1:{server.port}"
        drain()
        local_repo.commit({"ci.sh": "exit 3\n"}, message="Break the build")
        with caplog.at_level(logging.WARNING, logger="app.background.mail"):
            assert build(client, accounts, project, drain)["status"] == Status.FAILED
    finally:
        server.stop()
    assert "not sent: credentials are sent over smtp+starttls:// or smtps:// only" in caplog.text
    assert tried == [] and box.received == []


# Every character str.splitlines breaks a line at, past \r and \n.
LINE_BREAKS = "\v\f\x1c\x1d\x1e\x85\u2028\u2029"


def test_line_breaks_in_a_name_or_a_commit_make_no_header_and_lose_no_mail(client, accounts, local_repo, drain,
                                                                            mailbox):
    box, _ = mailbox
    name = "demo\u2028Bcc: evil@attacker.test\x85To: evil@attacker.test"
    project = create_project(client, accounts.token(), local_repo, "sh ci.sh", name=name, notifyEmails=TEAM)["project"]
    drain()
    local_repo.commit({"ci.sh": "exit 3\n"}, message=f"Break{LINE_BREAKS}it\u2029Bcc: evil@attacker.test",
                      author=f"Eve{LINE_BREAKS}Bcc: evil@attacker.test")
    failed = build(client, accounts, project, drain)
    assert failed["status"] == Status.FAILED

    [(to, message)] = box.received
    assert sorted(to) == sorted(TEAM)
    # A long header is folded onto more lines; unfolded, it is one.
    subject = message["Subject"].replace("\r\n", "").replace("\n", "")
    assert subject == f"[Stoker] demo Bcc: evil@attacker.test To: evil@attacker.test: main failed (#{failed['id']})"
    assert subject.splitlines() == [subject]
    assert message.get_all("To") == [", ".join(TEAM)] and message["Bcc"] is None
    body = message.get_payload(decode=True).decode().replace("\r\n", "\n")
    assert f"Commit:    {failed['commitHash'][:12]} Break\n" in body
    assert "Author:    Eve Bcc: evil@attacker.test\n" in body
