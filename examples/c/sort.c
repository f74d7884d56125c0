/* Insertion sort of up to SORT_MAX 32-bit little-endian values taken from the
 * context, in a stack array. Returns a position-weighted checksum of the
 * sorted values, so a wrong order changes the result.
 */
#include <stdint.h>

#define SORT_MAX 32

static inline uint32_t read_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) |
	       ((uint32_t)p[3] << 24);
}

uint64_t sort(const uint8_t *ctx, uint64_t len)
{
	uint32_t values[SORT_MAX];
	uint64_t n = len / 4;
	if (n > SORT_MAX)
		n = SORT_MAX;

	for (uint64_t i = 0; i < n; i++)
		values[i] = read_le32(ctx + 4 * i);

	for (uint64_t i = 1; i < n; i++) {
		uint32_t key = values[i];
		uint64_t j = i;
		while (j > 0 && values[j - 1] > key) {
			values[j] = values[j - 1];
			j--;
		}
		values[j] = key;
	}

	uint64_t checksum = 0;
	for (uint64_t i = 0; i < n; i++)
		checksum += (uint64_t)values[i] * (i + 1);
	return checksum;
}
