/* Ways to reset or stop the machine. Each returns only if it had no effect. */
#ifndef AGENT_RESET_H
#define AGENT_RESET_H

#include <stdint.h>

void reset_cf9(void);
void reset_kbd(void);
void reset_triple(void);
void debug_exit(uint32_t code);

#endif
