//! mmm-mysql against real MariaDB servers on loopback: flavour, status parsing, waits,
//! read_only, error classification (missing grant, bad password, refused, hung server), and the
//! fencing epoch (`fence`).

#[path = "mysql/fence.rs"]
mod fence;

use std::time::{Duration, Instant};

use mmm_lab::replication::{replicate_from, wait_caught_up};
use mmm_lab::users::{AGENT_PASSWORD, AGENT_USER};
use mmm_lab::{MariaDb, MariaDbOpts, ReplicationMode};
use mmm_mysql::{
    ConnectOpts, Flavour, KnownVersions, Mysql, MysqlError, Operation, WaitOutcome, connect,
    connect_known,
};

fn opts(db: &MariaDb, user: &str, password: &str) -> ConnectOpts {
    ConnectOpts::tcp(
        db.ip().to_string(),
        db.port(),
        user,
        password,
        Duration::from_secs(1),
    )
}

/// How many SELECTs this session ran (`Com_select`; the SHOW itself is not one).
async fn selects_so_far(conn: &mut Mysql) -> u64 {
    let rows = conn
        .rows("SHOW SESSION STATUS LIKE 'Com_select'", Operation::Query)
        .await
        .expect("session status");
    let value = rows
        .first()
        .and_then(|r| r.get(1))
        .and_then(|(_, v)| v.clone());
    value.and_then(|v| v.parse().ok()).expect("Com_select")
}

#[test]
fn against_real_mariadb() {
    if !mmm_lab::lab_available("mmm-mysql against_real_mariadb") {
        return;
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let mut master_opts = MariaDbOpts::loopback("mysqlm", 1);
        master_opts.gtid_domain_id = 1;
        let mut slave_opts = MariaDbOpts::loopback("mysqls", 2);
        slave_opts.gtid_domain_id = 2;
        let (master, slave) = tokio::join!(MariaDb::start(master_opts), MariaDb::start(slave_opts));
        let (master, mut slave) = (master.expect("master"), slave.expect("slave"));

        // Flavour, read_only round trip, master status.
        let mut m = connect(&opts(&master, AGENT_USER, AGENT_PASSWORD))
            .await
            .expect("connect master");
        assert_eq!(m.info().flavour, Flavour::Mariadb);
        assert!(m.info().major >= 10);
        assert!(m.read_only().await.expect("read_only"));
        m.set_read_only(false).await.expect("allow writes");
        assert!(!m.read_only().await.expect("read_only"));
        m.set_read_only(true).await.expect("deny writes");
        assert!(m.read_only().await.expect("read_only"));
        assert_eq!(m.slave_status().await.expect("slave status"), None);
        let ms = m.master_status().await.expect("master status");
        assert!(!ms.file.is_empty() && ms.position > 0, "{ms:?}");

        // A known server's connection runs no statement at all: no settings query, no
        // VERSION() — the first connection asks VERSION() once and remembers it.
        let known = KnownVersions::default();
        let master_agent = opts(&master, AGENT_USER, AGENT_PASSWORD);
        let mut first = connect_known(&master_agent, &known)
            .await
            .expect("first connect");
        assert_eq!(selects_so_far(&mut first).await, 1, "only VERSION()");
        let mut second = connect_known(&master_agent, &known)
            .await
            .expect("second connect");
        assert_eq!(selects_so_far(&mut second).await, 0, "nothing asked again");
        assert_eq!(second.info(), m.info());
        let mut plain = connect(&master_agent).await.expect("plain connect");
        assert_eq!(selects_so_far(&mut plain).await, 1, "only VERSION()");

        // A slave: parsed status, GTID and position waits, a wait that times out.
        replicate_from(&slave, &master, &ReplicationMode::Gtid)
            .await
            .expect("replicate");
        master
            .exec("CREATE TABLE mmm_test.p (id INT PRIMARY KEY)")
            .await
            .expect("create");
        master
            .exec("INSERT INTO mmm_test.p VALUES (1)")
            .await
            .expect("insert");
        wait_caught_up(&slave, &master, Duration::from_secs(10))
            .await
            .expect("caught up");
        let mut s = connect(&opts(&slave, AGENT_USER, AGENT_PASSWORD))
            .await
            .expect("connect slave");
        let st = s
            .slave_status()
            .await
            .expect("slave status")
            .expect("is a slave");
        assert_eq!(st.master_host, "127.0.0.1");
        assert_eq!(st.master_port, master.port());
        assert!(st.io_running && st.sql_running, "{st:?}");
        assert!(st.using_gtid);
        let ms = m.master_status().await.expect("master status");
        assert!(ms.gtid_binlog_pos.starts_with("1-1-"), "{ms:?}");
        assert_eq!(
            s.wait_for_gtid(&ms.gtid_binlog_pos, Duration::from_secs(5))
                .await
                .expect("gtid wait"),
            WaitOutcome::Reached
        );
        assert_eq!(
            s.wait_for_position(&ms.file, ms.position, Duration::from_secs(5))
                .await
                .expect("pos wait"),
            WaitOutcome::Reached
        );
        let started = Instant::now();
        assert_eq!(
            s.wait_for_gtid("1-1-999999", Duration::from_secs(1))
                .await
                .expect("gtid wait"),
            WaitOutcome::TimedOut
        );
        assert!(started.elapsed() < Duration::from_secs(3));

        // A user without READ_ONLY ADMIN gets an error naming it.
        master
            .exec("SET sql_log_bin=0; CREATE USER 'weak'@'%' IDENTIFIED BY 'weak'; GRANT SUPER, PROCESS ON *.* TO 'weak'@'%'")
            .await
            .expect("weak user");
        let mut w = connect(&opts(&master, "weak", "weak"))
            .await
            .expect("connect weak");
        match w.set_read_only(true).await {
            Err(MysqlError::MissingPrivilege { grant, .. }) => assert_eq!(grant, "READ_ONLY ADMIN"),
            other => panic!("expected a missing grant, got {other:?}"),
        }

        // Wrong password, refused port, hung server.
        match connect(&opts(&master, AGENT_USER, "wrong")).await {
            Err(MysqlError::AccessDenied { .. }) => {}
            other => panic!("expected access denied, got {other:?}"),
        }
        let closed = ConnectOpts::tcp("127.0.0.1", 1, AGENT_USER, AGENT_PASSWORD, Duration::from_secs(1));
        match connect(&closed).await {
            Err(e @ MysqlError::Refused { .. }) => assert!(e.server_is_down()),
            other => panic!("expected a refused connect, got {other:?}"),
        }
        slave.sigstop().expect("sigstop");
        let started = Instant::now();
        let r = connect(&opts(&slave, AGENT_USER, AGENT_PASSWORD)).await;
        let r2 = s.read_only().await;
        slave.sigcont().expect("sigcont");
        assert!(matches!(r, Err(MysqlError::Timeout { .. })), "{r:?}");
        assert!(matches!(r2, Err(MysqlError::Timeout { .. })), "{r2:?}");
        assert!(started.elapsed() < Duration::from_secs(4));
    });
}
