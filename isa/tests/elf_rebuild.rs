//! The committed objects are what examples/c/Makefile builds from the
//! committed C (needs clang-19, which the project's test setup installs):
//! same code sections, and the same loaded program.

mod elf_common;

use std::process::Command;

use elf_common::{expected_objects, obj_dir, Obj};
use femtoc_isa::{load_elf, EntrySelector};

#[test]
fn make_rebuilds_the_committed_code() {
    let out = std::env::temp_dir().join(format!("femtoc-elf-rebuild-{}", std::process::id()));
    std::fs::create_dir_all(&out).unwrap();
    let src = obj_dir().join("../c");
    let run = Command::new("make")
        .arg("-C")
        .arg(&src)
        .arg(format!("OBJ={}", out.display()))
        .arg("all")
        .output()
        .expect("make runs");
    assert!(
        run.status.success(),
        "make failed ({}):\n{}",
        run.status,
        String::from_utf8_lossy(&run.stderr)
    );
    for name in expected_objects() {
        let committed = Obj::load(&name);
        let rebuilt = Obj { bytes: std::fs::read(out.join(&name)).unwrap() };
        assert_eq!(
            committed.code_sections(),
            rebuilt.code_sections(),
            "{name}: code sections differ"
        );
        assert_eq!(
            load_elf(&committed.bytes, EntrySelector::Default),
            load_elf(&rebuilt.bytes, EntrySelector::Default),
            "{name}: loaded programs differ"
        );
    }
    std::fs::remove_dir_all(&out).unwrap();
}
