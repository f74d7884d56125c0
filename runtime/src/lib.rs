//! femtoc's device runtime.
#![no_std]
