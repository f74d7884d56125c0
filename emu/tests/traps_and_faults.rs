//! Host traps, the instruction cap and fault reporting.

mod common;

use std::cell::RefCell;
use std::rc::Rc;

use common::{machine, rv, thumb, ARM, CODE, DATA, RV};
use femtoc_emu::{Core, EmuError, Machine, MachineConfig, TrapContext};

fn doubler(ctx: &mut TrapContext<'_>) -> Result<(), femtoc_emu::TrapError> {
    let (a, b) = (ctx.arg(0)?, ctx.arg(1)?);
    ctx.set_ret64(u64::from(a.wrapping_mul(2)) | u64::from(b.wrapping_mul(2)) << 32)?;
    Ok(())
}

#[test]
fn thumb_code_calls_a_host_trap() {
    // f(x, y, trap) = trap(x, y) + 1 in the low word.
    let code = thumb("push {r4, lr}\nmov r4, r2\nblx r4\nadds r0, #1\npop {r4, pc}");
    for core in ARM {
        let mut m = machine(core, &code);
        let (base, _) = m.trap_page();
        let trap = m.add_trap(base + 0x10, doubler).unwrap();
        assert_eq!(trap, base + 0x11, "Thumb function pointers carry bit 0");
        let r = m.call(CODE, &[20, 300, trap]).unwrap();
        assert_eq!(r.ret, 41 | 600 << 32, "{core}");
        assert_eq!(r.trap_calls, 1);
        // push, mov, blx, adds, pop: the trap's own return is not counted.
        assert_eq!(r.insns, 5);
    }
}

#[test]
fn rv32_code_calls_a_host_trap() {
    let code = rv(
        "rv32imc",
        "addi sp, sp, -16\nsw ra, 12(sp)\njalr a2\naddi a0, a0, 1\nlw ra, 12(sp)\naddi sp, sp, 16\nret",
    );
    for core in RV {
        let mut m = machine(core, &code);
        let (base, _) = m.trap_page();
        let trap = m.add_trap(base + 0x20, doubler).unwrap();
        assert_eq!(trap, base + 0x20);
        let r = m.call(CODE, &[20, 300, trap]).unwrap();
        assert_eq!(r.ret, 41 | 600 << 32, "{core}");
        assert_eq!(r.trap_calls, 1);
        assert_eq!(r.insns, 7);
    }
}

#[test]
fn traps_see_stack_arguments_and_memory() {
    let seen = Rc::new(RefCell::new(Vec::new()));
    let log = Rc::clone(&seen);
    for core in [Core::CortexM4, Core::Rv32imc] {
        let mut m = machine(core, &[]);
        let (base, _) = m.trap_page();
        let log = Rc::clone(&log);
        let trap = m
            .add_trap(base + 0x40, move |ctx| {
                let args: Vec<u32> = (0..10).map(|i| ctx.arg(i)).collect::<Result<_, _>>()?;
                let sum: u32 = args.iter().sum();
                ctx.write_u32(u64::from(DATA), sum)?;
                ctx.add_cycles(100);
                log.borrow_mut().push(args);
                ctx.set_ret(7)?;
                Ok(())
            })
            .unwrap();
        let args: Vec<u32> = (1..=10).collect();
        // Calling the trap directly: it returns straight to the caller.
        let r = m.call(trap, &args).unwrap();
        assert_eq!(r.ret as u32, 7);
        assert_eq!((r.insns, r.cycles), (0, 100));
        assert_eq!(m.read_u32(DATA).unwrap(), 55);
    }
    let seen = seen.borrow();
    assert_eq!(seen.len(), 2);
    assert!(seen.iter().all(|a| *a == (1..=10).collect::<Vec<u32>>()));
}

#[test]
fn a_trap_can_stop_the_run() {
    let code = thumb("push {r4, lr}\nblx r2\nadds r0, #1\npop {r4, pc}");
    let mut m = machine(Core::CortexM3, &code);
    let (base, _) = m.trap_page();
    let trap = m.add_trap(base + 0x8, |_| Err("helper refused".into())).unwrap();
    match m.call(CODE, &[1, 2, trap]) {
        Err(EmuError::Trap { addr, source }) => {
            assert_eq!(addr, base + 0x8);
            assert_eq!(source.to_string(), "helper refused");
        }
        other => panic!("expected a trap error, got {other:?}"),
    }
}

#[test]
fn calling_an_empty_trap_slot_fails() {
    let code = rv("rv32imc", "jalr a0\nret");
    let mut m = machine(Core::Rv32imac, &code);
    let (base, _) = m.trap_page();
    match m.call(CODE, &[base + 0x100]) {
        Err(EmuError::UnknownTrap { addr, return_to }) => {
            assert_eq!(addr, base + 0x100);
            assert_eq!(return_to, CODE + 2);
        }
        other => panic!("expected an unknown trap, got {other:?}"),
    }
}

#[test]
fn bad_trap_addresses_are_refused() {
    let mut m = Machine::new(Core::CortexM4).unwrap();
    let (base, size) = m.trap_page();
    for addr in [base, base | 1, base + size, base - 2] {
        let r = m.add_trap(addr, |_| Ok(()));
        assert!(matches!(r, Err(EmuError::TrapAddress { .. })), "{addr:#x}: {r:?}");
    }
    // The Thumb bit is accepted and stripped.
    assert_eq!(m.add_trap(base + 5, |_| Ok(())).unwrap(), base + 5);
    assert!(matches!(m.add_trap(base + 4, |_| Ok(())), Err(EmuError::TrapAddress { .. })));
    // RISC-V code addresses are even.
    let mut m = Machine::new(Core::Rv32imc).unwrap();
    assert!(matches!(m.add_trap(base + 3, |_| Ok(())), Err(EmuError::TrapAddress { .. })));
}

#[test]
fn the_instruction_cap_stops_an_infinite_loop() {
    let arm = thumb("1: b 1b");
    let riscv = rv("rv32imc", "1: j 1b");
    for core in femtoc_emu::Core::ALL {
        let code = if core.is_arm() { &arm } else { &riscv };
        let mut m = machine(core, code);
        m.set_max_insns(1000);
        match m.call(CODE, &[]) {
            Err(EmuError::InstructionLimit { limit, pc }) => {
                assert_eq!((limit, pc), (1000, CODE), "{core}");
            }
            other => panic!("{core}: expected the instruction limit, got {other:?}"),
        }
    }
}

#[test]
fn unmapped_data_accesses_are_memory_faults() {
    const HOLE: u32 = 0x5000_0010;
    let arm_load = thumb("nop\nldr r0, [r0]\nbx lr");
    let arm_store = thumb("nop\nstr r1, [r0]\nbx lr");
    let rv_load = rv("rv32imc", "nop\nlw a0, 0(a0)\nret");
    let rv_store = rv("rv32imc", "nop\nsw a1, 0(a0)\nret");
    for core in Core::ALL {
        let (load, store) =
            if core.is_arm() { (&arm_load, &arm_store) } else { (&rv_load, &rv_store) };
        for (code, write) in [(load, false), (store, true)] {
            match machine(core, code).call(CODE, &[HOLE, 1]) {
                Err(EmuError::MemoryFault { addr, pc, write: w }) => {
                    assert_eq!((addr, pc, w), (u64::from(HOLE), CODE + 2, write), "{core}");
                }
                other => panic!("{core}: expected a memory fault, got {other:?}"),
            }
        }
    }
}

#[test]
fn writes_to_read_only_memory_fault() {
    let code = thumb("str r1, [r0]\nbx lr");
    match machine(Core::CortexM4, &code).call(CODE, &[CODE + 0x100, 1]) {
        Err(EmuError::MemoryFault { addr, write: true, .. }) => {
            assert_eq!(addr, u64::from(CODE + 0x100));
        }
        other => panic!("expected a write fault, got {other:?}"),
    }
}

#[test]
fn jumping_into_unmapped_memory_is_a_fetch_fault() {
    // 0x1000_0000 is unmapped; 0x4000_0000 is execute-never in the M-profile memory map.
    for (core, target) in
        [(Core::CortexM3, 0x1000_0000), (Core::CortexM4, 0x4000_0000), (Core::Rv32imc, 0x4000_0000)]
    {
        let mut m = Machine::new(core).unwrap();
        match m.call(target, &[]) {
            Err(EmuError::FetchFault { addr }) => assert_eq!(addr, u64::from(target), "{core}"),
            other => panic!("{core}: expected a fetch fault, got {other:?}"),
        }
    }
}

#[test]
fn undefined_instructions_are_invalid() {
    let arm = thumb("nop\nudf #0");
    let riscv = rv("rv32imc", ".option norvc\nnop\n.word 0");
    for core in Core::ALL {
        let code = if core.is_arm() { &arm } else { &riscv };
        let pc_expected = if core.is_arm() { CODE + 2 } else { CODE + 4 };
        match machine(core, code).call(CODE, &[]) {
            Err(EmuError::InvalidInstruction { pc }) => assert_eq!(pc, pc_expected, "{core}"),
            other => panic!("{core}: expected an invalid instruction, got {other:?}"),
        }
    }
}

#[test]
fn regions_must_be_page_aligned_and_disjoint() {
    let mut m = Machine::with_config(
        Core::Rv32imac,
        MachineConfig { max_insns: 10, ..MachineConfig::default() },
    )
    .unwrap();
    assert!(matches!(
        m.map(0x1000_0800, 0x1000, femtoc_emu::Perms::RW, &[]),
        Err(EmuError::Map { .. })
    ));
    m.map(0x1000_0000, 0x1000, femtoc_emu::Perms::RW, &[1, 2]).unwrap();
    assert_eq!(m.read_vec(0x1000_0000, 3).unwrap(), vec![1, 2, 0]);
    assert!(matches!(
        m.map(0x1000_0000, 0x1000, femtoc_emu::Perms::RW, &[]),
        Err(EmuError::Map { .. })
    ));
    assert!(matches!(m.read_u32(0x7000_0000), Err(EmuError::HostAccess { .. })));
}

#[test]
fn supervisor_calls_stop_with_an_exception() {
    let arm = thumb("nop\nsvc #0\nbx lr");
    let riscv = rv("rv32imc", "c.nop\necall\nret");
    for core in Core::ALL {
        let code = if core.is_arm() { &arm } else { &riscv };
        match machine(core, code).call(CODE, &[]) {
            Err(EmuError::Exception { pc, .. }) => assert_eq!(pc, CODE + 2, "{core}"),
            other => panic!("{core}: expected an exception, got {other:?}"),
        }
    }
}
