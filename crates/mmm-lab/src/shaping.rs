//! How a degraded link behaves: delay, jitter, reordering and loss of what a host sends, and the
//! `tc netem` arguments that express it.

use std::time::Duration;

use crate::error::{LabError, Result};

/// A degraded link, applied to everything one host sends ([`crate::Lab::shape`]).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Netem {
    /// Base delay of each frame.
    pub delay: Duration,
    /// Each frame's delay is drawn from `delay ± jitter` (so frames overtake each other).
    pub jitter: Duration,
    /// Percentage of frames sent at once instead of delayed (netem's `reorder`); needs a delay.
    pub reorder_pct: f64,
    /// Percentage of frames dropped.
    pub loss_pct: f64,
}

impl Netem {
    /// Only a fixed delay and random loss (what [`crate::Lab::netem`] sets).
    pub fn delay_loss(delay_ms: u32, loss_pct: f64) -> Self {
        Self {
            delay: Duration::from_millis(u64::from(delay_ms)),
            loss_pct,
            ..Self::default()
        }
    }

    /// Fails for percentages outside 0..=100, a jitter larger than the delay, or reordering
    /// without a delay (nothing to overtake).
    pub fn validate(&self) -> Result<()> {
        for (what, pct) in [("loss", self.loss_pct), ("reorder", self.reorder_pct)] {
            if !(0.0..=100.0).contains(&pct) {
                return Err(LabError::Unsupported(format!(
                    "{what} {pct}% is outside 0..=100"
                )));
            }
        }
        if self.jitter > self.delay {
            return Err(LabError::Unsupported(format!(
                "jitter {:?} is larger than the delay {:?}",
                self.jitter, self.delay
            )));
        }
        if self.reorder_pct > 0.0 && self.delay.is_zero() {
            return Err(LabError::Unsupported(
                "reordering needs a delay to reorder against".to_owned(),
            ));
        }
        Ok(())
    }

    /// Whether frames are held at all (delay, jitter or reordering).
    pub fn delays(&self) -> bool {
        !self.delay.is_zero()
    }

    /// The share of frames skipping the queue, in hundredths of a percent.
    pub(crate) fn reorder_bp(&self) -> u32 {
        hundredths(self.reorder_pct)
    }

    /// The share of frames dropped, in hundredths of a percent.
    pub(crate) fn loss_bp(&self) -> u32 {
        hundredths(self.loss_pct)
    }

    /// `tc qdisc … netem` arguments for delay, jitter and reordering (loss is nftables').
    pub(crate) fn tc_args(&self) -> Vec<String> {
        let mut args = vec!["delay".to_owned(), format!("{}us", self.delay.as_micros())];
        if !self.jitter.is_zero() {
            args.push(format!("{}us", self.jitter.as_micros()));
        }
        if self.reorder_pct > 0.0 {
            args.push("reorder".to_owned());
            args.push(format!("{}%", self.reorder_pct));
        }
        args
    }
}

fn hundredths(pct: f64) -> u32 {
    (pct * 100.0).round().clamp(0.0, 10_000.0) as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_shapes_are_refused() {
        assert!(Netem::delay_loss(0, 101.0).validate().is_err());
        assert!(Netem::delay_loss(10, 5.0).validate().is_ok());
        let jitter = Netem {
            delay: Duration::from_millis(5),
            jitter: Duration::from_millis(6),
            ..Netem::default()
        };
        assert!(jitter.validate().is_err());
        let reorder = Netem {
            reorder_pct: 10.0,
            ..Netem::default()
        };
        assert!(reorder.validate().is_err());
    }

    #[test]
    fn tc_arguments_name_delay_jitter_and_reorder() {
        let n = Netem {
            delay: Duration::from_millis(20),
            jitter: Duration::from_millis(5),
            reorder_pct: 25.0,
            loss_pct: 1.0,
        };
        assert_eq!(
            n.tc_args(),
            ["delay", "20000us", "5000us", "reorder", "25%"]
        );
        assert_eq!(n.loss_bp(), 100);
        assert_eq!(n.reorder_bp(), 2500);
    }
}
