/* QEMU fw_cfg: port I/O (0x510/0x511) and DMA (0x514/0x518) access. */
#ifndef AGENT_FWCFG_H
#define AGENT_FWCFG_H

#include <stdint.h>

#define FW_CFG_NAME_LEN 56

struct fw_cfg_file {
	uint32_t size;
	uint16_t select;
	char name[FW_CFG_NAME_LEN + 1];   /* always NUL-terminated */
};

enum {
	FWCFG_OK = 0,
	FWCFG_ABSENT = -1,      /* no "QEMU" signature */
	FWCFG_NO_DMA = -2,      /* FW_CFG_ID bit 1 clear */
	FWCFG_DMA_ERROR = -3,   /* error bit set in the DMA control word */
	FWCFG_NOT_FOUND = -4,
};

/* Probe once at boot; returns FWCFG_OK or FWCFG_ABSENT. */
int fw_cfg_probe(void);
int fw_cfg_present(void);
int fw_cfg_has_dma(void);

/* Calls fn for each directory entry, stops early when fn returns non-zero.
 * Returns the number of entries visited. */
uint32_t fw_cfg_foreach_file(int (*fn)(const struct fw_cfg_file *f, void *opaque),
			     void *opaque);
int fw_cfg_find(const char *name, struct fw_cfg_file *out);

/* Read len bytes of item key into buf (any RAM address).  With select set,
 * start at offset 0; otherwise continue where the previous read stopped.
 * Uses DMA when available, port I/O otherwise. */
int fw_cfg_read(uint16_t key, int select, void *buf, uint32_t len);

/* DMA write of len bytes to item key at offset 0 (DMA only). */
int fw_cfg_write(uint16_t key, const void *buf, uint32_t len);

#endif
