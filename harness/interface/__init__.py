"""The device interface: each ABI as data, its rules model, device views, memory-map parsing."""
