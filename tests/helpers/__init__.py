"""Helpers shared by test modules of several apps (plain functions and classes, not fixtures: the shared fixtures
live in the conftest.py files and the plugins tests/pools.py and tests/sockets.py)."""
