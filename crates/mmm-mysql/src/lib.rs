//! MySQL/MariaDB access shared by the mmm agent and monitor.
//!
//! Every connection is opened with a connect timeout and every statement runs under a
//! per-query timeout, so a hung server can never stall a caller. The crate detects the
//! server flavour from `SELECT VERSION()` (asked once per server and version with
//! [`KnownVersions`]) and picks the matching statements (SLAVE vs
//! REPLICA words, MASTER_GTID_WAIT vs WAIT_FOR_EXECUTED_GTID_SET, super_read_only), parses
//! replication status with either generation of column names, and turns server errors
//! into [`MysqlError`] values that name the missing grant. [`fence`] owns the fencing epoch
//! stored in each server (`mmm.fence`) and the two operations that honour it; [`kill`] decides
//! which sessions a demotion ends, for the agent and the leader alike.

mod conn;
mod error;
pub mod fence;
pub mod kill;
mod known;
mod status;
pub mod timer;
mod version;

pub use conn::{
    ChangeMasterPosition, ConnectOpts, Mysql, ProcessRow, WaitOutcome, change_master_sql, connect,
    connect_known, quote,
};
pub use error::{MysqlError, Operation};
pub use known::KnownVersions;
pub use status::{MasterStatus, RowMap, SlaveStatus, gtid_not_covered, gtid_without_server};
pub use version::{Flavour, ServerInfo};
