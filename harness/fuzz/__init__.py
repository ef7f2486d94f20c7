"""Fuzzing inputs and outputs: generic-fuzz's input format, fw_cfg as its commands, the seed
sets (one per ABI), libFuzzer's output."""
