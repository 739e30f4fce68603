"""Benchmarks for opdsim (``make bench``): they print figures, they never assert timings."""
