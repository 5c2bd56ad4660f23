//! Test helpers for talkjs-rs. Dev-only: this crate is never published and nothing in the
//! runtime depends on it.
//!
//! - [`FaultProxy`]: a loopback TCP proxy that forwards every connection to an upstream server
//!   (an emulator) byte for byte, and injects network faults on demand: cut every live connection,
//!   refuse new ones, hold traffic, cut a connection in the middle of what the server sends, or
//!   cut at seeded pseudo-random times ("chaos").
//! - [`replay`]: a server that plays back a transcript recorded from the official client, so a
//!   test can compare the frames our runtime sends with the official client's.
//! - [`XorShift64`]: the small seeded PRNG behind the chaos schedule, for tests that want
//!   reproducible randomness without a dependency.
//!
//! ```no_run
//! # async fn demo(emulator_addr: std::net::SocketAddr) -> std::io::Result<()> {
//! use std::time::Duration;
//! use talkjs_testkit::FaultProxy;
//!
//! let proxy = FaultProxy::start(emulator_addr)?;
//! let host = proxy.host(); // "127.0.0.1:PORT": give this to the runtime as its host
//! // ... connect a session through `host`, then:
//! proxy.cut_all(); // every live connection is reset; the client must reconnect
//! proxy.set_refusing(true); // an outage: new connections are reset as soon as they are accepted
//! proxy.set_refusing(false);
//! proxy.chaos(42, Duration::from_millis(300)); // cuts at seeded random times
//! proxy.stop_chaos();
//! # Ok(()) }
//! ```

mod proxy;
pub mod replay;
mod rng;

pub use proxy::FaultProxy;
pub use rng::XorShift64;
