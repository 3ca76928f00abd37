"""The one clock builds and records are stamped by."""
from datetime import datetime, timezone


def utcnow():
    """Now in UTC, without a zone: as the database keeps every time."""
    return datetime.now(timezone.utc).replace(tzinfo=None)
