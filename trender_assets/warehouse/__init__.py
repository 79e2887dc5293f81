"""The PostgreSQL warehouse, without Dagster: its engine, the embedded server and the migrations.

``trender_assets.resources.warehouse`` wraps these as the Dagster resource the assets use; the CLI,
the instance storage and the tests use them directly.
"""
