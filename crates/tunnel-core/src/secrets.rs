//! (secrets: being written)
