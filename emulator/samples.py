"""Sample job specs that exercise every deliverable kind, for dry runs, demos and load tests.

Job ``i`` asks, in its last user message, for one kind of deliverable (bar chart, table,
checklist, ``specs/….md`` file, SVG diagram, pie, line, list, scatter, stacked bar, area
chart, or all of a launch brief at once), cycling through the kinds in that order, so any
12 consecutive jobs cover them all. Every fourth job (i % 4 == 1) carries a long prior
history (well over the default summarisation threshold); jobs with i % 6 == 4 have no
messages, only a ``legacyIdea``. Output depends only on ``(i, seed)``.
"""
from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

from emulator.contexts import CHARS_PER_TOKEN, DEFAULT_SUMMARY_THRESHOLD

_TOPICS = (
    ("coffee roastery", ("Downtown", "Harbor", "Airport", "Campus", "Old Town")),
    ("bike-sharing service", ("North", "South", "East", "West", "Central")),
    ("online bookshop", ("Fiction", "Science", "History", "Children", "Travel")),
    ("solar installer", ("Residential", "Commercial", "Municipal", "Agricultural")),
    ("language-learning app", ("Spanish", "French", "German", "Japanese", "Korean")),
    ("veterinary clinic group", ("Riverside", "Hilltop", "Lakeside", "Parkway")),
)

_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September",
           "October", "November", "December")

# Long histories must exceed the default threshold so they need summarising.
_LONG_PRIOR_CHARS = DEFAULT_SUMMARY_THRESHOLD * CHARS_PER_TOKEN * 5 // 4
_LONG_PRIOR_MESSAGES = 4
_LONG_RECENT_CONTEXT = 5  # context messages before the request; with it they make the 6 recent ones

Request = Callable[[str, "tuple[str, ...]", random.Random], str]


def _join(items: tuple[str, ...]) -> str:
    return ", ".join(items[:-1]) + " and " + items[-1]


_REQUESTS: tuple[tuple[str, Request], ...] = (
    ("bar chart", lambda s, g, r: f"Make a bar chart comparing last quarter's revenue across our {s} "
     f"segments: {_join(g)}. Use figures between {r.randint(20, 60)}k and {r.randint(80, 150)}k."),
    ("table", lambda s, g, r: f"Give me a table of the {s} segments ({_join(g)}) with columns for "
     "owner, monthly budget, headcount and next milestone."),
    ("checklist", lambda s, g, r: f"Write a checklist for the {s} launch day: {r.randint(6, 10)} steps "
     "from the morning systems check to the evening retrospective."),
    ("file", lambda s, g, r: f"Draft a file specs/{s.replace(' ', '-')}-requirements.md with the product "
     f"requirements for the new {s} booking flow: goals, user stories, constraints and open questions."),
    ("svg", lambda s, g, r: f"Draw an SVG diagram of the {s} order pipeline: intake, review, "
     "fulfilment and feedback, with arrows between the stages."),
    ("pie chart", lambda s, g, r: f"Show a pie chart of how the {s} marketing budget of "
     f"{r.randint(40, 90)}k is split across {_join(g)}."),
    ("line chart", lambda s, g, r: f"Plot a line chart of weekly active customers for the {s} over "
     f"the last {r.randint(6, 12)} weeks, one line per segment."),
    ("list", lambda s, g, r: f"Give me a list of the top {r.randint(5, 8)} risks for expanding the {s} "
     "next year, most serious first."),
    ("scatter plot", lambda s, g, r: f"Make a scatter plot of price versus customer rating for "
     f"{r.randint(12, 30)} {s} offerings, one series per segment."),
    ("stacked bar", lambda s, g, r: f"Build a stacked bar chart of {s} orders per quarter, stacked by "
     f"segment ({_join(g)})."),
    ("area chart", lambda s, g, r: f"Show an area chart of cumulative sign-ups for the {s} from "
     f"{r.choice(_MONTHS)} to {r.choice(_MONTHS)}."),
    ("launch brief", lambda s, g, r: f"Put together a launch brief for the {s}: a bar chart comparing "
     f"segment revenue, a table of owners and dates, a checklist for launch week, a list of risks and "
     f"a file specs/launch-brief.md with the full plan."),
)


def sample_job(index: int, *, seed: int = 0) -> dict[str, Any]:
    """Job spec number ``index`` (0-based) of the sample sequence for ``seed``."""
    rng = random.Random(seed * 1_000_003 + index)
    subject, segments = rng.choice(_TOPICS)
    label, request = _REQUESTS[index % len(_REQUESTS)]
    request_text = request(subject, segments, rng)
    title = f"{subject.title()} — {label}"
    if index % 6 == 4:
        return {"target": "global", "title": title, "legacyIdea": request_text, "messages": []}
    if index % 4 == 1:
        history = _long_history(subject, segments, rng)
    else:
        history = _short_history(subject, segments, rng)
    return {"target": "global", "title": title, "legacyIdea": None,
            "messages": history + [{"text": request_text}]}


def sample_jobs(count: int, *, seed: int = 0) -> list[dict[str, Any]]:
    """The first ``count`` sample job specs for ``seed`` (targets are global)."""
    if count < 0:
        raise ValueError(f"count must be >= 0, got {count}")
    return [sample_job(index, seed=seed) for index in range(count)]


def _fact(subject: str, segments: tuple[str, ...], rng: random.Random) -> str:
    return (f"The {rng.choice(segments)} segment of the {subject} grew {rng.randint(2, 40)}% in "
            f"{rng.choice(_MONTHS)}; we want to reach {rng.randint(100, 900)} customers a week and keep "
            f"costs under {rng.randint(5, 50)}k per month.")


def _short_history(subject: str, segments: tuple[str, ...], rng: random.Random) -> list[dict[str, Any]]:
    return [{"text": f"Context: we run a {subject}. {_fact(subject, segments, rng)}"}
            for _ in range(rng.randint(0, 2))]


def _long_history(subject: str, segments: tuple[str, ...], rng: random.Random) -> list[dict[str, Any]]:
    """Prior messages totalling well over the summarisation threshold, then recent context."""
    prior = []
    for week in range(1, _LONG_PRIOR_MESSAGES + 1):
        notes: list[str] = []
        while sum(len(n) + 1 for n in notes) < _LONG_PRIOR_CHARS // _LONG_PRIOR_MESSAGES:
            notes.append(_fact(subject, segments, rng))
        prior.append({"text": "\n".join(notes), "subtitle": f"Planning notes, week {week}"})
    recent = [{"text": f"Update: {_fact(subject, segments, rng)}"} for _ in range(_LONG_RECENT_CONTEXT)]
    return prior + recent
