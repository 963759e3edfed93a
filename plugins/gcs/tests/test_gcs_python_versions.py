"""google-api-core warns, by the calendar, that it will stop or has stopped
supporting the running Python: a FutureWarning at its import, on the first GCS
operation. The suite turns warnings into errors, so on Python 3.10 from 2026-10
every GCS test failed, and on 3.11 (CI's) they would from 2027-07: the suite
ignores that notice, and only that one."""

from __future__ import annotations

from datetime import date, timedelta

from google import api_core


def test_googles_python_support_notices_do_not_fail_the_suite() -> None:
    """Every day from 2026 to 2031 (the end of life of 3.10 to 3.13 and the weeks
    around each): whatever notice google-api-core gives on this Python, none raises."""
    statuses: set[str] = set()
    day = date(2026, 1, 1)
    while day < date(2031, 1, 1):
        statuses.add(api_core.check_python_version("google.cloud.storage", today=day).name)
        day += timedelta(days=1)
    # Each kind of notice was given: deprecated soon, past end of life, unsupported.
    assert {
        "PYTHON_VERSION_DEPRECATED",
        "PYTHON_VERSION_EOL",
        "PYTHON_VERSION_UNSUPPORTED",
    } <= statuses
