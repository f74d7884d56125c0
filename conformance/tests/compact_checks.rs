//! Checked accesses in code that runs once call the shared slow check
//! directly (Thumb-2 `compact` checks); the same accesses inside a loop
//! keep the inline window check. Both forms must agree with the
//! interpreter, including an address whose low word carries into the
//! upper half (`base + off` past 2^32) or borrows from it (below 0): the
//! fault then reports the full 64-bit address.
#![cfg(feature = "emu")]

use femtoc_conformance::engine::{run_on_every_engine, Case};
use femtoc_conformance::runner::verify_for_harness;
use femtoc_runtime::error::{RunError, RunErrorKind};
use femtoc_runtime::layout::CONTEXT_BASE;

/// `body` after `mov %r9, 0`, either as it is or as a loop whose back
/// edge (never taken: r9 stays 0) makes every access in it "repeated".
fn program(body: &str, looped: bool) -> String {
    if !looped {
        return format!("mov %r9, 0\n{body}exit\n");
    }
    let slots =
        femtoc_isa::assemble(&format!("{body}exit\n")).expect("body assembles").code.len() - 1;
    format!("mov %r9, 0\n{body}jne %r9, 0, -{}\nexit\n", slots + 1)
}

/// Runs `src` with a 16-byte context whose first doubleword is each of
/// `bases` on every engine (which must agree); the interpreter's results.
fn results(name: &str, src: &str, bases: &[u64]) -> Vec<Result<u64, RunError>> {
    let program = femtoc_isa::assemble(src).unwrap_or_else(|e| panic!("{name}: {e}\n{src}"));
    let verified = verify_for_harness(&program).unwrap_or_else(|e| panic!("{name}: {e}"));
    bases
        .iter()
        .map(|&base| {
            let mut context = [0x5au8; 16];
            context[..8].copy_from_slice(&base.to_le_bytes());
            let case = Case { program: &verified, context: Some(&context), budget: Some(1000) };
            run_on_every_engine(&case)
                .unwrap_or_else(|e| panic!("{name}, base {base:#x}: {e}\n{src}"))
                .result
        })
        .collect()
}

/// The address of a memory fault.
fn fault_addr(r: &Result<u64, RunError>) -> Option<u64> {
    match r {
        Err(RunError { kind: RunErrorKind::MemoryFault { addr, .. }, .. }) => Some(*addr),
        _ => None,
    }
}

#[test]
fn addresses_that_leave_the_low_word_fault_with_the_full_address() {
    let ctx = CONTEXT_BASE;
    // In bounds for some offsets; carrying past 2^32 (0xffff_fff8 + 16,
    // 0xffff_ffff + 1); borrowing below 0 (4 - 8). A 32-bit load makes
    // the base a low word; a 64-bit one a pair, whose upper half may be
    // anything (and whose sum may wrap 2^64).
    let narrow = [ctx, ctx + 8, ctx - 8, 0xffff_fff8, 0xffff_ffff, 4, 0];
    let pairs = [ctx, ctx + 8, ctx - 8, 1 << 32 | ctx, u64::MAX - 7, u64::MAX, 0xffff_fff8, 4];
    for (base_load, bases) in [("ldxw", &narrow[..]), ("ldxdw", &pairs[..])] {
        for (suffix, size) in [("b", 1), ("h", 2), ("w", 4), ("dw", 8)] {
            for off in [1i32, 8, 16, -8] {
                let shown = if off < 0 { format!("{off}") } else { format!("+{off}") };
                let first = format!("{base_load} %r2, [%r1+0]\n");
                let load = format!("{first}ldx{suffix} %r0, [%r2{shown}]\n");
                let store = format!("{first}stx{suffix} [%r2{shown}], %r9\nmov %r0, 1\n");
                for (kind, body) in [("load", load), ("store", store)] {
                    for looped in [false, true] {
                        let name = format!("{base_load} base, {kind} {size} at {shown}, {looped}");
                        let got = results(&name, &program(&body, looped), bases);
                        let faults = got.iter().filter(|r| r.is_err()).count();
                        assert!(faults > 0 && faults < bases.len(), "{name}: {got:?}");
                        // Some address left the low 4 GiB (every offset has
                        // a base that carries or borrows).
                        let wide =
                            got.iter().filter_map(fault_addr).any(|a| a > u64::from(u32::MAX));
                        assert!(wide, "{name}: {got:?}");
                    }
                }
            }
        }
    }
}

#[test]
fn several_run_once_accesses_report_the_first_that_faults() {
    // Loads and a store through one base (the store ends any group of
    // loads): as the base moves up through the 16-byte context, a
    // different access is the first past its end, and faults with its
    // own pc.
    let body = "ldxw %r2, [%r1+0]\nldxb %r3, [%r2+4]\nstxh [%r2+6], %r3\nldxw %r4, [%r2+8]\n\
                ldxdw %r5, [%r2+12]\nmov %r0, %r3\nadd %r0, %r4\nadd %r0, %r5\n";
    let bases: Vec<u64> = (0..16).map(|k| CONTEXT_BASE + k).collect();
    for looped in [false, true] {
        let got = results("first fault", &program(body, looped), &bases);
        let pcs: std::collections::BTreeSet<u32> =
            got.iter().filter_map(|r| r.as_ref().err()).map(|e| e.pc).collect();
        // Every run faults (the dword at +12 always crosses the end).
        assert!(got.iter().all(|r| r.is_err()), "looped {looped}: {got:?}");
        assert_eq!(pcs.len(), 4, "looped {looped}: {pcs:?}");
    }
}
