#!/usr/bin/env bash
# Installs everything femtoc's build and tests need on a fresh Debian machine:
# Debian packages (C toolchains for the examples and stand-ins, binutils for
# the independent disassemblers, libclang/cmake for Unicorn) and the rustup
# targets of rust-toolchain.toml. Safe to run again: it skips what is there.
set -euo pipefail

packages=(
  build-essential cmake pkg-config clang libclang-dev
  clang-19 llvm-19
  gcc-arm-none-eabi binutils-arm-none-eabi libnewlib-arm-none-eabi
  gcc-riscv64-unknown-elf binutils-riscv64-unknown-elf
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ "${#missing[@]}" -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  sudo_cmd=""
  [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# rust-toolchain.toml pins the toolchain; make sure its targets and
# components are present (rustup adds them on demand, this makes it explicit).
cd "$(dirname "$0")/.."
rustup show active-toolchain >/dev/null
rustup target add thumbv7em-none-eabihf thumbv7m-none-eabi \
  riscv32imc-unknown-none-elf riscv32imac-unknown-none-elf >/dev/null
rustup component add rustfmt clippy >/dev/null
echo "setup: done"
