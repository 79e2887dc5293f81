"""Two days' dimension rebuilds at once (a backfill with several runs in flight) stay correct.

Found by the `dagster dev` end-to-end test: without serialization the second transaction reads a
version chain that the first is replacing, and fails on "one current version per repository".
"""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import dagster as dg
import sqlalchemy as sa

from trender_assets.assets.dim_versions import hold_versions_steady, rebuild_versions
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


def test_facts_wait_for_a_rebuild_in_progress(resources, instance, engine):
    assert all(r.success for r in materialize_day(resources, instance, scenario.DAY))
    ids = [r["repo_id"] for r in rows(engine, "select repo_id from dim_repositories")]
    with engine.connect() as rebuilding:
        tx = rebuilding.begin()
        rebuilding.execute(COPY_DAY, {"d": scenario.DAY - timedelta(days=5), "src": scenario.DAY})
        rebuild_versions(rebuilding, ids)  # replaces every repo_key the facts of DAY point at
        done = threading.Event()
        results = []

        def facts_of_the_day():
            results.append(dg.materialize(MARTS[1:], partition_key=scenario.DAY.isoformat(), resources=resources,
                                          instance=instance, raise_on_error=False))
            done.set()

        thread = threading.Thread(target=facts_of_the_day)
        thread.start()
        assert not done.wait(1.5)  # the fact run holds off while keys are being replaced
        tx.commit()
    thread.join(timeout=60)
    assert done.is_set() and results[0].success
    stale = rows(engine, "select count(*) as n from fact_repo_snapshots f where not exists"
                         " (select 1 from dim_repositories d where d.repo_key = f.repo_key)")
    assert stale == [{"n": 0}]
    with engine.connect() as conn:  # readers of the chain do not block one another
        with conn.begin():
            hold_versions_steady(conn)
            with engine.connect() as other, other.begin():
                hold_versions_steady(other)
