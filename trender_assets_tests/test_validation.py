"""Staging rules: each broken rule is a reason a data engineer can act on."""

from __future__ import annotations

import json
from datetime import date, datetime, timezone

import pytest

from trender_assets.logic.raw_items import storable_item
from trender_assets.logic.repo_names import full_name_problem
from trender_assets.logic.validation import RejectedRecord, validate_repo, without_nul

GOOD = {
    "id": 1, "full_name": "owner/name", "language": "Python", "stargazers_count": 3,
    "created_at": "2026-11-01T10:00:00Z", "pushed_at": "2026-11-19T10:00:00+02:00", "updated_at": None,
    "description": "a\x00b", "topics": ["b", "a"], "license": {"spdx_id": "MIT"},
}


def test_valid_record_is_typed_and_utc():
    repo = validate_repo(GOOD, "python")
    assert repo.created_at == datetime(2026, 11, 1, 10, tzinfo=timezone.utc)
    assert repo.pushed_at == datetime(2026, 11, 19, 8, tzinfo=timezone.utc)
    assert repo.description == "ab"
    assert repo.topics == ["a", "b"]
    assert repo.license_spdx == "MIT"


def test_render_records_may_lack_a_language():
    assert validate_repo({**GOOD, "language": None}, "render").github_language is None


@pytest.mark.parametrize(
    "change, reason",
    [
        ({"id": None}, "id is not a positive integer"),
        ({"id": "12"}, "id is not a positive integer"),
        ({"full_name": "no-slash"}, "full_name is not owner/name"),
        ({"full_name": "a/b/c"}, "full_name is not owner/name"),
        ({"language": None}, "missing language"),
        ({"created_at": None}, "missing created_at"),
        ({"created_at": "last tuesday"}, "created_at is not an ISO 8601 timestamp"),
        ({"pushed_at": None, "updated_at": None}, "missing pushed_at and updated_at"),
        ({"stargazers_count": -1}, "stargazers_count is negative"),
        ({"stargazers_count": "many"}, "stargazers_count is not a whole number"),
        ({"topics": "x"}, "topics is not a list"),
    ],
)
def test_broken_rules_are_rejected_with_a_reason(change, reason):
    with pytest.raises(RejectedRecord, match=reason):
        validate_repo({**GOOD, **change}, "python")


def test_not_an_object():
    with pytest.raises(RejectedRecord, match="not a JSON object"):
        validate_repo(["x"], "go")


def test_nul_is_removed_everywhere_in_json():
    assert without_nul({"a\x00": ["x\x00y", {"k": "\x00"}], "n": 1}) == {"a": ["xy", {"k": ""}], "n": 1}


@pytest.mark.parametrize(
    "change, reason",
    [
        ({"full_name": "o/n?x=1"}, "invalid repository name for GitHub"),
        ({"full_name": "a/../rate_limit"}, "full_name is not owner/name"),
        ({"full_name": "o/.."}, "invalid repository name for GitHub"),
        ({"full_name": "-o/n"}, "invalid owner for GitHub"),
        ({"id": 2**63}, "id is beyond the 64-bit range"),
        ({"stargazers_count": 2**31}, "stargazers_count is beyond the warehouse's integer range"),
        ({"open_issues_count": 2**31}, "open_issues_count is beyond the warehouse's integer range"),
        ({"created_at": "0001-01-01T00:00:00+01:00"}, "created_at is not an ISO 8601 timestamp"),
    ],
)
def test_hostile_values_are_rejected_with_a_reason(change, reason):
    with pytest.raises(RejectedRecord, match=reason):
        validate_repo({**GOOD, **change}, "python")


def test_a_repository_created_after_the_snapshot_day_is_rejected():
    day = date(2026, 11, 1)
    assert validate_repo({**GOOD, "created_at": "2026-11-01T23:59:59Z"}, "python", day)
    with pytest.raises(RejectedRecord, match="is after the snapshot day 2026-11-01"):
        validate_repo({**GOOD, "created_at": "2026-11-02T00:00:00Z"}, "python", day)
    # 00:30 on the 2nd in UTC+1 is 23:30 on the 1st in UTC: still part of the day
    assert validate_repo({**GOOD, "created_at": "2026-11-02T00:30:00+01:00"}, "python", day)


def test_names_follow_githubs_rules():
    assert full_name_problem("octo-org/hello.world_2") is None
    assert full_name_problem("legacy--name-/x") is None  # older accounts keep doubled or trailing hyphens
    for bad in ("o/n?x=1", "o/a%2Fb", "o/n#x", "o/.", "o/", "/n", "o/n/x", "o" * 40 + "/n", "o/" + "n" * 101, 7):
        assert full_name_problem(bad), bad


def test_storable_item_names_what_it_had_to_change():
    stored = storable_item({"id": 2**64, "full_name": "o/n?x=1", "description": "a\ud800b\x00",
                            "stars": float("inf")})
    assert json.loads(stored.json_text) == {"id": 2**64, "full_name": "o/n?x=1", "description": "a\ufffdb",
                                            "stars": None}
    assert stored.repo_id is None and stored.full_name == "o/n?x=1"
    assert stored.status.split("; ")[0].startswith("invalid text in description")
    assert "stars is not a finite number" in stored.status and "beyond the 64-bit range" in stored.status
    assert "not requested" in stored.status
    assert storable_item({"id": 1, "full_name": "o/n", "description": "nul\x00"}).status is None
