#!/usr/bin/env bash
# femtoc's main job on a bundled example: verify a clang-built eBPF
# container, precompile it into a blob, inspect the blob, and run it through
# the device install path over the Fletcher-32 benchmark input.
# Usage: scripts/demo.sh
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh >/dev/null
cargo build --locked --release -q -p femtoc
femtoc=target/release/femtoc
out=target/demo
mkdir -p "$out"

input="${FEMTOC_SHARED:-../shared}/bench/fletcher32-360.txt"
[ -f "$input" ] || input=benches/data/input-360.txt

set -x
"$femtoc" verify examples/obj/fletcher32.v3.o
"$femtoc" compile examples/obj/fletcher32.v3.o -o "$out/fletcher32.fcb"
"$femtoc" inspect "$out/fletcher32.fcb" || true
"$femtoc" run "$out/fletcher32.fcb" --mem-file "$input" --stats
