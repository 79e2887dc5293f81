"""Sensors. Dagster's default automation sensor is stopped by default; ours runs."""

import dagster as dg

automation_sensor = dg.AutomationConditionSensorDefinition(
    "trender_automation_sensor",
    target=dg.AssetSelection.all(),
    default_status=dg.DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=30,
    description="Runs staging and the marts once all four language partitions of a day are in.",
)
