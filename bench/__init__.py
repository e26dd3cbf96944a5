"""Benchmarks: every speed figure as a ratio to a baseline measured in the same run.

Run ``python -m bench [--quick] [--json FILE]`` from the repository root (see README.md).
Not part of pytest: these machines are shared and noisy, so only ratios mean anything.
"""
