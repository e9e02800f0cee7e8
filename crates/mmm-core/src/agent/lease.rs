//! The writer lease of one agent process.
//!
//! The leader cannot tell the agent when it sent a status (no clock is shared between hosts),
//! so the agent counts the lease from a moment it knows precedes the send: every agent reply
//! carries the agent's own clock reading (the *basis*) and a per-process *incarnation*; the
//! leader echoes the latest pair it received in each push, and the lease runs until
//! `basis + lease`. However long a status waited in a socket, a queue or a stopped process,
//! it can only grant a lease that ends no later than one counted from the leader's send.
//!
//! A lease that ran out at epoch E is never renewed by a status at epoch ≤ E: once the leader
//! may have counted it as run out, only a newly committed epoch gives the writer role back.

use std::fmt;
use std::time::Duration;

use super::clock::Mono;

/// The server lease timer's resolution: it is scheduled in whole seconds of the server's clock,
/// so it may fire up to this long after the deadline the agent counts.
pub const SERVER_TIMER_ROUNDING: Duration = Duration::from_secs(1);

/// The agent-clock moment a leader echoes back: the basis of the lease its push grants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LeaseBasis {
    /// The agent process that produced the reading.
    pub incarnation: u64,
    /// Its clock when it built the reply.
    pub at: Mono,
}

/// Why a status does not give this agent the writer role now (the reply says so).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The status carries no basis (the first status after this agent process started, or a
    /// sender that never heard from it).
    NoBasis,
    /// The basis comes from another process of this agent (it restarted since).
    OtherIncarnation {
        /// The incarnation in the status.
        got: u64,
    },
    /// The lease the status grants had already run out when it arrived.
    ArrivedLate {
        /// How long ago it ran out.
        late_by: Duration,
    },
    /// A writer lease of this process ran out at an epoch the status does not exceed.
    RanOutAtEpoch {
        /// Highest epoch at which a lease ran out.
        ran_out: u64,
        /// The status's epoch.
        epoch: u64,
    },
    /// This agent granted another host a failsafe lease and promised to take no writer role.
    Promised {
        /// The host it promised.
        host: String,
        /// How long the promise still holds.
        remaining: Duration,
    },
    /// The server's own lease timer could not be armed for the lease.
    ServerTimer {
        /// Why.
        error: String,
    },
    /// The MySQL server stores a fencing epoch above the status's.
    Fenced {
        /// Epoch stored in the server.
        stored: u64,
        /// The status's epoch.
        epoch: u64,
    },
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::NoBasis => {
                f.write_str("no lease basis in the status (first contact with this agent process)")
            }
            Refusal::OtherIncarnation { got } => write!(
                f,
                "the lease basis is from another agent process (incarnation {got:016x})"
            ),
            Refusal::ArrivedLate { late_by } => write!(
                f,
                "the status arrived after its lease had run out ({} ms late)",
                late_by.as_millis()
            ),
            Refusal::RanOutAtEpoch { ran_out, epoch } => write!(
                f,
                "the writer lease ran out at epoch {ran_out}; the writer role needs an epoch above {ran_out} (status has {epoch})"
            ),
            Refusal::Promised { host, remaining } => write!(
                f,
                "this host granted '{host}' a failsafe lease and takes no writer role for {} ms",
                remaining.as_millis()
            ),
            Refusal::ServerTimer { error } => write!(f, "{error}"),
            Refusal::Fenced { stored, epoch } => write!(
                f,
                "the MySQL server was fenced at epoch {stored}, above the status's epoch {epoch}"
            ),
        }
    }
}

/// A basis that cannot be real.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum BasisError {
    /// A reading this agent process has not reached yet.
    #[error(
        "ERROR: Lease basis {basis} ms is ahead of this agent's clock ({now} ms)!",
        basis = .basis.as_millis(),
        now = .now.as_millis()
    )]
    FromTheFuture {
        /// The basis sent.
        basis: Mono,
        /// The agent's clock.
        now: Mono,
    },
}

/// The writer lease of one agent process: its deadline and the epochs where one ran out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WriterLease {
    incarnation: u64,
    deadline: Option<Mono>,
    ran_out_epoch: Option<u64>,
}

impl WriterLease {
    /// No lease yet, for the process `incarnation`.
    pub fn new(incarnation: u64) -> WriterLease {
        WriterLease {
            incarnation,
            deadline: None,
            ran_out_epoch: None,
        }
    }

    /// This process's incarnation (what replies carry).
    pub fn incarnation(&self) -> u64 {
        self.incarnation
    }

    /// Refuses a basis of this process that lies in the future (a forged or corrupt push).
    pub fn check_basis(&self, basis: Option<&LeaseBasis>, now: Mono) -> Result<(), BasisError> {
        match basis {
            Some(b) if b.incarnation == self.incarnation && b.at > now => {
                Err(BasisError::FromTheFuture { basis: b.at, now })
            }
            _ => Ok(()),
        }
    }

    /// The deadline a status at `epoch` with `basis` and `lease` grants at `now`, or why none.
    pub fn offer(
        &self,
        epoch: u64,
        basis: Option<&LeaseBasis>,
        lease: Duration,
        now: Mono,
    ) -> Result<Mono, Refusal> {
        if let Some(ran_out) = self.ran_out_epoch
            && epoch <= ran_out
        {
            return Err(Refusal::RanOutAtEpoch { ran_out, epoch });
        }
        let b = basis.ok_or(Refusal::NoBasis)?;
        if b.incarnation != self.incarnation {
            return Err(Refusal::OtherIncarnation { got: b.incarnation });
        }
        let deadline = b.at.plus(lease);
        if deadline <= now {
            return Err(Refusal::ArrivedLate {
                late_by: deadline.until(now),
            });
        }
        Ok(deadline)
    }

    /// Starts or extends the lease to `until`; never shortens it.
    pub fn extend(&mut self, until: Mono) {
        self.deadline = Some(self.deadline.map_or(until, |d| d.max(until)));
    }

    /// When the lease runs out, if one runs.
    pub fn deadline(&self) -> Option<Mono> {
        self.deadline
    }

    /// Time left at `now` (zero when none runs).
    pub fn remaining(&self, now: Mono) -> Duration {
        self.deadline.map_or(Duration::ZERO, |d| now.until(d))
    }

    /// True when a lease runs and its deadline has passed at `now`.
    pub fn is_due(&self, now: Mono) -> bool {
        self.deadline.is_some_and(|d| d <= now)
    }

    /// The lease ran out while the agent stood at `epoch`: the writer role now needs a higher one.
    pub fn ran_out(&mut self, epoch: u64) {
        self.deadline = None;
        self.ran_out_epoch = Some(self.ran_out_epoch.map_or(epoch, |e| e.max(epoch)));
    }

    /// The writer role was given up on the leader's word: no lease runs any more.
    pub fn release(&mut self) {
        self.deadline = None;
    }

    /// Highest epoch at which a lease of this process ran out.
    pub fn ran_out_epoch(&self) -> Option<u64> {
        self.ran_out_epoch
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const INC: u64 = 0xfeed;
    const LEASE: Duration = Duration::from_millis(1500);

    fn basis(at: u64) -> LeaseBasis {
        LeaseBasis {
            incarnation: INC,
            at: Mono::from_millis(at),
        }
    }

    fn ms(v: u64) -> Mono {
        Mono::from_millis(v)
    }

    #[test]
    fn lease_runs_from_the_basis_not_from_arrival() {
        let l = WriterLease::new(INC);
        // Sent right after the reply at 1000 ms, dequeued at 1400 ms: ends at 2500, not 2900.
        assert_eq!(
            l.offer(3, Some(&basis(1000)), LEASE, ms(1400)),
            Ok(ms(2500))
        );
    }

    #[test]
    fn a_status_delivered_after_its_lease_grants_nothing() {
        let l = WriterLease::new(INC);
        // The agent was stopped from 1100 to 9000 ms; the queued renewals carry basis 1000.
        assert_eq!(
            l.offer(3, Some(&basis(1000)), LEASE, ms(9000)),
            Err(Refusal::ArrivedLate {
                late_by: Duration::from_millis(6500)
            })
        );
        assert!(matches!(
            l.offer(3, Some(&basis(1000)), LEASE, ms(2500)),
            Err(Refusal::ArrivedLate { .. })
        ));
    }

    #[test]
    fn no_basis_or_another_process_grants_nothing() {
        let l = WriterLease::new(INC);
        assert_eq!(l.offer(3, None, LEASE, ms(10)), Err(Refusal::NoBasis));
        let other = LeaseBasis {
            incarnation: 7,
            at: ms(5),
        };
        assert_eq!(
            l.offer(3, Some(&other), LEASE, ms(10)),
            Err(Refusal::OtherIncarnation { got: 7 })
        );
        // Another process's reading may well be "in the future" of ours: not an error.
        let far = LeaseBasis {
            incarnation: 7,
            at: ms(1_000_000),
        };
        assert_eq!(l.check_basis(Some(&far), ms(10)), Ok(()));
    }

    #[test]
    fn a_basis_from_the_future_is_refused() {
        let l = WriterLease::new(INC);
        let e = l
            .check_basis(Some(&basis(5000)), ms(4000))
            .expect_err("future");
        assert_eq!(
            e.to_string(),
            "ERROR: Lease basis 5000 ms is ahead of this agent's clock (4000 ms)!"
        );
        assert_eq!(l.check_basis(Some(&basis(4000)), ms(4000)), Ok(()));
        assert_eq!(l.check_basis(None, ms(4000)), Ok(()));
    }

    #[test]
    fn extend_never_shortens() {
        let mut l = WriterLease::new(INC);
        l.extend(ms(2500));
        // A reordered older renewal arrives second.
        l.extend(ms(2000));
        assert_eq!(l.deadline(), Some(ms(2500)));
        assert_eq!(l.remaining(ms(2000)), Duration::from_millis(500));
        assert!(!l.is_due(ms(2499)));
        assert!(l.is_due(ms(2500)));
    }

    #[test]
    fn an_expired_lease_is_never_renewed_at_the_same_epoch() {
        let mut l = WriterLease::new(INC);
        l.extend(ms(2500));
        l.ran_out(3);
        assert_eq!(l.deadline(), None);
        assert_eq!(l.ran_out_epoch(), Some(3));
        // A fresh basis does not help at epoch 3 (or a lower one).
        for epoch in [2, 3] {
            assert_eq!(
                l.offer(epoch, Some(&basis(3000)), LEASE, ms(3001)),
                Err(Refusal::RanOutAtEpoch { ran_out: 3, epoch })
            );
        }
        assert_eq!(
            l.offer(4, Some(&basis(3000)), LEASE, ms(3001)),
            Ok(ms(4500))
        );
        // A later run-out at a lower epoch does not lower the bar.
        l.ran_out(2);
        assert_eq!(l.ran_out_epoch(), Some(3));
        assert!(
            Refusal::RanOutAtEpoch {
                ran_out: 3,
                epoch: 3
            }
            .to_string()
            .contains("needs an epoch above 3")
        );
    }

    #[test]
    fn release_stops_the_lease_without_marking_the_epoch() {
        let mut l = WriterLease::new(INC);
        l.extend(ms(2500));
        l.release();
        assert_eq!((l.deadline(), l.ran_out_epoch()), (None, None));
        assert_eq!(
            l.offer(3, Some(&basis(3000)), LEASE, ms(3001)),
            Ok(ms(4500))
        );
    }
}
