//! The reference engine against every shared vector: all pass, files in
//! negative/ are all rejected, and the only skip is callx with its reason.

use femtoc_conformance::engine::Interpreter;
use femtoc_conformance::runner::{must_be_rejected, run_files, Verdict};
use femtoc_conformance::vector::load_vectors;

#[test]
fn the_interpreter_passes_every_shared_vector() {
    let root = femtoc_conformance::shared_dir().join("conformance");
    let files = load_vectors(std::slice::from_ref(&root)).unwrap();
    let negatives = files.iter().filter(|f| must_be_rejected(&f.path)).count();
    assert!(files.len() >= 290, "expected the shared vectors under {}", root.display());
    assert!(negatives >= 40, "expected the negative vectors, found {negatives}");

    let report = run_files(&files, &mut Interpreter).unwrap();
    let failures: Vec<String> = report
        .verdicts
        .iter()
        .filter_map(|(path, v)| match v {
            Verdict::Fail(why) => Some(format!("{}: {why}", path.display())),
            _ => None,
        })
        .collect();
    assert!(failures.is_empty(), "{} failures:\n{}", failures.len(), failures.join("\n"));

    let skipped: Vec<_> = report
        .verdicts
        .iter()
        .filter(|(_, v)| matches!(v, Verdict::Skip(_)))
        .map(|(p, _)| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(skipped, ["callx.data"]);
}
