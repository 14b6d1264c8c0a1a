//! (scan: being written)
