"""Two days' dimension rebuilds at once (a backfill with several runs in flight) stay correct, and
a fact run beside a rebuild neither waits for it nor ends up pointing at a replaced version.

Found by the `dagster dev` end-to-end test: without serialization the second transaction reads a
version chain that the first is replacing, and fails on "one current version per repository".
"""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import dagster as dg
import sqlalchemy as sa

from trender_assets.repository_versions import rebuild_versions
from trender_assets_tests import scenario
from trender_assets_tests.helpers import MARTS, materialize_day, rows

COPY_DAY = sa.text("insert into dim_repository_observations select repo_id, :d, attributes_hash, attributes"
                   " from dim_repository_observations where snapshot_date = :src")


def test_rebuilds_for_two_days_at_once_serialize(resources, instance, engine):
    assert all(r.success for r in materialize_day(resources, instance, scenario.DAY))
    ids = [r["repo_id"] for r in rows(engine, "select repo_id from dim_repositories")]
    early, middle = scenario.DAY - timedelta(days=3), scenario.DAY - timedelta(days=2)

    first = engine.connect()
    tx = first.begin()
    first.execute(COPY_DAY, {"d": early, "src": scenario.DAY})
    rebuild_versions(first, ids)  # holds the rebuild lock until it commits
    outcome: dict[str, object] = {}

    def second_run():
        try:
            with engine.begin() as conn:
                conn.execute(COPY_DAY, {"d": middle, "src": scenario.DAY})
                outcome["counts"] = rebuild_versions(conn, ids)
        except Exception as exc:  # noqa: BLE001 - reported by the assertion below
            outcome["error"] = exc

    thread = threading.Thread(target=second_run)
    thread.start()
    time.sleep(0.5)
    assert thread.is_alive()  # waiting for the first rebuild
    tx.commit()
    first.close()
    thread.join(timeout=30)
    assert "error" not in outcome, outcome

    versions = rows(engine, "select repo_id, valid_from, valid_to, is_current from dim_repositories")
    assert len(versions) == len(ids)  # attributes never changed: one version each, from the earliest day
    assert {(v["valid_from"], v["valid_to"], v["is_current"]) for v in versions} == {(early, None, True)}
    facts = rows(engine, "select f.snapshot_date, d.valid_from from fact_repo_snapshots f"
                         " join dim_repositories d on d.repo_key = f.repo_key")
    assert facts and all(f["valid_from"] <= f["snapshot_date"] for f in facts)


def test_facts_load_beside_a_rebuild_in_progress_and_follow_it(resources, instance, engine):
    """Facts store no version key: a fact run needs no rebuild to finish, and once the rebuild
    commits, every fact is read with the version valid on its day."""
    assert all(r.success for r in materialize_day(resources, instance, scenario.DAY))
    ids = [r["repo_id"] for r in rows(engine, "select repo_id from dim_repositories")]
    keys_before = {r["repo_key"] for r in rows(engine, "select repo_key from fact_repo_snapshots")}
    with engine.connect() as rebuilding:
        tx = rebuilding.begin()
        rebuilding.execute(COPY_DAY, {"d": scenario.DAY - timedelta(days=5), "src": scenario.DAY})
        rebuild_versions(rebuilding, ids)  # replaces every version the facts of DAY fall in
        done = threading.Event()
        results = []

        def facts_of_the_day():
            results.append(dg.materialize(MARTS[1:], partition_key=scenario.DAY.isoformat(), resources=resources,
                                          instance=instance, raise_on_error=False))
            done.set()

        thread = threading.Thread(target=facts_of_the_day)
        thread.start()
        assert done.wait(60) and results[0].success  # while the rebuild is still open
        tx.commit()
    thread.join(timeout=60)
    facts = rows(engine, "select f.snapshot_date, f.repo_key, d.valid_from from fact_repo_snapshots f"
                         " join dim_repositories d on d.repo_key = f.repo_key")
    assert len(facts) == rows(engine, "select count(*) as n from fact_repo_snapshots_base")[0]["n"] > 0
    assert {f["valid_from"] for f in facts} == {scenario.DAY - timedelta(days=5)}
    assert not keys_before & {f["repo_key"] for f in facts}  # the replaced versions are gone from the facts
