"""Benchmarks, fuzzing and load tests for the gateway (``make bench``, ``make fuzz``, ``make load``).

Dev tooling only: never part of the Lambda asset (``lambda_src/``). Every figure is a ratio (or a
difference) against a baseline measured in the same run, from repeated samples (medians after
warmups), so the numbers mean something on a noisy shared machine. See ``bench/README.md``.
"""
