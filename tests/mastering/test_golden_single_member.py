"""A single member's golden record, taken without building candidates, equals what the survivorship rules choose."""

import pytest

from mastering.resolution.survivorship import RULES
from mastering.services import golden

FACT = {"source_id": 1, "source": "crm", "priority": 3, "key": "c-1", "version": 4, "created": 10.0, "updated": 20.0,
        "values": {"name": "Ada Lovelace", "city": "", "born": None, "code": "0042"}}


@pytest.mark.parametrize("rule", sorted(RULES))
def test_single_member_equals_the_rule(rule, monkeypatch):
    rules = {"name": rule, "city": rule, "born": rule, "code": rule, "absent": rule}
    fast = golden.golden_for(rules, [7], {7: FACT}, None)
    # The general path: the same member given twice under two ids would not be one member, so call it directly.
    monkeypatch.setattr(golden, "_single_member_golden", lambda *args: pytest.fail("fast path taken"))
    with pytest.raises(pytest.fail.Exception):
        golden.golden_for(rules, [7], {7: FACT}, None)
    monkeypatch.undo()
    from mastering.resolution.survivorship import Candidate, golden_record

    candidates = {name: [Candidate(record=7, value=FACT["values"].get(name), version=4, source="crm", key="c-1", priority=3,
                                   updated_at=20.0, created_at=10.0)] for name in rules}
    assert fast == golden_record(rules, candidates, None)
    assert fast[0] == {"name": "Ada Lovelace", "city": None, "born": None, "code": "0042", "absent": None}


def test_an_override_takes_the_general_path():
    override = {"name": {"value": "A. Lovelace", "id": 5, "by": "cur", "reason": "typo"}}
    values, provenance = golden.golden_for({"name": "most_frequent"}, [7], {7: FACT}, override)
    assert values == {"name": "A. Lovelace"} and provenance["name"]["rule"] == "override"
