"""Stoker's build runner: git checkout, Docker containers, and the worker loop."""
