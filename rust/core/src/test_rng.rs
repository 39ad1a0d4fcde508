//! A small deterministic generator (xorshift64) for the randomised unit tests: the same cases on
//! every run, without a dependency.

pub struct Rng(u64);

impl Rng {
    /// `seed` must not be 0.
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// A value in `0..m` (`m > 0`).
    pub fn below(&mut self, m: u64) -> u64 {
        self.next_u64() % m
    }
}
