#!/usr/bin/env bash
# femtoc's test command: installs what the tests need, then runs every check
# CI runs. Usage: scripts/test.sh
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh

export FEMTOC_SHARED="${FEMTOC_SHARED:-$(cd .. && pwd)/shared}"
if [ ! -d "$FEMTOC_SHARED/conformance" ]; then
  echo "test: the conformance vectors are missing at $FEMTOC_SHARED/conformance" >&2
  echo "test: set FEMTOC_SHARED to the folder that holds conformance/ and bench/" >&2
  exit 1
fi

echo "== format"
cargo fmt --all -- --check
cargo fmt --manifest-path boards/footprint/Cargo.toml -- --check

echo "== clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings
# The CLI without the GPL-2.0 emulator (feature `emu`) must build on its own.
cargo clippy -p femtoc -p femtoc-conformance --all-targets --locked --no-default-features -- -D warnings

echo "== device builds (no_std runtime and ISA crate)"
for target in thumbv7em-none-eabihf thumbv7m-none-eabi riscv32imc-unknown-none-elf riscv32imac-unknown-none-elf; do
  cargo build --locked -p femtoc-runtime -p femtoc-isa --no-default-features --target "$target"
done

echo "== footprint images (built and reported; no size is asserted)"
scripts/footprint.sh

echo "== tests"
cargo test --workspace --locked

echo "== conformance, every engine"
cargo build --locked -q -p femtoc
for engine in interp thumbv7m thumbv7em thumbv7m-size thumbv7em-size x86_64 aarch64 riscv64gc; do
  target/debug/femtoc conformance --engine "$engine" "$FEMTOC_SHARED/conformance"
done
