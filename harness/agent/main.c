/*
 * vmfwupdate guest agent: prints the boot banner on COM1 and serves the line
 * protocol described in PROTOCOL.md.
 */
#include "io.h"
#include "crc32.h"
#include "fwcfg.h"
#include "reset.h"
#include "serial.h"
/* Generated from harness/guest/protocol.py by the agent build. */
#include "agent_protocol.h"

/* identity.c is generated at build time. */
extern const char agent_identity[];
/* Defined by agent.ld (from --defsym=ROM_SIZE=...). */
extern const char __rom_base[];
extern const char __rom_size[];

#define MAX_ARGS      8

void agent_main(void);

static char line[AGENT_LINE_MAX + 1];
static uint8_t bytes[AGENT_LINE_MAX / 2 + 1];
static uint8_t chunk[AGENT_CHUNK] __attribute__((aligned(16)));
static uint32_t rom_crc;

static uint32_t rom_base(void)
{
	return (uint32_t)(uintptr_t)__rom_base;
}

static uint32_t rom_size(void)
{
	return (uint32_t)(uintptr_t)__rom_size;
}

static void print_banner(void)
{
	serial_puts(AGENT_BANNER_MAGIC " identity=");
	serial_puts(agent_identity);
	serial_puts(" rom-base=0x");
	put_hex(rom_base(), 8);
	serial_puts(" rom-size=0x");
	put_hex(rom_size(), 8);
	serial_puts(" crc32=0x");
	put_hex(rom_crc, 8);
	serial_putc('\n');
}

/* Echo user-supplied text safely: printable ASCII only, bounded. */
static void put_sanitized(const char *s)
{
	int n;

	for (n = 0; *s && n < 64; s++, n++)
		serial_putc(*s >= 0x21 && *s <= 0x7e ? *s : '?');
	if (*s)
		serial_puts("...");
}

static void reply_ok(void)
{
	serial_puts("OK\n");
}

static void reply_ok_dec(uint32_t v)
{
	serial_puts("OK ");
	put_dec(v);
	serial_putc('\n');
}

static void reply_err(const char *reason, const char *detail)
{
	serial_puts("ERR ");
	serial_puts(reason);
	if (detail) {
		serial_putc(' ');
		put_sanitized(detail);
	}
	serial_putc('\n');
}

static void reply_fwcfg_err(int rc, const char *name)
{
	switch (rc) {
	case FWCFG_NO_DMA:
		reply_err("no-dma", NULL);
		break;
	case FWCFG_DMA_ERROR:
		reply_err("dma-error", name);
		break;
	case FWCFG_NOT_FOUND:
		reply_err("no-such-file", name);
		break;
	default:
		reply_err("no-fw-cfg", NULL);
		break;
	}
}

/* Inline: it runs twice per byte of every `write`/`mwrite` line. */
static inline __attribute__((always_inline)) int hex_val(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Hex number with optional 0x prefix, at most 64 bits. */
static int parse_u64(const char *s, uint64_t *out)
{
	uint64_t v = 0;
	int digits = 0, d;

	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
		s += 2;
	if (!*s)
		return -1;
	for (; *s; s++) {
		d = hex_val(*s);
		if (d < 0)
			return -1;
		if (!digits && !d)
			continue;               /* leading zeros */
		if (++digits > 16)
			return -1;
		v = v << 4 | (uint64_t)d;
	}
	*out = v;
	return 0;
}

static int parse_u32(const char *s, uint32_t *out)
{
	uint64_t v;

	if (parse_u64(s, &v) || v > 0xffffffffu)
		return -1;
	*out = (uint32_t)v;
	return 0;
}

/* Hex byte string (no prefix, even number of digits) into bytes[]. */
static int parse_bytes(const char *s, uint32_t *len)
{
	uint32_t n = 0;
	int hi, lo;

	while (s[0]) {
		hi = hex_val(s[0]);
		lo = s[1] ? hex_val(s[1]) : -1;
		if (hi < 0 || lo < 0 || n >= sizeof(bytes))
			return -1;
		bytes[n++] = (uint8_t)(hi << 4 | lo);
		s += 2;
	}
	if (!n)
		return -1;
	*len = n;
	return 0;
}

/* [addr, addr + len) must fit below 4 GiB. */
static int parse_range(const char *a, const char *l, uint32_t *addr, uint32_t *len)
{
	if (parse_u32(a, addr) || parse_u32(l, len))
		return -1;
	if ((uint64_t)*addr + *len > 0x100000000ull)
		return -1;
	return 0;
}

static int overlaps_agent(uint32_t addr, uint32_t len)
{
	return len && addr < AGENT_MEM_END;
}

static void print_data(const uint8_t *p, uint32_t len)
{
	uint32_t n;

	while (len) {
		n = len < AGENT_DATA_PER_LINE ? len : AGENT_DATA_PER_LINE;
		serial_puts("data ");
		put_bytes_hex(p, n);
		serial_putc('\n');
		p += n;
		len -= n;
	}
}

/* ---- commands ---------------------------------------------------------- */

static int need_args(int argc, int want, const char *usage)
{
	if (argc == want)
		return 0;
	serial_puts("ERR bad-argument usage: ");
	serial_puts(usage);
	serial_putc('\n');
	return -1;
}

static int lookup(const char *name, struct fw_cfg_file *f)
{
	int rc = fw_cfg_find(name, f);

	if (rc)
		reply_fwcfg_err(rc, name);
	return rc;
}

static void cmd_info(int argc, char **argv)
{
	(void)argv;
	if (need_args(argc, 1, "info"))
		return;
	print_banner();
	reply_ok();
}

static int files_cb(const struct fw_cfg_file *f, void *opaque)
{
	(void)opaque;
	serial_puts("file ");
	put_hex(f->select, 4);
	serial_putc(' ');
	put_dec(f->size);
	serial_putc(' ');
	serial_puts(f->name);
	serial_putc('\n');
	return 0;
}

static void cmd_files(int argc, char **argv)
{
	uint32_t n;

	(void)argv;
	if (need_args(argc, 1, "files"))
		return;
	if (!fw_cfg_present()) {
		reply_err("no-fw-cfg", NULL);
		return;
	}
	n = fw_cfg_foreach_file(files_cb, NULL);
	reply_ok_dec(n);
}

static void cmd_read(int argc, char **argv)
{
	struct fw_cfg_file f;
	uint32_t done = 0, n;
	int rc;

	if (need_args(argc, 2, "read <name>") || lookup(argv[1], &f))
		return;
	if (f.size > AGENT_READ_MAX) {
		reply_err("too-large", argv[1]);
		return;
	}
	while (done < f.size) {
		n = f.size - done < AGENT_CHUNK ? f.size - done : AGENT_CHUNK;
		rc = fw_cfg_read(f.select, done == 0, chunk, n);
		if (rc) {
			reply_fwcfg_err(rc, argv[1]);
			return;
		}
		print_data(chunk, n);
		done += n;
	}
	reply_ok_dec(f.size);
}

static void cmd_readq(int argc, char **argv)
{
	struct fw_cfg_file f;
	uint8_t b[8] = { 0 };
	uint64_t v = 0;
	int rc, i;

	if (need_args(argc, 2, "readq <name>") || lookup(argv[1], &f))
		return;
	rc = fw_cfg_read(f.select, 1, b, f.size < 8 ? f.size : 8);
	if (rc) {
		reply_fwcfg_err(rc, argv[1]);
		return;
	}
	for (i = 7; i >= 0; i--)
		v = v << 8 | b[i];
	serial_puts("OK 0x");
	put_hex64(v);
	serial_putc('\n');
}

static void do_write(const char *name, const uint8_t *buf, uint32_t len)
{
	struct fw_cfg_file f;
	int rc;

	if (lookup(name, &f))
		return;
	if (!fw_cfg_has_dma()) {
		reply_err("no-dma", NULL);
		return;
	}
	rc = fw_cfg_write(f.select, buf, len);
	if (rc)
		reply_fwcfg_err(rc, name);
	else
		reply_ok();
}

static void cmd_write(int argc, char **argv)
{
	uint32_t len;

	if (need_args(argc, 3, "write <name> <hex bytes>"))
		return;
	if (parse_bytes(argv[2], &len)) {
		reply_err("bad-argument", "hex-bytes");
		return;
	}
	do_write(argv[1], bytes, len);
}

static void cmd_writeq(int argc, char **argv)
{
	uint64_t v;
	uint8_t b[8];
	int i;

	if (need_args(argc, 3, "writeq <name> <value>"))
		return;
	if (parse_u64(argv[2], &v)) {
		reply_err("bad-argument", argv[2]);
		return;
	}
	for (i = 0; i < 8; i++)
		b[i] = (uint8_t)(v >> (8 * i));
	do_write(argv[1], b, 8);
}

static void cmd_writeb(int argc, char **argv)
{
	uint32_t v;
	uint8_t b;

	if (need_args(argc, 3, "writeb <name> <value>"))
		return;
	if (parse_u32(argv[2], &v) || v > 0xff) {
		reply_err("bad-argument", argv[2]);
		return;
	}
	b = (uint8_t)v;
	do_write(argv[1], &b, 1);
}

static void cmd_load(int argc, char **argv)
{
	struct fw_cfg_file f;
	uint32_t addr;
	int rc;

	if (need_args(argc, 3, "load <name> <addr>"))
		return;
	if (parse_u32(argv[2], &addr)) {
		reply_err("bad-argument", argv[2]);
		return;
	}
	if (lookup(argv[1], &f))
		return;
	if ((uint64_t)addr + f.size > 0x100000000ull) {
		reply_err("bad-argument", "range-beyond-4GiB");
		return;
	}
	if (overlaps_agent(addr, f.size)) {
		reply_err("bad-argument", "agent-memory");
		return;
	}
	if (f.size) {
		rc = fw_cfg_read(f.select, 1, (void *)(uintptr_t)addr, f.size);
		if (rc) {
			reply_fwcfg_err(rc, argv[1]);
			return;
		}
	}
	serial_puts("OK ");
	put_dec(f.size);
	serial_puts(" crc32=0x");
	put_hex(crc32_update(0, (const void *)(uintptr_t)addr, f.size), 8);
	serial_putc('\n');
}

static void cmd_mread(int argc, char **argv)
{
	uint32_t addr, len;

	if (need_args(argc, 3, "mread <addr> <len>"))
		return;
	if (parse_range(argv[1], argv[2], &addr, &len)) {
		reply_err("bad-argument", "range");
		return;
	}
	if (len > AGENT_MREAD_MAX) {
		reply_err("too-large", argv[2]);
		return;
	}
	print_data((const uint8_t *)(uintptr_t)addr, len);
	reply_ok_dec(len);
}

static void cmd_mwrite(int argc, char **argv)
{
	uint32_t addr, len;

	if (need_args(argc, 3, "mwrite <addr> <hex bytes>"))
		return;
	if (parse_u32(argv[1], &addr)) {
		reply_err("bad-argument", argv[1]);
		return;
	}
	if (parse_bytes(argv[2], &len)) {
		reply_err("bad-argument", "hex-bytes");
		return;
	}
	if ((uint64_t)addr + len > 0x100000000ull) {
		reply_err("bad-argument", "range");
		return;
	}
	if (overlaps_agent(addr, len)) {
		reply_err("bad-argument", "agent-memory");
		return;
	}
	memcpy((void *)(uintptr_t)addr, bytes, len);
	reply_ok();
}

static void cmd_mfill(int argc, char **argv)
{
	uint32_t addr, len, val;

	if (need_args(argc, 4, "mfill <addr> <len> <byte>"))
		return;
	if (parse_range(argv[1], argv[2], &addr, &len)) {
		reply_err("bad-argument", "range");
		return;
	}
	if (parse_u32(argv[3], &val) || val > 0xff) {
		reply_err("bad-argument", argv[3]);
		return;
	}
	if (overlaps_agent(addr, len)) {
		reply_err("bad-argument", "agent-memory");
		return;
	}
	memset((void *)(uintptr_t)addr, (int)val, len);
	reply_ok();
}

static void cmd_crc(int argc, char **argv)
{
	uint32_t addr, len;

	if (need_args(argc, 3, "crc <addr> <len>"))
		return;
	if (parse_range(argv[1], argv[2], &addr, &len)) {
		reply_err("bad-argument", "range");
		return;
	}
	serial_puts("OK 0x");
	put_hex(crc32_update(0, (const void *)(uintptr_t)addr, len), 8);
	serial_putc('\n');
}

/* `in`/`out`: the port (0..AGENT_PORT_MAX) and the access size in bytes from the width word. */
static int parse_port(char **argv, uint16_t *port, uint32_t *size)
{
	uint32_t v;

	if (parse_u32(argv[1], &v) || v > AGENT_PORT_MAX) {
		reply_err("bad-argument", argv[1]);
		return -1;
	}
	*port = (uint16_t)v;
	if (!strcmp(argv[2], AGENT_PORT_WIDTH_1))
		*size = 1;
	else if (!strcmp(argv[2], AGENT_PORT_WIDTH_2))
		*size = 2;
	else if (!strcmp(argv[2], AGENT_PORT_WIDTH_4))
		*size = 4;
	else {
		reply_err("bad-argument", argv[2]);
		return -1;
	}
	return 0;
}

static void cmd_in(int argc, char **argv)
{
	uint16_t port;
	uint32_t size, v;

	if (need_args(argc, 3, AGENT_USAGE_IN) || parse_port(argv, &port, &size))
		return;
	if (size == 1)
		v = inb(port);
	else if (size == 2)
		v = inw(port);
	else
		v = inl(port);
	serial_puts("OK 0x");
	put_hex(v, (int)(2 * size));
	serial_putc('\n');
}

static void cmd_out(int argc, char **argv)
{
	uint16_t port;
	uint32_t size, v;

	if (need_args(argc, 4, AGENT_USAGE_OUT) || parse_port(argv, &port, &size))
		return;
	if (parse_u32(argv[3], &v) || (size < 4 && v >> (8 * size))) {
		reply_err("bad-argument", argv[3]);
		return;
	}
	if (size == 1)
		outb(port, (uint8_t)v);
	else if (size == 2)
		outw(port, (uint16_t)v);
	else
		outl(port, v);
	reply_ok();
}

static void cmd_reset(int argc, char **argv)
{
	void (*method)(void);

	if (need_args(argc, 2, AGENT_USAGE_RESET))
		return;
	if (!strcmp(argv[1], AGENT_RESET_CF9))
		method = reset_cf9;
	else if (!strcmp(argv[1], AGENT_RESET_KBD))
		method = reset_kbd;
	else if (!strcmp(argv[1], AGENT_RESET_TRIPLE))
		method = reset_triple;
	else {
		reply_err("bad-argument", argv[1]);
		return;
	}
	serial_puts("resetting ");
	serial_puts(argv[1]);
	serial_putc('\n');
	serial_flush();
	method();
	reply_err("reset-failed", argv[1]);
}

static void cmd_exit(int argc, char **argv)
{
	uint32_t code;

	if (need_args(argc, 2, "exit <code>"))
		return;
	if (parse_u32(argv[1], &code)) {
		reply_err("bad-argument", argv[1]);
		return;
	}
	serial_flush();
	debug_exit(code);
	reply_err("no-debug-exit", NULL);
}

static void cmd_help(int argc, char **argv);

/* The commands and their usage lines come from agent_protocol.h. */
#define AGENT_COMMAND_ENTRY(name, usage) { #name, usage, cmd_##name },
static const struct {
	const char *name;
	const char *usage;
	void (*fn)(int argc, char **argv);
} commands[] = {
	AGENT_COMMANDS(AGENT_COMMAND_ENTRY)
};
#define N_COMMANDS (sizeof(commands) / sizeof(commands[0]))

static void cmd_help(int argc, char **argv)
{
	unsigned int i;

	(void)argc;
	(void)argv;
	for (i = 0; i < N_COMMANDS; i++) {
		serial_puts(AGENT_HELP_LINE " ");
		serial_puts(commands[i].usage);
		serial_puts("\n");
	}
	reply_ok_dec(N_COMMANDS);
}

static void run_line(char *s)
{
	char *argv[MAX_ARGS];
	int argc = 0;
	unsigned int i;

	for (;;) {
		while (*s == ' ' || *s == '\t')
			*s++ = '\0';
		if (!*s)
			break;
		if (argc == MAX_ARGS) {
			reply_err("bad-argument", "too-many-arguments");
			return;
		}
		argv[argc++] = s;
		while (*s && *s != ' ' && *s != '\t')
			s++;
	}
	if (!argc)
		return;                         /* blank line: no reply */
	for (i = 0; i < N_COMMANDS; i++) {
		if (!strcmp(argv[0], commands[i].name)) {
			commands[i].fn(argc, argv);
			return;
		}
	}
	reply_err("unknown-command", argv[0]);
}

void agent_main(void)
{
	uint8_t in[SERIAL_READ_MAX];
	uint32_t len = 0, n, i;
	int overflow = 0;
	int nul = 0;
	int c;

	serial_init();
	crc32_init();
	fw_cfg_probe();
	rom_crc = crc32_update(0, __rom_base, rom_size());
	print_banner();
	serial_puts(AGENT_READY "\n");

	for (;;) {
		n = serial_read(in);
		for (i = 0; i < n; i++) {
			c = in[i];
			if (c == '\r' || c == '\n') {
				if (overflow) {
					reply_err("line-too-long", NULL);
				} else if (nul) {
					/* A NUL would end the line early as a C string. */
					reply_err("bad-argument", "nul-byte");
				} else if (len) {
					line[len] = '\0';
					run_line(line);
				}
				len = 0;
				overflow = 0;
				nul = 0;
			} else if (c == '\0') {
				nul = 1;
			} else if (len < AGENT_LINE_MAX) {
				line[len++] = (char)c;
			} else {
				overflow = 1;
			}
		}
	}
}
