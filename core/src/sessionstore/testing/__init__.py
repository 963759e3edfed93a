"""The conformance kit: the whole backend contract as inheritable pytest tests.

Install with ``pip install "sessionstore[testing]"``, then in your test suite::

    import pytest
    from sessionstore import SessionStore
    from sessionstore.testing import BackendTests

    class TestMyBackend(BackendTests):
        @pytest.fixture
        def store(self, tmp_path):
            return SessionStore(backend="mine", bucket="kit-tests", path=tmp_path)

Every test runs on asyncio and on trio. Each docstring says what is checked and
how to fix a failure. Overriding a kit test needs ``@override("why")``; a silent
override fails at import.
"""

from __future__ import annotations

import pytest

# Failures in the kit's own module show full comparisons, as in the author's tests.
pytest.register_assert_rewrite("sessionstore.testing.backend_tests")

from sessionstore.testing.backend_tests import BackendTests  # noqa: E402
from sessionstore.testing.guard import override  # noqa: E402
from sessionstore.testing.listing import all_pages  # noqa: E402

__all__ = ["BackendTests", "all_pages", "override"]
