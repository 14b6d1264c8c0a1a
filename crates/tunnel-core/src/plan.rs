//! (plan: being written)
