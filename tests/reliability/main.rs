//! Reliability and security suite (issue 6): faults, crashes, many devices, hostile input,
//! local trouble, secrets. Being written.
