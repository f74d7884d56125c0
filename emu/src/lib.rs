//! Emulator harness for non-host native code.
