/* Stand-in that does 64-bit division and atomics through the runtime
 * routines, as 32-bit backends must. Writes each result into the context
 * (r1, at least 64 bytes) and returns a combination in r0. */
#include "femtoc_abi.h"

typedef uint64_t (*div_fn)(uint64_t, uint64_t);
typedef uint64_t (*atomic_fn)(struct fc_ctx *, uint32_t, uint64_t, uint64_t, uint64_t);

uint32_t fc_entry(struct fc_ctx *ctx)
{
    const struct fc_routines *rt = fc_routines(ctx);
    volatile uint64_t *out = (uint64_t *)(uintptr_t)ctx->r1;
    const uint64_t min = 0x8000000000000000ull;
    out[0] = FC_FN(div_fn, rt->udiv64)(0xfffffffffffffff0ull, 3);
    out[1] = FC_FN(div_fn, rt->udiv64)(12345, 0);          /* 0 */
    out[2] = FC_FN(div_fn, rt->sdiv64)(min, (uint64_t)-1); /* MIN */
    out[3] = FC_FN(div_fn, rt->smod64)(min, (uint64_t)-1); /* 0 */
    out[4] = FC_FN(div_fn, rt->umod64)(777, 0);            /* 777 */
    out[5] = FC_FN(div_fn, rt->smod64)((uint64_t)-7, 2);   /* -1 */
    /* The atomic target is 8-aligned inside the context. */
    uint64_t addr = ctx->r1 + 48;
    out[6] = 0x100000000ull;
    uint64_t old_add = FC_FN(atomic_fn, rt->atomic64)(ctx, FC_ATOMIC_ADD, addr, 0xffffffffull, 0);
    uint64_t old_cmp = FC_FN(atomic_fn, rt->atomic64)(ctx, FC_ATOMIC_CMPXCHG, addr, 42, 0x1ffffffffull);
    ctx->r0 = old_add ^ old_cmp;
    return FC_STATUS_EXIT;
}
