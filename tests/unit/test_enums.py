"""``shared.enums.StrEnum`` behaves as 3.11's ``enum.StrEnum`` wherever the runner uses a member:
as a label, in text, in JSON, across the pipe (pickle), and compared with plain strings."""
from __future__ import annotations

import json
import pickle

from shared.enums import StrEnum
from shared.pipe.messages import LeaseOutcome


class Colour(StrEnum):
    RED = "red"
    DARK_BLUE = "dark blue"


def test_a_member_is_its_value_in_text() -> None:
    assert str(Colour.RED) == "red"
    assert f"{Colour.DARK_BLUE}" == "dark blue"
    assert f"[{Colour.RED:>5}]" == "[  red]"


def test_a_member_equals_hashes_and_serialises_as_its_value() -> None:
    # deliberate: a member equals its plain-string value, which mypy's strict equality rules out for two literals
    assert Colour.RED == "red" and {"red": 1}[Colour.RED] == 1   # type: ignore[comparison-overlap]
    assert json.dumps({"colour": Colour.DARK_BLUE}) == '{"colour": "dark blue"}'
    assert Colour("red") is Colour.RED


def test_a_member_survives_the_pipe_as_itself() -> None:
    assert pickle.loads(pickle.dumps(LeaseOutcome.THROTTLED)) is LeaseOutcome.THROTTLED
    assert repr(LeaseOutcome.THROTTLED) == "<LeaseOutcome.THROTTLED: 'throttled'>"
