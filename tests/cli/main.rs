//! End-to-end tests of the `sber-tunnel` binary, driven like a user would: several "devices"
//! (each its own configuration folder and synced folder) against one Confluence emulator
//! listening on a real loopback socket.

mod util;

mod basics;
mod demo;
mod errors;
mod identity;
mod names;
mod proxy;
mod scale;
mod service;
mod tls;
mod type_change;
