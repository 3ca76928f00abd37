"""Mail to a project's notifyEmails when a build of its own branch fails, or passes after failing.

Sent by the worker once the build's result is out, through the server's STOKER_SMTP_URL; a mail
that cannot go is logged and never holds a build up or changes its result.
"""
import logging
import re
import smtplib
import ssl
from email.message import EmailMessage
from urllib.parse import unquote, urlsplit

from ..config import SMTP_SCHEMES
from ..records.models import Build, Event, Project, Status, db

log = logging.getLogger(__name__)

MAX_ADDRESSES = 20
ADDRESS = re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?")
# A branch's own builds: a pull request or a tag has other people to tell.
EVENTS = (Event.PUSH, Event.MANUAL, Event.CRON)
TIMEOUT_SECONDS = 10
# What _line makes of each character that is not printable, before a run of them is one space.
UNPRINTABLE_RUN = re.compile("\x00+")


def check_addresses(value, key):
    """The list of addresses `value` gives, each once, or ValueError naming `key`."""
    if not isinstance(value, list) or len(value) > MAX_ADDRESSES or not all(
            isinstance(address, str) and len(address) <= 254 and ADDRESS.fullmatch(address) for address in value):
        raise ValueError(f"{key} must be a list of at most {MAX_ADDRESSES} e-mail addresses, "
                         "such as [\"team@example.com\"]")
    return list(dict.fromkeys(value))


def news(build):
    """"failed" or "fixed" when the project's people should hear of `build`, else None."""
    if build.event not in EVENTS or build.branch != build.project.branch:
        return None
    if build.status == Status.FAILED:
        return "failed"
    if build.status != Status.PASSED:
        return None
    before = (Build.select(Build.status)
              .where((Build.project == build.project_id) & (Build.branch == build.branch) & Build.event.in_(EVENTS)
                     & Build.status.in_((Status.PASSED, Status.FAILED)) & (Build.id < build.id))
              .order_by(Build.id.desc()).first())
    return "fixed" if before is not None and before.status == Status.FAILED else None


def tell(app, build_id):
    """Mail the project's notifyEmails about the build if it is news; return the message sent, if any."""
    config = app.config
    if not config["STOKER_SMTP_URL"]:
        return None
    with db.connection_context():
        build = Build.select(Build, Project).join(Project).where(Build.id == build_id).first()
        what = news(build) if build is not None and build.project.notify_addresses else None
        if what is None:
            return None
        message = _message(build, what, config)
    try:
        _send(config["STOKER_SMTP_URL"], message)
    except (OSError, smtplib.SMTPException) as exc:
        log.warning("build %s: mail to %s not sent: %s", build_id, message["To"], exc)
        return None
    return message


def _message(build, what, config):
    project = build.project
    message = EmailMessage()
    message["Subject"] = _line(f"[Stoker] {project.name}: {build.branch} {what} (#{build.id})")
    message["From"] = config["STOKER_MAIL_FROM"]
    message["To"] = ", ".join(project.notify_addresses)
    said = (build.commit_message or "").splitlines()
    lines = [f"Build #{build.id} of {_line(project.name)} {'failed' if what == 'failed' else 'passed again'}.", "",
             f"Branch:    {_line(build.branch)}",
             f"Commit:    {build.commit_hash[:12]} {_line(said[0]) if said else ''}".rstrip(),
             f"Author:    {_line(build.commit_author or '-')}"]
    if build.exit_code is not None:
        lines.append(f"Exit code: {build.exit_code}")
    if build.error:
        lines.append(f"Error:     {_line(build.error)}")
    lines += ["", f"{config['STOKER_PUBLIC_URL']}/builds/{build.id}"]
    message.set_content("\n".join(lines) + "\n")
    return message


def _line(text):
    """One line of at most 200 characters, whatever a commit or a name holds: each run of characters
    that are not printable (every line break str.splitlines knows, U+2028 and U+0085 too, which the
    email package refuses in a header) is one space."""
    return UNPRINTABLE_RUN.sub(" ", "".join(c if c.isprintable() else "\x00" for c in text))[:200]


def _send(url, message):
    parts = urlsplit(url)
    port = parts.port or SMTP_SCHEMES[parts.scheme]
    context = ssl.create_default_context()
    if parts.scheme == "smtps":
        server = smtplib.SMTP_SSL(parts.hostname, port, timeout=TIMEOUT_SECONDS, context=context)
    else:
        server = smtplib.SMTP(parts.hostname, port, timeout=TIMEOUT_SECONDS)
    with server:
        if parts.scheme == "smtp+starttls":
            server.starttls(context=context)
        if parts.username:
            # As config refuses plain smtp:// with them, whatever set the URL: never sent in clear.
            if parts.scheme == "smtp":
                raise smtplib.SMTPException("credentials are sent over smtp+starttls:// or smtps:// only")
            server.login(unquote(parts.username), unquote(parts.password or ""))
        server.send_message(message)
