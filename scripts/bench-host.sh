#!/usr/bin/env bash
# Host benchmarks: runs the criterion benches of femtoc's interpreter and
# native code against rbpf's interpreter and JIT and against the same
# algorithms compiled by rustc (rust-O; benches/benches/interp.rs) in one run,
# then prints a Markdown table of mean times, each engine's time over femtoc's
# interpreter, and femtoc's interpreter's and native code's over rust-O.
# Usage: scripts/bench-host.sh [extra criterion arguments, e.g. a group filter]
# Timing on a shared machine is noisy: quote the ratios, which compare
# engines measured in the same run, rather than absolute times.
set -euo pipefail
cd "$(dirname "$0")/.."

export FEMTOC_SHARED="${FEMTOC_SHARED:-$(cd .. && pwd)/shared}"
target_dir="${CARGO_TARGET_DIR:-$PWD/target}"
criterion_dir="$target_dir/criterion"

# Only this run's results go into the table.
rm -rf "$criterion_dir"
cargo bench --locked -p femtoc-benches --bench interp -- \
  --warm-up-time 1 --measurement-time 3 --noplot "$@"

echo
cargo run --locked --quiet --release -p femtoc-benches --bin bench-table -- "$criterion_dir"
