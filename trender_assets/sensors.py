"""Sensors, all running by default: automation (Dagster's own default sensor starts stopped), the
run recorders that fill fact_workflow_runs, and the freshness check's sensor."""

import warnings

import dagster as dg

from trender_assets import environment
from trender_assets.checks import freshness_checks
from trender_assets.resources import WarehouseResource
from trender_assets.run_records import STATUS_BY_RUN_STATUS, record_run

automation_sensor = dg.AutomationConditionSensorDefinition(
    "trender_automation_sensor",
    target=dg.AssetSelection.all(),
    default_status=dg.DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=environment.automation_interval_seconds(),
    description="Runs staging and the marts once all four language partitions of a day are in.",
)


def _run_recorder(run_status: dg.DagsterRunStatus):
    status = STATUS_BY_RUN_STATUS[run_status]

    @dg.run_status_sensor(
        name=f"record_{status}_runs",
        run_status=run_status,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description=f"Records {status} runs of this code location in fact_workflow_runs.",
    )
    def record(context: dg.RunStatusSensorContext, warehouse: WarehouseResource):
        record_run(warehouse.engine, context.instance, context.dagster_run, status)

    return record


run_record_sensors = [_run_recorder(s) for s in STATUS_BY_RUN_STATUS]


# Dagster's own scheduling of freshness checks: evaluate once, then again when the last result can
# have gone stale (its dagster/fresh_until_timestamp) or the facts were materialized since a failure.
# The check itself reads the warehouse (checks.freshness_check). Superseded by FreshnessPolicy, which
# judges from the instance's event log and shows no asset check.
with warnings.catch_warnings():
    warnings.simplefilter("ignore", dg.SupersessionWarning)
    freshness_sensor = dg.build_sensor_for_freshness_checks(
        freshness_checks=freshness_checks, default_status=dg.DefaultSensorStatus.RUNNING,
        name="fact_freshness_sensor")
