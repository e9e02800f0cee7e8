//! One application operation as a user sees it: a new connection with a short connect deadline
//! to an address (a VIP or a host's own address), one statement, and what came back — start and
//! end time, the answering server's `@@server_id`, and whether the statement surely failed or may
//! have taken effect. The chaos suite's workloads and the failover benchmark are built on it.
//!
//! Run it from inside the client namespace (e.g. in a future given to
//! [`crate::Netns::spawn_future`] of [`crate::cluster::Cluster::client`]), so the connection
//! crosses the lab bridge and follows ARP like an application's.

use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use mysql_async::prelude::Queryable;

use crate::users::{APP_PASSWORD, APP_USER, TEST_DB};

/// Where an operation connects and how long each step may take.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The address to connect to (a VIP or a host address).
    pub ip: Ipv4Addr,
    /// The MySQL port.
    pub port: u16,
    /// Bound on the TCP connect and handshake.
    pub connect_timeout: Duration,
    /// Bound on the statement once connected.
    pub statement_timeout: Duration,
}

impl Target {
    /// `ip:port` with the suite's short deadlines (250 ms to connect, 2 s per statement).
    pub fn new(ip: Ipv4Addr, port: u16) -> Self {
        Self {
            ip,
            port,
            connect_timeout: Duration::from_millis(250),
            statement_timeout: Duration::from_secs(2),
        }
    }
}

/// What a statement returned.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Reply {
    /// Rows changed (INSERT/UPDATE/DELETE).
    pub affected_rows: u64,
    /// The first row of a result set, as text (`None` for NULL).
    pub row: Option<Vec<Option<String>>>,
}

/// How an operation ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The server answered the statement.
    Ok(Reply),
    /// Surely not applied: no connection, or the server refused the statement (e.g. read-only).
    Failed(String),
    /// May or may not have been applied: the connection broke or the deadline passed after the
    /// statement was sent.
    Unknown(String),
}

impl Outcome {
    /// Whether the server answered.
    pub fn is_ok(&self) -> bool {
        matches!(self, Self::Ok(_))
    }
}

/// One operation as the client saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpRecord {
    /// Just before connecting.
    pub start: Instant,
    /// When the outcome was known.
    pub end: Instant,
    /// `@@server_id` of the server the connection reached (asked right after connecting).
    pub server_id: Option<u32>,
    /// The outcome.
    pub outcome: Outcome,
}

/// Connects to `target` as the lab's application user (database [`TEST_DB`]), asks the server's
/// id, runs `sql`, disconnects. Never panics; every step is bounded by the target's deadlines.
pub async fn execute(target: &Target, sql: &str) -> OpRecord {
    let start = Instant::now();
    let opts = mysql_async::OptsBuilder::default()
        .ip_or_hostname(target.ip.to_string())
        .tcp_port(target.port)
        .user(Some(APP_USER))
        .pass(Some(APP_PASSWORD))
        .db_name(Some(TEST_DB))
        .prefer_socket(false);
    let mut conn =
        match tokio::time::timeout(target.connect_timeout, mysql_async::Conn::new(opts)).await {
            Ok(Ok(c)) => c,
            Ok(Err(e)) => return done(start, None, Outcome::Failed(format!("connect: {e}"))),
            Err(_) => {
                let why = format!("connect: no answer within {:?}", target.connect_timeout);
                return done(start, None, Outcome::Failed(why));
            }
        };
    let server_id = match bounded(target, conn.query_first::<u32, _>("SELECT @@server_id")).await {
        Ok(id) => id,
        // Nothing was sent that changes data: a failure here is a sure failure.
        Err((_, why)) => return finish(conn, start, None, Outcome::Failed(why)).await,
    };
    let outcome = match bounded(target, run(&mut conn, sql)).await {
        Ok(reply) => Outcome::Ok(reply),
        Err((true, why)) => Outcome::Failed(why),
        Err((false, why)) => Outcome::Unknown(why),
    };
    finish(conn, start, server_id, outcome).await
}

async fn run(conn: &mut mysql_async::Conn, sql: &str) -> Result<Reply, mysql_async::Error> {
    let mut result = conn.query_iter(sql).await?;
    let row = result
        .collect::<mysql_async::Row>()
        .await?
        .into_iter()
        .next()
        .map(|r| {
            (0..r.len())
                .map(|i| r.as_ref(i).and_then(crate::replication::value_text))
                .collect()
        });
    Ok(Reply {
        affected_rows: conn.affected_rows(),
        row,
    })
}

/// Runs one step under the statement deadline. Errors carry whether the statement surely did
/// not take effect (the server refused it) and the reason.
async fn bounded<T>(
    target: &Target,
    fut: impl Future<Output = Result<T, mysql_async::Error>>,
) -> Result<T, (bool, String)> {
    match tokio::time::timeout(target.statement_timeout, fut).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(mysql_async::Error::Server(e))) => Err((true, format!("server: {e}"))),
        Ok(Err(e)) => Err((false, e.to_string())),
        Err(_) => Err((
            false,
            format!("no answer within {:?}", target.statement_timeout),
        )),
    }
}

async fn finish(
    conn: mysql_async::Conn,
    start: Instant,
    server_id: Option<u32>,
    outcome: Outcome,
) -> OpRecord {
    let end = Instant::now();
    // A frozen or cut server never answers COM_QUIT; don't let that delay the next operation.
    let _ = tokio::time::timeout(Duration::from_millis(100), conn.disconnect()).await;
    OpRecord {
        start,
        end,
        server_id,
        outcome,
    }
}

fn done(start: Instant, server_id: Option<u32>, outcome: Outcome) -> OpRecord {
    OpRecord {
        start,
        end: Instant::now(),
        server_id,
        outcome,
    }
}
