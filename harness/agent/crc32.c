/*
 * CRC-32 as zlib's, in as few instructions per byte as plain C allows: under
 * a KVM that emulates the agent instruction by instruction (the PVM flavour,
 * see README.md) the cost of a CRC is its instruction count.
 *
 * - Data: slice-by-4, 17 instructions per 4 bytes (22 as first written).
 *   Slice-by-8 takes 30 per 8 bytes but twice the tables to set up at each
 *   boot: 51,000 instructions to READY instead of 47,500 (256 KiB image).
 * - Runs of zero words (the padding of firmware images, zero-filled RAM):
 *   found with one `repe scasl` (each word is still read and compared, but
 *   the emulator runs the iterations without decoding an instruction each
 *   time), then the CRC register is advanced over the whole run at once:
 *   feeding n zero bytes multiplies it by x^(8n) modulo the polynomial,
 *   which takes O(log n) steps (as zlib's crc32_combine()).
 *
 * Plain C with no agent dependencies (the scan is an x86 string instruction
 * with a C fallback), so the unit tests also compile it for the host and
 * compare with zlib.
 */
#include "crc32.h"

#define POLY 0xedb88320u
/* x^0 in the reflected representation (bit 31 is the coefficient of x^0). */
#define X0   0x80000000u
/* Zero runs shorter than this many 32-bit words go through the tables. */
#define ZERO_RUN_MIN_WORDS 128u
/* Data between two looks for a zero run. */
#define BLOCK_BYTES 256u

static uint32_t crc_table[4][256];

/* x^(2^k) mod p for k = 0..31 (k = 3 is one byte of zeros), as zlib's x2n_table. */
static const uint32_t x2n_table[32] = {
	0x40000000, 0x20000000, 0x08000000, 0x00800000, 0x00008000, 0xedb88320,
	0xb1e6b092, 0xa06a2517, 0xed627dae, 0x88d14467, 0xd7bbfe6a, 0xec447f11,
	0x8e7ea170, 0x6427800e, 0x4d47bae0, 0x09fe548f, 0x83852d0f, 0x30362f1a,
	0x7b5a9cc3, 0x31fec169, 0x9fec022a, 0x6c8dedc4, 0x15d6874d, 0x5fde7a4e,
	0xbad90e37, 0x2e4e5eef, 0x4eaba214, 0xa8a472c0, 0x429a969e, 0x148d302a,
	0xc40ba6d0, 0xc4e22c3c,
};

void crc32_init(void)
{
	uint32_t i, j, k, c;
	uint32_t *t;

	/* The single-bit entries of table 0 by shifting. */
	for (i = 1; i < 256; i <<= 1) {
		c = i;
		for (j = 0; j < 8; j++)
			c = (c & 1) ? (c >> 1) ^ POLY : c >> 1;
		crc_table[0][i] = c;
	}
	for (k = 0; k < 4; k++) {
		t = crc_table[k];
		/* Table k is table k - 1 one byte further: its single-bit entries from there. */
		for (i = 1; k && i < 256; i <<= 1) {
			c = crc_table[k - 1][i];
			t[i] = crc_table[0][c & 0xff] ^ (c >> 8);
		}
		/* The rest by linearity, t[i ^ j] = t[i] ^ t[j]: 6 instructions an entry. */
		t[0] = 0;
		for (i = 2; i < 256; i <<= 1) {
			c = t[i];
			for (j = 1; j < i; j++)
				t[i + j] = c ^ t[j];
		}
	}
}

/* a * b mod p, both reflected polynomials. */
static uint32_t multmodp(uint32_t a, uint32_t b)
{
	uint32_t m = X0, p = 0;

	for (;;) {
		if (a & m) {
			p ^= b;
			if (!(a & (m - 1)))
				break;
		}
		m >>= 1;
		b = (b & 1) ? (b >> 1) ^ POLY : b >> 1;
	}
	return p;
}

/* The CRC register after `len` more zero bytes: times x^(8 len) mod p. */
static uint32_t shift_zeros(uint32_t c, size_t len)
{
	uint32_t p = X0;
	unsigned int k = 3;

	for (; len; len >>= 1, k++) {
		if (len & 1)
			p = multmodp(x2n_table[k & 31], p);
	}
	return multmodp(p, c);
}

/* How many of the n words at p, from the first, are zero (each read once, in order). */
static size_t zero_words(const unsigned char *p, size_t n)
{
#if defined(__i386__) || defined(__x86_64__)
	const unsigned char *d = p;
	size_t left = n;
	int all_zero;

	if (!n)
		return 0;
	/* Stops after the first non-zero word (ZF clear) or after n words; DF is clear. */
	__asm__("repe scasl"
		: "+D"(d), "+c"(left), "=@ccz"(all_zero)
		: "a"(0), "m"(*(const unsigned char(*)[n * 4])p));
	/* d is one past the last word compared. */
	return (size_t)(d - p) / 4 - !all_zero;
#else
	size_t i = 0;

	while (i < n && !(p[4 * i] | p[4 * i + 1] | p[4 * i + 2] | p[4 * i + 3]))
		i++;
	return i;
#endif
}

static uint32_t load32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Slice-by-4 over len bytes, len a non-zero multiple of 4. */
static __attribute__((noinline)) uint32_t crc_words(uint32_t c, const unsigned char *p, size_t len)
{
	const unsigned char *end = p + len;
	uint32_t t;

	/* Written (and kept out of line) so that GCC -Os keeps everything in registers. */
	do {
		c ^= load32(p);
		p += 4;
		t = crc_table[3][c & 0xff];
		t ^= crc_table[2][(c >> 8) & 0xff];
		c >>= 16;
		t ^= crc_table[1][c & 0xff];
		c = t ^ crc_table[0][c >> 8];
	} while (p != end);
	return c;
}

static uint32_t crc_bytes(uint32_t c, const unsigned char *p, size_t len)
{
	while (len--)
		c = crc_table[0][(c ^ *p++) & 0xff] ^ (c >> 8);
	return c;
}

uint32_t crc32_update(uint32_t crc, const void *buf, size_t len)
{
	const unsigned char *p = buf;
	uint32_t c = ~crc;
	size_t n, head = (0u - (uintptr_t)p) & 3;

	if (head > len)
		head = len;
	c = crc_bytes(c, p, head);
	p += head;
	len -= head;
	while (len >= 4) {
		n = zero_words(p, len / 4);
		if (n >= ZERO_RUN_MIN_WORDS) {
			c = shift_zeros(c, n * 4);
		} else {
			n = (len < BLOCK_BYTES ? len : BLOCK_BYTES) & ~(size_t)3;
			c = crc_words(c, p, n);
			n /= 4;
		}
		p += n * 4;
		len -= n * 4;
	}
	return ~crc_bytes(c, p, len);
}
