/* Stand-in for a loop under a budget: eBPF
 *   pc 0: r0 = 0
 *   pc 1: r0 += 1
 *   pc 2: if r0 < r2 goto pc 1   (a backward jump: one event when taken)
 *   pc 3: exit
 * The budget check comes before each taken backward jump. */
#include "femtoc_abi.h"

uint32_t fc_entry(struct fc_ctx *ctx)
{
    uint64_t r0 = 0;
    uint64_t budget = ctx->budget_left;
    for (;;) {
        r0 += 1;
        if (!(r0 < ctx->r2))
            break;
        if (budget == 0) {
            ctx->budget_left = 0;
            ctx->exit_pc = 2;
            return FC_STATUS_BUDGET;
        }
        budget -= 1;
    }
    ctx->budget_left = budget;
    ctx->r0 = r0;
    return FC_STATUS_EXIT;
}
