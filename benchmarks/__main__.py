"""Run every benchmark: ``python -m benchmarks`` (``make bench``)."""

from benchmarks import bench_engine

bench_engine.main()
