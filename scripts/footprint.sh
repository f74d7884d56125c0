#!/usr/bin/env bash
# Measures femtoc's device footprint: builds the images of boards/footprint
# (opt-level "s", LTO, one codegen unit, panic=abort) for Cortex-M4 and
# RV32IMC and prints Markdown tables of each variant's flash and static RAM
# minus the `baseline` skeleton, and the target sizes of the per-run and
# per-container structures.
#
# Usage: scripts/footprint.sh [--top N]
#   --top N   also list each variant's N largest symbols (what dominates)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

top=0
while [ $# -gt 0 ]; do
  case "$1" in
    --top) top="${2:?--top needs a count}"; shift 2 ;;
    *) echo "footprint: unknown argument $1 (usage: scripts/footprint.sh [--top N])" >&2; exit 2 ;;
  esac
done

targets=(thumbv7em-none-eabihf riscv32imc-unknown-none-elf)
# `baseline` first: every other row is measured against it.
variants=(baseline interp verifier blob signature device)
target_dir="$root/target/footprint"
manifest="$root/boards/footprint/Cargo.toml"
# The per-container goal's eBPF stack (DESIGN "Footprint").
ebpf_stack=512

# The first tool of a list that exists.
pick() {
  for t in "$@"; do
    if command -v "$t" >/dev/null 2>&1; then
      echo "$t"
      return
    fi
  done
  echo "footprint: none of $* is installed (scripts/setup.sh installs them)" >&2
  exit 1
}

binutils_prefix() {
  case "$1" in
    thumb*) echo arm-none-eabi ;;
    riscv32*) echo riscv64-unknown-elf ;;
  esac
}

for t in "${targets[@]}"; do
  cargo build --locked --release -q --manifest-path "$manifest" --target "$t" \
    --target-dir "$target_dir" --features ed25519 --bins
done

# Berkeley `size`: text = code + read-only data, data = initialised RAM
# (its image is in flash too), bss = zeroed RAM.
# Prints "flash ram" for one image.
measure() {
  local size_tool=$1 elf=$2
  "$size_tool" -B "$elf" | awk 'NR == 2 { print $1 + $2, $2 + $3 }'
}

# Flash of the compiler's runtime library in an image: memcpy/memset and
# 64-bit division, which a C firmware gets from libc/libgcc anyway.
builtins() {
  local nm_tool=$1 elf=$2
  "$nm_tool" -S -C "$elf" |
    awk 'NF >= 4 && $4 ~ /^(compiler_builtins::|__aeabi_|__u?(div|mod)(mod)?di[34]$|mem(cpy|set|move|cmp)$)/ { print $2 }' |
    while read -r hex; do echo $((16#$hex)); done |
    awk '{ s += $1 } END { print s + 0 }'
}

echo "### Flash and static RAM minus the baseline skeleton (bytes)"
echo
echo "| variant | target | flash (text + rodata + data) | of which compiler builtins | static RAM (data + bss) |"
echo "|---|---|---:|---:|---:|"
for t in "${targets[@]}"; do
  p=$(binutils_prefix "$t")
  size_tool=$(pick "$p-size" llvm-size-19 llvm-size)
  nm_tool=$(pick "$p-nm" llvm-nm-19 llvm-nm)
  dir="$target_dir/$t/release"
  read -r base_flash base_ram < <(measure "$size_tool" "$dir/baseline")
  for v in "${variants[@]}"; do
    [ "$v" = baseline ] && continue
    read -r flash ram < <(measure "$size_tool" "$dir/$v")
    lib=$(($(builtins "$nm_tool" "$dir/$v") - $(builtins "$nm_tool" "$dir/baseline")))
    echo "| $v | $t | $((flash - base_flash)) | $lib | $((ram - base_ram)) |"
  done
done
echo
echo "Baseline skeletons (not subtracted from themselves):"
for t in "${targets[@]}"; do
  p=$(binutils_prefix "$t")
  size_tool=$(pick "$p-size" llvm-size-19 llvm-size)
  read -r base_flash base_ram < <(measure "$size_tool" "$target_dir/$t/release/baseline")
  echo "- $t: $base_flash bytes flash, $base_ram bytes RAM"
done

# The `sizes` image holds one zeroed static per structure, sized exactly
# like it on the target.
echo
echo "### RAM of the runtime's structures on the targets (bytes)"
echo
declare -A sz
for t in "${targets[@]}"; do
  p=$(binutils_prefix "$t")
  nm_tool=$(pick "$p-nm" llvm-nm-19 llvm-nm)
  while read -r _ size _ name; do
    sz["$t/${name#FOOTPRINT_SIZE_}"]=$((16#$size))
  done < <("$nm_tool" -S "$target_dir/$t/release/sizes" | grep ' FOOTPRINT_SIZE_')
done
row() {
  local label=$1 key=$2
  local line="| $label |"
  for t in "${targets[@]}"; do
    line+=" ${sz[$t/$key]:?footprint: the sizes image lacks $key} |"
  done
  echo "$line"
}
header="| structure |"
rule="|---|"
for t in "${targets[@]}"; do
  header+=" $t |"
  rule+="---:|"
done
echo "$header"
echo "$rule"
echo "| **per container** (lives as long as the container) | | |"
line="| eBPF stack (DESIGN's default) |"
for t in "${targets[@]}"; do line+=" $ebpf_stack |"; done
echo "$line"
row "\`VerifiedRef\` (code, functions, stack usage, context length)" VERIFIED_REF
row "\`FunctionInfo\`, one per function" FUNCTION_INFO
line="| total with one function |"
for t in "${targets[@]}"; do
  line+=" $((ebpf_stack + sz[$t/VERIFIED_REF] + sz[$t/FUNCTION_INFO])) |"
done
echo "$line"
echo "| **per run** (native stack while a run is active, shared by containers that run in turn) | | |"
row "\`Regions\` table" REGIONS
row "one \`MemRegion\`" MEM_REGION
row "interpreter registers + call frames (\`RUN_STATE_BYTES\`)" RUN_STATE
line="| total per run |"
for t in "${targets[@]}"; do
  line+=" $((sz[$t/REGIONS] + sz[$t/RUN_STATE])) |"
done
echo "$line"
echo "| **install** (once per install, then free) | | |"
row "\`Blob\` view" BLOB
row "verifier scratch per bytecode slot" SLOT_SCRATCH
row "\`HelperTable\` entry" HELPER_ENTRY

if [ "$top" -gt 0 ]; then
  for t in "${targets[@]}"; do
    p=$(binutils_prefix "$t")
    nm_tool=$(pick "$p-nm" llvm-nm-19 llvm-nm)
    for v in "${variants[@]}"; do
      [ "$v" = baseline ] && continue
      echo
      echo "#### $v on $t: $top largest symbols (bytes)"
      echo
      echo '```'
      "$nm_tool" -S -C --size-sort "$target_dir/$t/release/$v" | tail -n "$top" |
        while read -r _ size kind name; do printf '%6d %s %s\n' "$((16#$size))" "$kind" "$name"; done |
        sort -rn
      echo '```'
    done
  done
fi
