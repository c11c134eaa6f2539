"""Every input Kibana would refuse fails the preview in one line that names the input, and no
`up` creates a key for it.

Each case runs through the real dynamic-provider host twice: `pulumi preview`, asserting the
exact last line the user reads, and `pulumi up --skip-preview`, asserting that it fails the
same way and that Kibana holds exactly the keys it held before. The two commands run side by
side, each on a stack of its own, to keep the table fast.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import pytest

from fleet_provider import EnrollmentApiKey, EnrollmentApiKeyArgs
from fleet_provider.naming import derived_name, identity_of
from tests.e2e.conftest import POLICY, Stack
from tests.e2e.test_errors import TYPE, _all_keys
from tests.harness.engine import EngineError

pytestmark = pytest.mark.e2e

SEARCH = "Kibana's duplicate-name search (the Elasticsearch query_string (<name>) *)"
REFUSED = "leave out all of : / [ ] { } ^ ~"
NOT_A_DURATION = (
    "is not a duration: use a whole number followed by d, h, m or s, e.g. 30d, 24h, 90m, 60s"
)
NEITHER = (
    "is neither a duration (30d, 24h, 90m, 60s) nor an ISO-8601 timestamp (2027-01-01T00:00:00Z)"
)
NOT_ASCII = "which is not ASCII: write it with the ASCII digits 0-9 and letters"
SPACE = "is not a Kibana space id: use lower-case letters, digits, '_' and '-'"
LONG = "a" * 218
# The auto-name a resource "AND k" of this stack derives (enrollment_api_key.stack_identity).
AND_K = derived_name("AND k", identity_of("fleet-provider", "e2e", TYPE, "", "", "AND k"), 0)


@dataclass(frozen=True)
class Bad:
    """One bad input: what the program declares, the input the CLI names, and its reason."""

    id: str
    inputs: dict[str, Any]
    prop: str
    reason: str
    resource: str = "k"


def _bad(id_: str, inputs: dict[str, Any], reason: str) -> Bad:
    return Bad(id_, inputs, next(iter(inputs)), reason)


CASES = [
    # policy_id: a string, not blank, on one line
    _bad("empty policy_id", {"policy_id": ""}, "policy_id must not be empty: set it to the id of an agent policy"),
    _bad("blank policy_id", {"policy_id": " \t "}, "policy_id must not be empty: set it to the id of an agent policy"),
    _bad("two-line policy_id", {"policy_id": "fleet\nserver"}, "policy_id 'fleet\\nserver' contains the control character '\\n': remove it"),
    _bad("policy_id with a final newline", {"policy_id": f"{POLICY}\n"}, f"policy_id '{POLICY}\\n' contains the control character '\\n': remove it"),
    _bad("policy_id with a NUL", {"policy_id": "a\x00b"}, "policy_id 'a\\x00b' contains the control character '\\x00': remove it"),
    _bad("numeric policy_id", {"policy_id": 42.0}, "policy_id must be a string, not float"),
    _bad("boolean policy_id", {"policy_id": True}, "policy_id must be a string, not bool"),
    # name: Elasticsearch's API key name rules
    _bad("empty name", {"name": ""}, "name must not be empty: give a name, or leave it out for an automatic one"),
    _bad("name with a trailing space", {"name": "web "}, "name 'web ' has leading or trailing spaces: remove them"),
    _bad("name with a final newline", {"name": "web\n"}, "name 'web\\n' contains the control character '\\n': remove it"),
    _bad("name with a tab", {"name": "we\tb"}, "name 'we\\tb' contains the control character '\\t': remove it"),
    _bad("name starting with an underscore", {"name": "_web"}, "name '_web' begins with '_', which Elasticsearch refuses at the start of an API key name: remove it, or put another character first"),
    _bad("name too long", {"name": LONG}, f"name {LONG!r} is 218 characters long, and Elasticsearch takes API key names of up to 256, of which Kibana's ' (<key id>)' takes 39: use at most 217"),
    _bad("numeric name", {"name": 7.0}, "name must be a string, not float"),
    # name: query syntax that breaks Kibana's duplicate-name query
    _bad("name with a colon", {"name": "web:01"}, f"name 'web:01' contains ':', which {SEARCH} cannot take: {REFUSED}"),
    _bad("name naming a date field", {"name": "created_at:today"}, f"name 'created_at:today' contains ':', which {SEARCH} cannot take: {REFUSED}"),
    _bad("name with a slash", {"name": "linux/hosts"}, f"name 'linux/hosts' contains '/', which {SEARCH} cannot take: {REFUSED}"),
    _bad("name with brackets", {"name": "web[1]"}, f"name 'web[1]' contains '[' and ']', which {SEARCH} cannot take: {REFUSED}"),
    _bad("name with braces", {"name": "web{eu}"}, f"name 'web{{eu}}' contains '{{' and '}}', which {SEARCH} cannot take: {REFUSED}"),
    _bad("name with a caret", {"name": "web^2"}, f"name 'web^2' contains '^', which {SEARCH} cannot take: {REFUSED}"),
    _bad("name with a tilde", {"name": "~web"}, f"name '~web' contains '~', which {SEARCH} cannot take: {REFUSED}"),
    _bad("unclosed parenthesis", {"name": "web (eu"}, f"name 'web (eu' has a '(' that is never closed, which breaks {SEARCH}: close it, or leave it out"),
    _bad("stray parenthesis", {"name": "web eu)"}, f"name 'web eu)' has a ')' that closes nothing, which breaks {SEARCH}: close it, or leave it out"),
    _bad("unclosed quote", {"name": 'web "eu'}, f"name 'web \"eu' has a '\"' that is never closed, which breaks {SEARCH}: close it, or leave it out"),
    _bad("empty group", {"name": "web ()"}, f"name 'web ()' has an empty '()', which breaks {SEARCH}: put a word in it, or leave it out"),
    _bad("trailing backslash", {"name": "web\\"}, f"name 'web\\\\' ends with a backslash, which escapes the ')' {SEARCH} puts after it: remove it"),
    _bad("trailing AND", {"name": "Research AND"}, f"name 'Research AND' has 'AND' without a word on each side, which breaks {SEARCH}: put a word on each side, or leave it out"),
    _bad("leading OR", {"name": "OR web"}, f"name 'OR web' has 'OR' without a word on each side, which breaks {SEARCH}: put a word on each side, or leave it out"),
    _bad("trailing &&", {"name": "web &&"}, f"name 'web &&' has '&&' without a word on each side, which breaks {SEARCH}: put a word on each side, or leave it out"),
    _bad("leading ||", {"name": "|| web"}, f"name '|| web' has '||' without a word on each side, which breaks {SEARCH}: put a word on each side, or leave it out"),
    _bad("trailing minus", {"name": "web -"}, f"name 'web -' has '-' with no word right after it, which breaks {SEARCH}: put a word right after it, or leave it out"),
    _bad("double minus", {"name": "web --prod"}, f"name 'web --prod' has '-' with no word right after it, which breaks {SEARCH}: put a word right after it, or leave it out"),
    _bad("bare NOT", {"name": "NOT"}, f"name 'NOT' has 'NOT' with no word right after it, which breaks {SEARCH}: put a word right after it, or leave it out"),
    _bad("trailing bang (Kibana 8.x)", {"name": "web!"}, f"name 'web!' has '!' with no word right after it, which breaks {SEARCH}: put a word right after it, or leave it out"),
    _bad("escaped bang (Kibana 9.x)", {"name": "a\\!"}, f"name 'a\\\\!' has '!' with no word right after it, which breaks {SEARCH}: put a word right after it, or leave it out"),
    Bad("auto-name from a resource name that breaks the query", {}, "name", f"name is needed: the automatic name {AND_K!r}, made from the resource name, has 'AND' without a word on each side, which breaks {SEARCH}; set name, or rename the resource", resource="AND k"),
    # expiration: Kibana's durations, ASCII, nothing around them; timestamps with a zone
    _bad("empty expiration", {"expiration": ""}, "expiration must not be empty: give a duration such as 90d or a timestamp, or leave it out for a key that never expires"),
    _bad("expiration with a final newline", {"expiration": "30d\n"}, "expiration '30d\\n' contains whitespace: remove it"),
    _bad("expiration with a space inside", {"expiration": "30 d"}, "expiration '30 d' contains whitespace: remove it"),
    _bad("Arabic-Indic digit", {"expiration": "1\u0663d"}, f"expiration '1\u0663d' contains '\u0663' (U+0663 ARABIC-INDIC DIGIT THREE), {NOT_ASCII}, e.g. 90d or 2027-01-01T00:00:00Z"),
    _bad("fullwidth digits", {"expiration": "\uff13\uff10d"}, f"expiration '\uff13\uff10d' contains '\uff13' (U+FF13 FULLWIDTH DIGIT THREE), {NOT_ASCII}, e.g. 90d or 2027-01-01T00:00:00Z"),
    _bad("unknown unit", {"expiration": "1y"}, f"expiration '1y' {NOT_A_DURATION}"),
    _bad("zero duration", {"expiration": "0d"}, f"expiration '0d' {NOT_A_DURATION}"),
    _bad("leading zero", {"expiration": "030d"}, f"expiration '030d' {NOT_A_DURATION}"),
    _bad("milliseconds", {"expiration": "500ms"}, f"expiration '500ms' {NOT_A_DURATION}"),
    _bad("upper-case unit", {"expiration": "30D"}, f"expiration '30D' {NOT_A_DURATION}"),
    _bad("too many days", {"expiration": "106752d"}, "expiration '106752d' is longer than Elasticsearch allows: at most 106751d"),
    _bad("too many seconds", {"expiration": "9223286401s"}, "expiration '9223286401s' is longer than Elasticsearch allows: at most 9223286400s"),
    _bad("timestamp without a zone", {"expiration": "2099-01-01T00:00:00"}, "expiration '2099-01-01T00:00:00' has no time zone: add Z or an offset such as +02:00"),
    _bad("date without a time", {"expiration": "2099-01-01"}, "expiration '2099-01-01' has no time of day and no time zone: write 2099-01-01T00:00:00Z, or another time"),
    _bad("timestamp with a space for the T", {"expiration": "2099-01-01 00:00:00Z"}, "expiration '2099-01-01 00:00:00Z' separates the date and the time with a space: write a T, e.g. 2027-01-01T00:00:00Z"),
    _bad("timestamp with a final newline", {"expiration": "2099-01-01T00:00:00Z\n"}, "expiration '2099-01-01T00:00:00Z\\n' contains whitespace: remove it"),
    _bad("timestamp in year 2400", {"expiration": "2400-01-01T00:00:00Z"}, "expiration '2400-01-01T00:00:00Z' is more than 9223286400 seconds (about 292 years) from now, the longest expiry Kibana takes: give an earlier time"),
    _bad("month 13", {"expiration": "2099-13-01T00:00:00Z"}, "expiration '2099-13-01T00:00:00Z' is not a valid date and time: month must be in 1..12"),
    _bad("timestamp in another script", {"expiration": "\u0662\u0660\u0669\u0669-01-01T00:00:00Z"}, f"expiration '\u0662\u0660\u0669\u0669-01-01T00:00:00Z' contains '\u0662' (U+0662 ARABIC-INDIC DIGIT TWO), {NOT_ASCII}, e.g. 90d or 2027-01-01T00:00:00Z"),
    _bad("basic-format timestamp", {"expiration": "20990101T000000Z"}, f"expiration '20990101T000000Z' {NEITHER}"),
    _bad("prose expiration", {"expiration": "in a month"}, f"expiration 'in a month' {NEITHER}"),
    _bad("numeric expiration", {"expiration": 30.0}, "expiration must be a string such as 90d, not float"),
    # rotate_after: a duration, shorter than a duration expiration
    _bad("empty rotate_after", {"rotate_after": ""}, "rotate_after must not be empty: give a duration such as 30d, or leave it out"),
    _bad("rotate_after with a trailing space", {"rotate_after": "30d "}, "rotate_after '30d ' contains whitespace: remove it"),
    _bad("rotate_after in another script", {"rotate_after": "\u0663\u0660d"}, f"rotate_after '\u0663\u0660d' contains '\u0663' (U+0663 ARABIC-INDIC DIGIT THREE), {NOT_ASCII}, e.g. 30d, 24h, 90m, 60s"),
    _bad("rotate_after as a timestamp", {"rotate_after": "2099-01-01T00:00:00Z"}, f"rotate_after '2099-01-01T00:00:00Z' {NOT_A_DURATION}"),
    _bad("rotate_after as long as expiration", {"rotate_after": "30d", "expiration": "30d"}, "rotate_after '30d' is not shorter than expiration '30d': the key would expire before it is rotated; make rotate_after shorter than expiration"),
    _bad("rotate_after longer than expiration", {"rotate_after": "90d", "expiration": "30d"}, "rotate_after '90d' is not shorter than expiration '30d': the key would expire before it is rotated; make rotate_after shorter than expiration"),
    _bad("rotate_after equal in other units", {"rotate_after": "720h", "expiration": "30d"}, "rotate_after '720h' is not shorter than expiration '30d': the key would expire before it is rotated; make rotate_after shorter than expiration"),
    _bad("numeric rotate_after", {"rotate_after": 30.0}, "rotate_after must be a duration such as 30d, not float"),
    # space_id: Kibana's space id rule exactly
    _bad("space display name", {"space_id": "My Space"}, f"space_id 'My Space' {SPACE}"),
    _bad("space id with a final newline", {"space_id": "ops\n"}, f"space_id 'ops\\n' {SPACE}"),
    _bad("space id with a trailing space", {"space_id": "ops "}, f"space_id 'ops ' {SPACE}"),
    _bad("upper-case space id", {"space_id": "Ops"}, f"space_id 'Ops' {SPACE}"),
    _bad("empty space id", {"space_id": ""}, f"space_id '' {SPACE}"),
    _bad("non-ASCII space id", {"space_id": "\u00f6ps"}, f"space_id '\u00f6ps' {SPACE}"),
    _bad("numeric space id", {"space_id": 7.0}, "space_id must be a string, not float"),
    # booleans and ids: typed, never converted
    _bad("adopt_existing as the string true", {"adopt_existing": "true", "name": "Default"}, "adopt_existing must be true or false, not the string 'true': pass a boolean (read one from stack config with pulumi.Config().get_bool)"),
    _bad("adopt_existing as a number", {"adopt_existing": 1.0, "name": "Default"}, "adopt_existing must be true or false, not float"),
    _bad("empty adopt_key_id", {"adopt_key_id": ""}, "adopt_key_id must be the id of an existing enrollment key (a non-empty string)"),
    _bad("adopt_key_id with a final newline", {"adopt_key_id": "k1\n"}, "adopt_key_id 'k1\\n' contains the control character '\\n': remove it"),
    _bad("padded adopt_key_id", {"adopt_key_id": " k1"}, "adopt_key_id ' k1' has leading or trailing spaces: remove them"),
]  # fmt: skip


def _last_line(prop: str, value: Any, reason: str, resource: str) -> str:
    """The last line the CLI prints for a check failure (diag's invalid-property wording)."""
    text = (
        f"{TYPE} resource '{resource}': property {prop} value {{{value}}} has a problem: {reason}"
    )
    return [line for line in text.splitlines() if line.strip()][-1].strip()


def _failure(run: Callable[[], object]) -> EngineError:
    try:
        run()
    except EngineError as error:
        return error
    raise AssertionError("the command succeeded")


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_bad_input_fails_the_preview_in_one_line_and_up_creates_nothing(
    case: Bad, make_stack: Callable[..., Stack]
) -> None:
    previewing, updating = make_stack(), make_stack()
    keys_before = _all_keys(previewing)

    def program() -> None:
        EnrollmentApiKey(
            case.resource, EnrollmentApiKeyArgs(**{"policy_id": POLICY, **case.inputs})
        )

    with ThreadPoolExecutor(2) as pool:
        preview = pool.submit(
            _failure, lambda: previewing.engine.preview(program, previewing.config())
        )
        up = pool.submit(
            _failure, lambda: updating.engine.up(program, updating.config(), skip_preview=True)
        )
        previewed, updated = preview.result(), up.result()

    expected = _last_line(case.prop, case.inputs.get(case.prop), case.reason, case.resource)
    assert previewed.last_line == expected
    assert previewed.last_line.endswith(f" has a problem: {case.reason}")  # the reason: one line
    assert previewed.op == "Check"
    assert updated.last_line == expected and updated.op == "Check"
    assert _all_keys(updating) == keys_before
    assert previewing.engine.state == {} and updating.engine.state == {}


def test_the_table_covers_every_input() -> None:
    assert len(CASES) >= 60
    assert {case.prop for case in CASES} >= {
        "policy_id", "name", "expiration", "rotate_after", "space_id", "adopt_existing", "adopt_key_id"
    }  # fmt: skip
