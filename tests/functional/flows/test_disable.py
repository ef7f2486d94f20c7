"""disable: locking the interface at run time, and what a cold reset does with the lock."""

from __future__ import annotations

import pytest
from checks import STAGE2, STAGE2_BLOB, assert_staged, reset
from vms import STAGE1, Booter

from harness.guest.protocol import LOAD_ADDR
from harness.platform import KIB

IMAGE = 256 * KIB
OTHER_SIZE = 64 * KIB


@pytest.mark.core
def test_disable_at_run_time(boot: Booter) -> None:
    stage2 = boot.image(IMAGE, STAGE2)
    b = boot(size=IMAGE, blobs={STAGE2_BLOB: stage2})
    abi = b.device.abi
    assert not b.device.state().disabled
    assert_staged(b.device, b.agent, STAGE2_BLOB, stage2)
    locked = b.device.disable()
    assert locked.disabled
    assert locked.armed == (LOAD_ADDR, IMAGE), "locking changed what is armed"
    # While locked, nothing changes what is armed, and the lock stays.
    assert b.device.cancel() == locked
    assert b.device.arm(LOAD_ADDR + OTHER_SIZE, OTHER_SIZE) == locked
    assert b.device.disable() == locked
    # The reset after the lock: the armed image applies only where the ABI says so.
    want = STAGE2 if abi.armed_image_applies_when_locked else STAGE1
    assert reset(b.vm, "cf9").banner.identity == want
    after = b.device.state()
    assert after.disabled is abi.lock_survives_reset
    assert after.armed is None
    if not abi.lock_survives_reset:
        # Unlocked again: the same update now applies.
        assert_staged(b.device, b.agent, STAGE2_BLOB, stage2)
        assert reset(b.vm, "cf9").banner.identity == STAGE2


@pytest.mark.core
@pytest.mark.parametrize("method", ["kbd", "qmp"])
def test_lock_after_any_reset(boot: Booter, method: str) -> None:
    b = boot()
    assert b.device.disable().disabled
    assert reset(b.vm, method).banner.identity == STAGE1
    assert b.device.state().disabled is b.device.abi.lock_survives_reset
