"""Run every benchmark: ``python -m benchmarks`` (``make bench``). They print figures; none asserts a time."""

from benchmarks import bench_engine, bench_sim, bench_sweep

bench_engine.main()
bench_sim.main()
bench_sweep.main()
