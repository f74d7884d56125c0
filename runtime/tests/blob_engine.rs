//! Engine names, ids and feature bits as the blob header stores them.

use std::collections::HashSet;

use femtoc_runtime::engine::{Engine, Features};

#[test]
fn names_parse_back_to_their_engine() {
    for engine in Engine::ALL {
        assert_eq!(engine.name().parse::<Engine>(), Ok(engine));
        assert_eq!(engine.to_string(), engine.name());
    }
}

#[test]
fn names_are_the_target_triple_architectures() {
    let names: Vec<&str> = Engine::ALL.iter().map(|e| e.name()).collect();
    assert_eq!(
        names,
        [
            "interp",
            "thumbv7m",
            "thumbv7em",
            "riscv32imc",
            "riscv32imac",
            "x86_64",
            "aarch64",
            "riscv64gc"
        ]
    );
}

#[test]
fn unknown_name_error_lists_every_valid_name() {
    let err = "thumbv6m".parse::<Engine>().unwrap_err();
    let message = err.to_string();
    for engine in Engine::ALL {
        assert!(message.contains(engine.name()), "{message} lacks {}", engine.name());
    }
    assert!("".parse::<Engine>().is_err());
    assert!("Thumbv7m".parse::<Engine>().is_err());
}

#[test]
fn ids_are_unique_and_round_trip() {
    let ids: HashSet<u16> = Engine::ALL.iter().map(|e| e.id()).collect();
    assert_eq!(ids.len(), Engine::ALL.len());
    for engine in Engine::ALL {
        assert_eq!(Engine::from_id(engine.id()), Some(engine));
    }
    let unused = (0..=u16::MAX).filter(|id| !ids.contains(id));
    for id in unused {
        assert_eq!(Engine::from_id(id), None);
    }
}

#[test]
fn only_the_interpreter_is_not_native() {
    for engine in Engine::ALL {
        assert_eq!(engine.is_native(), engine != Engine::Interp, "{engine}");
    }
}

#[test]
fn feature_bits_are_distinct_and_all_known() {
    let each = [
        Features::UNALIGNED_ACCESS,
        Features::DSP,
        Features::HW_DIVIDE,
        Features::ATOMIC_EXT,
        Features::COMPRESSED,
    ];
    let mut union = Features::NONE;
    for f in each {
        assert_eq!(f.bits().count_ones(), 1);
        assert!(!union.contains(f), "{f:?} overlaps");
        union |= f;
    }
    assert_eq!(union, Features::ALL);
}

#[test]
fn unknown_feature_bits_are_reported() {
    assert_eq!(Features::from_bits(Features::DSP.bits()), Ok(Features::DSP));
    assert_eq!(Features::from_bits(1 << 5 | 1), Err(1 << 5));
    assert_eq!(Features::from_bits_truncate(u32::MAX), Features::ALL);
}

#[test]
fn contains_is_a_superset_test() {
    let have = Features::DSP | Features::HW_DIVIDE;
    assert!(have.contains(Features::DSP));
    assert!(have.contains(Features::NONE));
    assert!(!have.contains(Features::DSP | Features::COMPRESSED));
    assert!(Features::NONE.is_empty());
}
