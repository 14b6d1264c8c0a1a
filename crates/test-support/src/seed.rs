//! Seeds of randomised tests, a small generator and deterministic test data.

/// The seed of a randomised test: `SBER_TUNNEL_SEED` or a fresh one.
pub fn seed() -> u64 {
    match std::env::var("SBER_TUNNEL_SEED") {
        Ok(s) => s.parse().expect("SBER_TUNNEL_SEED is a number"),
        Err(_) => std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(1),
    }
}

/// A number from the environment, or `default`.
pub fn env_num(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

/// Prints how to replay the test when it panics: keep one alive for the test's duration.
pub struct SeedGuard(pub &'static str, pub u64);

impl Drop for SeedGuard {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("{} failed; replay with SBER_TUNNEL_SEED={}", self.0, self.1);
        }
    }
}

/// A small seeded generator (splitmix64), for suites without a `rand` dependency.
pub struct Rng(u64);

impl Rng {
    /// A generator for `seed`.
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }
    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in `range` (end exclusive, non-empty).
    pub fn range(&mut self, range: std::ops::Range<u64>) -> u64 {
        range.start + self.next_u64() % (range.end - range.start)
    }
    /// Uniform index below `n` (> 0).
    pub fn index(&mut self, n: usize) -> usize {
        self.range(0..n as u64) as usize
    }
    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64 <= p
    }
}

/// Deterministic pseudo-random bytes (xorshift), the same for the same `seed`.
pub fn bytes(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407)
        | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generators_are_deterministic_and_stay_in_range() {
        assert_eq!(bytes(7, 64), bytes(7, 64));
        assert_ne!(bytes(7, 64), bytes(8, 64));
        let (mut a, mut b) = (Rng::new(3), Rng::new(3));
        for _ in 0..1000 {
            let x = a.range(10..20);
            assert_eq!(x, b.range(10..20));
            assert!((10..20).contains(&x));
        }
    }
}
