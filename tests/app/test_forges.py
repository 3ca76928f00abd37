"""Gitea's, Forgejo's and GitLab's webhooks: every real payload the shared fixtures hold read into
the record it means, each forge's proof of a delivery checked, hostile payloads refused naming the
field, and commit statuses sent to each, here a local server that records every call."""
import base64
import copy
import json
import logging
import time

import pytest

from app.forges import FORGES, gitlab
from app.forges.events import BadDelivery, Delete, PullRequest, PullRequestClosed, Push
from app.forges.gitea import FORGEJO, GITEA
from app.forges.hosting import ForgeError
from app.records.models import Build, Project
from app.records.vault import seal
from app.records.words import Status
from tests.support import create_project, forge_body, forge_fixtures, forge_headers, hex_signature, signed_headers

SECRET = "a-webhook-secret-of-the-project"
DELIVERY = "3c3f3f0a-2b1e-4c2b-9d8e-5c1f0b8f6d3a"


# --- every real payload, and what it means ------------------------------------

def nothing(action):
    return f"pull request action {action!r} builds nothing"


def opened(host):
    """The oldest pull request payload: no repository on either side, so Stoker cannot tell it is
    not a fork's, and takes it for one."""
    return PullRequest(number=1, head_sha="0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c", head_branch="feature/changes",
                       base_branch="main", head_repo=None, fork=True,
                       title="Update the README with new information",
                       url=f"http://{host}.golang.org/gordon/hello-world/pull/1")


PUSHED = Push(ref="refs/heads/main", after="ef98532add3b2feb7a137426bba1248724367df5",
              before="4b2626259b5a97b6b4eab5e6cca66adb986b672b", message="bump\n", author="Gordon the Gopher")
# A new branch (before all zeros) of a commit already pushed: no commits, a head_commit.
NEW_BRANCH = Push(ref="refs/heads/fdsafdsa", after="28c3613ae62640216bea5e7dc71aa65356e4298b", before=None,
                  message="Delete '.woodpecker/.check.yml'\n", author="meisam")
# Three commits, listed newest first: the message is the newest's.
THREE_PUSHED = Push(ref="refs/heads/main", after="29be01c073851cf0db0c6a466e396b725a670453",
                    before="6efcf5b7c98f3e7a491675164b7a2e7acac27941", message="add some text\n", author="6543")
REOPENED = PullRequest(number=1, head_sha="36b5813240a9d2daa29b05046d56a53e18f39a3e", head_branch="6543-patch-1",
                       base_branch="main", head_repo="test_it/test_ci_thing", fork=False, title="Some ned more AAAA",
                       url="https://codeberg.org/test_it/test_ci_thing/pulls/1")
# Its head and base name their repository by repo_id alone, both 6.
SYNCHRONIZED = PullRequest(number=2, head_sha="788ed8d02d3b7fcfcf6386dbcbca696aa1d4dc25", head_branch="test-patch-1",
                           base_branch="main", head_repo=None, fork=False, title="New Pull",
                           url="http://127.0.0.1:3000/Test-CI/multi-line-secrets/pulls/2")

GITEA_READS = [
    ("HookPullRequest.json", "pull_request", opened("gitea")),
    ("HookPullRequestAddLabel.json", "pull_request", nothing("label_updated")),
    ("HookPullRequestAddMile.json", "pull_request", nothing("milestoned")),
    ("HookPullRequestAddReviewRequest.json", "pull_request", nothing("review_requested")),
    ("HookPullRequestAssigneesAdded.json", "pull_request", nothing("assigned")),
    ("HookPullRequestAssigneesRemoved.json", "pull_request", nothing("unassigned")),
    ("HookPullRequestChangeBody.json", "pull_request", nothing("edited")),
    ("HookPullRequestChangeLabel.json", "pull_request", nothing("label_updated")),
    ("HookPullRequestChangeMile.json", "pull_request", nothing("milestoned")),
    ("HookPullRequestChangeTitle.json", "pull_request", nothing("edited")),
    ("HookPullRequestClosed.json", "pull_request", PullRequestClosed(1)),
    ("HookPullRequestMerged.json", "pull_request", PullRequestClosed(1)),
    ("HookPullRequestRemoveLabel.json", "pull_request", nothing("label_cleared")),
    ("HookPullRequestRemoveMile.json", "pull_request", nothing("demilestoned")),
    ("HookPullRequestReopened.json", "pull_request", REOPENED),
    # Reviews come under events of their own; their action, "reviewed", would build nothing either.
    ("HookPullRequestReviewAck.json", "pull_request_approved", "pull_request_approved events are not built"),
    ("HookPullRequestReviewComment.json", "pull_request_comment", "pull_request_comment events are not built"),
    ("HookPullRequestReviewDeny.json", "pull_request_rejected", "pull_request_rejected events are not built"),
    ("HookPullRequestUpdated.json", "pull_request", SYNCHRONIZED),
    ("HookPush.json", "push", PUSHED),
    ("HookPushBranch.json", "push", NEW_BRANCH),
    ("HookPushMulti.json", "push", THREE_PUSHED),
    ("HookRelease.json", "release", "release events are not built"),
    # The new tag v1.0.0: its push of refs/tags/v1.0.0 builds it.
    ("HookTag.json", "create", "create events are not built"),
]

FORGEJO_READS = [
    ("HookPullRequest.json", "pull_request", opened("forgejo")),
    ("HookPullRequestAssigneeCleared.json", "pull_request", nothing("unassigned")),
    ("HookPullRequestAssigneesAdded.json", "pull_request", nothing("assigned")),
    ("HookPullRequestClosed.json", "pull_request", PullRequestClosed(1)),
    ("HookPullRequestEdited.json", "pull_request", nothing("edited")),
    ("HookPullRequestLabelAdded.json", "pull_request", nothing("label_updated")),
    ("HookPullRequestLabelsCleared.json", "pull_request", nothing("label_cleared")),
    ("HookPullRequestLabelsUpdated.json", "pull_request", nothing("label_updated")),
    ("HookPullRequestMerged.json", "pull_request", PullRequestClosed(1)),
    ("HookPullRequestMilestoneAdded.json", "pull_request", nothing("milestoned")),
    ("HookPullRequestMilestoneChanged.json", "pull_request", nothing("milestoned")),
    ("HookPullRequestMilestoneCleared.json", "pull_request", nothing("demilestoned")),
    ("HookPullRequestReopened.json", "pull_request", REOPENED),
    ("HookPullRequestUpdated.json", "pull_request", SYNCHRONIZED),
    ("HookPush.json", "push", PUSHED),
    ("HookPushBranch.json", "push", NEW_BRANCH),
    ("HookPushMulti.json", "push", THREE_PUSHED),
    ("HookRelease.json", "release", "release events are not built"),
    ("HookTag.json", "create", "create events are not built"),
]

NO_NEW_COMMIT = "a merge request update with no new commit builds nothing"
GITLAB_READS = [
    ("HookPullRequestApproved.json", "Merge Request Hook", "merge request action 'approved' builds nothing"),
    ("HookPullRequestAssigned.json", "Merge Request Hook", NO_NEW_COMMIT),
    ("HookPullRequestClosed.json", "Merge Request Hook", PullRequestClosed(4)),
    ("HookPullRequestDemilestoned.json", "Merge Request Hook", NO_NEW_COMMIT),
    ("HookPullRequestEdited.json", "Merge Request Hook", NO_NEW_COMMIT),
    ("HookPullRequestLabelsAdded.json", "Merge Request Hook", NO_NEW_COMMIT),
    ("HookPullRequestLabelsCleared.json", "Merge Request Hook", NO_NEW_COMMIT),
    ("HookPullRequestLabelsUpdated.json", "Merge Request Hook", NO_NEW_COMMIT),
    ("HookPullRequestMerged.json", "Merge Request Hook", PullRequestClosed(4)),
    ("HookPullRequestMilestoned.json", "Merge Request Hook", NO_NEW_COMMIT),
    ("HookPullRequestOpened.json", "Merge Request Hook", PullRequest(
        number=3, head_sha="2f7670508b771e7e77839402be8b34b13787aba8", head_branch="real6543-main-patch-42541",
        base_branch="main", head_repo="demoaccount2-commits-group/test_ci_tmp", fork=False,
        title="Edit README.md for more text to read",
        url="https://gitlab.com/demoaccount2-commits-group/test_ci_tmp/-/merge_requests/3")),
    ("HookPullRequestReopened.json", "Merge Request Hook", PullRequest(
        number=1, head_sha="36b5813240a9d2daa29b05046d56a53e18f39a3e", head_branch="6543-patch-1",
        base_branch="main", head_repo="demoaccount2-commits-group/test_ci_tmp", fork=False,
        title="Some ned more AAAA",
        url="https://gitlab.com/demoaccount2-commits-group/test_ci_tmp/-/merge_requests/1")),
    ("HookPullRequestReviewRequestDel.json", "Merge Request Hook", NO_NEW_COMMIT),
    ("HookPullRequestReviewRequested.json", "Merge Request Hook", NO_NEW_COMMIT),
    ("HookPullRequestUnapproved.json", "Merge Request Hook", "merge request action 'unapproved' builds nothing"),
    ("HookPullRequestUnassigned.json", "Merge Request Hook", NO_NEW_COMMIT),
    ("HookPullRequestUnsupportedAction.json", "Merge Request Hook",
     "merge request action 'action_we_do_not_support' builds nothing"),
    # An update with `oldrev`: new commits, so it builds.
    ("HookPullRequestUpdated.json", "Merge Request Hook", PullRequest(
        number=3, head_sha="c136499ec574e1034b24c5d306de9acda3005367", head_branch="anbraten-main-patch-05373",
        base_branch="main", head_repo="anbraten/woodpecker", fork=False, title="Update client.go 🎉",
        url="https://gitlab.com/anbraten/woodpecker/-/merge_requests/3")),
    ("HookPullRequestWithoutChanges.json", "Merge Request Hook", NO_NEW_COMMIT),
    ("HookPush.json", "Push Hook", Push(
        ref="refs/heads/main", after="16862e368d8ab812e48833b741dad720d6e2cb7f",
        before="ffe8eb4f91d1fe6bc49f1e610e50e4b5767f0104", message="Update main.go", author="the test")),
    # An annotated tag: `after` is the tag object (fabed3d9...), checkout_sha the commit to build.
    ("HookTag.json", "Tag Push Hook", Push(
        ref="refs/tags/v22", after="16862e368d8ab812e48833b741dad720d6e2cb7f", before=None,
        message="Update main.go", author="the test")),
    ("WebhookReleaseBody.json", "Release Hook", "Release Hook events are not built"),
]

READS = ([("gitea", *read) for read in GITEA_READS] + [("forgejo", *read) for read in FORGEJO_READS]
         + [("gitlab", *read) for read in GITLAB_READS])


@pytest.mark.parametrize(("forge", "name", "event", "expected"), READS,
                         ids=[f"{forge}/{name}" for forge, name, _, _ in READS])
def test_each_real_delivery_is_proven_and_read_as_what_it_means(forge, name, event, expected):
    body = forge_body(forge, name)
    headers = forge_headers(forge, SECRET, body, event, DELIVERY)
    assert FORGES[forge].verify(SECRET, headers, body)
    assert FORGES[forge].delivery_id(headers) == DELIVERY
    assert FORGES[forge].read(headers, lambda: json.loads(body)) == expected


@pytest.mark.parametrize("forge", ["gitea", "forgejo", "gitlab"])
def test_every_real_payload_is_in_the_table_above(forge):
    assert forge_fixtures(forge) == sorted(name for of, name, _, _ in READS if of == forge)


@pytest.mark.parametrize(("forge", "event", "commit"), [
    ("gitea", "push", PUSHED.after), ("forgejo", "push", PUSHED.after),
    ("gitlab", "Push Hook", "16862e368d8ab812e48833b741dad720d6e2cb7f"),
])
def test_through_the_webhook_a_proven_push_builds_once_and_a_forged_one_is_refused(client, accounts, local_repo,
                                                                                   forge, event, commit):
    project = create_project(client, accounts.token(), local_repo, forge=forge)["project"]
    body = forge_body(forge, "HookPush.json")
    url = f"/api/webhooks/{forge}/{project['id']}"
    forged = client.post(url, data=body, headers=forge_headers(forge, "another secret", body, event, DELIVERY))
    assert (forged.status_code, forged.get_json()) == (401, {"message": FORGES[forge].REFUSED})
    headers = forge_headers(forge, project["webhookSecret"], body, event, DELIVERY)
    response = client.post(url, data=body, headers=headers)
    assert response.status_code == 202, response.get_json()
    assert (response.get_json()["build"]["commitHash"], response.get_json()["build"]["branch"]) == (commit, "main")
    again = client.post(url, data=body, headers=headers)
    assert again.get_json()["message"] == "Build already queued for this delivery"


@pytest.mark.parametrize("forge", ["gitea", "forgejo", "gitlab"])
def test_every_real_delivery_through_the_webhook_makes_the_build_it_means_or_none(client, accounts, local_repo,
                                                                                 forge):
    project = create_project(client, accounts.token(), local_repo, forge=forge, branches=["**"], tags=True,
                             name=f"on-{forge}")["project"]
    url = f"/api/webhooks/{forge}/{project['id']}"
    for number, (of, name, event, expected) in enumerate(READS):
        if of != forge:
            continue
        body = forge_body(forge, name)
        answer = client.post(url, data=body, headers=forge_headers(forge, project["webhookSecret"], body, event,
                                                                   f"{DELIVERY[:-4]}{number:04d}"))
        said, what = answer.get_json(), f"{forge}/{name}"
        if isinstance(expected, Push):
            assert answer.status_code == 202, (what, said)
            built = said["build"]
            assert (built["event"], built["commitHash"]) == (
                "tag" if expected.ref.startswith("refs/tags/") else "push", expected.after), what
            assert built["branch"] == expected.ref.split("/", 2)[2], what
        elif isinstance(expected, PullRequest):
            assert answer.status_code == 202, (what, said)
            built = said["build"]
            assert (built["event"], built["commitHash"]) == ("pull_request", expected.head_sha), what
            # A fork's waits for someone to let it run (forkPullRequests: approve, the default).
            assert built["status"] == (Status.BLOCKED if expected.fork else Status.QUEUED), what
            ref = Build.get_by_id(built["id"]).ref
            assert ref == FORGES[forge].PULL_REF.format(number=expected.number), what
        elif isinstance(expected, PullRequestClosed):
            assert said["message"].startswith("Pull request closed"), (what, said)
        else:
            assert answer.status_code == 200 and said["message"].startswith("Ignored"), (what, said)


@pytest.mark.parametrize(("forge", "event"), [("gitea", "push"), ("forgejo", "push"), ("gitlab", "Push Hook")])
def test_a_push_of_each_forge_builds_the_local_commit_it_names(client, accounts, local_repo, drain, forge, event):
    """A real push payload, its repository pointed at a local one: the build it makes runs and passes."""
    project = create_project(client, accounts.token(), local_repo, "true", forge=forge)["project"]
    drain()
    commit = local_repo.commit({"NOTE": "pushed\n"}, message="Push to the forge")
    payload = json.loads(forge_body(forge, "HookPush.json"))
    payload["after"] = commit
    if forge == "gitlab":
        payload["checkout_sha"] = commit
        payload["commits"] = [{**payload["commits"][-1], "id": commit}]
    else:
        payload["commits"] = [{**(payload.get("commits") or [{}])[0], "id": commit}]
        payload["head_commit"] = {**(payload.get("head_commit") or payload["commits"][0]), "id": commit}
    body = json.dumps(payload).encode()
    answer = client.post(f"/api/webhooks/{forge}/{project['id']}", data=body,
                         headers=forge_headers(forge, project["webhookSecret"], body, event, DELIVERY))
    assert answer.status_code == 202, answer.get_json()
    drain()
    built = client.get(f"/api/build/{answer.get_json()['build']['id']}", headers=accounts.headers()).get_json()["build"]
    assert (built["status"], built["commitHash"]) == (Status.PASSED, commit)


# --- proving a delivery ------------------------------------------------------

def flipped(body, at):
    return body[:at] + bytes([body[at] ^ 0x01]) + body[at + 1:]


@pytest.mark.parametrize("forge", ["gitea", "forgejo"])
def test_only_the_exact_body_signed_with_the_secret_gets_in(forge):
    body = forge_body(forge, "HookPush.json")
    signature = "X-Forgejo-Signature" if forge == "forgejo" else "X-Gitea-Signature"
    good = forge_headers(forge, SECRET, body, "push", DELIVERY)
    verify = FORGES[forge].verify
    assert verify(SECRET, good, body)
    assert not verify(SECRET, good, flipped(body, len(body) // 2))
    assert not verify(SECRET, good, body + b" ")
    assert not verify("another secret", good, body)
    assert not verify("", {**good, signature: hex_signature("", body)}, body)
    assert not verify(SECRET, {**good, signature: hex_signature(SECRET, body).upper()}, body)
    assert not verify(SECRET, {**good, signature: "sha256=" + hex_signature(SECRET, body)}, body)
    without = {name: value for name, value in good.items() if not name.endswith("Signature")}
    assert not verify(SECRET, without, body)
    assert not verify(SECRET, {**without, signature: ""}, body)


def test_forgejo_reads_its_own_headers_first_and_giteas_when_they_are_all_it_has():
    body = forge_body("forgejo", "HookPush.json")
    own = {"X-Forgejo-Event": "push", "X-Forgejo-Delivery": DELIVERY,
           "X-Forgejo-Signature": hex_signature(SECRET, body)}
    giteas = {name.replace("Forgejo", "Gitea"): value for name, value in own.items()}
    for headers in (own, giteas):
        assert FORGEJO.verify(SECRET, headers, body)
        assert FORGEJO.delivery_id(headers) == DELIVERY
        assert FORGEJO.read(headers, lambda: json.loads(body)) == PUSHED
    # Its own signature, when there, is the one that counts.
    assert not FORGEJO.verify(SECRET, {**giteas, "X-Forgejo-Signature": hex_signature("another", body)}, body)
    # Gitea sends no X-Forgejo-* header, and none is read as its own.
    assert not GITEA.verify(SECRET, own, body)
    assert GITEA.delivery_id(own) is None
    assert GITEA.read(own, lambda: json.loads(body)) == "unnamed events are not built"
    assert (GITEA.REFUSED, FORGEJO.REFUSED) == ("Missing or invalid X-Gitea-Signature",
                                               "Missing or invalid X-Forgejo-Signature")


def test_gitlabs_token_must_be_the_secret_itself():
    body = forge_body("gitlab", "HookPush.json")
    good = forge_headers("gitlab", SECRET, body, "Push Hook", DELIVERY)
    assert gitlab.verify(SECRET, good, body)
    for token in ("", SECRET[:-1], SECRET + " ", SECRET.upper(), "another secret"):
        assert not gitlab.verify(SECRET, {**good, "X-Gitlab-Token": token}, body), token
    assert not gitlab.verify("", {**good, "X-Gitlab-Token": ""}, body)
    assert not gitlab.verify(SECRET, {"X-Gitlab-Event": "Push Hook"}, body)


def signed(body, secret=SECRET, at=None, key=None):
    """The webhook-* headers, without the token, of a delivery signed `at` (now)."""
    return signed_headers(key or secret.encode(), body, DELIVERY, int(time.time() if at is None else at))


def test_gitlabs_signed_deliveries_get_in_only_while_fresh():
    body = forge_body("gitlab", "HookPush.json")
    now = time.time()
    assert gitlab.verify(SECRET, signed(body), body)
    assert gitlab.verify(SECRET, signed(body, at=now - 280), body)
    assert gitlab.verify(SECRET, signed(body, at=now + 280), body)
    assert not gitlab.verify(SECRET, signed(body, at=now - 320), body)
    assert not gitlab.verify(SECRET, signed(body, at=now + 320), body)
    assert not gitlab.verify(SECRET, signed(body), flipped(body, len(body) // 2))
    assert not gitlab.verify(SECRET, signed(body, secret="another secret"), body)
    # What is signed is "{id}.{timestamp}.{body}": another id or time is another signature.
    assert not gitlab.verify(SECRET, {**signed(body), "webhook-id": DELIVERY.replace("3", "4")}, body)
    assert not gitlab.verify(SECRET, {**signed(body, at=now - 1), "webhook-timestamp": str(int(now))}, body)
    for missing in ("webhook-id", "webhook-timestamp"):
        assert not gitlab.verify(SECRET, {k: v for k, v in signed(body).items() if k != missing}, body)
    assert not gitlab.verify(SECRET, {**signed(body), "webhook-timestamp": "soon"}, body)
    assert not gitlab.verify(SECRET, {**signed(body), "webhook-signature": ""}, body)


def test_one_of_several_signatures_is_enough_but_only_a_v1_one():
    body = forge_body("gitlab", "HookPush.json")
    good = signed(body)
    value = good["webhook-signature"].removeprefix("v1,")
    wrong = signed(body, secret="an old secret")["webhook-signature"]
    assert gitlab.verify(SECRET, {**good, "webhook-signature": f"{wrong} v1,{value}"}, body)
    assert not gitlab.verify(SECRET, {**good, "webhook-signature": f"{wrong} v2,{value}"}, body)
    assert not gitlab.verify(SECRET, {**good, "webhook-signature": value}, body)


def test_a_delivery_with_both_token_and_signature_must_pass_both():
    body = forge_body("gitlab", "HookPush.json")
    token = {"X-Gitlab-Token": SECRET}
    assert gitlab.verify(SECRET, {**token, **signed(body)}, body)
    assert not gitlab.verify(SECRET, {**token, **signed(body, at=time.time() - 600)}, body)
    assert not gitlab.verify(SECRET, {**token, **signed(body, secret="another secret")}, body)
    assert not gitlab.verify(SECRET, {"X-Gitlab-Token": "another secret", **signed(body)}, body)


def test_a_secret_in_the_standard_webhooks_form_signs_with_the_key_it_encodes():
    body = forge_body("gitlab", "HookPush.json")
    key = bytes(range(32))
    secret = "whsec_" + base64.b64encode(key).decode()
    assert gitlab.verify(secret, signed(body, key=key), body)
    assert not gitlab.verify(secret, signed(body, key=secret.encode()), body)
    assert gitlab.verify(secret, {"X-Gitlab-Token": secret}, body)
    # Not base64 after all: the secret's own bytes, as for any other.
    assert gitlab.verify("whsec_not base64!", signed(body, secret="whsec_not base64!"), body)


def test_delivery_ids_are_taken_only_in_a_plain_form():
    for forge, header in (("gitea", "X-Gitea-Delivery"), ("forgejo", "X-Forgejo-Delivery"),
                          ("gitlab", "X-Gitlab-Event-UUID")):
        for bad in ("", "../../etc", "a" * 65, "id with spaces"):
            assert FORGES[forge].delivery_id({header: bad}) is None, (forge, bad)
        assert FORGES[forge].delivery_id({}) is None


def test_gitlab_names_a_signed_delivery_by_its_webhook_id():
    headers = {"X-Gitlab-Event-UUID": DELIVERY, "webhook-id": "0d6b3a4e-1f2a-4b5c-8d9e-0f1a2b3c4d5e"}
    assert gitlab.delivery_id(headers) == "0d6b3a4e-1f2a-4b5c-8d9e-0f1a2b3c4d5e"
    assert gitlab.delivery_id({"X-Gitlab-Event-UUID": DELIVERY}) == DELIVERY


# --- reading what the fixtures do not show ----------------------------------

def payload_of(forge, name, **changes):
    """A real payload with each dotted path in `changes` set (`__` for the dots)."""
    payload = copy.deepcopy(json.loads(forge_body(forge, name)))
    for path, value in changes.items():
        *parents, last = path.split("__")
        where = payload
        for key in parents:
            where = where[key]
        where[last] = value
    return payload


def read(forge, event, payload):
    header = {"gitea": "X-Gitea-Event", "forgejo": "X-Forgejo-Event", "gitlab": "X-Gitlab-Event"}[forge]
    return FORGES[forge].read({header: event}, lambda: payload)


@pytest.mark.parametrize("forge", ["gitea", "forgejo"])
def test_a_gitea_push_or_delete_that_removes_a_ref_is_a_delete(forge):
    gone = "0" * 40
    assert read(forge, "push", payload_of(forge, "HookPush.json", after=gone)) == Delete("refs/heads/main")
    assert read(forge, "push", payload_of(forge, "HookPush.json", deleted=True)) == Delete("refs/heads/main")
    assert read(forge, "delete", {"ref": "v1.0.0", "ref_type": "tag"}) == Delete("refs/tags/v1.0.0")
    assert read(forge, "delete", {"ref": "feature", "ref_type": "branch"}) == Delete("refs/heads/feature")


@pytest.mark.parametrize("forge", ["gitea", "forgejo"])
def test_a_gitea_push_without_a_head_commit_takes_the_pushed_commits_words(forge):
    payload = payload_of(forge, "HookPushMulti.json")
    del payload["head_commit"]
    payload["commits"].reverse()
    assert read(forge, "push", payload) == THREE_PUSHED
    payload["commits"] = []
    assert read(forge, "push", payload) == Push(ref=THREE_PUSHED.ref, after=THREE_PUSHED.after,
                                                before=THREE_PUSHED.before, message=None, author=None)


@pytest.mark.parametrize("forge", ["gitea", "forgejo"])
def test_a_gitea_fork_is_told_by_repository_ids_never_names(forge):
    same_name_other_repo = payload_of(forge, "HookPullRequestReopened.json", pull_request__head__repo__id=666)
    assert read(forge, "pull_request", same_name_other_repo).fork is True
    renamed = payload_of(forge, "HookPullRequestReopened.json", pull_request__head__repo__full_name="someone/else")
    assert read(forge, "pull_request", renamed).fork is False
    # A head repository deleted: Gitea sends no repo, and -1 for its id.
    gone = payload_of(forge, "HookPullRequestReopened.json", pull_request__head__repo=None,
                      pull_request__head__repo_id=-1)
    assert read(forge, "pull_request", gone).fork is True
    unsaid = payload_of(forge, "HookPullRequestReopened.json", pull_request__head={"ref": "6543-patch-1",
                        "sha": "36b5813240a9d2daa29b05046d56a53e18f39a3e"})
    assert read(forge, "pull_request", unsaid).fork is True
    other_repo_id = payload_of(forge, "HookPullRequestUpdated.json", pull_request__head__repo_id=7)
    assert read(forge, "pull_request", other_repo_id).fork is True
    no_ids = payload_of(forge, "HookPullRequestUpdated.json", pull_request__head__repo_id=0,
                        pull_request__base__repo_id=0)
    assert read(forge, "pull_request", no_ids).fork is True


def test_a_github_fork_is_told_by_repository_ids_never_names():
    from tests.support.github import github_payload

    def pull(**head_repo):
        payload = copy.deepcopy(github_payload("pull_request/opened.payload.json"))
        base = payload["pull_request"]["base"]["repo"]
        payload["pull_request"]["head"]["repo"] = {**base, **head_repo}
        return FORGES["github"].read({"X-GitHub-Event": "pull_request"}, lambda: payload)

    assert pull().fork is False
    assert pull(id=666).fork is True  # the base's name, taken again by another repository
    assert pull(full_name="someone/renamed").fork is False
    assert pull(id=None).fork is True


def test_a_gitlab_fork_is_told_by_project_ids_never_names():
    opened = payload_of("gitlab", "HookPullRequestOpened.json", object_attributes__source_project_id=666)
    assert opened["object_attributes"]["source"]["path_with_namespace"] == \
        opened["object_attributes"]["target"]["path_with_namespace"]
    assert read("gitlab", "Merge Request Hook", opened).fork is True
    missing = payload_of("gitlab", "HookPullRequestOpened.json", object_attributes__source_project_id=None)
    assert read("gitlab", "Merge Request Hook", missing).fork is True


def test_a_gitlab_push_takes_the_checked_out_commits_words_else_the_newest():
    payload = payload_of("gitlab", "HookPush.json")
    pushed = payload["commits"][0]
    older = {**pushed, "id": "1" * 40, "message": "Older", "author": {"name": "Someone earlier"}}
    payload["commits"] = [pushed, older]
    assert read("gitlab", "Push Hook", payload).message == "Update main.go"
    payload["commits"] = [{**pushed, "id": "2" * 40, "message": "Oldest"}, older]
    assert (read("gitlab", "Push Hook", payload).message, read("gitlab", "Push Hook", payload).author) == \
        ("Older", "Someone earlier")
    payload["commits"] = []
    assert read("gitlab", "Push Hook", payload).message is None


def test_a_gitlab_push_that_removes_a_ref_is_a_delete():
    gone = {"after": "0" * 40, "checkout_sha": None}
    assert read("gitlab", "Push Hook", payload_of("gitlab", "HookPush.json", **gone)) == Delete("refs/heads/main")
    assert read("gitlab", "Tag Push Hook", payload_of("gitlab", "HookTag.json", **gone)) == Delete("refs/tags/v22")


def test_gitlabs_other_events_are_not_built():
    assert read("gitlab", "System Hook", {}) == "System Hook events are not built"
    assert read("gitlab", "", {}) == "unnamed events are not built"


# --- hostile payloads ----------------------------------------------------------

NOT_A_BRANCH = ["-rf", "a..b", "main.lock", "has space", "tab\there", "x" * 256, "@", "", 7, None]

HOSTILE = [
    # (forge, fixture, event, {path: value}, the field the refusal names)
    *[(forge, "HookPullRequestReopened.json", "pull_request", change, field) for forge in ("gitea", "forgejo")
      for change, field in [
          ({"pull_request": "a string"}, "no pull_request"),
          ({"pull_request": ["a", "list"]}, "no pull_request"),
          ({"pull_request__head": None}, "no pull_request"),
          ({"pull_request__head__sha": "36b58132"}, "'head.sha'"),
          ({"pull_request__head__sha": "36B5813240A9D2DAA29B05046D56A53E18F39A3E"}, "'head.sha'"),
          ({"pull_request__head__sha": ["36b5813240a9d2daa29b05046d56a53e18f39a3e"]}, "'head.sha'"),
          *[({"pull_request__head__ref": name}, "'head.ref'") for name in NOT_A_BRANCH],
          *[({"pull_request__base__ref": name}, "'base.ref'") for name in NOT_A_BRANCH],
          ({"number": 10 ** 30}, "'number'"),
          ({"number": -1}, "'number'"),
          ({"number": True}, "'number'"),
          ({"number": "1"}, "'number'"),
      ]],
    *[(forge, "HookPullRequestClosed.json", "pull_request", {"number": 10 ** 30}, "'number'")
      for forge in ("gitea", "forgejo")],
    *[(forge, "HookPush.json", "push", change, field) for forge in ("gitea", "forgejo") for change, field in [
        ({"ref": "refs/heads/a..b"}, "'ref'"),
        ({"ref": "refs/tags/-v1"}, "'ref'"),
        ({"ref": None}, "'ref'"),
        ({"ref": "refs/heads/" + "x" * 300}, "'ref'"),
        ({"ref": "refs/notes/" + "x" * 300}, "'ref'"),
        ({"after": "not a commit"}, "'after'"),
        ({"after": 12345}, "'after'"),
    ]],
    ("gitlab", "HookPullRequestOpened.json", "Merge Request Hook", {"object_attributes": "a string"},
     "no object_attributes"),
    *[("gitlab", "HookPullRequestOpened.json", "Merge Request Hook", change, field) for change, field in [
        ({"object_attributes__iid": 10 ** 30}, "'object_attributes.iid'"),
        ({"object_attributes__iid": 0}, "'object_attributes.iid'"),
        ({"object_attributes__last_commit": "2f7670508b771e7e77839402be8b34b13787aba8"},
         "'object_attributes.last_commit.id'"),
        ({"object_attributes__last_commit__id": "2f76705"}, "'object_attributes.last_commit.id'"),
        *[({"object_attributes__source_branch": name}, "'object_attributes.source_branch'") for name in NOT_A_BRANCH],
        *[({"object_attributes__target_branch": name}, "'object_attributes.target_branch'") for name in NOT_A_BRANCH],
    ]],
    ("gitlab", "HookPullRequestMerged.json", "Merge Request Hook", {"object_attributes__iid": "4"},
     "'object_attributes.iid'"),
    *[("gitlab", "HookPush.json", "Push Hook", change, field) for change, field in [
        ({"ref": "refs/heads/a..b"}, "'ref'"),
        ({"ref": ["refs/heads/main"]}, "'ref'"),
        ({"ref": "refs/notes/" + "x" * 300}, "'ref'"),
        ({"checkout_sha": "not a commit"}, "'checkout_sha'"),
        ({"checkout_sha": None, "after": "16862e36"}, "'after'"),
    ]],
    ("gitlab", "HookTag.json", "Tag Push Hook", {"ref": "refs/tags/v22.lock"}, "'ref'"),
]


@pytest.mark.parametrize(("forge", "name", "event", "change", "field"), HOSTILE,
                         ids=[f"{forge}/{name}:{change}"[:120] for forge, name, _, change, _ in HOSTILE])
def test_a_hostile_payload_is_refused_naming_the_field(forge, name, event, change, field):
    with pytest.raises(BadDelivery) as refused:
        read(forge, event, payload_of(forge, name, **change))
    assert field in str(refused.value)


@pytest.mark.parametrize("forge", ["gitea", "forgejo"])
def test_a_pull_request_action_that_builds_nothing_is_not_read_further(forge):
    assert read(forge, "pull_request", {"action": "label_updated", "pull_request": "a string"}) == \
        nothing("label_updated")


# --- commit statuses ---------------------------------------------------------

COMMIT = "16862e368d8ab812e48833b741dad720d6e2cb7f"

# Each of Stoker's statuses in each forge's words, written out here so that a change to the
# modules' tables shows.
GITEA_WORDS = {Status.QUEUED: "pending", Status.RUNNING: "pending", Status.PASSED: "success",
               Status.FAILED: "failure", Status.CANCELED: "error", Status.BLOCKED: "pending",
               Status.DECLINED: "warning", Status.SKIPPED: "success"}
GITLAB_WORDS = {Status.QUEUED: "pending", Status.RUNNING: "running", Status.PASSED: "success",
                Status.FAILED: "failed", Status.CANCELED: "canceled", Status.BLOCKED: "pending",
                Status.DECLINED: "canceled", Status.SKIPPED: "skipped"}


def reporting(app, url, token="forge-token"):
    """A project whose statuses go to the forge at `url` (on loopback: the server allows private hosts),
    and a build of it (neither saved)."""
    app.config["STOKER_ALLOW_PRIVATE_REPO_HOSTS"] = True
    project = Project(github_repo="octo/demo", forge_url=url, github_token_sealed=seal(app.config["SECRET_KEY"], token))
    return project, Build(id=7, project=project, commit_hash=COMMIT)


@pytest.mark.parametrize(("forge", "path", "words", "sent_with"), [
    ("gitea", f"/api/v1/repos/octo/demo/statuses/{COMMIT}", GITEA_WORDS, {"auth": "token forge-token"}),
    ("forgejo", f"/api/v1/repos/octo/demo/statuses/{COMMIT}", GITEA_WORDS, {"auth": "token forge-token"}),
    ("gitlab", f"/api/v4/projects/octo%2Fdemo/statuses/{COMMIT}", GITLAB_WORDS, {"private_token": "forge-token"}),
])
def test_each_status_reaches_the_forge_in_its_own_words(app, forge_api, forge, path, words, sent_with):
    fake = forge_api()
    project, build = reporting(app, fake.url)
    for status in Status.ALL:
        FORGES[forge].send_status(app, project, build, status, f"It is {status}")
    assert [call["state"] for call in fake.calls] == [words[status] for status in Status.ALL]
    assert [call["description"] for call in fake.calls] == [f"It is {status}" for status in Status.ALL]
    for call in fake.calls:
        assert call["path"] == path
        assert {key: call[key] for key in sent_with} == sent_with
        assert call["target_url"] == "http://stoker.test/builds/7"
        assert call["name" if forge == "gitlab" else "context"] == "stoker"


@pytest.mark.parametrize("forge", ["gitea", "forgejo", "gitlab"])
def test_a_status_the_forge_refuses_is_an_error_for_the_outbox_to_retry(app, forge_api, forge):
    fake = forge_api([(500, {"message": "Internal Server Error"}),
                      (400, {"message": {"state": ["does not have a valid value"]}})])
    project, build = reporting(app, fake.url)
    for _ in range(2):
        with pytest.raises(ForgeError, match="the forge answered (500|400)"):
            FORGES[forge].send_status(app, project, build, Status.PASSED, "Passed")
    FORGES[forge].send_status(app, project, build, Status.PASSED, "Passed")
    assert len(fake.calls) == 3


def test_a_state_gitlab_already_has_counts_as_delivered(app, forge_api, caplog):
    said = "Cannot transition status via :run from :running (Reasons: ...)"
    fake = forge_api([(400, {"message": said})])
    project, build = reporting(app, fake.url)
    with caplog.at_level(logging.INFO, logger="app.forges.gitlab"):
        gitlab.send_status(app, project, build, Status.RUNNING, "Running")
    assert len(fake.calls) == 1
    assert "already has build 7's status as running" in caplog.text


@pytest.mark.parametrize("forge", ["gitea", "forgejo", "gitlab"])
def test_a_project_with_no_forge_address_is_told_so(app, forge):
    project, build = reporting(app, None)
    with pytest.raises(ForgeError, match="no forge address"):
        FORGES[forge].send_status(app, project, build, Status.PASSED, "Passed")


@pytest.mark.parametrize("forge", ["gitea", "forgejo", "gitlab"])
def test_a_status_goes_to_no_private_address_unless_the_server_allows_them(app, forge_api, forge):
    """The address is checked as the status is sent, and the connection made to the address checked."""
    fake = forge_api()
    project, build = reporting(app, fake.url)
    app.config["STOKER_ALLOW_PRIVATE_REPO_HOSTS"] = False
    with pytest.raises(ForgeError, match="private or loopback"):
        FORGES[forge].send_status(app, project, build, Status.PASSED, "Passed")
    assert fake.calls == []
