"""Software-defined assets by layer: raw, staging, marts."""
