//! Percentiles by the nearest-rank method: the q-th percentile of n sorted values is the value at
//! rank ⌈q·n⌉ (1-based). With n < 100 the nearest-rank p99 is the maximum, so p99 is reported
//! only from 100 values on.

use serde::{Deserialize, Serialize};

/// Fewest values for which a p99 is reported (below it, p99 would just be the maximum).
pub const P99_MIN_VALUES: usize = 100;

/// The summary of one series of values.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// How many values.
    pub n: usize,
    /// Median (nearest rank).
    pub p50: f64,
    /// 90th percentile (nearest rank).
    pub p90: f64,
    /// 99th percentile (nearest rank), only with at least [`P99_MIN_VALUES`] values.
    pub p99: Option<f64>,
    /// Largest value.
    pub max: f64,
    /// Smallest value.
    pub min: f64,
    /// Arithmetic mean.
    pub mean: f64,
}

/// The value at nearest rank ⌈q·n⌉ of `sorted` (ascending, not empty); `q` in (0, 1].
pub fn nearest_rank(sorted: &[f64], q: f64) -> f64 {
    debug_assert!(!sorted.is_empty());
    debug_assert!(q > 0.0 && q <= 1.0);
    debug_assert!(sorted.windows(2).all(|w| w[0] <= w[1]));
    let n = sorted.len();
    let rank = ((q * n as f64).ceil() as usize).clamp(1, n);
    sorted[rank - 1]
}

/// Summarises `values` (NaNs are ignored); `None` when there are none.
pub fn summarize(values: &[f64]) -> Option<Summary> {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| !x.is_nan()).collect();
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    Some(Summary {
        n,
        p50: nearest_rank(&v, 0.50),
        p90: nearest_rank(&v, 0.90),
        p99: (n >= P99_MIN_VALUES).then(|| nearest_rank(&v, 0.99)),
        max: v[n - 1],
        min: v[0],
        mean: v.iter().sum::<f64>() / n as f64,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let ten: Vec<f64> = (1..=10).map(f64::from).collect();
        let s = summarize(&ten).expect("values");
        assert_eq!((s.n, s.p50, s.p90, s.max, s.min), (10, 5.0, 9.0, 10.0, 1.0));
        assert_eq!(s.mean, 5.5);
        assert_eq!(s.p99, None, "ten runs give no p99");
        let hundred: Vec<f64> = (1..=100).rev().map(f64::from).collect();
        let s = summarize(&hundred).expect("values");
        assert_eq!((s.p50, s.p90, s.p99), (50.0, 90.0, Some(99.0)));
        let one = summarize(&[7.0]).expect("one value");
        assert_eq!((one.p50, one.p90, one.max), (7.0, 7.0, 7.0));
        assert_eq!(nearest_rank(&[1.0, 2.0, 3.0], 0.5), 2.0);
        assert_eq!(nearest_rank(&[1.0, 2.0, 3.0, 4.0], 0.5), 2.0);
        assert_eq!(nearest_rank(&[1.0, 2.0, 3.0, 4.0], 0.9), 4.0);
    }

    #[test]
    fn nothing_to_summarise() {
        assert_eq!(summarize(&[]), None);
        assert_eq!(summarize(&[f64::NAN]), None);
    }
}
