"""Staging rules: each broken rule is a reason a data engineer can act on."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

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
