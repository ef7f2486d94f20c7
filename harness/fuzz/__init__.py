"""Fuzzing inputs and outputs: generic-fuzz's input format, the seeds, libFuzzer's output."""
