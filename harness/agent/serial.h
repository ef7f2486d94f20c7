/* COM1 console: 16550 UART (input by interrupt, output polled) and output helpers. */
#ifndef AGENT_SERIAL_H
#define AGENT_SERIAL_H

#include <stdint.h>

void serial_init(void);
void serial_putc(char c);         /* "\n" is sent as "\r\n" */
void serial_puts(const char *s);
/* Blocks until input arrives; stores 1..SERIAL_READ_MAX bytes at buf, returns how many. */
#define SERIAL_READ_MAX 14
uint32_t serial_read(uint8_t buf[SERIAL_READ_MAX]);
void serial_flush(void);          /* wait until the transmitter is empty */

void put_hex(uint32_t val, int digits);   /* lowercase, zero-padded */
void put_hex64(uint64_t val);             /* 16 digits */
void put_dec(uint32_t val);
void put_bytes_hex(const uint8_t *buf, uint32_t len);

#endif
