//! load_elf never panics: real objects with bytes changed and cut short.

mod elf_common;

use elf_common::{expected_objects, read_obj};
use femtoc_isa::{load_elf, EntrySelector};
use proptest::prelude::*;

/// Where to aim a mutation: anywhere, or at the tables the loader parses
/// (the file header, and the section headers clang puts at the end).
#[derive(Clone, Copy, Debug)]
enum Aim {
    Anywhere(usize),
    Header(usize),
    Tail(usize),
}

fn mutate(bytes: &mut [u8], aim: Aim, value: u8) {
    let len = bytes.len();
    let at = match aim {
        Aim::Anywhere(i) => i % len,
        Aim::Header(i) => i % 64.min(len),
        // The section table and symbol table live in the last ~1 KiB.
        Aim::Tail(i) => len - 1 - i % 1024.min(len),
    };
    bytes[at] = value;
}

fn aim() -> impl Strategy<Value = Aim> {
    prop_oneof![
        any::<usize>().prop_map(Aim::Anywhere),
        any::<usize>().prop_map(Aim::Header),
        any::<usize>().prop_map(Aim::Tail),
    ]
}

fn value() -> impl Strategy<Value = u8> {
    // Small values and all-ones make offsets, sizes and indices plausible
    // or extreme more often than uniform bytes would.
    prop_oneof![any::<u8>(), 0u8..4, Just(0xff), Just(0x80)]
}

fn selector(pick: u8) -> EntrySelector<'static> {
    match pick % 4 {
        0 | 1 => EntrySelector::Default,
        2 => EntrySelector::Section(".text"),
        _ => EntrySelector::Function("hash"),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 3000, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn mutated_objects_never_panic(
        which in any::<prop::sample::Index>(),
        edits in prop::collection::vec((aim(), value()), 1..8),
        cut in prop::option::weighted(0.3, any::<prop::sample::Index>()),
        pick in any::<u8>(),
    ) {
        let names = expected_objects();
        let mut bytes = read_obj(&names[which.index(names.len())]);
        for (aim, v) in edits {
            mutate(&mut bytes, aim, v);
        }
        if let Some(cut) = cut {
            let at = cut.index(bytes.len() + 1);
            bytes.truncate(at);
        }
        let _ = load_elf(&bytes, selector(pick));
    }

    #[test]
    fn truncated_objects_are_errors(
        which in any::<prop::sample::Index>(),
        cut in any::<prop::sample::Index>(),
    ) {
        let names = expected_objects();
        let bytes = read_obj(&names[which.index(names.len())]);
        // clang puts the section headers last: any cut loses some of them.
        let at = cut.index(bytes.len());
        prop_assert!(load_elf(&bytes[..at], EntrySelector::Default).is_err());
    }
}
