/* fw_cfg access, see QEMU docs/specs/fw_cfg.rst for the register layout. */
#include "io.h"
#include "fwcfg.h"

#define FW_CFG_PORT_SEL   0x510
#define FW_CFG_PORT_DATA  0x511
#define FW_CFG_PORT_DMA_HI 0x514
#define FW_CFG_PORT_DMA_LO 0x518

#define FW_CFG_SIGNATURE  0x0000
#define FW_CFG_ID         0x0001
#define FW_CFG_FILE_DIR   0x0019

#define FW_CFG_VERSION_DMA 0x02

#define FW_CFG_DMA_CTL_ERROR  0x01
#define FW_CFG_DMA_CTL_READ   0x02
#define FW_CFG_DMA_CTL_SKIP   0x04
#define FW_CFG_DMA_CTL_SELECT 0x08
#define FW_CFG_DMA_CTL_WRITE  0x10

#define barrier() __asm__ volatile("" : : : "memory")

/* Big-endian DMA descriptor, read by the hypervisor from guest RAM. */
struct fw_cfg_dma_access {
	uint32_t control;
	uint32_t length;
	uint32_t address_hi;
	uint32_t address_lo;
} __attribute__((packed, aligned(16)));

static volatile struct fw_cfg_dma_access dma_desc;
static int fwcfg_present;
static int fwcfg_dma;

static void fw_cfg_select(uint16_t key)
{
	outw(FW_CFG_PORT_SEL, key);
}

/*
 * One string instruction for the whole read: a KVM that emulates the agent
 * (PVM) then exits to QEMU once per 1 KiB instead of once per byte (15-25 us
 * each); its emulator still stores the bytes one at a time (3-4 us each).
 */
static void fw_cfg_pio_read(void *buf, uint32_t len)
{
	__asm__ volatile("rep insb"
			 : "+D"(buf), "+c"(len)
			 : "d"((uint16_t)FW_CFG_PORT_DATA)
			 : "memory");
}

int fw_cfg_probe(void)
{
	char sig[4];
	uint8_t id[4];

	fw_cfg_select(FW_CFG_SIGNATURE);
	fw_cfg_pio_read(sig, 4);
	fwcfg_present = sig[0] == 'Q' && sig[1] == 'E' && sig[2] == 'M' && sig[3] == 'U';
	fwcfg_dma = 0;
	if (!fwcfg_present)
		return FWCFG_ABSENT;
	fw_cfg_select(FW_CFG_ID);
	fw_cfg_pio_read(id, 4);
	fwcfg_dma = (id[0] & FW_CFG_VERSION_DMA) != 0;
	return FWCFG_OK;
}

int fw_cfg_present(void)
{
	return fwcfg_present;
}

int fw_cfg_has_dma(void)
{
	return fwcfg_dma;
}

static int fw_cfg_dma(uint32_t control, uint32_t addr, uint32_t len)
{
	uint32_t ctl;
	uint32_t spins = 0;

	if (!fwcfg_dma)
		return FWCFG_NO_DMA;
	dma_desc.control = bswap32(control);
	dma_desc.length = bswap32(len);
	dma_desc.address_hi = 0;
	dma_desc.address_lo = bswap32(addr);
	barrier();
	outl(FW_CFG_PORT_DMA_HI, 0);
	outl(FW_CFG_PORT_DMA_LO, bswap32((uint32_t)(uintptr_t)&dma_desc));
	barrier();
	/* QEMU completes the transfer synchronously; poll anyway, bounded. */
	for (;;) {
		ctl = bswap32(dma_desc.control);
		if (!(ctl & ~FW_CFG_DMA_CTL_ERROR))
			break;
		if (++spins == 0x10000000u)
			return FWCFG_DMA_ERROR;
	}
	return (ctl & FW_CFG_DMA_CTL_ERROR) ? FWCFG_DMA_ERROR : FWCFG_OK;
}

int fw_cfg_read(uint16_t key, int select, void *buf, uint32_t len)
{
	uint32_t control = FW_CFG_DMA_CTL_READ;

	if (!fwcfg_present)
		return FWCFG_ABSENT;
	if (!fwcfg_dma) {
		if (select)
			fw_cfg_select(key);
		fw_cfg_pio_read(buf, len);
		return FWCFG_OK;
	}
	if (select)
		control |= ((uint32_t)key << 16) | FW_CFG_DMA_CTL_SELECT;
	return fw_cfg_dma(control, (uint32_t)(uintptr_t)buf, len);
}

int fw_cfg_write(uint16_t key, const void *buf, uint32_t len)
{
	uint32_t control = ((uint32_t)key << 16) | FW_CFG_DMA_CTL_SELECT |
			   FW_CFG_DMA_CTL_WRITE;

	if (!fwcfg_present)
		return FWCFG_ABSENT;
	return fw_cfg_dma(control, (uint32_t)(uintptr_t)buf, len);
}

uint32_t fw_cfg_foreach_file(int (*fn)(const struct fw_cfg_file *f, void *opaque),
			     void *opaque)
{
	uint8_t raw[4 + 2 + 2];
	struct fw_cfg_file f;
	uint32_t count, i;

	if (!fwcfg_present)
		return 0;
	/* The directory is always read by port I/O: it is small, and it keeps
	 * the DMA path out of listing and lookup. */
	fw_cfg_select(FW_CFG_FILE_DIR);
	fw_cfg_pio_read(raw, 4);
	count = (uint32_t)raw[0] << 24 | (uint32_t)raw[1] << 16 |
		(uint32_t)raw[2] << 8 | raw[3];
	for (i = 0; i < count; i++) {
		/* size, select, reserved; then the name straight into place */
		fw_cfg_pio_read(raw, sizeof(raw));
		fw_cfg_pio_read(f.name, FW_CFG_NAME_LEN);
		f.size = (uint32_t)raw[0] << 24 | (uint32_t)raw[1] << 16 |
			 (uint32_t)raw[2] << 8 | raw[3];
		f.select = (uint16_t)(raw[4] << 8 | raw[5]);
		f.name[FW_CFG_NAME_LEN] = '\0';
		if (fn(&f, opaque))
			return i + 1;
	}
	return count;
}

struct find_ctx {
	const char *name;
	struct fw_cfg_file *out;
	int found;
};

static int find_cb(const struct fw_cfg_file *f, void *opaque)
{
	struct find_ctx *ctx = opaque;

	if (strcmp(f->name, ctx->name))
		return 0;
	*ctx->out = *f;
	ctx->found = 1;
	return 1;
}

int fw_cfg_find(const char *name, struct fw_cfg_file *out)
{
	struct find_ctx ctx = { name, out, 0 };

	if (!fwcfg_present)
		return FWCFG_ABSENT;
	fw_cfg_foreach_file(find_cb, &ctx);
	return ctx.found ? FWCFG_OK : FWCFG_NOT_FOUND;
}
