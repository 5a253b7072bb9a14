"""Benchmarks: each measures against a baseline run in the same process and prints a markdown table."""
