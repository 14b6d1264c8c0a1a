//! (paths: being written)
