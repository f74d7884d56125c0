/* femtoc native ABI, version 3: the C view of runtime/src/abi/mod.rs.
 * Every field is a fixed-size integer so that the layout is the same on
 * 32- and 64-bit targets; pointers are stored in uint64_t fields. Every
 * non-empty data region starts at a multiple of 8 (FC_DATA_ALIGN). */
#ifndef FEMTOC_ABI_H
#define FEMTOC_ABI_H

#include <stddef.h>
#include <stdint.h>

#define FC_ABI_VERSION 3u
#define FC_DATA_ALIGN 8u

#define FC_STATUS_EXIT 0u
#define FC_STATUS_CONTINUE 0u
#define FC_STATUS_MEMORY_FAULT 1u
#define FC_STATUS_BUDGET 2u
#define FC_STATUS_HELPER_FAILED 3u
#define FC_STATUS_HELPER_STOP 4u

#define FC_REGION_READ 1u
#define FC_REGION_WRITE 2u

/* access_check's access: the size in bytes, | FC_ACCESS_WRITE for a store. */
#define FC_ACCESS_WRITE 0x80u

/* fill_window's descriptor: see runtime/src/abi/mod.rs, module window. */
#define FC_WINDOW_WORDS 8u

#define FC_ATOMIC_ADD 0x00u
#define FC_ATOMIC_OR 0x40u
#define FC_ATOMIC_AND 0x50u
#define FC_ATOMIC_XOR 0xa0u
#define FC_ATOMIC_XCHG 0xe0u
#define FC_ATOMIC_CMPXCHG 0xf0u

struct fc_region {
    uint64_t start;
    uint64_t len;
    uint32_t flags;
    uint32_t reserved;
};

struct fc_routines {
    uint64_t helper_call;  /* uint32_t (struct fc_ctx *) */
    uint64_t access_check; /* uint32_t (struct fc_ctx *, uint32_t access, uint64_t addr) */
    uint64_t udiv64;       /* uint64_t (uint64_t, uint64_t) */
    uint64_t sdiv64;
    uint64_t umod64;
    uint64_t smod64;
    uint64_t atomic64; /* uint64_t (struct fc_ctx *, uint32_t op, uint64_t addr, uint64_t value, uint64_t expected) */
    uint64_t fill_window; /* struct fc_ctx *(struct fc_ctx *, uint32_t *window, uint32_t desc) */
};

struct fc_ctx {
    uint32_t abi_version;
    uint32_t region_count;
    uint64_t regions;    /* const struct fc_region * */
    uint64_t data_bases; /* const uint64_t * */
    uint64_t routines;   /* const struct fc_routines * */
    uint64_t stack_top;
    uint64_t r1;
    uint64_t r2;
    uint64_t budget_left;
    uint64_t r0;
    uint32_t exit_pc;
    uint32_t fault_size;
    uint64_t fault_addr;
    uint32_t fault_write;
    uint32_t helper_id;
    uint64_t helper_args[5];
    uint32_t helper_code;
    uint32_t reserved;
    uint64_t host;
};

_Static_assert(offsetof(struct fc_ctx, regions) == 8, "ABI layout");
_Static_assert(offsetof(struct fc_ctx, budget_left) == 56, "ABI layout");
_Static_assert(offsetof(struct fc_ctx, exit_pc) == 72, "ABI layout");
_Static_assert(offsetof(struct fc_ctx, helper_args) == 96, "ABI layout");
_Static_assert(offsetof(struct fc_ctx, host) == 144, "ABI layout");
_Static_assert(sizeof(struct fc_ctx) == 152, "ABI layout");
_Static_assert(sizeof(struct fc_region) == 24, "ABI layout");
_Static_assert(offsetof(struct fc_routines, atomic64) == 48, "ABI layout");
_Static_assert(offsetof(struct fc_routines, fill_window) == 56, "ABI layout");

/* Turns a uint64_t field holding a code address into a callable pointer. */
#define FC_FN(type, field) ((type)(uintptr_t)(field))

static inline const struct fc_routines *fc_routines(const struct fc_ctx *ctx)
{
    return (const struct fc_routines *)(uintptr_t)ctx->routines;
}

#endif
