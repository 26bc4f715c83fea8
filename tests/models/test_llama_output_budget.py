"""The in-process handle's output limit (workers/models/llama_cpp_handle.py ``OutputBudget``), without llama.cpp:
llama-cpp-python calls the logits processor before each token it samples, with the token sequence so far."""
from __future__ import annotations

from workers.models.llama_cpp_handle import OutputBudget

SCORES = object()   # the processor hands the scores back untouched


def test_each_new_position_is_one_token_and_the_limit_is_spent_past_it() -> None:
    budget = OutputBudget(3)
    for length in (500, 501, 502):   # three tokens sampled after a 500-token prompt
        assert budget(range(length), SCORES) is SCORES
    assert budget.sampled == 3 and not budget.spent
    budget(range(503), SCORES)
    assert budget.spent


def test_a_resample_at_the_same_position_is_not_a_new_token() -> None:
    budget = OutputBudget(2)
    for length in (10, 10, 11, 11, 11):   # a grammar rejected the first pick: sampled again
        budget(range(length), SCORES)
    assert budget.sampled == 2 and not budget.spent


def test_tokens_of_every_completion_in_the_request_count() -> None:
    # The function-calling handler runs several completions per request (choice, arguments, follow-up).
    budget = OutputBudget(4)
    for length in (100, 101, 120, 121, 122):
        budget(range(length), SCORES)
    assert budget.spent


def test_no_limit_is_never_spent() -> None:
    budget = OutputBudget(None)
    for length in range(10_000, 14_000):
        budget(range(length), SCORES)
    assert budget.sampled == 4000 and not budget.spent
