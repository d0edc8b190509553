//! Small statistics: regularised incomplete gamma, exact Poisson intervals, medians.

/// Regularised lower incomplete gamma function P(a, x), a > 0, x ≥ 0.
///
/// Series for x < a + 1, continued fraction (modified Lentz) otherwise.
///
/// # References
/// * W. H. Press et al., *Numerical Recipes*, 3rd ed., §6.2.
pub(crate) fn gamma_p(a: f64, x: f64) -> f64 {
    if x <= 0.0 {
        return 0.0;
    }
    let ln_prefix = a * x.ln() - x - ln_gamma(a);
    if x < a + 1.0 {
        let mut term = 1.0 / a;
        let mut sum = term;
        let mut ap = a;
        for _ in 0..1000 {
            ap += 1.0;
            term *= x / ap;
            sum += term;
            if term.abs() < sum.abs() * 1e-15 {
                break;
            }
        }
        (sum * ln_prefix.exp()).clamp(0.0, 1.0)
    } else {
        let tiny = 1e-300;
        let mut b = x + 1.0 - a;
        let mut c = 1.0 / tiny;
        let mut d = 1.0 / b;
        let mut h = d;
        for i in 1..1000 {
            let an = -(i as f64) * (i as f64 - a);
            b += 2.0;
            d = an * d + b;
            if d.abs() < tiny {
                d = tiny;
            }
            c = b + an / c;
            if c.abs() < tiny {
                c = tiny;
            }
            d = 1.0 / d;
            let del = d * c;
            h *= del;
            if (del - 1.0).abs() < 1e-15 {
                break;
            }
        }
        (1.0 - ln_prefix.exp() * h).clamp(0.0, 1.0)
    }
}

/// ln Γ(x) for x > 0 (Lanczos, g = 7, n = 9; |error| < 1e-13 relative).
pub(crate) fn ln_gamma(x: f64) -> f64 {
    const G: f64 = 7.0;
    const C: [f64; 9] = [
        0.999_999_999_999_809_9,
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_1,
        -176.615_029_162_140_6,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_572e-6,
        1.505_632_735_149_311_6e-7,
    ];
    if x < 0.5 {
        let pi = std::f64::consts::PI;
        return (pi / (pi * x).sin()).ln() - ln_gamma(1.0 - x);
    }
    let x = x - 1.0;
    let mut a = C[0];
    let t = x + G + 0.5;
    for (i, c) in C.iter().enumerate().skip(1) {
        a += c / (x + i as f64);
    }
    0.5 * (2.0 * std::f64::consts::PI).ln() + (x + 0.5) * t.ln() - t + a.ln()
}

/// Exact (Garwood) two-sided 95 % interval for the mean of a Poisson count `n`
/// (n may be fractional, as weighted border counts are).
///
/// Lower: the μ with P(X ≥ n | μ) = 2.5 %; upper: the μ with P(X ≤ n | μ) = 2.5 %.
pub(crate) fn poisson_ci95(n: f64) -> [f64; 2] {
    const TAIL: f64 = 0.025;
    let n = n.max(0.0);
    let solve = |f: &dyn Fn(f64) -> f64| -> f64 {
        // f is increasing in μ; find f(μ) = TAIL... by bisection on [0, hi].
        let mut lo = 0.0;
        let mut hi = n * 2.0 + 20.0;
        for _ in 0..200 {
            let mid = 0.5 * (lo + hi);
            if f(mid) < 0.0 {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        0.5 * (lo + hi)
    };
    // P(X ≥ n | μ) = P(n, μ) (regularised lower gamma), increasing in μ.
    let lower = if n <= 0.0 {
        0.0
    } else {
        solve(&|mu| gamma_p(n, mu) - TAIL)
    };
    // P(X ≤ n | μ) = 1 − P(n + 1, μ), decreasing in μ.
    let upper = solve(&|mu| TAIL - (1.0 - gamma_p(n + 1.0, mu)));
    [lower, upper]
}

/// Median of `values` (sorted in place); `None` when empty.
pub(crate) fn median(values: &mut [f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let n = values.len();
    Some(if n % 2 == 1 {
        values[n / 2]
    } else {
        0.5 * (values[n / 2 - 1] + values[n / 2])
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ln_gamma_of_integers_is_log_factorial() {
        assert!((ln_gamma(1.0)).abs() < 1e-12);
        assert!((ln_gamma(5.0) - 24f64.ln()).abs() < 1e-12);
        assert!((ln_gamma(0.5) - std::f64::consts::PI.sqrt().ln()).abs() < 1e-12);
    }

    #[test]
    fn poisson_interval_matches_published_table() {
        // Garwood intervals (e.g. Ulm 1990 tables): n=0 → [0, 3.689]; n=10 → [4.795, 18.39];
        // n=100 → [81.36, 121.63].
        let c0 = poisson_ci95(0.0);
        assert!(c0[0] == 0.0 && (c0[1] - 3.689).abs() < 1e-3, "{c0:?}");
        let c10 = poisson_ci95(10.0);
        assert!(
            (c10[0] - 4.795).abs() < 1e-3 && (c10[1] - 18.390).abs() < 1e-3,
            "{c10:?}"
        );
        let c100 = poisson_ci95(100.0);
        assert!(
            (c100[0] - 81.36).abs() < 0.01 && (c100[1] - 121.63).abs() < 0.01,
            "{c100:?}"
        );
    }
}
