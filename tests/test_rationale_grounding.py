"""How the reader grounds what a rationale says to actions: name variants, aliases, descriptions; and how it reads
plans, deferrals, evaluations and the windows around each mention."""

from __future__ import annotations

import time

import pytest

from guardrail.actions import ActionSpace
from guardrail.exceptions import ConfigurationError
from guardrail.rationale import read_rationale

SUPPORT = ActionSpace(
    ["billing.get_customer", "search_wiki", "send_email", "escalate"],
    descriptions={
        "billing.get_customer": "Fetch a customer's billing record by customer id.",
        "search_wiki": "Search the internal wiki for articles.",
        "send_email": "Send an email to a recipient.",
        "escalate": "Hand the ticket to a human agent.",
    },
)
DEVOPS = ActionSpace(
    ["kubectl_get_events", "kubectl_rollout_restart", "kubectl_logs", "backup_table", "run_migration", "verify_schema"],
    descriptions={
        "kubectl_get_events": "List recent Kubernetes events for a namespace or pod.",
        "kubectl_rollout_restart": "Restart a deployment's pods.",
        "kubectl_logs": "Read the logs of a pod.",
        "backup_table": "Back up a database table to object storage.",
        "run_migration": "Apply pending database migrations.",
        "verify_schema": "Compare the schema with the expected version.",
    },
)


def action(text: str, space: ActionSpace) -> str | None:
    return read_rationale(text, space).action


@pytest.mark.parametrize(
    ("text", "names", "expected"),
    [
        ("I'll press Button 2 now.", ["button_1", "button_2"], "button_2"),
        ("Let me run git log on that file.", ["git_log", "git_diff"], "git_log"),
        ("I'll call createTicket for the hardware team.", ["CreateTicket", "AddNote"], "CreateTicket"),
        (
            "Next I'll use github search code to find the caller.",
            ["github__search_code", "slack__post"],
            "github__search_code",
        ),
        ("I will choose Arm 1.", ["arm_1", "arm_10"], "arm_1"),
        ("I'll open (2,2) to block.", ["(0,0)", "(2,2)"], "(2,2)"),
    ],
)
def test_name_variants_are_mentions_of_their_action(text: str, names: list[str], expected: str) -> None:
    """Case, separators, camel/snake/dotted/MCP forms and "Arm 1" all name the same action."""
    assert action(text, ActionSpace(names)) == expected


def test_a_declared_alias_is_a_mention_in_the_rationale_too() -> None:
    """Aliases apply to the rationale as well as to the action field."""
    space = ActionSpace(["lookup_order", "refund"], aliases={"order finder": "lookup_order"})
    assert action("I'll use the order finder first.", space) == "lookup_order"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("I'll pull up the customer's billing record first so I can see the failed charge.", "billing.get_customer"),
        ("The wiki should have the onboarding steps.", "search_wiki"),
        ("Let me send a short confirmation email.", "send_email"),
    ],
)
def test_a_tool_named_by_what_it_does_is_grounded_by_its_description(text: str, expected: str) -> None:
    """A phrase whose content words match one tool's name parts and description refers to that tool."""
    assert action(text, SUPPORT) == expected


def test_descriptions_are_what_ground_a_described_phrase() -> None:
    """A tool whose name says nothing of billing records is grounded by its description, and only by it."""
    bare = ActionSpace(["crm_tool", "search_wiki"])
    described = ActionSpace(
        ["crm_tool", "search_wiki"], descriptions={"crm_tool": "Fetch a customer's billing record."}
    )
    text = "I'll pull up the customer's billing record first."
    assert action(text, bare) is None
    assert action(text, described) == "crm_tool"


def test_two_tools_that_fit_a_phrase_equally_ground_it_to_neither() -> None:
    """When two tools fit equally well, the phrase names no tool: precision before recall."""
    space = ActionSpace(
        ["search_docs", "search_web"],
        descriptions={"search_docs": "Search for pages.", "search_web": "Search for pages."},
    )
    assert action("I'll search for it.", space) is None


def test_the_first_step_of_a_plan_is_the_recommendation() -> None:
    """Plan: back up, then migrate, then verify -> the backup is the next step."""
    assert action("Plan: back up the table, then run the migration, then verify.", DEVOPS) == "backup_table"
    assert action("1. Back up the table.\n2. Run the migration.\n3. Verify the schema.", DEVOPS) == "backup_table"


def test_a_rejected_or_deferred_step_is_not_the_recommendation() -> None:
    """ "No point restarting before we know why; the events will tell us" recommends the events."""
    text = "There's no point restarting the pod before we know why it failed; the events will tell us."
    assert action(text, DEVOPS) == "kubectl_get_events"
    assert action("I'll check the pod logs before restarting anything.", DEVOPS) == "kubectl_logs"


@pytest.mark.parametrize(
    ("text", "names", "expected"),
    [
        ("The arm with the best average payoff is arm_4.", ["arm_3", "arm_4"], "arm_4"),
        (
            "Calling fetch_api directly tends to give fresher data than read_cache.",
            ["fetch_api", "read_cache"],
            "fetch_api",
        ),
        ("red: mean 0.2. blue: mean 0.9. The highest mean is blue.", ["red", "blue"], "blue"),
    ],
)
def test_an_evaluation_with_no_verb_of_choice_is_evidence(text: str, names: list[str], expected: str) -> None:
    """ "The best ... is X", "X tends to give fresher data" favour X when nothing else is decided."""
    assert action(text, ActionSpace(names)) == expected


@pytest.mark.parametrize(
    "text",
    [
        "I've already searched the wiki.",
        "Should I escalate this ticket?",
        "If the charge is a duplicate, I'll escalate.",
        "I could search the wiki or escalate.",
        "I could call send_email or escalate.",
    ],
)
def test_recaps_questions_conditions_and_hedges_recommend_nothing(text: str) -> None:
    """A mention that is history, asked, conditional or hedged drops out."""
    assert action(text, SUPPORT) is None


def test_weak_names_need_context() -> None:
    """A letter, a number or an everyday word is a mention only in context ("press A", "cell 3", "go up")."""
    space = ActionSpace(["A", "B", "3", "up"])
    assert action("A good choice would be hard to find.", space) is None
    assert action("Serve A.", space) == "A"
    assert action("I'll take cell 3.", space) == "3"
    assert action("I will go up.", space) == "up"


def test_descriptions_must_name_actions_and_be_text() -> None:
    """A description for an unknown action, or one that is not a string, is refused at construction."""
    with pytest.raises(ConfigurationError, match="not an action"):
        ActionSpace(["a"], descriptions={"b": "x"})
    with pytest.raises(ConfigurationError, match="must be a string"):
        ActionSpace(["a"], descriptions={"a": 3})  # type: ignore[dict-item]


@pytest.mark.parametrize(
    "text",
    [
        "I recommend caution." + "\n" * 10_000 + "red",
        "token=" + "Q" * 10_000 + " " * 3000 + "blue",
        "(" * 10_000 + "red" + ")" * 10_000,
        "<action " * 2_000,
        "red, " * 2_000 + "so I choose blue.",
        "I'll call red. " * 1_000,
    ],
)
def test_hostile_text_reads_in_linear_time(text: str) -> None:
    """Blank-line runs, long tokens, bracket runs, unclosed tags and long lists never stall the reader.

    The bound is loose on purpose (a loaded CI machine); scripts/bench_reader.py prints the real figures."""
    start = time.perf_counter()
    read_rationale(text, ActionSpace(["red", "blue"]))
    assert time.perf_counter() - start < 2.0


def test_an_order_that_describes_its_tool_reads_as_an_order() -> None:
    """ "confirm the airspace class" and "rerun the pipeline" name their tools by description, after a verb."""
    drone = ActionSpace(
        ["get_airspace", "create_flight_plan"],
        descriptions={
            "get_airspace": "Look up the airspace class and restrictions at a location.",
            "create_flight_plan": "Create and file a drone flight plan.",
        },
    )
    text = "Before building a flight plan, confirm the airspace class at the site."
    assert read_rationale(text, drone).action == "get_airspace"
    lab = ActionSpace(
        ["run_pipeline", "fastqc"],
        descriptions={"run_pipeline": "Run the analysis pipeline.", "fastqc": "Quality control of reads."},
    )
    assert read_rationale("Survey done; now rerun the pipeline.", lab).action == "run_pipeline"


def test_a_phrase_that_fits_a_tool_and_its_extension_alike_grounds_to_the_base_tool() -> None:
    """ "search the catalog" is search_products, unless the phrase says what the longer name adds ("by image")."""
    shop = ActionSpace(
        ["search_products", "search_products_by_image", "add_to_cart"],
        descriptions={
            "search_products": "Search the store catalog by text.",
            "search_products_by_image": "Search the catalog with an uploaded image.",
            "add_to_cart": "Add a product to the cart.",
        },
    )
    assert action("I'll search the catalog for those boots.", shop) == "search_products"
    assert action("I'll search the catalog by image for those boots.", shop) == "search_products_by_image"


def test_a_tool_that_matches_every_word_another_matches_and_more_wins_whatever_the_margin() -> None:
    """ "Run dbt tests": dbt.run_model matches "run" and "dbt", which dbt.test_model matches too, plus "tests"."""
    dbt = ActionSpace(
        ["dbt.run_model", "dbt.test_model", "warehouse.execute_sql"],
        descriptions={
            "dbt.run_model": "Run a dbt model and its upstream dependencies.",
            "dbt.test_model": "Run the dbt tests defined for a model.",
            "warehouse.execute_sql": "Execute SQL against the warehouse.",
        },
    )
    assert action("Next, run dbt tests on fct_revenue.", dbt) == "dbt.test_model"


def test_shared_words_tell_apart_two_tools_that_fit_alike() -> None:
    """ "open a new ticket": both create tools fit "new"/"create", only one of them has "ticket" (a word most tools
    share, which alone tells nothing) and "helpdesk"."""
    desk = ActionSpace(
        ["helpdesk__list_user_tickets", "helpdesk__create_ticket", "helpdesk__add_note", "statuspage__create_incident"],
        descriptions={
            "helpdesk__list_user_tickets": "List all tickets requested by a user.",
            "helpdesk__create_ticket": "Create a new helpdesk ticket on behalf of a user.",
            "helpdesk__add_note": "Add an internal note to a ticket.",
            "statuspage__create_incident": "Create a new incident on the public status page.",
        },
    )
    assert action("I'll open a new ticket for them with the helpdesk create tool.", desk) == "helpdesk__create_ticket"
    assert action("I'll open a new incident on the status page.", desk) == "statuspage__create_incident"


def test_an_abbreviated_tool_word_grounds_like_the_word() -> None:
    """ "cmd" is "command" (a row of the equivalents table)."""
    ide = ActionSpace(
        ["Read File", "Run Command", "Ask User"],
        descriptions={
            "Read File": "Read a file.",
            "Run Command": "Run a shell command.",
            "Ask User": "Ask the user a question.",
        },
    )
    assert action("deps first. run cmd: npm install", ide) == "Run Command"


def test_a_recap_of_a_described_action_is_not_a_recommendation() -> None:
    """ "I checked their billing record": what was done, whatever the verb ("patched", "posted", "fetched")."""
    assert action("I checked the wiki for the onboarding steps.", SUPPORT) is None
    assert action("Recap: I fetched the customer's billing record and it looks fine.", SUPPORT) is None
    assert action("Next I'll fetch the customer's billing record.", SUPPORT) == "billing.get_customer"


def test_a_subject_starts_a_new_phrase_inside_a_sentence() -> None:
    """ "Before emailing the customer I'll pull up the billing record": two phrases, the second one the order."""
    assert action("Before emailing the customer I'll pull up their billing record.", SUPPORT) == "billing.get_customer"


def test_a_described_phrase_ends_before_its_verb() -> None:
    """ "Backing up now could lock the table": what follows the verb is said of the phrase, not an order."""
    assert action("The events will tell us why. Backing up now could lock the table for an hour.", DEVOPS) == (
        "kubectl_get_events"
    )
    text = "The wiki should have it. Emailing blindly might send an email to the wrong recipient."
    assert action(text, SUPPORT) == "search_wiki"


def test_a_question_after_a_colon_asks_about_what_the_step_will_show() -> None:
    """ "Let me see the summary: is it up?" decides the step; the question is what it will answer."""
    assert action("Let me pull up their billing record: was the charge a duplicate?", SUPPORT) == "billing.get_customer"
    assert action("Should I escalate this ticket?", SUPPORT) is None


def test_a_verb_after_a_determiner_is_a_noun_not_the_order() -> None:
    """ "I'll add each one to their reading list": "add" is the order, "reading" names the list."""
    browse = ActionSpace(
        ["save_bookmark", "fetch_url", "web_search"],
        descriptions={
            "save_bookmark": "Save a page to the user's reading list.",
            "fetch_url": "Fetch a URL and return its text.",
            "web_search": "Search the web.",
        },
    )
    assert action("I'll add each one to their reading list.", browse) == "save_bookmark"


def test_what_needs_to_be_done_is_the_recommendation() -> None:
    """ "The package needs to be redirected", "it should be escalated": a necessity stated of the work itself."""
    assert action("Nothing else matters now: it has to be escalated to a human.", SUPPORT) == "escalate"
    assert action("The ticket should be escalated to a human agent.", SUPPORT) == "escalate"


def test_terse_sentences_on_one_line_are_steps_not_a_list() -> None:
    """ "logs empty. events quiet. restart it": a terse log, whose last order counts; lines that each open with an
    action are still a list ("- Send email.\\n- Escalate.")."""
    assert action("logs empty. events quiet. restart it", DEVOPS) == "kubectl_rollout_restart"
    assert action("Wiki searched. Escalate it.", SUPPORT) == "escalate"
    assert action("- Send email.\n- Escalate.", SUPPORT) is None


def test_a_name_with_a_participle_or_an_adjective_is_a_state_not_an_order() -> None:
    """ "Coupon applied. Shipping free.": what is so, not what to do."""
    shop = ActionSpace(
        ["apply_coupon", "track_order", "checkout"],
        descriptions={"apply_coupon": "Apply a coupon code to the cart.", "track_order": "Track an order's shipping."},
    )
    assert action("Coupon applied. Shipping free.", shop) is None
    assert action("Coupon applied. Checkout now.", shop) == "checkout"


def test_a_word_in_one_tools_name_tells_it_from_tools_that_have_it_only_in_their_description() -> None:
    """ "export it" is ``export_report``, though ``email_report`` is described as sending an exported report."""
    reports = ActionSpace(
        ["export_report", "email_report"],
        descriptions={"export_report": "Export the report as a PDF.", "email_report": "Email an exported report."},
    )
    assert action("I'll export it now.", reports) == "export_report"


def test_a_number_word_does_not_open_an_order() -> None:
    """ "Forty events since midnight": a count, not the verb of an imperative."""
    assert action("Forty events since midnight, all harmless.", DEVOPS) is None


def test_what_a_step_is_for_is_a_later_step() -> None:
    """ "... so I can email the customer": the purpose comes after the step."""
    assert action("I'll search the wiki so I can send the customer an email with the steps.", SUPPORT) == "search_wiki"
