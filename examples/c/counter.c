/* A stateful probe: counts its runs in .data, keeps a histogram of context
 * lengths (by power of two) in .bss, and reports each run through the trace
 * helper (0x01) with a format string from .rodata.str1.1. Both globals
 * persist across runs of the same container.
 */
#include <stdint.h>

static long (*trace)(const char *fmt, uint32_t len, ...) = (void *)1;

#define BUCKETS 16
#define RUN_FMT "run %u len %u bucket %u\n"

/* Starts at 1 so it lands in .data, not .bss. */
static uint64_t runs = 1;
static uint32_t histogram[BUCKETS];

static uint32_t log2_bucket(uint64_t len)
{
	uint32_t b = 0;
	while (len > 1 && b < BUCKETS - 1) {
		len >>= 1;
		b++;
	}
	return b;
}

uint64_t counter(const uint8_t *ctx, uint64_t len)
{
	uint32_t b = log2_bucket(len);
	uint64_t n = runs++;

	histogram[b]++;
	/* A literal (not a named array) so clang puts it in a mergeable
	 * string section, .rodata.str1.1. */
	trace(RUN_FMT, sizeof(RUN_FMT), (uint32_t)n, (uint32_t)len, b);
	(void)ctx;
	return ((uint64_t)histogram[b] << 32) | n;
}
