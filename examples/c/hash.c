/* FNV-1a (32-bit) over the context, keyed by its length.
 *
 * The entry lives in its own program section, as loaders of eBPF programs
 * expect; the hashing loop is a separate static function that stays in .text
 * (noinline), and the final avalanche step is a static function in the
 * program section, so the object has both a cross-section call (relocated)
 * and a same-section call.
 */
#include <stdint.h>

#define FNV_OFFSET 0x811c9dc5u
#define FNV_PRIME 0x01000193u

static __attribute__((noinline)) uint32_t fnv1a(uint32_t h, const uint8_t *p,
						uint64_t n)
{
	for (uint64_t i = 0; i < n; i++) {
		h ^= p[i];
		h *= FNV_PRIME;
	}
	return h;
}

static __attribute__((noinline, section("femto"))) uint32_t avalanche(uint32_t h)
{
	h ^= h >> 16;
	h *= 0x7feb352du;
	h ^= h >> 15;
	h *= 0x846ca68bu;
	h ^= h >> 16;
	return h;
}

__attribute__((section("femto"), used)) uint32_t hash(const uint8_t *ctx,
						       uint64_t len)
{
	uint8_t key[4] = { (uint8_t)len, (uint8_t)(len >> 8),
			   (uint8_t)(len >> 16), (uint8_t)(len >> 24) };
	uint32_t h = fnv1a(FNV_OFFSET, key, sizeof(key));
	h = fnv1a(h, ctx, len);
	return avalanche(h);
}
