/* Fletcher-32 over the context, as the Femto-Containers benchmark runs it.
 *
 * The context holds len/2 16-bit little-endian words. Both sums start at
 * 0xffff and are folded back to 16 bits after every block of at most 359
 * words (the largest block whose sums cannot overflow 32 bits) and once more
 * at the end. Words are read byte by byte, so an odd context address is fine.
 */
#include <stdint.h>

#define FLETCHER_BLOCK 359

uint32_t fletcher32(const uint8_t *ctx, uint64_t len)
{
	uint64_t words = len / 2;
	uint32_t sum1 = 0xffff;
	uint32_t sum2 = 0xffff;

	while (words) {
		uint64_t block = words > FLETCHER_BLOCK ? FLETCHER_BLOCK : words;
		words -= block;
		do {
			uint32_t word = (uint32_t)ctx[0] | ((uint32_t)ctx[1] << 8);
			sum1 += word;
			sum2 += sum1;
			ctx += 2;
		} while (--block);
		sum1 = (sum1 & 0xffff) + (sum1 >> 16);
		sum2 = (sum2 & 0xffff) + (sum2 >> 16);
	}
	sum1 = (sum1 & 0xffff) + (sum1 >> 16);
	sum2 = (sum2 & 0xffff) + (sum2 >> 16);
	return (sum2 << 16) | sum1;
}
