/*
 * Idle without burning the host's CPU: the agent waits for COM1 input with
 * hlt and is woken by the UART's receive interrupt (IRQ 4 on the 8259 PIC).
 *
 * Interrupts are enabled only inside idle_wait() in entry.S ("sti; hlt"
 * cannot lose a wake-up: sti takes effect after hlt has started). The IDT holds only the
 * 16 PIC vectors; the exception vectors stay not present, so an exception
 * still ends in a triple fault and a reset, as with no IDT at all.
 */
#include "io.h"
#include "idle.h"

#define PIC1_CMD     0x20
#define PIC1_DATA    0x21
#define PIC2_CMD     0xa0
#define PIC2_DATA    0xa1
#define PIC1_VECTOR  0x20
#define PIC2_VECTOR  0x28
#define PIC_IRQS     8
#define IRQ_COM1     4
#define CODE_SEL     0x08
#define GATE_INTR32  0x8e   /* present, ring 0, 32-bit interrupt gate (clears IF) */
#define MSR_APIC_BASE     0x1b
#define APIC_BASE_ENABLE  (1u << 11)

struct idt_gate {
	uint16_t offset_lo;
	uint16_t selector;
	uint8_t zero;
	uint8_t type;
	uint16_t offset_hi;
} __attribute__((packed));

static struct idt_gate idt[PIC2_VECTOR + PIC_IRQS];

/* entry.S: end of interrupt to the PIC(s), then back to idle_wait()'s caller. */
extern void irq_master(void);
extern void irq_slave(void);

static void set_gate(unsigned int vector, void (*handler)(void))
{
	uint32_t addr = (uint32_t)(uintptr_t)handler;

	idt[vector].offset_lo = (uint16_t)addr;
	idt[vector].selector = CODE_SEL;
	idt[vector].zero = 0;
	idt[vector].type = GATE_INTR32;
	idt[vector].offset_hi = (uint16_t)(addr >> 16);
}

/*
 * The local APIC leaves reset enabled with LINT0 masked, which keeps the
 * PIC's output from the CPU. Disabled (as if the CPU had none), it lets the
 * PIC's INTR through directly; the next reset enables it again.
 */
static void lapic_disable(void)
{
	uint32_t lo, hi;

	__asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(MSR_APIC_BASE));
	lo &= ~APIC_BASE_ENABLE;
	__asm__ volatile("wrmsr" : : "a"(lo), "d"(hi), "c"(MSR_APIC_BASE));
}

void idle_init(void)
{
	struct {
		uint16_t limit;
		uint32_t base;
	} __attribute__((packed)) idtr;
	unsigned int i;

	for (i = 0; i < PIC_IRQS; i++) {
		set_gate(PIC1_VECTOR + i, irq_master);
		set_gate(PIC2_VECTOR + i, irq_slave);
	}
	idtr.limit = sizeof(idt) - 1;
	idtr.base = (uint32_t)(uintptr_t)idt;
	__asm__ volatile("lidt %0" : : "m"(idtr));

	outb(PIC1_CMD, 0x11);           /* ICW1: edge triggered, cascade, ICW4 follows */
	outb(PIC2_CMD, 0x11);
	outb(PIC1_DATA, PIC1_VECTOR);   /* ICW2: vector base */
	outb(PIC2_DATA, PIC2_VECTOR);
	outb(PIC1_DATA, 0x04);          /* ICW3: slave on IRQ 2 */
	outb(PIC2_DATA, 0x02);
	outb(PIC1_DATA, 0x01);          /* ICW4: 8086 mode, normal EOI */
	outb(PIC2_DATA, 0x01);
	outb(PIC1_DATA, (uint8_t)~(1u << IRQ_COM1));
	outb(PIC2_DATA, 0xff);
	lapic_disable();
}
