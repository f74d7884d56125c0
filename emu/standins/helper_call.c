/* Stand-in for a compiled container that calls helpers: eBPF
 *   r1 = 7; r2 = 35; call 0x7001 (pc 2); r0 *= 2; exit
 * where the test host's helper 0x7001 returns r1 + r2. Then it calls helper
 * 0x7002, which fails with code 9 when r1 is 1 and asks the run to stop with
 * r0 = r1 + 1000 otherwise; the context's first byte chooses. */
#include "femtoc_abi.h"

typedef uint32_t (*helper_fn)(struct fc_ctx *);

uint32_t fc_entry(struct fc_ctx *ctx)
{
    const struct fc_routines *rt = fc_routines(ctx);
    ctx->helper_args[0] = 7;
    ctx->helper_args[1] = 35;
    ctx->helper_id = 0x7001;
    ctx->exit_pc = 2;
    uint32_t status = FC_FN(helper_fn, rt->helper_call)(ctx);
    if (status != FC_STATUS_CONTINUE)
        return status;
    uint64_t r0 = ctx->r0 * 2;
    if (ctx->r2 == 0) {
        ctx->r0 = r0;
        return FC_STATUS_EXIT;
    }
    /* The context holds one selector byte; r1 is its address. */
    volatile const uint8_t *sel = (const uint8_t *)(uintptr_t)ctx->r1;
    ctx->helper_args[0] = *sel;
    ctx->helper_id = 0x7002;
    ctx->exit_pc = 5;
    status = FC_FN(helper_fn, rt->helper_call)(ctx);
    if (status != FC_STATUS_CONTINUE)
        return status;
    ctx->r0 = r0 + ctx->r0;
    return FC_STATUS_EXIT;
}
