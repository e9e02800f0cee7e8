//! The fencing epoch rule of the agent: it persists the highest epoch it accepted and refuses
//! anything lower, so a deposed leader's late command changes nothing.

/// What accepting `got` means for the stored epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EpochStep {
    /// Same epoch as stored (a periodic re-send): nothing to persist.
    Same,
    /// A higher epoch: persist it (fsync) before acting on the command.
    Raise,
}

/// A command from an epoch older than one already accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("stale epoch {got}: this agent has already accepted epoch {stored}")]
pub struct StaleEpoch {
    /// The command's epoch.
    pub got: u64,
    /// The highest epoch accepted so far.
    pub stored: u64,
}

/// Whether a command at epoch `got` may be acted on by an agent that stored `stored`.
pub fn check_epoch(stored: u64, got: u64) -> Result<EpochStep, StaleEpoch> {
    match got.cmp(&stored) {
        std::cmp::Ordering::Less => Err(StaleEpoch { got, stored }),
        std::cmp::Ordering::Equal => Ok(EpochStep::Same),
        std::cmp::Ordering::Greater => Ok(EpochStep::Raise),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lower_is_refused_equal_is_kept_higher_is_raised() {
        assert_eq!(check_epoch(5, 4), Err(StaleEpoch { got: 4, stored: 5 }));
        assert_eq!(check_epoch(5, 5), Ok(EpochStep::Same));
        assert_eq!(check_epoch(5, 6), Ok(EpochStep::Raise));
        assert_eq!(
            StaleEpoch { got: 4, stored: 5 }.to_string(),
            "stale epoch 4: this agent has already accepted epoch 5"
        );
    }
}
