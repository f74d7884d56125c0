#!/usr/bin/env bash
# femtoc's main job on a bundled example: verify a clang-built eBPF
# container, precompile it for a Cortex-M4 (Thumb-2) and for this x86-64 host
# into one blob (with the bytecode as a fallback), inspect the blob, show the
# start of its Thumb-2 code under the eBPF it came from, and run it through
# the device install path: on the emulated Cortex-M4, natively, and
# interpreted, over the Fletcher-32 benchmark input; last, the same program
# built for size (--opt size) on the Cortex-M4.
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
"$femtoc" compile examples/obj/fletcher32.v3.o --target thumbv7em --target x86_64 \
  --embed-bytecode -o "$out/fletcher32.fcb"
"$femtoc" inspect "$out/fletcher32.fcb"
"$femtoc" disasm "$out/fletcher32.fcb" --engine thumbv7em > "$out/fletcher32.thumbv7em.txt"
sed -n '1,40p' "$out/fletcher32.thumbv7em.txt"
"$femtoc" run "$out/fletcher32.fcb" --engine thumbv7em --mem-file "$input" --stats
"$femtoc" run "$out/fletcher32.fcb" --engine x86_64 --mem-file "$input" --stats
"$femtoc" run "$out/fletcher32.fcb" --engine interp --mem-file "$input" --stats
"$femtoc" compile examples/obj/fletcher32.v3.o --target thumbv7em --opt size \
  -o "$out/fletcher32.size.fcb"
"$femtoc" run "$out/fletcher32.size.fcb" --engine thumbv7em --mem-file "$input" --stats
