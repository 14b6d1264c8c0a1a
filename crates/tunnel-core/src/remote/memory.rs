//! In-memory RemoteStore (being written).
