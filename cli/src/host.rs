//! The host the `femtoc` command offers programs: the Femto-Containers
//! standard helpers (trace output collected and printed after r0, a
//! millisecond clock since the command started, a shared key-value store)
//! and the conformance suite's helper 5 ("unwind"). No sensors are
//! attached, so the SAUL helpers (0x30..0x32) are not provided.

use std::cell::RefCell;
use std::time::Instant;

use femtoc_runtime::helpers::fc::{Clock, FcEnv, FcHelpers, KvStore};
use femtoc_runtime::helpers::testing::{ConformanceHelpers, UNWIND};
use femtoc_runtime::{HelperResult, Helpers, MemoryAccess};

/// Milliseconds since the command started.
pub struct HostClock(Instant);

impl Clock for HostClock {
    fn now_ms(&self) -> u64 {
        self.0.elapsed().as_millis() as u64
    }
}

/// The services the helpers borrow; lives as long as the run.
pub struct HostServices {
    /// What helper 0x01 printed.
    pub trace: RefCell<String>,
    global: RefCell<KvStore>,
    clock: HostClock,
}

impl HostServices {
    /// Fresh services: empty trace and store, clock at zero.
    pub fn new() -> Self {
        HostServices {
            trace: RefCell::new(String::new()),
            global: RefCell::new(KvStore::new()),
            clock: HostClock(Instant::now()),
        }
    }

    /// The helper set over these services.
    pub fn helpers(&self) -> HostHelpers<'_> {
        let env = FcEnv {
            global: Some(&self.global),
            clock: Some(&self.clock),
            sensors: None,
            trace: Some(&self.trace),
            ..FcEnv::default()
        };
        // The table holds 16 entries and the standard set registers 13.
        let table = env.into_table().unwrap_or_else(|_| unreachable!("16 slots hold 13 helpers"));
        HostHelpers { table }
    }
}

/// The command's helper set.
pub struct HostHelpers<'h> {
    table: FcHelpers<'h>,
}

impl Helpers for HostHelpers<'_> {
    fn call(&mut self, id: u32, args: [u64; 5], mem: &mut MemoryAccess<'_, '_>) -> HelperResult {
        if id == UNWIND {
            ConformanceHelpers.call(id, args, mem)
        } else {
            self.table.call(id, args, mem)
        }
    }

    fn provides(&self, id: u32) -> bool {
        id == UNWIND || self.table.provides(id)
    }
}

/// Helper ids the command's runs provide.
pub fn helper_ids() -> Vec<u32> {
    let services = HostServices::new();
    let helpers = services.helpers();
    (0..=0xff).filter(|&id| helpers.provides(id)).collect()
}
