//! End-to-end tests of the `sber-tunnel` binary, driven like a user would: several "devices"
//! (each its own configuration folder and synced folder) against one Confluence emulator
//! listening on a real loopback socket.

// Fixtures (emulator servers, devices running this binary, trees, seeds) come from the
// workspace's dev-only `test-support` crate, shared with tests/reliability and tunnel-core.

mod basics;
mod citizen;
mod citizen_usage;
mod conflicts;
mod demo;
mod errors;
mod history;
mod identity;
mod ignore;
mod language;
mod names;
mod privacy;
mod progress;
mod proxy;
mod scale;
mod selective;
mod service;
mod tls;
mod trash;
mod type_change;
