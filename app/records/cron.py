"""Cron lines, as schedules keep them."""
from croniter import croniter


def next_time(cron, after):
    """The first time `cron` names after `after` (naive UTC, to the minute)."""
    return croniter(cron, after).get_next(type(after))
