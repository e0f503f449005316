"""Database fixtures: a fresh, migrated database per test (SQLite, or PostgreSQL via TEST_DATABASE_URL)."""
