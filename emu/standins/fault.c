/* Stand-in that faults through the fault exit: it stores a byte at
 * r1 + offset, where offset is the context length plus 1000: outside every
 * region. The check goes through the runtime's access_check routine, as a
 * compiled container's slow path does, and the stop reports eBPF pc 4. */
#include "femtoc_abi.h"

typedef uint32_t (*check_fn)(struct fc_ctx *, uint32_t, uint64_t);

uint32_t fc_entry(struct fc_ctx *ctx)
{
    const struct fc_routines *rt = fc_routines(ctx);
    uint64_t addr = ctx->r1 + ctx->r2 + 1000;
    /* An in-bounds access first, which must be allowed. */
    if (FC_FN(check_fn, rt->access_check)(ctx, 1 | FC_ACCESS_WRITE, ctx->r1) != 0) {
        ctx->exit_pc = 1;
        return FC_STATUS_MEMORY_FAULT;
    }
    *(volatile uint8_t *)(uintptr_t)ctx->r1 = 0x5a;
    if (FC_FN(check_fn, rt->access_check)(ctx, 4 | FC_ACCESS_WRITE, addr) != 0) {
        ctx->exit_pc = 4;
        return FC_STATUS_MEMORY_FAULT;
    }
    *(volatile uint32_t *)(uintptr_t)addr = 0xdeadbeef;
    ctx->r0 = 1;
    return FC_STATUS_EXIT;
}
