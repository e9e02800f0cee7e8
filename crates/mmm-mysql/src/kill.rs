//! Which sessions a kill round ends when writes are denied (mysql-mmm's `mysql_deny_write`),
//! shared by the agent's demotion and the leader's SQL fence.

use crate::conn::ProcessRow;

/// Statements that are let finish while kill rounds remain (mysql-mmm's list).
const WRITING: [&str; 11] = [
    "INSERT", "UPDATE", "DELETE", "REPLACE", "CREATE", "DROP", "ALTER", "REPAIR", "OPTIMIZE",
    "ANALYZE", "CHECK",
];

/// What one round decided.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct KillRound {
    /// Sessions to kill now.
    pub kill: Vec<u64>,
    /// Sessions spared this round because they run a writing statement.
    pub spared: Vec<u64>,
}

/// True when the statement writes (after optional leading comments and blanks).
pub fn is_writing_statement(sql: &str) -> bool {
    let mut s = sql.trim_start();
    loop {
        if let Some(rest) = s.strip_prefix("/*") {
            match rest.find("*/") {
                Some(end) => s = rest[end + 2..].trim_start(),
                None => return false,
            }
        } else if s.starts_with("--") || s.starts_with('#') {
            match s.find('\n') {
                Some(end) => s = s[end + 1..].trim_start(),
                None => return false,
            }
        } else {
            break;
        }
    }
    let word: String = s
        .chars()
        .take_while(|c| c.is_ascii_alphabetic())
        .collect::<String>()
        .to_ascii_uppercase();
    WRITING.contains(&word.as_str())
}

/// True for sessions no round may kill: our own, the server's threads and replication.
fn is_protected(row: &ProcessRow, own_id: u64) -> bool {
    row.id == own_id
        || row.user.eq_ignore_ascii_case("system user")
        || row.user.eq_ignore_ascii_case("event_scheduler")
        || row.command.starts_with("Binlog Dump")
        || row.command.eq_ignore_ascii_case("Daemon")
        || row.command.eq_ignore_ascii_case("Slave_IO")
        || row.command.eq_ignore_ascii_case("Slave_SQL")
        || row.command.eq_ignore_ascii_case("Slave_worker")
}

/// Selects the sessions to kill in a round; writing statements are spared unless `last_round`.
pub fn select_kills(rows: &[ProcessRow], own_id: u64, last_round: bool) -> KillRound {
    let mut round = KillRound::default();
    for row in rows.iter().filter(|r| !is_protected(r, own_id)) {
        let writing = row.info.as_deref().is_some_and(is_writing_statement);
        if writing && !last_round {
            round.spared.push(row.id);
        } else {
            round.kill.push(row.id);
        }
    }
    round
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(id: u64, user: &str, command: &str, info: Option<&str>) -> ProcessRow {
        ProcessRow {
            id,
            user: user.into(),
            host: "10.213.7.50:4000".into(),
            command: command.into(),
            info: info.map(str::to_string),
        }
    }

    fn rows() -> Vec<ProcessRow> {
        vec![
            row(1, "system user", "Slave_SQL", None),
            row(2, "repl", "Binlog Dump GTID", None),
            row(3, "mmm_agent", "Query", Some("SELECT ID FROM PROCESSLIST")),
            row(4, "app", "Sleep", None),
            row(
                5,
                "app",
                "Query",
                Some("/* app */ insert into t values (1)"),
            ),
            row(6, "app", "Query", Some("SELECT * FROM t")),
            row(7, "event_scheduler", "Daemon", None),
        ]
    }

    #[test]
    fn spares_writes_while_rounds_remain() {
        let r = select_kills(&rows(), 3, false);
        assert_eq!(r.kill, vec![4, 6]);
        assert_eq!(r.spared, vec![5]);
    }

    #[test]
    fn last_round_kills_writes_too() {
        let r = select_kills(&rows(), 3, true);
        assert_eq!(r.kill, vec![4, 5, 6]);
        assert!(r.spared.is_empty());
    }

    #[test]
    fn recognises_writing_statements() {
        assert!(is_writing_statement("  UPDATE t SET a=1"));
        assert!(is_writing_statement("-- x\nDELETE FROM t"));
        assert!(is_writing_statement("# x\nreplace into t values (1)"));
        assert!(!is_writing_statement("SELECT 1"));
        assert!(!is_writing_statement("/* unterminated"));
        assert!(!is_writing_statement(""));
        assert!(!is_writing_statement("INSERTX"));
    }
}
