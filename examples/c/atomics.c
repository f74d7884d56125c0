/* Shared statistics updated with atomic read-modify-writes (needs eBPF v3 or
 * later): a byte total and a call count in .bss, a flag word with bits set,
 * cleared and toggled atomically, and a compare-and-swap claim of an owner
 * slot. The flag word and the owner are global so a host can find them by
 * name; clang then relocates against their own symbols (with a non-zero
 * symbol value) instead of the .bss section symbol.
 */
#include <stdint.h>

static uint64_t total_bytes;
static uint64_t calls;
uint32_t flags;
uint32_t owner;

uint64_t atomics(const uint8_t *ctx, uint64_t len)
{
	uint32_t id = len ? ctx[0] : 0;
	uint64_t before = __sync_fetch_and_add(&total_bytes, len);
	__sync_fetch_and_add(&calls, 1);

	__sync_fetch_and_or(&flags, 1u << (id & 31));
	__sync_fetch_and_and(&flags, ~(1u << ((id + 1) & 31)));
	__sync_fetch_and_xor(&flags, 0x80000000u);

	uint32_t prev_owner = __sync_val_compare_and_swap(&owner, 0, id + 1);
	uint32_t old_flags = __sync_lock_test_and_set(&flags, flags | 1);

	return before + prev_owner + old_flags;
}
