#include "io.h"
#include "reset.h"

#define RST_CNT      0xcf9   /* PIIX3 / ICH9 reset control register */
#define RST_CNT_SYS  0x02    /* full (system) reset, not just the CPU */
#define RST_CNT_CPU  0x04    /* 0 -> 1 transition triggers the reset */
#define KBC_STATUS   0x64
#define KBC_CMD      0x64
#define KBC_IBF      0x02
#define KBC_PULSE_RESET 0xfe
#define DEBUG_EXIT_PORT 0xf4

/* Give a reset request time to take effect before reporting failure. */
static void settle(void)
{
	uint32_t i;

	for (i = 0; i < 100000; i++)
		(void)inb(0x80);   /* POST port: harmless, a VM exit per access */
}

void reset_cf9(void)
{
	outb(RST_CNT, RST_CNT_SYS);
	outb(RST_CNT, RST_CNT_SYS | RST_CNT_CPU);
	settle();
}

void reset_kbd(void)
{
	uint32_t i;

	for (i = 0; i < 100000 && (inb(KBC_STATUS) & KBC_IBF); i++)
		;
	outb(KBC_CMD, KBC_PULSE_RESET);
	settle();
}

void reset_triple(void)
{
	static const struct {
		uint16_t limit;
		uint32_t base;
	} __attribute__((packed)) null_idt = { 0, 0 };

	/* Any exception now fails its IDT lookup: #GP -> #DF -> shutdown,
	 * which a PC turns into a reset.  ud2 rather than int3: the PVM
	 * flavour of KVM fails to emulate int3 in an unpaged guest
	 * ("KVM internal error. Suberror: 1") but handles #UD. */
	__asm__ volatile("lidt %0\n\tud2" : : "m"(null_idt));
	settle();
}

void debug_exit(uint32_t code)
{
	outl(DEBUG_EXIT_PORT, code);
	settle();
}
