"""File-name sanitising (protocol §4): what each rule does, and what it refuses and why."""
from __future__ import annotations

import pytest

from workers.deliverables.errors import DeliverableError
from workers.deliverables.paths import sanitize_file_name


@pytest.mark.parametrize(("given", "stored"), [
    pytest.param("plan.md", "plan.md", id="flat"),
    pytest.param("specs/plan.md", "specs/plan.md", id="folder"),
    pytest.param("specs\\api\\v1.txt", "specs/api/v1.txt", id="backslashes-become-slashes"),
    pytest.param("/specs/plan.md", "specs/plan.md", id="leading-slash-dropped"),
    pytest.param("///plan.md", "plan.md", id="many-leading-slashes"),
    pytest.param("./specs/./plan.md", "specs/plan.md", id="dot-segments-dropped"),
    pytest.param("../../etc/passwd.md", "etc/passwd.md", id="dotdot-segments-dropped"),
    pytest.param("specs//plan.md", "specs/plan.md", id="empty-segments-dropped"),
    pytest.param("specs/plan.md/", "specs/plan.md", id="trailing-slash-dropped"),
    pytest.param("My Plan (v2).md", "My_Plan_v2_.md", id="runs-of-unsafe-chars-become-one-underscore"),
    pytest.param("  spaced  /  name .md ", "spaced/name_.md", id="whitespace-trimmed-per-segment"),
    pytest.param("__init__/__x__.md", "init/x__.md", id="underscores-trimmed-at-ends"),
    pytest.param("résumé.md", "r_sum_.md", id="non-ascii-replaced"),
    pytest.param("..?/x.md", "x.md", id="segment-that-sanitises-to-dotdot-dropped"),
    pytest.param("NOTES.MD", "NOTES.MD", id="extension-any-case"),
    pytest.param("Read.Me.Txt", "Read.Me.Txt", id="txt-any-case"),
    pytest.param("f" * 60 + "/x.md", "f" * 48 + "/x.md", id="long-folder-cut-to-48"),
    pytest.param("a" * 47 + "!" + "z/x.md", "a" * 47 + "/x.md", id="cut-then-trailing-underscore-trimmed"),
    pytest.param("a/b/c/d/x.md", "a/b/c/d/x.md", id="four-folders"),
    pytest.param("a/./b/../c/d/x.md", "a/b/c/d/x.md", id="depth-counted-after-dropping"),
])
def test_sanitises(given: str, stored: str) -> None:
    assert sanitize_file_name(given) == stored
    assert sanitize_file_name(stored) == stored  # a fixed point: stored names pass the strict check


@pytest.mark.parametrize(("given", "reason"), [
    pytest.param("", "has no usable characters", id="empty"),
    pytest.param(" / ./.. ", "has no usable characters", id="nothing-left"),
    pytest.param("!!!/???", "has no usable characters", id="only-unsafe-chars"),
    pytest.param("plan.pdf", "must end in .md or .txt", id="wrong-extension"),
    pytest.param("plan", "must end in .md or .txt", id="no-extension"),
    pytest.param("a/b/c/d/e/x.md", "has 5 folders; at most 4 folders may come before the file name", id="five-folders"),
    pytest.param("x" * 46 + ".md", "its last part is 49 characters; parts are cut to 48",
                 id="leaf-cut-loses-extension"),
    pytest.param("/".join(["a" * 48] * 3 + ["d" * 11 + ".md"]), "is 161 characters after sanitising; the limit is 160",
                 id="name-over-160"),
])
def test_refuses(given: str, reason: str) -> None:
    with pytest.raises(DeliverableError) as caught:
        sanitize_file_name(given)
    assert reason in caught.value.reason
    assert str(caught.value).startswith("file name ")


def test_error_detail_names_the_given_name() -> None:
    with pytest.raises(DeliverableError, match=r'^file name "notes\.pdf": must end in \.md or \.txt$'):
        sanitize_file_name("notes.pdf")
