"""Browser tests reuse the e2e fixture that runs Payfriend in-process against the sandbox."""

from tests.e2e.conftest import start_payfriend  # noqa: F401  (a fixture)
