/* CRC-32 (IEEE 802.3, reflected, poly 0xedb88320), as zlib's crc32(). */
#ifndef AGENT_CRC32_H
#define AGENT_CRC32_H

#include <stddef.h>
#include <stdint.h>

void crc32_init(void);
/* Continue a CRC: crc32_update(0, buf, len) == zlib.crc32(buf). */
uint32_t crc32_update(uint32_t crc, const void *buf, size_t len);

#endif
