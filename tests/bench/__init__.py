"""Benchmarks: `python -m tests.bench [GROUP ...]` (or `make bench ONLY=search`).

Each group is a module `bench_<group>.py` with `run(emit)`. Every figure is one JSON
line on stdout, {"name", "value", "unit", "baseline", "ratio"}, where the baseline
is measured in the same run on the same machine, so the ratio means something even
on a loaded or unknown computer. Progress goes to stderr.
"""
