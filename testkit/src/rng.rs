//! A tiny seeded PRNG (xorshift64*), so fault schedules are reproducible without `rand`.

use std::time::Duration;

/// A seeded xorshift64* generator: fast, reproducible, and not cryptographic.
///
/// The same seed always gives the same sequence. Every seed, including 0, is valid: the seed is
/// first mixed (splitmix64) so that nearby seeds give unrelated sequences.
#[derive(Debug, Clone)]
pub struct XorShift64 {
    state: u64,
}

impl XorShift64 {
    /// A generator whose sequence is determined by `seed`.
    pub fn new(seed: u64) -> Self {
        // splitmix64 of the seed; xorshift's state must never be 0.
        let mut z = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        Self {
            state: if z == 0 { 0x9E37_79B9_7F4A_7C15 } else { z },
        }
    }

    /// The next 64 pseudo-random bits.
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.state;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.state = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A uniform float in `[0, 1)`.
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// A uniform integer in `0..n` (`n` must be non-zero). Slightly biased for huge `n`, which
    /// does not matter for tests.
    pub fn below(&mut self, n: u64) -> u64 {
        assert!(n > 0, "XorShift64::below(0)");
        self.next_u64() % n
    }

    /// An exponentially distributed interval with mean `mean` (the gaps between events of a
    /// Poisson process), clamped to `[mean / 20, mean * 5]` so that a schedule neither stalls
    /// for long nor fires in a near-zero burst.
    pub fn exponential(&mut self, mean: Duration) -> Duration {
        // 1 - u is in (0, 1], so the logarithm is finite.
        let factor = -(1.0 - self.next_f64()).ln();
        mean.mul_f64(factor.clamp(1.0 / 20.0, 5.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_sequence_different_seed_different_sequence() {
        let a: Vec<u64> = {
            let mut r = XorShift64::new(7);
            (0..16).map(|_| r.next_u64()).collect()
        };
        let b: Vec<u64> = {
            let mut r = XorShift64::new(7);
            (0..16).map(|_| r.next_u64()).collect()
        };
        let c: Vec<u64> = {
            let mut r = XorShift64::new(8);
            (0..16).map(|_| r.next_u64()).collect()
        };
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert!(a.iter().all(|&x| x != 0));
    }

    #[test]
    fn seed_zero_is_valid() {
        let mut r = XorShift64::new(0);
        let xs: Vec<u64> = (0..8).map(|_| r.next_u64()).collect();
        assert!(xs.windows(2).all(|w| w[0] != w[1]));
    }

    #[test]
    fn floats_are_uniform_in_unit_interval() {
        let mut r = XorShift64::new(1);
        let n = 100_000;
        let xs: Vec<f64> = (0..n).map(|_| r.next_f64()).collect();
        assert!(xs.iter().all(|&x| (0.0..1.0).contains(&x)));
        let mean = xs.iter().sum::<f64>() / n as f64;
        assert!((mean - 0.5).abs() < 0.01, "mean {mean}");
        let below_tenth = xs.iter().filter(|&&x| x < 0.1).count() as f64 / n as f64;
        assert!(
            (below_tenth - 0.1).abs() < 0.01,
            "P(x < 0.1) = {below_tenth}"
        );
    }

    #[test]
    fn exponential_has_roughly_the_requested_mean_and_stays_clamped() {
        let mean = Duration::from_millis(100);
        let mut r = XorShift64::new(3);
        let n = 20_000;
        let xs: Vec<Duration> = (0..n).map(|_| r.exponential(mean)).collect();
        assert!(xs.iter().all(|&d| d >= mean / 20 && d <= mean * 5));
        let avg = xs.iter().sum::<Duration>() / n;
        // Clamping shifts the mean slightly (up at the low end, down at the high end).
        assert!(
            avg > Duration::from_millis(90) && avg < Duration::from_millis(110),
            "average {avg:?}"
        );
        // Exponential, not uniform: about 63% of gaps are shorter than the mean.
        let short = xs.iter().filter(|&&d| d < mean).count() as f64 / n as f64;
        assert!((short - 0.632).abs() < 0.02, "P(gap < mean) = {short}");
    }

    #[test]
    fn below_stays_in_range() {
        let mut r = XorShift64::new(9);
        let mut seen = [false; 5];
        for _ in 0..1000 {
            let x = r.below(5);
            seen[x as usize] = true;
        }
        assert!(seen.iter().all(|&s| s));
    }
}
