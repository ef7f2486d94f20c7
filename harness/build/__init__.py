"""Building: QEMU (configure, ninja, option ROMs) and the guest agent's firmware images."""
