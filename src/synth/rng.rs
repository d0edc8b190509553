//! Seeded randomness: independent sub-streams per scene component and a
//! counter-based smooth noise, so results never depend on drawing order or threads.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// Sub-stream tags: one per scene component.
pub(crate) mod tag {
    pub const UNITS: u64 = 1;
    pub const HAIRS: u64 = 2;
    pub const SKIN: u64 = 3;
    pub const FURROWS: u64 = 4;
    pub const VESSELS: u64 = 5;
    pub const FLAKES: u64 = 6;
    pub const PORES: u64 = 7;
    pub const STREAM: u64 = 8;
    pub const LIGHT: u64 = 9;
    pub const NOISE: u64 = 10;
    pub const PAIR: u64 = 11;
    pub const CHANGE: u64 = 12;
    pub const LIGHT_FOLLOWUP: u64 = 13;
    pub const NOISE_FOLLOWUP: u64 = 14;
    pub const GROWTH: u64 = 15;
}

/// SplitMix64 finaliser: a bijective 64-bit mixer.
pub(crate) fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Seed of sub-stream `tag` of `seed`.
pub(crate) fn sub_seed(seed: u64, tag: u64) -> u64 {
    splitmix64(seed ^ splitmix64(tag.wrapping_mul(0xD1B5_4A32_D192_ED03)))
}

/// An independent generator for sub-stream `tag` of `seed`.
pub(crate) fn stream(seed: u64, tag: u64) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(sub_seed(seed, tag))
}

/// Hash of a lattice point to `[0, 1)`.
fn lattice(seed: u64, i: i64, j: i64) -> f64 {
    let h = splitmix64(seed ^ splitmix64((i as u64) ^ splitmix64(j as u64).rotate_left(17)));
    (h >> 11) as f64 / (1u64 << 53) as f64
}

fn fade(t: f64) -> f64 {
    t * t * t * (t * (t * 6.0 - 15.0) + 10.0)
}

/// Smooth value noise in `[-1, 1]` with unit lattice spacing.
pub(crate) fn value_noise(seed: u64, x: f64, y: f64) -> f64 {
    let x0 = x.floor();
    let y0 = y.floor();
    let (i, j) = (x0 as i64, y0 as i64);
    let (fx, fy) = (fade(x - x0), fade(y - y0));
    let a = lattice(seed, i, j);
    let b = lattice(seed, i + 1, j);
    let c = lattice(seed, i, j + 1);
    let d = lattice(seed, i + 1, j + 1);
    let top = a + (b - a) * fx;
    let bottom = c + (d - c) * fx;
    2.0 * (top + (bottom - top) * fy) - 1.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn noise_is_bounded_and_continuous() {
        let mut prev = value_noise(7, 0.0, 0.3);
        for k in 1..2000 {
            let x = k as f64 * 0.01;
            let v = value_noise(7, x, 0.3);
            assert!((-1.0..=1.0).contains(&v));
            assert!((v - prev).abs() < 0.05);
            prev = v;
        }
    }

    #[test]
    fn sub_seeds_differ() {
        assert_ne!(sub_seed(1, tag::UNITS), sub_seed(1, tag::HAIRS));
        assert_ne!(sub_seed(1, tag::UNITS), sub_seed(2, tag::UNITS));
    }
}
