"""The records and what moves them: the models by aggregate (accounts, projects, builds, app
builds, and the words they use, gathered in models.py), the database (db.py), the job kinds and
their lifecycle (jobs.py, lifecycle.py), logs, the vault, the commit status outbox, signed links,
cron times and what a project's remote says now.

Imports nothing of app/ above it (not the API, a forge, the live side or the workers): the
lifecycle announces changes through the hooks app/factory.py wires into Services.
"""
