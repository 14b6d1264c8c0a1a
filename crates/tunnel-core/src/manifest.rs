//! (manifest: being written)
