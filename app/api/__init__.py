"""The HTTP API and the dashboard's pages: one blueprint module per resource (auth, admin,
forges (a user's forge accounts), projects, secrets, members, registries, schedules, builds, webhooks, app builds, downloads,
metrics, dashboard, openapi), and what they share beside them: the error shape (errors.py),
reading requests (parsing.py), who is calling (callers.py), access to a project (access.py),
named rows (rows.py), shared fields (fields.py) and the login throttle (throttle.py).

May import the records, the forges, the live side and the background work; no blueprint
imports another.
"""
