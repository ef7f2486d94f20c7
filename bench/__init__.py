"""Benchmarks of the toolkit (``make bench``); see bench/README.md."""
