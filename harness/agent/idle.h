/* Waiting for COM1 input without spinning: IRQ 4 through the 8259 PIC, hlt until it. */
#ifndef AGENT_IDLE_H
#define AGENT_IDLE_H

void idle_init(void);   /* IDT for the PIC vectors, PIC remapped, only IRQ 4 unmasked */
void idle_wait(void);   /* entry.S: sti; hlt; returns with IF clear after the next interrupt */

#endif
