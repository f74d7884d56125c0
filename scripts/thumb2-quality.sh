#!/usr/bin/env bash
# Thumb-2 code quality (a benchmark, not a test): code bytes against
# bytecode bytes for every example program, and instructions executed on
# emulated Cortex-M4 for Fletcher-32 over the reference input.
# Usage: scripts/thumb2-quality.sh [thumbv7em|thumbv7m] [speed|size]
set -euo pipefail
cd "$(dirname "$0")/.."
engine="${1:-thumbv7em}"
opt="${2:-speed}"
shared="${FEMTOC_SHARED:-$(cd .. && pwd)/shared}"
cargo build -q --locked -p femtoc
femtoc=target/debug/femtoc
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT

# native = all code; fixed = the entry and the shared tails (set-up,
# windows, exits, slow-check trampoline), which every program carries once;
# per insn = the rest (code under an eBPF instruction, in line or out of
# line), over the bytecode.
printf '%-22s %6s %9s %9s %7s %6s %9s\n' program slots bytecode native ratio fixed 'per insn'
for obj in examples/obj/*.v3.o; do
  name="$(basename "$obj" .o)"
  line="$("$femtoc" compile "$obj" --target "$engine" --opt "$opt" -o "$out/$name.fcb" --embed-bytecode)"
  # "...: N bytes (S bytecode slots; ENGINE C bytes)"
  slots="$(sed -E 's/.*\(([0-9]+) bytecode slots.*/\1/' <<<"$line")"
  code="$(sed -E "s/.*$engine ([0-9]+) bytes.*/\1/" <<<"$line")"
  # Bytes listed from "<entry>:" (first) up to pc 0, and after "; shared ..." (last).
  fixed="$("$femtoc" disasm "$out/$name.fcb" | awk '
    /^; shared/ || /^<entry>:/ { tail = 1 }
    /^; pc / { tail = 0 }
    tail && /^ +[0-9a-f]+: / { n = split($0, f, ":"); m = split(f[2], b, "  "); c += split(b[1], x, " ") }
    END { print c + 0 }')"
  awk -v n="$name" -v s="$slots" -v c="$code" -v f="$fixed" \
    'BEGIN { printf "%-22s %6d %9d %9d %7.2f %6d %9.2f\n", n, s, 8 * s, c, c / (8 * s), f, (c - f) / (8 * s) }'
done

echo
echo "Conformance programs (every vector in $shared/conformance/tests that compiles):"
total_bc=0; total_code=0; n=0; small=0
for vec in "$shared"/conformance/tests/*.data; do
  name="$(basename "$vec" .data)"
  awk '/^-- asm/ { a = 1; next } /^-- / { a = 0 } a' "$vec" > "$out/$name.s"
  "$femtoc" asm "$out/$name.s" -o "$out/$name.bin" 2>/dev/null || continue
  line="$("$femtoc" compile "$out/$name.bin" --target "$engine" --opt "$opt" -o "$out/$name.fcb" --embed-bytecode 2>/dev/null)" || continue
  slots="$(sed -E 's/.*\(([0-9]+) bytecode slots.*/\1/' <<<"$line")"
  code="$(sed -E "s/.*$engine ([0-9]+) bytes.*/\1/" <<<"$line")"
  total_bc=$((total_bc + 8 * slots)); total_code=$((total_code + code)); n=$((n + 1))
  if [ "$code" -le $((8 * slots)) ]; then small=$((small + 1)); fi
done
awk -v n="$n" -v b="$total_bc" -v c="$total_code" -v s="$small" \
  'BEGIN { printf "%d programs: %d bytecode bytes, %d code bytes, ratio %.2f; %d no larger than their bytecode\n", n, b, c, c / b, s }'

echo
echo "Fletcher-32 over bench/fletcher32-360.txt (clang -O2 -mcpu=v3):"
"$femtoc" run examples/obj/fletcher32.v3.o --engine "$engine" --opt "$opt" \
  --mem-file "$shared/bench/fletcher32-360.txt" --stats
