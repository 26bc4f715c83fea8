"""HTTP dates from a server (``Retry-After``, ``Date``) are parsed in one place and never raise."""
from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from shared.cloud.transport import clock_offset
from shared.http.retry import http_date_epoch, retry_after_seconds

HUGE_YEAR = "Mon, 01 Jan 99999999999999999999 00:00:00 GMT"  # OverflowError in the stdlib parser


def test_a_huge_year_is_no_date_rather_than_an_overflow() -> None:
    assert http_date_epoch(HUGE_YEAR) is None
    assert retry_after_seconds({"Retry-After": HUGE_YEAR}) is None
    assert clock_offset(HUGE_YEAR, received_at=0.0) is None


def test_a_real_date_is_read_on_both_paths() -> None:
    date = "Tue, 01 Dec 2026 00:00:10 GMT"
    assert http_date_epoch(date) == 1796083210.0
    assert retry_after_seconds({"Retry-After": date}, now=1796083200.0) == 10.0
    assert clock_offset(date, received_at=1796083200.0) == 10.0


@settings(max_examples=300)
@given(st.text(max_size=80))
def test_any_header_text_gives_a_number_or_none(value: str) -> None:
    seconds = retry_after_seconds({"Retry-After": value})
    assert seconds is None or seconds >= 0
    assert http_date_epoch(value) is None or isinstance(http_date_epoch(value), float)
