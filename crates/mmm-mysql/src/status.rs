//! Replication status rows (SHOW SLAVE/REPLICA STATUS, SHOW MASTER STATUS) parsed from
//! column names, accepting both the old (`Slave_*`/`Master_*`) and new (`Replica_*`/`Source_*`)
//! spellings.

/// One row as column name → value (`None` for SQL NULL), the shape every parser here reads.
pub type RowMap = Vec<(String, Option<String>)>;

/// The replication state of a slave, as far as mmm needs it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SlaveStatus {
    /// Master_Host / Source_Host.
    pub master_host: String,
    /// Master_Port / Source_Port.
    pub master_port: u16,
    /// IO thread running (`Yes` or `Connecting`).
    pub io_running: bool,
    /// SQL thread running.
    pub sql_running: bool,
    /// Master_Log_File / Source_Log_File: binlog of the master the IO thread reads.
    pub master_log_file: String,
    /// Read_Master_Log_Pos / Read_Source_Log_Pos.
    pub read_master_log_pos: u64,
    /// Relay_Master_Log_File / Relay_Source_Log_File: binlog the SQL thread executes.
    pub relay_master_log_file: String,
    /// Exec_Master_Log_Pos / Exec_Source_Log_Pos.
    pub exec_master_log_pos: u64,
    /// Seconds_Behind_Master / Seconds_Behind_Source; `None` when NULL.
    pub seconds_behind_master: Option<u64>,
    /// MariaDB Gtid_IO_Pos or MySQL Retrieved_Gtid_Set.
    pub gtid_io_pos: String,
    /// MariaDB Using_Gtid ≠ No, or MySQL Auto_Position = 1.
    pub using_gtid: bool,
    /// Last_SQL_Error, else Last_IO_Error, else Last_Error.
    pub last_error: String,
    /// Last_IO_Error alone (connection problems).
    pub last_io_error: String,
    /// Last_SQL_Error alone.
    pub last_sql_error: String,
}

/// The binlog position and GTID state a server has written.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MasterStatus {
    /// SHOW MASTER STATUS File ("" when binary logging is off).
    pub file: String,
    /// SHOW MASTER STATUS Position.
    pub position: u64,
    /// gtid_current_pos (MariaDB) or gtid_executed (MySQL).
    pub gtid_executed: String,
    /// gtid_binlog_pos (MariaDB) or gtid_executed (MySQL): what a slave of this server can receive.
    pub gtid_binlog_pos: String,
}

fn col<'a>(row: &'a RowMap, names: &[&str]) -> Option<&'a str> {
    names.iter().find_map(|n| {
        row.iter()
            .find(|(c, _)| c.eq_ignore_ascii_case(n))
            .and_then(|(_, v)| v.as_deref())
    })
}

fn text(row: &RowMap, names: &[&str]) -> String {
    col(row, names).unwrap_or("").trim().to_string()
}

fn number(row: &RowMap, names: &[&str]) -> Result<u64, String> {
    match col(row, names).map(str::trim) {
        None | Some("") => Ok(0),
        Some(v) => v
            .parse()
            .map_err(|_| format!("column {} is not a number: {v:?}", names[0])),
    }
}

fn running(row: &RowMap, names: &[&str]) -> bool {
    matches!(
        col(row, names)
            .map(|v| v.trim().to_ascii_lowercase())
            .as_deref(),
        Some("yes") | Some("connecting")
    )
}

impl SlaveStatus {
    /// Parses one SHOW SLAVE/REPLICA STATUS row; an error names the bad column.
    pub fn from_row(row: &RowMap) -> Result<SlaveStatus, String> {
        let port = number(row, &["Master_Port", "Source_Port"])?;
        let last_sql_error = text(row, &["Last_SQL_Error"]);
        let last_io_error = text(row, &["Last_IO_Error"]);
        let last_error = [&last_sql_error, &last_io_error]
            .into_iter()
            .find(|s| !s.is_empty())
            .cloned()
            .unwrap_or_else(|| text(row, &["Last_Error"]));
        let using_gtid = match col(row, &["Using_Gtid"]) {
            Some(v) => !v.trim().eq_ignore_ascii_case("no") && !v.trim().is_empty(),
            None => text(row, &["Auto_Position"]) == "1",
        };
        Ok(SlaveStatus {
            master_host: text(row, &["Master_Host", "Source_Host"]),
            master_port: u16::try_from(port).map_err(|_| format!("port out of range: {port}"))?,
            io_running: running(row, &["Slave_IO_Running", "Replica_IO_Running"]),
            sql_running: running(row, &["Slave_SQL_Running", "Replica_SQL_Running"]),
            master_log_file: text(row, &["Master_Log_File", "Source_Log_File"]),
            read_master_log_pos: number(row, &["Read_Master_Log_Pos", "Read_Source_Log_Pos"])?,
            relay_master_log_file: text(row, &["Relay_Master_Log_File", "Relay_Source_Log_File"]),
            exec_master_log_pos: number(row, &["Exec_Master_Log_Pos", "Exec_Source_Log_Pos"])?,
            seconds_behind_master: match col(
                row,
                &["Seconds_Behind_Master", "Seconds_Behind_Source"],
            ) {
                None => None,
                Some(v) => {
                    Some(v.trim().parse().map_err(|_| {
                        format!("column Seconds_Behind_Master is not a number: {v:?}")
                    })?)
                }
            },
            gtid_io_pos: text(row, &["Gtid_IO_Pos", "Retrieved_Gtid_Set"]),
            using_gtid,
            last_error,
            last_io_error,
            last_sql_error,
        })
    }

    /// True when a master is configured (MySQL keeps a row after RESET SLAVE with an empty host).
    pub fn is_configured(&self) -> bool {
        !self.master_host.is_empty()
    }

    /// True when the SQL thread has applied everything the IO thread received, so the
    /// server's own position follows what it got from its master.
    pub fn relay_log_applied(&self) -> bool {
        self.relay_master_log_file == self.master_log_file
            && self.exec_master_log_pos >= self.read_master_log_pos
    }
}

impl MasterStatus {
    /// Reads File/Position from a SHOW MASTER STATUS (or SHOW BINARY LOG STATUS) row.
    pub fn from_row(row: &RowMap) -> Result<MasterStatus, String> {
        Ok(MasterStatus {
            file: text(row, &["File"]),
            position: number(row, &["Position"])?,
            gtid_executed: text(row, &["Executed_Gtid_Set"]),
            gtid_binlog_pos: String::new(),
        })
    }
}

/// Removes from a MariaDB GTID list (`domain-server-seq,…`) the entries written by
/// `server_id`: a server already has its own transactions, so waiting for them is pointless.
pub fn gtid_without_server(gtid_list: &str, server_id: u64) -> String {
    gtid_entries(gtid_list)
        .filter(|g| {
            let mut parts = g.split('-');
            let _domain = parts.next();
            parts.next().and_then(|s| s.parse::<u64>().ok()) != Some(server_id)
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// The entries of the MariaDB GTID position `need` (`domain-server-seq,…`) that the
/// position `have` does not cover, so a slave can wait for a new master to reach its own
/// position before following it: a master asked for a GTID its binary log lacks refuses
/// the slave for good (error 1236). `have` covers `d-s-n` once its entry for domain `d`
/// has reached sequence number `n`; an entry that does not parse is never covered.
pub fn gtid_not_covered(have: &str, need: &str) -> Vec<String> {
    let reached: Vec<(u32, u64)> = gtid_entries(have).filter_map(domain_seq).collect();
    gtid_entries(need)
        .filter(|g| match domain_seq(g) {
            Some((domain, seq)) => !reached.iter().any(|&(d, s)| d == domain && s >= seq),
            None => true,
        })
        .map(str::to_owned)
        .collect()
}

fn gtid_entries(list: &str) -> impl Iterator<Item = &str> {
    list.split(',').map(str::trim).filter(|g| !g.is_empty())
}

/// `(domain, seq)` of one `domain-server-seq` entry.
fn domain_seq(gtid: &str) -> Option<(u32, u64)> {
    let mut parts = gtid.split('-');
    let domain = parts.next()?.parse().ok()?;
    let _server: u64 = parts.next()?.parse().ok()?;
    let seq = parts.next()?.parse().ok()?;
    parts.next().is_none().then_some((domain, seq))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(cols: &[(&str, Option<&str>)]) -> RowMap {
        cols.iter()
            .map(|(c, v)| (c.to_string(), v.map(str::to_string)))
            .collect()
    }

    #[test]
    fn parses_mariadb_slave_columns() {
        let r = row(&[
            ("Slave_IO_State", Some("Waiting for master to send event")),
            ("Master_Host", Some("10.213.7.11")),
            ("Master_Port", Some("3306")),
            ("Master_Log_File", Some("bin.000003")),
            ("Read_Master_Log_Pos", Some("1234")),
            ("Relay_Master_Log_File", Some("bin.000003")),
            ("Slave_IO_Running", Some("Connecting")),
            ("Slave_SQL_Running", Some("Yes")),
            ("Exec_Master_Log_Pos", Some("1200")),
            ("Seconds_Behind_Master", None),
            ("Last_IO_Error", Some("error connecting")),
            ("Last_SQL_Error", Some("")),
            ("Using_Gtid", Some("Slave_Pos")),
            ("Gtid_IO_Pos", Some("0-1-5")),
        ]);
        let s = SlaveStatus::from_row(&r).expect("parse");
        assert_eq!(s.master_host, "10.213.7.11");
        assert_eq!(s.master_port, 3306);
        assert!(s.io_running, "Connecting counts as running");
        assert!(s.sql_running);
        assert_eq!(s.read_master_log_pos, 1234);
        assert_eq!(s.exec_master_log_pos, 1200);
        assert_eq!(s.seconds_behind_master, None);
        assert!(s.using_gtid);
        assert_eq!(s.gtid_io_pos, "0-1-5");
        assert_eq!(s.last_error, "error connecting");
    }

    #[test]
    fn parses_mysql_replica_columns() {
        let r = row(&[
            ("Source_Host", Some("db1")),
            ("Source_Port", Some("3307")),
            ("Source_Log_File", Some("binlog.000010")),
            ("Read_Source_Log_Pos", Some("99")),
            ("Relay_Source_Log_File", Some("binlog.000009")),
            ("Exec_Source_Log_Pos", Some("77")),
            ("Replica_IO_Running", Some("No")),
            ("Replica_SQL_Running", Some("Yes")),
            ("Seconds_Behind_Source", Some("4")),
            ("Auto_Position", Some("1")),
            ("Retrieved_Gtid_Set", Some("uuid:1-5")),
        ]);
        let s = SlaveStatus::from_row(&r).expect("parse");
        assert_eq!(s.master_host, "db1");
        assert_eq!(s.master_port, 3307);
        assert!(!s.io_running);
        assert!(s.sql_running);
        assert_eq!(s.relay_master_log_file, "binlog.000009");
        assert_eq!(s.seconds_behind_master, Some(4));
        assert!(s.using_gtid);
    }

    #[test]
    fn rejects_non_numeric_positions() {
        let r = row(&[("Read_Master_Log_Pos", Some("abc"))]);
        assert!(SlaveStatus::from_row(&r).is_err());
        let r = row(&[("Master_Port", Some("70000"))]);
        assert!(SlaveStatus::from_row(&r).is_err());
    }

    #[test]
    fn master_status_row() {
        let r = row(&[
            ("File", Some("bin.000002")),
            ("Position", Some("328")),
            ("Binlog_Do_DB", Some("")),
        ]);
        let m = MasterStatus::from_row(&r).expect("parse");
        assert_eq!((m.file.as_str(), m.position), ("bin.000002", 328));
    }

    #[test]
    fn drops_own_server_gtids() {
        assert_eq!(gtid_without_server("1-1-10,2-2-7", 2), "1-1-10");
        assert_eq!(gtid_without_server("", 2), "");
        assert_eq!(gtid_without_server("0-1-3", 9), "0-1-3");
    }

    #[test]
    fn gtid_coverage_is_per_domain_by_sequence_number() {
        assert!(gtid_not_covered("0-1-12", "0-1-12").is_empty());
        assert!(
            gtid_not_covered("0-2-15", "0-1-12").is_empty(),
            "a later seq covers"
        );
        assert_eq!(gtid_not_covered("0-1-10", "0-1-12"), ["0-1-12"]);
        assert_eq!(gtid_not_covered("", "0-1-3, 1-4-7"), ["0-1-3", "1-4-7"]);
        assert_eq!(gtid_not_covered("0-1-9,1-4-6", "0-1-3,1-4-7"), ["1-4-7"]);
        assert!(gtid_not_covered("0-1-9", "").is_empty(), "nothing needed");
        assert_eq!(
            gtid_not_covered("0-1-9", "0-1"),
            ["0-1"],
            "odd entries never pass"
        );
        assert_eq!(gtid_not_covered("0-1-x,0-1-9", "0-1-9-1"), ["0-1-9-1"]);
    }
}
