/*
 * Set-up's check of the installed libigvm: the headers compile as QEMU includes them
 * (<igvm/igvm.h>, <igvm/igvm_defs.h>), the pkg-config flags link, and the structures have
 * the sizes of the IGVM format. Built with `cc $(pkg-config --cflags --libs igvm)`.
 *
 * Without arguments it checks that garbage is refused. With a file it walks it the way
 * QEMU's backends/igvm.c does and prints one line per header it knows (the unit tests
 * compare that with what they built the file from).
 */
#include <igvm/igvm.h>
#include <igvm/igvm_defs.h>

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

/* sizes from the IGVM specification (igvm_defs' documentation of each structure) */
_Static_assert(sizeof(IGVM_FIXED_HEADER) == 24, "IGVM_FIXED_HEADER");
_Static_assert(sizeof(IGVM_VHS_VARIABLE_HEADER) == 8, "IGVM_VHS_VARIABLE_HEADER");
_Static_assert(sizeof(IGVM_VHS_SUPPORTED_PLATFORM) == 16, "IGVM_VHS_SUPPORTED_PLATFORM");
_Static_assert(sizeof(IGVM_VHS_PAGE_DATA) == 24, "IGVM_VHS_PAGE_DATA");
_Static_assert(offsetof(IGVM_VHS_PAGE_DATA, data_type) == 20, "IGVM_VHS_PAGE_DATA.data_type");
_Static_assert(sizeof(IgvmPageDataFlags) == 4, "IgvmPageDataFlags");
_Static_assert(sizeof(IGVM_VHS_PARAMETER_AREA) == 16, "IGVM_VHS_PARAMETER_AREA");
_Static_assert(sizeof(IGVM_VHS_PARAMETER_INSERT) == 16, "IGVM_VHS_PARAMETER_INSERT");
_Static_assert(sizeof(IGVM_VHS_PARAMETER) == 8, "IGVM_VHS_PARAMETER");
/* "not aligned to 8 bytes": 20 bytes, the gpa field byte-aligned */
_Static_assert(sizeof(IGVM_VHS_VP_CONTEXT) == 20, "IGVM_VHS_VP_CONTEXT");
_Static_assert(sizeof(IGVM_VHS_MEMORY_MAP_ENTRY) == 24, "IGVM_VHS_MEMORY_MAP_ENTRY");
_Static_assert(sizeof(IGVM_VHS_REQUIRED_MEMORY) == 24, "IGVM_VHS_REQUIRED_MEMORY");
_Static_assert(sizeof(IgvmEnvironmentInfo) == 4, "IgvmEnvironmentInfo");
_Static_assert(sizeof(SnpPolicy) == 8, "SnpPolicy");
_Static_assert(offsetof(IgvmNativeVpContextX64, efer) + 8 == sizeof(IgvmNativeVpContextX64),
               "IgvmNativeVpContextX64 ends with efer");

static unsigned bit_of(IgvmPageDataFlags flags)
{
    uint32_t raw;

    _Static_assert(sizeof(raw) == sizeof(flags), "flags are a u32");
    __builtin_memcpy(&raw, &flags, sizeof(raw));
    return raw;
}

static int walk(const char *path)
{
    FILE *f = fopen(path, "rb");
    long size;
    uint8_t *data;
    IgvmHandle igvm;
    int count;

    if (!f || fseek(f, 0, SEEK_END) || (size = ftell(f)) < 0 || fseek(f, 0, SEEK_SET)) {
        perror(path);
        return 1;
    }
    data = malloc(size ? size : 1);
    if (!data || fread(data, 1, size, f) != (size_t)size) {
        perror(path);
        return 1;
    }
    fclose(f);
    igvm = igvm_new_from_binary(data, (uint32_t)size);
    free(data);
    if (igvm < 0) {
        printf("error %d\n", igvm);
        return 1;
    }
    count = igvm_header_count(igvm, IGVM_HEADER_SECTION_PLATFORM);
    for (int i = 0; i < count; i++) {
        IgvmHandle h = igvm_get_header(igvm, IGVM_HEADER_SECTION_PLATFORM, i);
        const IGVM_VHS_VARIABLE_HEADER *vh = (const void *)igvm_get_buffer(igvm, h);
        const IGVM_VHS_SUPPORTED_PLATFORM *p = (const void *)(vh + 1);

        if (vh->typ == IGVM_VHT_SUPPORTED_PLATFORM) {
            printf("platform type=%u mask=0x%x version=%u%s\n", p->platform_type,
                   p->compatibility_mask, p->platform_version,
                   p->platform_type == IGVM_PLATFORM_TYPE_NATIVE ? " native" : "");
        }
        igvm_free_buffer(igvm, h);
    }
    count = igvm_header_count(igvm, IGVM_HEADER_SECTION_DIRECTIVE);
    for (int i = 0; i < count; i++) {
        int32_t type = igvm_get_header_type(igvm, IGVM_HEADER_SECTION_DIRECTIVE, i);
        IgvmHandle h = igvm_get_header(igvm, IGVM_HEADER_SECTION_DIRECTIVE, i);
        const uint8_t *header = igvm_get_buffer(igvm, h) + sizeof(IGVM_VHS_VARIABLE_HEADER);

        if (type == IGVM_VHT_PAGE_DATA) {
            const IGVM_VHS_PAGE_DATA *page = (const void *)header;
            IgvmHandle d = igvm_get_header_data(igvm, IGVM_HEADER_SECTION_DIRECTIVE, i);
            int len;

            /* a page of zeros has no data (QEMU tests for this code too) */
            if (d < 0 && d != IGVMAPI_NO_DATA) {
                printf("error %d reading the data of header %d\n", d, i);
                return 1;
            }
            len = d > 0 ? igvm_get_buffer_size(igvm, d) : 0;

            printf("page gpa=0x%llx mask=0x%x flags=0x%x 2mb=%u unmeasured=%u type=%u"
                   " normal=%u data=%d\n",
                   (unsigned long long)page->gpa, page->compatibility_mask,
                   bit_of(page->flags), page->flags.is_2mb_page, page->flags.unmeasured,
                   page->data_type, page->data_type == IGVM_PAGE_DATA_TYPE_NORMAL, len);
            if (d > 0) {
                igvm_free_buffer(igvm, d);
            }
        } else if (type == IGVM_VHT_VP_CONTEXT) {
            const IGVM_VHS_VP_CONTEXT *vp = (const void *)header;
            IgvmHandle d = igvm_get_header_data(igvm, IGVM_HEADER_SECTION_DIRECTIVE, i);

            printf("vp_context vp=%u mask=0x%x gpa=0x%llx", vp->vp_index,
                   vp->compatibility_mask, (unsigned long long)vp->gpa);
            if (d > 0 && igvm_get_buffer_size(igvm, d) >= (int)sizeof(IgvmNativeVpContextX64)) {
                const IgvmNativeVpContextX64 *ctx = (const void *)igvm_get_buffer(igvm, d);

                printf(" rip=0x%llx cr0=0x%llx code_selector=0x%x",
                       (unsigned long long)ctx->rip, (unsigned long long)ctx->cr0,
                       ctx->code_selector);
            }
            printf("\n");
            if (d > 0) {
                igvm_free_buffer(igvm, d);
            }
        } else {
            printf("directive type=0x%x\n", (unsigned)type);
        }
        igvm_free_buffer(igvm, h);
    }
    igvm_free(igvm);
    return 0;
}

int main(int argc, char **argv)
{
    static const uint8_t garbage[64] = { 'n', 'o', 't', ' ', 'i', 'g', 'v', 'm' };
    IgvmHandle h;

    if (argc > 1) {
        return walk(argv[1]);
    }
    h = igvm_new_from_binary(garbage, sizeof(garbage));
    if (h != IGVMAPI_INVALID_FIXED_HEADER) {
        printf("libigvm returned %d for 64 bytes without the IGVM magic, not "
               "IGVMAPI_INVALID_FIXED_HEADER (%d)\n", h, IGVMAPI_INVALID_FIXED_HEADER);
        return 1;
    }
    printf("libigvm refuses a file without the IGVM magic: IGVMAPI_INVALID_FIXED_HEADER\n");
    return 0;
}
