"""Executors run the scoring (and generation) stages: `local` in this process, `ray` on a cluster."""
