//! Hostile or broken remote data (filled in below).
