//! (journal: being written)
