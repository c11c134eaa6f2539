"""Every rule `check` applies to an input, each failure naming the input in one line.

The rules are Kibana's (and Elasticsearch's behind it): names its duplicate-name query can
search for and Elasticsearch's API key name limits, its space id rule, its durations. They run
on the inputs alone, with no HTTP call (``check_inputs``).
"""

from __future__ import annotations

from typing import Any

import pytest

from fleet_provider.inputs import check_inputs
from fleet_provider.naming import MAX_NAME_LENGTH, derived_name, name_base, name_problem

SEARCH = "Kibana's duplicate-name search (the Elasticsearch query_string (<name>) *)"
REFUSED = "leave out all of : / [ ] { } ^ ~"


def check(
    olds: dict[str, Any] | None = None, **news: Any
) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    full = {"policy_id": "p", "resource_name": "r", "identity": "i", **news}
    inputs, failures = check_inputs(
        olds or {}, {k: v for k, v in full.items() if v is not None}, "default"
    )
    return inputs, [(f.property, f.reason) for f in failures]


def failures(**news: Any) -> list[tuple[str, str]]:
    return check(**news)[1]


def reason(prop: str, **news: Any) -> str:
    found = failures(**news)
    assert [p for p, _ in found] == [prop], found
    assert "\n" not in found[0][1]
    return found[0][1]


# -- policy_id --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("", "policy_id must not be empty: set it to the id of an agent policy"),
        ("   ", "policy_id must not be empty: set it to the id of an agent policy"),
        ("\t", "policy_id must not be empty: set it to the id of an agent policy"),
        ("fleet\nserver", "policy_id 'fleet\\nserver' contains the control character '\\n': remove it"),
        ("fleet-server-policy\n", "policy_id 'fleet-server-policy\\n' contains the control character '\\n': remove it"),
        ("a\x00b", "policy_id 'a\\x00b' contains the control character '\\x00': remove it"),
        ("a\u2028b", "policy_id 'a\\u2028b' contains the control character '\\u2028': remove it"),
        (42.0, "policy_id must be a string, not float"),
        (True, "policy_id must be a string, not bool"),
        (["p"], "policy_id must be a string, not list"),
    ],
)  # fmt: skip
def test_policy_id_is_a_string_on_one_line(value: Any, expected: str) -> None:
    assert reason("policy_id", policy_id=value) == expected


def test_policy_id_is_required() -> None:
    assert check_inputs({}, {"resource_name": "r"}, "default")[1][0].reason == (
        "policy_id is required: set it to the id of the agent policy the key enrolls agents into"
    )


@pytest.mark.parametrize(
    "value", ["fleet-server-policy", "0b9f0b1c-5a43-4d11-9a2e-3f1e0c4d9a77", "Policy 1", "p:1/2"]
)
def test_any_other_policy_id_is_kibanas_to_judge(value: str) -> None:
    assert failures(policy_id=value) == []


# -- name -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("", "name must not be empty: give a name, or leave it out for an automatic one"),
        ("  ", "name must not be empty: give a name, or leave it out for an automatic one"),
        (" web", "name ' web' has leading or trailing spaces: remove them"),
        ("web ", "name 'web ' has leading or trailing spaces: remove them"),
        ("web\u3000", "name 'web\\u3000' has leading or trailing spaces: remove them"),
        ("web\n", "name 'web\\n' contains the control character '\\n': remove it"),
        ("we\tb", "name 'we\\tb' contains the control character '\\t': remove it"),
        ("web\x7f", "name 'web\\x7f' contains the control character '\\x7f': remove it"),
        ("_web", "name '_web' begins with '_', which Elasticsearch refuses at the start of an API key name: remove it, or put another character first"),
        (7.0, "name must be a string, not float"),
        (False, "name must be a string, not bool"),
    ],
)  # fmt: skip
def test_name_is_a_plain_string(value: Any, expected: str) -> None:
    assert reason("name", name=value) == expected


def test_name_fits_elasticsearchs_api_key_name_with_kibanas_id_suffix() -> None:
    # Kibana names the API key "<name> (<36-character id>)"; Elasticsearch takes 256 UTF-16 units.
    assert MAX_NAME_LENGTH == 256 - len(" (0b9f0b1c-5a43-4d11-9a2e-3f1e0c4d9a77)") == 217
    assert failures(name="a" * 217) == []
    too_long = "a" * 218
    assert reason("name", name=too_long) == (
        f"name {too_long!r} is 218 characters long, and Elasticsearch takes API key names of up "
        "to 256, of which Kibana's ' (<key id>)' takes 39: use at most 217"
    )
    # Java counts UTF-16 units: a character outside the BMP counts twice.
    assert failures(name="a" * 215 + "\U0001f600") == []
    assert "is 218 characters long" in reason("name", name="a" * 216 + "\U0001f600")


@pytest.mark.parametrize(
    ("value", "listed"),
    [
        ("web:01", "':'"),
        ("linux/hosts", "'/'"),
        ("web[1]", "'[' and ']'"),
        ("web]", "']'"),
        ("web{eu}", "'{' and '}'"),
        ("web^2", "'^'"),
        ("web~", "'~'"),
        ("~web", "'~'"),
        ("a/b:c", "'/' and ':'"),
        ("created_at:x", "':'"),
    ],
)
def test_query_syntax_that_breaks_kibanas_duplicate_search_is_refused(
    value: str, listed: str
) -> None:
    assert reason("name", name=value) == (
        f"name {value!r} contains {listed}, which {SEARCH} cannot take: {REFUSED}"
    )


@pytest.mark.parametrize(
    ("value", "what", "fix"),
    [
        ("web (eu", "has a '(' that is never closed", "close it, or leave it out"),
        ("web eu)", "has a ')' that closes nothing", "close it, or leave it out"),
        ("(web))", "has a ')' that closes nothing", "close it, or leave it out"),
        ('web "eu', "has a '\"' that is never closed", "close it, or leave it out"),
        ('"a" "b', "has a '\"' that is never closed", "close it, or leave it out"),
        ("web ()", "has an empty '()'", "put a word in it, or leave it out"),
        ("web AND", "has 'AND' without a word on each side", "put a word on each side, or leave it out"),
        ("AND web", "has 'AND' without a word on each side", "put a word on each side, or leave it out"),
        ("web OR", "has 'OR' without a word on each side", "put a word on each side, or leave it out"),
        ("a OR OR b", "has 'OR' without a word on each side", "put a word on each side, or leave it out"),
        ("web &&", "has '&&' without a word on each side", "put a word on each side, or leave it out"),
        ("|| web", "has '||' without a word on each side", "put a word on each side, or leave it out"),
        ("web -", "has '-' with no word right after it", "put a word right after it, or leave it out"),
        ("web --x", "has '-' with no word right after it", "put a word right after it, or leave it out"),
        ("web +", "has '+' with no word right after it", "put a word right after it, or leave it out"),
        ("NOT", "has 'NOT' with no word right after it", "put a word right after it, or leave it out"),
        ("web NOT", "has 'NOT' with no word right after it", "put a word right after it, or leave it out"),
        ("web!", "has '!' with no word right after it", "put a word right after it, or leave it out"),  # 8.x: unescaped
        ("a\\!", "has '!' with no word right after it", "put a word right after it, or leave it out"),  # 9.x: \\!
    ],
)  # fmt: skip
def test_names_that_lucene_cannot_parse_in_kibanas_query_are_refused(
    value: str, what: str, fix: str
) -> None:
    assert reason("name", name=value) == f"name {value!r} {what}, which breaks {SEARCH}: {fix}"


def test_a_trailing_backslash_escapes_kibanas_closing_parenthesis() -> None:
    assert reason("name", name="web\\") == (
        f"name 'web\\\\' ends with a backslash, which escapes the ')' {SEARCH} puts after it: "
        "remove it"
    )
    assert failures(name="web\\\\") == []  # an escaped backslash closes nothing


@pytest.mark.parametrize(
    "value",
    [
        "web", "linux-hosts", "Default", "web (eu)", "a (b) (c)", "a) OR (b", "R AND D", "NOT web",
        "web-", "!web", "! web", "a - b", "a -b", "+x", "web*", "?x", "*", "a&&b", "a&b", "a|b", "a=b",
        "a<b", "web >10", "x\\y", "a\\!b", '"quoted phrase"', '"a (b"', "ünïcødé", "web \U0001f680",
        "v1.2.3", "team#1 @home, 50%; it's",
    ],
)  # fmt: skip
def test_names_kibana_can_search_for_are_taken(value: str) -> None:
    assert failures(name=value) == []
    assert name_problem(value) is None


def test_an_unchanged_name_is_kept_as_the_key_holds_it() -> None:
    # A key Kibana created under a name the rules now refuse keeps working: the check only
    # judges names that a create would send.
    olds = {"policy_id": "p", "name": "team:web", "auto_named": False}
    inputs, found = check(olds, name="team:web")
    assert found == [] and inputs["name"] == "team:web"
    assert [p for p, _ in check(olds, name="team:db")[1]] == ["name"]


# -- auto-names -------------------------------------------------------------------------------


def test_an_auto_name_replaces_what_kibana_cannot_take_in_the_resource_name() -> None:
    inputs, found = check(resource_name="prod/linux:hosts")
    assert found == []
    assert inputs["name"] == derived_name("prod/linux:hosts", "i", 0)
    assert inputs["name"].startswith("prod-linux-hosts-") and inputs["auto_named"] is True
    assert name_base("_edge [eu] (1)") == "edge -eu- -1-"
    assert name_base('a"b\\c!d^e~f{g}h\ni') == "a-b-c-d-e-f-g-h-i"
    assert name_base("___") == "key"


def test_a_long_resource_name_is_cut_to_fit_the_name_limit() -> None:
    inputs, found = check(resource_name="r" * 300)
    assert found == []
    assert len(inputs["name"]) == MAX_NAME_LENGTH and inputs["name"].startswith("r" * 208 + "-")


def test_a_resource_name_that_still_breaks_the_query_asks_for_a_name() -> None:
    _, found = check(resource_name="AND web")
    name = derived_name("AND web", "i", 0)
    assert found == [
        (
            "name",
            f"name is needed: the automatic name {name!r}, made from the resource name, has "
            f"'AND' without a word on each side, which breaks {SEARCH}; set name, or rename the "
            "resource",
        )
    ]
    assert check(resource_name="AND web", name="web")[1] == []


def test_an_auto_name_kept_from_the_state_is_not_judged_again() -> None:
    olds = {"policy_id": "p", "name": "linux/hosts-1a2b3c4d", "auto_named": True}
    inputs, found = check(olds, resource_name="linux/hosts")
    assert found == [] and inputs["name"] == "linux/hosts-1a2b3c4d"


# -- space_id ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    ["ops\n", "ops ", " ops", "Ops", "", "My Space", "öps", "ops/dev", "ops.dev", "ops\u0663"],
)
def test_space_id_is_kibanas_space_id_exactly(value: str) -> None:
    # SPACE_ID_REGEX = /^[a-z0-9_\-]+$/ in JavaScript, where $ ends the string.
    assert reason("space_id", space_id=value) == (
        f"space_id {value!r} is not a Kibana space id: use lower-case letters, digits, '_' and '-'"
    )


@pytest.mark.parametrize("value", ["default", "ops", "ops-2", "my_space", "0"])
def test_kibana_space_ids_are_taken(value: str) -> None:
    assert failures(space_id=value) == []


def test_space_id_must_be_a_string() -> None:
    assert reason("space_id", space_id=1.0) == "space_id must be a string, not float"


# -- expiration and rotate_after -------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("", "expiration must not be empty: give a duration such as 90d or a timestamp, or leave it out for a key that never expires"),
        (30.0, "expiration must be a string such as 90d, not float"),
        ("30d\n", "expiration '30d\\n' contains whitespace: remove it"),
        ("1\u0663d", "expiration '1\u0663d' contains '\u0663' (U+0663 ARABIC-INDIC DIGIT THREE), which is not ASCII: write it with the ASCII digits 0-9 and letters, e.g. 90d or 2027-01-01T00:00:00Z"),
        ("2400-01-01T00:00:00Z", "expiration '2400-01-01T00:00:00Z' is more than 9223286400 seconds (about 292 years) from now, the longest expiry Kibana takes: give an earlier time"),
        ("2099-01-01T00:00:00", "expiration '2099-01-01T00:00:00' has no time zone: add Z or an offset such as +02:00"),
    ],
)  # fmt: skip
def test_expiration_is_checked_as_kibana_takes_it(value: Any, expected: str) -> None:
    assert reason("expiration", expiration=value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("", "rotate_after must not be empty: give a duration such as 30d, or leave it out"),
        (30.0, "rotate_after must be a duration such as 30d, not float"),
        ("30d ", "rotate_after '30d ' contains whitespace: remove it"),
        ("\u0663d", "rotate_after '\u0663d' contains '\u0663' (U+0663 ARABIC-INDIC DIGIT THREE), which is not ASCII: write it with the ASCII digits 0-9 and letters, e.g. 30d, 24h, 90m, 60s"),
        ("2099-01-01T00:00:00Z", "rotate_after '2099-01-01T00:00:00Z' is not a duration: use a whole number followed by d, h, m or s, e.g. 30d, 24h, 90m, 60s"),
    ],
)  # fmt: skip
def test_rotate_after_is_a_duration(value: Any, expected: str) -> None:
    assert reason("rotate_after", rotate_after=value) == expected


@pytest.mark.parametrize(
    ("rotate_after", "expiration"), [("30d", "30d"), ("31d", "30d"), ("720h", "30d"), ("2d", "24h")]
)
def test_rotate_after_not_shorter_than_a_duration_expiration_fails(
    rotate_after: str, expiration: str
) -> None:
    assert reason("rotate_after", rotate_after=rotate_after, expiration=expiration) == (
        f"rotate_after {rotate_after!r} is not shorter than expiration {expiration!r}: the key "
        "would expire before it is rotated; make rotate_after shorter than expiration"
    )


@pytest.mark.parametrize(
    ("rotate_after", "expiration"),
    [("29d", "30d"), ("719h", "30d"), ("3650d", "2400-01-01T00:00:00+00:00")],
)
def test_rotate_after_shorter_than_expiration_or_beside_a_timestamp_is_fine(
    rotate_after: str, expiration: str
) -> None:
    olds = {"policy_id": "p", "expiration": expiration}  # the timestamp as a kept old input
    assert check(olds, rotate_after=rotate_after, expiration=expiration)[1] == []


def test_a_bad_rotate_after_is_reported_once() -> None:
    assert [p for p, _ in failures(rotate_after="monthly", expiration="30d")] == ["rotate_after"]


def test_a_passed_timestamp_warns_and_never_fails(capsys: pytest.CaptureFixture[str]) -> None:
    warning = (
        "warning: EnrollmentApiKey 'r': expiration '2020-01-01T00:00:00Z' has passed, so its key "
        "has expired (a key created now expires at once): move expiration to a later time, or "
        "use a duration such as 90d, to get a key that works\n"
    )
    olds = {"policy_id": "p", "expiration": "2020-01-01T00:00:00Z"}
    assert check(olds, expiration="2020-01-01T00:00:00Z")[1] == []  # unchanged
    assert capsys.readouterr().err == warning
    assert check(expiration="2020-01-01T00:00:00Z")[1] == []  # no olds: a replacement's check
    assert capsys.readouterr().err == warning
    assert check(expiration="2099-01-01T00:00:00Z")[1] == []
    assert check(expiration="30d")[1] == []
    assert capsys.readouterr().err == ""


def test_an_unchanged_expiration_is_never_checked_against_the_clock_again() -> None:
    # A form the parser refuses now (a space for the T, which datetime.fromisoformat took) and a
    # value out of range are both kept when unchanged: the key has that expiry already.
    for old in ("2027-01-01 00:00:00+00:00", "1\u0663d"):
        assert check({"policy_id": "p", "expiration": old}, expiration=old)[1] == []
    assert [
        p for p, _ in check({"policy_id": "p", "expiration": "30d"}, expiration="1\u0663d")[1]
    ] == ["expiration"]


# -- booleans and ids -------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["true", "false", "True", "yes", ""])
def test_adopt_existing_given_as_a_string_is_refused_never_converted(value: str) -> None:
    assert reason("adopt_existing", adopt_existing=value, name="Default") == (
        f"adopt_existing must be true or false, not the string {value!r}: pass a boolean (read "
        "one from stack config with pulumi.Config().get_bool)"
    )


@pytest.mark.parametrize(("value", "kind"), [(1.0, "float"), (0.0, "float"), (["x"], "list")])
def test_adopt_existing_is_a_boolean(value: Any, kind: str) -> None:
    assert reason("adopt_existing", adopt_existing=value, name="Default") == (
        f"adopt_existing must be true or false, not {kind}"
    )


@pytest.mark.parametrize("value", [True, False])
def test_adopt_existing_takes_booleans(value: bool) -> None:
    inputs, found = check(adopt_existing=value, name="Default")
    assert found == [] and inputs["adopt_existing"] is value


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("", "adopt_key_id must be the id of an existing enrollment key (a non-empty string)"),
        (5.0, "adopt_key_id must be the id of an existing enrollment key (a non-empty string)"),
        ("k1\n", "adopt_key_id 'k1\\n' contains the control character '\\n': remove it"),
        (" k1", "adopt_key_id ' k1' has leading or trailing spaces: remove them"),
    ],
)
def test_adopt_key_id_is_one_id(value: Any, expected: str) -> None:
    assert reason("adopt_key_id", adopt_key_id=value) == expected


# -- keep_previous ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "shown"), [("true", "the string 'true'"), (1, "int"), (None, None)]
)
def test_keep_previous_is_a_boolean(value: Any, shown: str | None) -> None:
    if shown is None:
        assert failures(keep_previous=value) == []
        return
    assert reason("keep_previous", keep_previous=value) == (
        f"keep_previous must be true or false, not {shown}"
    )


def test_keep_previous_false_is_the_same_as_leaving_it_out() -> None:
    # So that writing the default never reads as a change, which would replace the key.
    assert "keep_previous" not in check(keep_previous=False)[0]
    assert check(keep_previous=True)[0]["keep_previous"] is True


def test_keep_previous_with_an_own_auto_name_copied_by_ignore_changes_is_accepted() -> None:
    olds = check(keep_previous=True)[0]
    assert check(olds, keep_previous=True, name=olds["name"])[1] == []
    assert [p for p, _ in failures(keep_previous=True, name=olds["name"])] == ["keep_previous"]
