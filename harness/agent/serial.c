/*
 * COM1 (0x3f8) at 115200 8N1; output polled, input waits in hlt for IRQ 4.
 *
 * Both directions use the 16550A's 16-byte FIFOs to make fewer port accesses:
 * under a KVM that emulates the agent (PVM, README.md) each one is an exit to
 * QEMU of 15-25 us, and a byte at a time the console took about 60 us per
 * byte out and 150 us per byte in (QEMU refilled the receive FIFO a byte at
 * a time, the receive interrupt being at 1 byte).
 */
#include "idle.h"
#include "io.h"
#include "serial.h"

#define COM1 0x3f8
#define UART_RBR 0
#define UART_THR 0
#define UART_DLL 0
#define UART_IER 1
#define UART_DLM 1
#define UART_IIR 2
#define UART_FCR 2
#define UART_LCR 3
#define UART_MCR 4
#define UART_LSR 5

#define IER_RDI  0x01    /* interrupt when received data is available */
#define MCR_DTR_RTS_OUT2 0x0b  /* OUT2 gates the UART's IRQ line on a PC */

#define UART_FIFO_BYTES 16     /* 16550A transmit FIFO, enabled in serial_init() */
#define FCR_FIFO_ON_CLEAR 0x07 /* FIFOs on, both cleared */
#define FCR_TRIGGER_14   0xc0  /* receive interrupt at 14 bytes (or the character timeout) */
#define RX_TRIGGER       SERIAL_READ_MAX
#define IIR_ID_MASK      0x0f
#define IIR_RDA          0x04  /* received data at or above the trigger level */

#define LSR_DR   0x01
#define LSR_THRE 0x20
#define LSR_TEMT 0x40

static const char hex_digits[] = "0123456789abcdef";
/* Bytes the transmit FIFO still takes without another look at LSR. */
static unsigned int tx_room;

void serial_init(void)
{
	outb(COM1 + UART_IER, 0x00);
	outb(COM1 + UART_LCR, 0x80);    /* DLAB on */
	outb(COM1 + UART_DLL, 0x01);    /* 115200 baud */
	outb(COM1 + UART_DLM, 0x00);
	outb(COM1 + UART_LCR, 0x03);    /* 8N1, DLAB off */
	outb(COM1 + UART_FCR, FCR_FIFO_ON_CLEAR | FCR_TRIGGER_14);
	outb(COM1 + UART_MCR, MCR_DTR_RTS_OUT2);
	idle_init();
	outb(COM1 + UART_IER, IER_RDI);
}

/* Wait until the transmit FIFO is empty unless it has room left from the last wait. */
static void tx_wait(void)
{
	if (!tx_room) {
		while (!(inb(COM1 + UART_LSR) & LSR_THRE))
			;
		tx_room = UART_FIFO_BYTES;
	}
}

/*
 * LSR.THRE with the FIFO on means the FIFO is empty: then 16 bytes go in
 * without polling again (as Linux's 8250 driver does), one LSR read per 16
 * bytes instead of one per byte, and with one `rep outsb` (which still exits
 * once per byte under PVM, but is one instruction to emulate, not a loop).
 */
static void serial_write(const char *s, uint32_t n)
{
	uint32_t k;

	while (n) {
		tx_wait();
		k = n < tx_room ? n : tx_room;
		tx_room -= k;
		n -= k;
		__asm__ volatile("rep outsb"
				 : "+S"(s), "+c"(k)
				 : "d"((uint16_t)(COM1 + UART_THR))
				 : "memory");
	}
}

static void serial_raw_putc(char c)
{
	tx_wait();
	outb(COM1 + UART_THR, (uint8_t)c);
	tx_room--;
}

void serial_putc(char c)
{
	if (c == '\n')
		serial_raw_putc('\r');
	serial_raw_putc(c);
}

void serial_puts(const char *s)
{
	const char *end;

	for (;;) {
		for (end = s; *end && *end != '\n'; end++)
			;
		serial_write(s, (uint32_t)(end - s));
		if (!*end)
			return;
		serial_write("\r\n", 2);
		s = end + 1;
	}
}

/*
 * IIR "received data available" with the FIFO on means at least the trigger
 * level is waiting: those 14 bytes come in with one `rep insb` (one exit, and
 * QEMU refills the FIFO with up to 14 bytes at once, not one per read). Fewer
 * (the end of a line) are read a byte at a time while LSR has data, without
 * asking IIR again; with none, wait in hlt.
 */
uint32_t serial_read(uint8_t buf[SERIAL_READ_MAX])
{
	uint32_t count;

	for (;;) {
		if ((inb(COM1 + UART_IIR) & IIR_ID_MASK) == IIR_RDA) {
			count = RX_TRIGGER;
			__asm__ volatile("rep insb"
					 : "+D"(buf), "+c"(count)
					 : "d"((uint16_t)(COM1 + UART_RBR))
					 : "memory");
			return RX_TRIGGER;
		}
		for (count = 0; count < SERIAL_READ_MAX && (inb(COM1 + UART_LSR) & LSR_DR); count++)
			buf[count] = inb(COM1 + UART_RBR);
		if (count)
			return count;
		idle_wait();
	}
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
	char hex[2 * UART_FIFO_BYTES];
	uint32_t n, i;

	while (len) {
		n = len < UART_FIFO_BYTES ? len : UART_FIFO_BYTES;
		for (i = 0; i < n; i++) {
			hex[2 * i] = hex_digits[buf[i] >> 4];
			hex[2 * i + 1] = hex_digits[buf[i] & 0xf];
		}
		serial_write(hex, 2 * n);
		buf += n;
		len -= n;
	}
}
