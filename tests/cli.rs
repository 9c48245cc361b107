//! The one integration-test binary: runs the real `ferry` binary against loopback
//! servers (ferry's own simulators, the design document's Python simulators) and
//! checks what arrived at the destination, the journal and the exit code.

mod cases;
mod util;
