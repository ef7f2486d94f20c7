/* COM1 (0x3f8) at 115200 8N1; output polled, input waits in hlt for IRQ 4. */
#include "idle.h"
#include "io.h"
#include "serial.h"

#define COM1 0x3f8
#define UART_RBR 0
#define UART_THR 0
#define UART_DLL 0
#define UART_IER 1
#define UART_DLM 1
#define UART_FCR 2
#define UART_LCR 3
#define UART_MCR 4
#define UART_LSR 5

#define IER_RDI  0x01    /* interrupt when received data is available */
#define MCR_DTR_RTS_OUT2 0x0b  /* OUT2 gates the UART's IRQ line on a PC */

#define LSR_DR   0x01
#define LSR_THRE 0x20
#define LSR_TEMT 0x40

static const char hex_digits[] = "0123456789abcdef";

void serial_init(void)
{
	outb(COM1 + UART_IER, 0x00);
	outb(COM1 + UART_LCR, 0x80);    /* DLAB on */
	outb(COM1 + UART_DLL, 0x01);    /* 115200 baud */
	outb(COM1 + UART_DLM, 0x00);
	outb(COM1 + UART_LCR, 0x03);    /* 8N1, DLAB off */
	outb(COM1 + UART_FCR, 0x07);    /* FIFO on, both cleared */
	outb(COM1 + UART_MCR, MCR_DTR_RTS_OUT2);
	idle_init();
	outb(COM1 + UART_IER, IER_RDI);
}

static void serial_raw_putc(char c)
{
	while (!(inb(COM1 + UART_LSR) & LSR_THRE))
		;
	outb(COM1 + UART_THR, (uint8_t)c);
}

void serial_putc(char c)
{
	if (c == '\n')
		serial_raw_putc('\r');
	serial_raw_putc(c);
}

void serial_puts(const char *s)
{
	while (*s)
		serial_putc(*s++);
}

int serial_getc(void)
{
	while (!(inb(COM1 + UART_LSR) & LSR_DR))
		idle_wait();
	return inb(COM1 + UART_RBR);
}

void serial_flush(void)
{
	while (!(inb(COM1 + UART_LSR) & LSR_TEMT))
		;
}

void put_hex(uint32_t val, int digits)
{
	while (digits-- > 0)
		serial_raw_putc(hex_digits[(val >> (digits * 4)) & 0xf]);
}

void put_hex64(uint64_t val)
{
	put_hex((uint32_t)(val >> 32), 8);
	put_hex((uint32_t)val, 8);
}

void put_dec(uint32_t val)
{
	char buf[11];
	int i = 0;

	do {
		buf[i++] = (char)('0' + val % 10);
		val /= 10;
	} while (val);
	while (i)
		serial_raw_putc(buf[--i]);
}

void put_bytes_hex(const uint8_t *buf, uint32_t len)
{
	while (len--) {
		serial_raw_putc(hex_digits[*buf >> 4]);
		serial_raw_putc(hex_digits[*buf & 0xf]);
		buf++;
	}
}
