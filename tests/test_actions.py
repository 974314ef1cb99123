"""ActionSpace: legal actions and how spellings resolve to them."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from guardrail import ActionSpace, ConfigurationError, GuardrailError


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("red", "red"),
        ("Red", "red"),
        ("  RED \n", "red"),
        ("Action: **Red**.", "red"),
        ('"blue"', "blue"),
        ("[green]", "green"),
        ("`green`!", "green"),
        ("ACTION=blue", "blue"),
        ("(red)", "red"),
        ("purple", None),
        ("", None),
        ("red or blue", None),
    ],
)
def test_resolve_normalises_case_wrappers_and_labels(text: str, expected: str | None) -> None:
    """Case, whitespace, quotes, brackets, markdown, punctuation and 'Action:' labels are ignored."""
    assert ActionSpace(["red", "green", "blue"]).resolve(text) == expected


def test_aliases_apply_only_where_declared() -> None:
    """'1' resolves to arm_1 only when the alias is declared."""
    plain = ActionSpace(["arm_1", "arm_10"])
    aliased = ActionSpace(["arm_1", "arm_10"], aliases={"1": "arm_1", "10": "arm_10"})
    assert plain.resolve("1") is None
    assert aliased.resolve("1") == "arm_1"
    assert aliased.resolve("10") == "arm_10"
    assert aliased.resolve("arm 10") == "arm_10"


@pytest.mark.parametrize("bad", [[], ["red", "Red"], ["arm_1", "arm 1"], ["red", " "]])
def test_empty_duplicate_or_blank_spaces_are_configuration_errors(bad: list[str]) -> None:
    """An empty space, a duplicate (after normalising) or a blank name fails at construction."""
    with pytest.raises(ConfigurationError):
        ActionSpace(bad)


def test_a_single_string_is_not_a_space() -> None:
    """ActionSpace('red') would silently mean r, e, d; it is refused."""
    with pytest.raises(GuardrailError, match="not one string"):
        ActionSpace("red")  # type: ignore[arg-type]


def test_alias_to_unknown_action_is_refused() -> None:
    """An alias must point at a declared action."""
    with pytest.raises(ConfigurationError, match="not an action"):
        ActionSpace(["a"], aliases={"x": "b"})


def test_mentions_prefer_the_longest_name_and_respect_boundaries() -> None:
    """arm_10 is not read as arm_1; 'search docs' is search_docs, not search; 'reddish' is not red."""
    arms = ActionSpace(["arm_1", "arm_10"])
    assert [m.action for m in arms.find_mentions("arm_10 then arm 1, not arm-100")] == ["arm_10", "arm_1"]
    tools = ActionSpace(["search", "search_docs"])
    assert [m.action for m in tools.find_mentions("I will search docs, then search")] == ["search_docs", "search"]
    assert ActionSpace(["red"]).find_mentions("a reddish hue") == []


def test_space_is_a_value() -> None:
    """Spaces with the same names compare equal, hash alike, and keep their order."""
    a, b = ActionSpace(["x", "y"]), ActionSpace(["x", "y"])
    assert a == b
    assert hash(a) == hash(b)
    assert list(a) == ["x", "y"]
    assert len(a) == 2
    assert "x" in a
    assert "z" not in a
    assert a.index("y") == 1
    assert ActionSpace.of(a) is a


@given(st.text(max_size=200))
def test_resolve_never_returns_outside_the_space(text: str) -> None:
    """Whatever the text, resolve returns a declared action or None."""
    space = ActionSpace(["red", "green", "blue", "arm_1"])
    assert space.resolve(text) in (None, *space.names)


def test_resolve_answers_repeated_spellings_from_memory_exactly() -> None:
    """Repeated texts (answered from a bounded memory) resolve exactly as on first sight, None included."""
    import guardrail.actions as actions_module

    texts = ["Red", "red", "Action: **Blue**.", "purple", "", "  green ", "arm 1", "red or blue"]
    fresh = [ActionSpace(["red", "green", "blue", "arm_1"]).resolve(t) for t in texts]
    space = ActionSpace(["red", "green", "blue", "arm_1"])
    for _ in range(3):
        assert [space.resolve(t) for t in texts] == fresh
    assert fresh == ["red", "red", "blue", None, None, "green", "arm_1", None]
    limit = actions_module._SPELLINGS_CACHE_SIZE
    for i in range(limit + 10):
        space.resolve(f"word {i}")
    assert len(space._resolved) <= limit
    assert [space.resolve(t) for t in texts] == fresh


def test_descriptions_are_kept_per_action_and_empty_when_none_are_given() -> None:
    """Descriptions map action names to one-line texts; a space without any has an empty mapping."""
    space = ActionSpace(["search_docs", "send_email"], descriptions={"search_docs": "Search the documentation."})
    assert space.descriptions == {"search_docs": "Search the documentation."}
    assert ActionSpace(["red"]).descriptions == {}


def test_descriptions_are_validated_at_construction() -> None:
    """A description of something that is not an action, or one that is not a string, is refused."""
    with pytest.raises(ConfigurationError, match="'lookup', which is not an action"):
        ActionSpace(["search_docs"], descriptions={"lookup": "Look something up."})
    with pytest.raises(ConfigurationError, match="must be a string"):
        ActionSpace(["search_docs"], descriptions={"search_docs": 3})  # type: ignore[dict-item]


def test_names_that_open_alike_are_mentioned_by_the_rest_alone() -> None:
    """Among show_banner_A/B/C a rationale says "serve C"; among github__ tools, "create the pull request"."""
    banners = ActionSpace(["show_banner_A", "show_banner_B", "show_banner_C"])
    assert [m.action for m in banners.find_mentions("Banner B trails. Serve C.")] == ["show_banner_B", "show_banner_C"]
    tools = ActionSpace(["github__create_pull_request", "github__list_issues"])
    assert [m.action for m in tools.find_mentions("Time to create pull request now")] == ["github__create_pull_request"]


def test_the_rest_of_a_shared_prefix_is_not_an_answer() -> None:
    """An answer must spell the name: "C" is not resolved to show_banner_C, and a one-name space derives nothing."""
    assert ActionSpace(["show_banner_A", "show_banner_C"]).resolve("C") is None
    assert ActionSpace(["show_banner_A"]).find_mentions("serve A now") == []
