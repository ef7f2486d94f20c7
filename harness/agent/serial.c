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
#define RX_TRIGGER       14
#define IIR_ID_MASK      0x0f
#define IIR_RDA          0x04  /* received data at or above the trigger level */

#define LSR_DR   0x01
#define LSR_THRE 0x20
#define LSR_TEMT 0x40

static const char hex_digits[] = "0123456789abcdef";
/* Bytes the transmit FIFO still takes without another look at LSR. */
static unsigned int tx_room;
/* Received bytes taken from the FIFO in one go, not yet returned by serial_getc(). */
static uint8_t rx_buf[RX_TRIGGER];
static unsigned int rx_next, rx_end;

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

/*
 * LSR.THRE with the FIFO on means the FIFO is empty: then 16 bytes go in
 * without polling again (as Linux's 8250 driver does), one LSR read per 16
 * bytes instead of one per byte.
 */
static void serial_raw_putc(char c)
{
	if (!tx_room) {
		while (!(inb(COM1 + UART_LSR) & LSR_THRE))
			;
		tx_room = UART_FIFO_BYTES;
	}
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
	while (*s)
		serial_putc(*s++);
}

/*
 * IIR "received data available" with the FIFO on means at least the trigger
 * level is waiting: those 14 bytes come in with one `rep insb` (one exit, and
 * QEMU refills the FIFO with up to 14 bytes at once, not one per read). Fewer
 * are read a byte at a time while LSR has data; with none, wait in hlt.
 */
int serial_getc(void)
{
	uint32_t dst, count;

	for (;;) {
		if (rx_next < rx_end)
			return rx_buf[rx_next++];
		if ((inb(COM1 + UART_IIR) & IIR_ID_MASK) == IIR_RDA) {
			dst = (uint32_t)(uintptr_t)rx_buf;
			count = RX_TRIGGER;
			__asm__ volatile("rep insb"
					 : "+D"(dst), "+c"(count)
					 : "d"((uint16_t)(COM1 + UART_RBR))
					 : "memory");
			rx_next = 0;
			rx_end = RX_TRIGGER;
			continue;
		}
		if (inb(COM1 + UART_LSR) & LSR_DR)
			return inb(COM1 + UART_RBR);
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
	while (len--) {
		serial_raw_putc(hex_digits[*buf >> 4]);
		serial_raw_putc(hex_digits[*buf & 0xf]);
		buf++;
	}
}
