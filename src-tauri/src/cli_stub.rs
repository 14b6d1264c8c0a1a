//! Temporary stand-in for the command line while the core lands (lead: removed at integration).

use std::ffi::OsString;
use std::process::ExitCode;

/// Run the command line with the process arguments.
pub fn main(_args: Vec<OsString>) -> ExitCode {
    eprintln!("sber-tunnel: command line being written");
    ExitCode::FAILURE
}
