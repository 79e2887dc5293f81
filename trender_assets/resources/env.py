"""Reading resource fields outside a run, where Dagster has not resolved an EnvVar yet."""

import dagster as dg


def resolved(value):
    return value.get_value() if isinstance(value, dg.EnvVar) else value
