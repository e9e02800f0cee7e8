//! What earlier connections learnt about each server's version, so that a caller connecting
//! to the same server again and again (a monitor's `mysql` check five times a second, an
//! agent once per status) does not ask `SELECT VERSION()` every time. A remembered answer is
//! reused only while the server's handshake announces the very same version numbers; a
//! restarted server of another version is asked again.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use crate::version::ServerInfo;

/// The `VERSION()` answers of the servers connected to so far, by address; clones share them.
#[derive(Debug, Clone, Default)]
pub struct KnownVersions {
    by_addr: Arc<Mutex<HashMap<String, ServerInfo>>>,
}

impl KnownVersions {
    /// The remembered answer of the server at `addr`, if its handshake announced the same
    /// `(major, minor, patch)` it had then. A handshake the driver could not parse
    /// (`(0, 0, 0)`) never matches.
    pub fn matching(&self, addr: &str, announced: (u16, u16, u16)) -> Option<ServerInfo> {
        if announced == (0, 0, 0) {
            return None;
        }
        let known = self.lock().get(addr).cloned()?;
        let numbers = (known.major, known.minor, known.patch);
        let announced = (
            u32::from(announced.0),
            u32::from(announced.1),
            u32::from(announced.2),
        );
        (numbers == announced).then_some(known)
    }

    /// Remembers the server at `addr`'s answer.
    pub fn remember(&self, addr: &str, info: &ServerInfo) {
        self.lock().insert(addr.to_owned(), info.clone());
    }

    /// The map; a thread that panicked while holding it left whole entries only.
    fn lock(&self) -> MutexGuard<'_, HashMap<String, ServerInfo>> {
        self.by_addr
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_answer_is_reused_only_for_the_same_numbers_and_address() {
        let known = KnownVersions::default();
        let maria = ServerInfo::parse("10.11.19-MariaDB-0+deb12u1").expect("parse");
        assert_eq!(known.matching("10.0.0.1:3306", (10, 11, 19)), None);
        known.remember("10.0.0.1:3306", &maria);
        let shared = known.clone();
        assert_eq!(shared.matching("10.0.0.1:3306", (10, 11, 19)), Some(maria));
        assert_eq!(
            known.matching("10.0.0.1:3306", (10, 11, 20)),
            None,
            "upgraded"
        );
        assert_eq!(known.matching("10.0.0.2:3306", (10, 11, 19)), None);
        let odd = ServerInfo::parse("0.0-weird").expect("parse");
        known.remember("10.0.0.3:3306", &odd);
        assert_eq!(known.matching("10.0.0.3:3306", (0, 0, 0)), None);
    }
}
