"""Shared fixtures live in plugin modules, one per concern, so each can grow on its own."""

pytest_plugins = ["tests.fixtures_db", "tests.fixtures_sandbox", "tests.fixtures_openapi"]
