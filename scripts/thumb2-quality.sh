#!/usr/bin/env bash
# Thumb-2 code quality (a benchmark, not a test): code bytes against
# bytecode bytes for every example program, and instructions executed on
# emulated Cortex-M4 for Fletcher-32 over the reference input.
# Usage: scripts/thumb2-quality.sh [thumbv7em|thumbv7m]
set -euo pipefail
cd "$(dirname "$0")/.."
engine="${1:-thumbv7em}"
shared="${FEMTOC_SHARED:-$(cd .. && pwd)/shared}"
cargo build -q --locked -p femtoc
femtoc=target/debug/femtoc
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT

printf '%-22s %6s %9s %9s %7s\n' program slots bytecode native ratio
for obj in examples/obj/*.v3.o; do
  name="$(basename "$obj" .o)"
  line="$("$femtoc" compile "$obj" --target "$engine" -o "$out/$name.fcb" --embed-bytecode)"
  # "...: N bytes (S bytecode slots; ENGINE C bytes)"
  slots="$(sed -E 's/.*\(([0-9]+) bytecode slots.*/\1/' <<<"$line")"
  code="$(sed -E "s/.*$engine ([0-9]+) bytes.*/\1/" <<<"$line")"
  awk -v n="$name" -v s="$slots" -v c="$code" \
    'BEGIN { printf "%-22s %6d %9d %9d %7.2f\n", n, s, 8 * s, c, c / (8 * s) }'
done

echo
echo "Fletcher-32 over bench/fletcher32-360.txt (clang -O2 -mcpu=v3):"
"$femtoc" run examples/obj/fletcher32.v3.o --engine "$engine" \
  --mem-file "$shared/bench/fletcher32-360.txt" --stats
