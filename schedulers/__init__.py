"""Batch-scheduler adapters (installed as ``scoop_hpc.schedulers``)."""
