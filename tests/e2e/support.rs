//! Launching the system for a test, and reading its state the way an operator does: through
//! `mmmctl` (`--json show`, `--json history`) in the lab's client namespace.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use mmm_lab::RoleLayout;
use mmm_lab::cluster::{Cluster, ClusterOptions};
use serde_json::Value;

/// Upper limit for any awaited condition (a failover takes a few seconds with the lab's
/// timings; the limit only keeps a broken run from hanging).
pub const SETTLE: Duration = Duration::from_secs(60);
/// The writer VIP of every lab cluster.
pub const WRITER_VIP: &str = "10.213.7.100";

/// A cluster on the real binaries (built by cargo first), set up by `configure`. Tests call
/// `mmm_lab::lab_available` before.
pub fn launch(tag: &str, configure: impl FnOnce(&mut ClusterOptions)) -> Cluster {
    let binaries = mmm_lab::build_binaries().expect("build mmm-agentd, mmm-mond and mmmctl");
    let mut opts = ClusterOptions::new(tag, binaries);
    configure(&mut opts);
    Cluster::launch(opts).expect("launch the lab cluster")
}

/// The roles of the first seed report's `mmm_common.conf`: writer `db2,db1`, readers on
/// `db2,db3` with two VIPs.
pub fn seed1_roles() -> RoleLayout {
    RoleLayout {
        writer_hosts: vec!["db2".into(), "db1".into()],
        reader_hosts: vec!["db2".into(), "db3".into()],
        reader_ips: 2,
    }
}

/// The roles of the second seed report's `mmm_common.conf`: writer `db1, db2`, readers on the
/// slaves `db3, db4` with two VIPs.
pub fn seed2_roles() -> RoleLayout {
    RoleLayout {
        writer_hosts: vec!["db1".into(), "db2".into()],
        reader_hosts: vec!["db3".into(), "db4".into()],
        reader_ips: 2,
    }
}

/// One host of `mmmctl --json show`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostView {
    /// `db1`, …
    pub name: String,
    /// `ONLINE`, `HARD_OFFLINE`, …
    pub state: String,
    /// `writer(10.213.7.100)`, `reader(10.213.7.101)`, … as `show` prints them.
    pub roles: Vec<String>,
    /// False when show warns that the host's agent is not reachable.
    pub agent_reachable: bool,
}

/// `mmmctl --json show`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Show {
    /// Hosts by name.
    pub hosts: Vec<HostView>,
}

impl Show {
    /// The host called `name`.
    pub fn host(&self, name: &str) -> &HostView {
        self.hosts
            .iter()
            .find(|h| h.name == name)
            .unwrap_or_else(|| panic!("show lists no host {name}: {self:?}"))
    }

    /// The host holding the role whose VIP is `ip`.
    pub fn holder(&self, ip: &str) -> Option<&str> {
        let suffix = format!("({ip})");
        self.hosts
            .iter()
            .find(|h| h.roles.iter().any(|r| r.ends_with(&suffix)))
            .map(|h| h.name.as_str())
    }

    /// Whether `host` is in `state` with exactly `roles` (in show's order).
    pub fn is(&self, host: &str, state: &str, roles: &[&str]) -> bool {
        let h = self.host(host);
        h.state == state && h.roles == roles
    }
}

/// The monitors' view through `mmmctl --json show`, `None` while no monitor answers.
pub fn show(c: &Cluster) -> Option<Show> {
    let v = mmmctl_json(c, &["show"])?;
    let hosts = v.get("hosts")?.as_array()?;
    let hosts = hosts
        .iter()
        .map(|h| {
            let roles = h
                .get("roles")?
                .as_array()?
                .iter()
                .map(|r| {
                    let (role, ip) = (r.get("role")?.as_str()?, r.get("ip")?.as_str()?);
                    // A VIP-less role is shown by its bare name, as `show` prints it.
                    Some(if ip.is_empty() {
                        role.to_owned()
                    } else {
                        format!("{role}({ip})")
                    })
                })
                .collect::<Option<Vec<_>>>()?;
            Some(HostView {
                name: h.get("name")?.as_str()?.to_owned(),
                state: h.get("state")?.as_str()?.to_owned(),
                roles,
                agent_reachable: h.get("agent_reachable")?.as_bool()?,
            })
        })
        .collect::<Option<Vec<_>>>()?;
    Some(Show { hosts })
}

/// One replicated state change (`mmmctl --json history`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// Epoch after the change.
    pub epoch: u64,
    /// When the leader made it (Unix milliseconds).
    pub at_ms: u64,
    /// mysql-mmm's log line for it.
    pub line: String,
}

/// Every replicated state change so far, oldest first (empty while no monitor answers).
pub fn history(c: &Cluster) -> Vec<Change> {
    let Some(v) = mmmctl_json(c, &["history"]) else {
        return Vec::new();
    };
    v.get("entries")
        .and_then(Value::as_array)
        .map(|entries| {
            entries
                .iter()
                .filter_map(|e| {
                    Some(Change {
                        epoch: e.get("epoch")?.as_u64()?,
                        at_ms: e.get("at_ms")?.as_u64()?,
                        line: e.get("line")?.as_str()?.to_owned(),
                    })
                })
                .collect()
        })
        .unwrap_or_default()
}

fn mmmctl_json(c: &Cluster, args: &[&str]) -> Option<Value> {
    let mut full = vec!["--json"];
    full.extend_from_slice(args);
    let out = c.mmmctl(&full).ok()?;
    if !out.status.success() {
        return None;
    }
    serde_json::from_slice(&out.stdout).ok()
}

/// Polls `cond` until it holds; panics with every daemon's log tail and `show` after [`SETTLE`].
/// Returns how long it took.
pub fn wait(c: &Cluster, what: &str, cond: impl FnMut() -> bool) -> Duration {
    c.wait_for(what, SETTLE, cond)
        .unwrap_or_else(|e| panic!("{e}"))
}

/// Waits until `mmmctl show` satisfies `pred` and returns that view.
pub fn wait_show(c: &Cluster, what: &str, pred: impl Fn(&Show) -> bool) -> Show {
    let mut last = None;
    wait(c, what, || {
        last = show(c);
        last.as_ref().is_some_and(&pred)
    });
    last.expect("a show that satisfied the condition")
}

/// Waits until the history holds a change whose line is exactly `line`, and returns it.
pub fn wait_change(c: &Cluster, line: &str) -> Change {
    let mut found = None;
    wait(c, &format!("the history line {line:?}"), || {
        found = history(c).into_iter().find(|e| e.line == line);
        found.is_some()
    });
    found.expect("the awaited change")
}

/// Whether the history holds a line containing `needle`.
pub fn history_mentions(c: &Cluster, needle: &str) -> bool {
    history(c).iter().any(|e| e.line.contains(needle))
}

/// mysql-mmm's reply when `set_online` finds the host ONLINE already.
const ALREADY_ONLINE: &str = "OK: This host is already ONLINE. Skipping command.\n";

/// `mmmctl set_online host`, repeated while the host's checks are not yet OK, until mysql-mmm's
/// exact success reply comes back.
pub fn set_online(c: &Cluster, host: &str) {
    set_online_until(c, host, false);
}

/// Like [`set_online`]; with `or_already`, the reply that the host is ONLINE already also ends it.
fn set_online_until(c: &Cluster, host: &str, or_already: bool) {
    let ok = format!(
        "OK: State of '{host}' changed to ONLINE. Now you can wait some time and check its new roles!\n"
    );
    let mut replies: Vec<String> = Vec::new();
    let waited = c.wait_for(&format!("set_online {host}"), SETTLE, || {
        let (_, out) = c.mmmctl_text(&["set_online", host]);
        let done = out == ok || (or_already && out == ALREADY_ONLINE);
        if replies.last() != Some(&out) {
            replies.push(out);
        }
        done
    });
    if let Err(e) = waited {
        let changes: Vec<String> = history(c).into_iter().map(|h| h.line).collect();
        panic!("set_online {host}: replies {replies:#?}\nhistory {changes:#?}\n{e}");
    }
}

/// Brings a fresh cluster up the way the seed reports did: a leader, then each host set online in
/// `order` (each waited for), the first one taking the writer role; returns once every VIP is on
/// a host. The first host may be ONLINE already: mysql-mmm's startup vote (reference §5.2)
/// makes the master the slaves replicate from ONLINE with the writer role.
pub fn bring_up(c: &Cluster, order: &[&str]) -> Show {
    wait(c, "a leader monitor", || c.leader().is_some());
    for (i, host) in order.iter().enumerate() {
        set_online_until(c, host, i == 0);
        wait_show(c, &format!("{host} ONLINE"), |s| {
            s.host(host).state == "ONLINE"
        });
        if i == 0 && c.mmm_config().vip_less.is_none() {
            wait(c, &format!("the writer VIP on {host}"), || {
                c.has_ip(host, WRITER_VIP)
            });
        }
    }
    let vips = all_vips(c);
    let readers = c.mmm_config().reader_hosts.clone();
    // Setting the last reader host online and balancing the reader VIPs onto it are two
    // decisions: the layout counts only once the second one is shown too.
    let up = wait_show(c, "every VIP on a host, the readers balanced", |s| {
        vips.iter().all(|ip| s.holder(ip).is_some()) && readers_balanced(s, &readers)
    });
    for ip in &vips {
        let holder = up.holder(ip).expect("held");
        wait(c, &format!("{ip} configured on {holder}"), || {
            c.has_ip(holder, ip)
        });
    }
    println!("cluster up:\n{}", c.mmmctl_text(&["show"]).1);
    up
}

/// Whether the reader VIPs are spread as mysql-mmm's balancing leaves them: among the ONLINE
/// hosts of `reader_hosts`, no two hold reader VIPs that differ by more than one.
fn readers_balanced(s: &Show, reader_hosts: &[String]) -> bool {
    let counts: Vec<usize> = reader_hosts
        .iter()
        .map(|h| s.host(h))
        .filter(|h| h.state == "ONLINE")
        .map(|h| h.roles.iter().filter(|r| r.starts_with("reader(")).count())
        .collect();
    match (counts.iter().min(), counts.iter().max()) {
        (Some(min), Some(max)) => max - min <= 1,
        _ => true,
    }
}

/// Waits for mysql-mmm's line that `host` failed because its mysqld does not answer.
pub fn wait_mysql_down(c: &Cluster, host: &str) -> Change {
    wait_change(
        c,
        &format!(
            "State of host '{host}' changed from ONLINE to HARD_OFFLINE (ping: OK, mysql: not OK)"
        ),
    )
}

/// Waits until the writer role has been assigned to `to` and its VIP is configured there and on
/// no other database host.
pub fn wait_writer_on(c: &Cluster, to: &str) {
    wait_change(
        c,
        &format!("Orphaned role 'writer({WRITER_VIP})' has been assigned to '{to}'"),
    );
    wait_writer_vip_on(c, to);
}

/// Waits until the writer VIP is configured on `host` and on no other database host.
pub fn wait_writer_vip_on(c: &Cluster, host: &str) {
    wait(c, &format!("the writer VIP on {host} only"), || {
        c.agent_names()
            .iter()
            .all(|h| c.has_ip(h, WRITER_VIP) == (h == host))
    });
}

/// Waits until `slave` replicates from `master` (its `Master_Host` is `master`'s address).
pub fn wait_replicates_from(c: &Cluster, slave: &str, master: &str) {
    let ip = host_ip(c, master);
    wait(c, &format!("{slave} replicating from {master}"), || {
        c.master_host(slave).as_deref() == Some(ip.as_str())
    });
}

/// The writer VIP and every reader VIP of the cluster.
pub fn all_vips(c: &Cluster) -> Vec<String> {
    if c.mmm_config().vip_less.is_some() {
        return Vec::new();
    }
    let mut vips = vec![WRITER_VIP.to_owned()];
    vips.extend(reader_vips(c));
    vips
}

/// The reader VIPs of the cluster's config.
pub fn reader_vips(c: &Cluster) -> Vec<String> {
    c.mmm_config()
        .reader_ips
        .iter()
        .map(ToString::to_string)
        .collect()
}

/// The lab address of database host `host`.
pub fn host_ip(c: &Cluster, host: &str) -> String {
    c.host(host)
        .unwrap_or_else(|| panic!("no host {host}"))
        .ip()
        .to_string()
}

/// The `server_id` of database host `host`'s MariaDB.
pub fn server_id(c: &Cluster, host: &str) -> u32 {
    c.topology()
        .db(host)
        .unwrap_or_else(|e| panic!("{e}"))
        .server_id()
}

/// Waits until the wall clock is at least `at_ms + after` (Unix milliseconds), for rules that
/// count time since a replicated change (mysql-mmm's 60-second rule).
pub fn sleep_until_after(at_ms: u64, after: Duration) {
    let target = Duration::from_millis(at_ms) + after;
    loop {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        if now >= target {
            return;
        }
        std::thread::sleep((target - now).min(Duration::from_secs(1)));
    }
}

/// This machine's OS uptime (`/proc/uptime`, which every lab namespace shares): the clock
/// mysql-mmm's 60-second rule reads through the agents.
pub fn os_uptime() -> Duration {
    let text = std::fs::read_to_string("/proc/uptime").expect("/proc/uptime");
    let secs: f64 = text
        .split_whitespace()
        .next()
        .and_then(|s| s.parse().ok())
        .expect("/proc/uptime starts with seconds");
    Duration::from_secs_f64(secs)
}

/// Waits until the OS uptime is at least `since + after`. The wall clock alone is not
/// enough for the 60-second rule: a virtual machine paused and resumed steps its wall clock
/// forward by the pause, while the uptime the agents report does not count it.
pub fn sleep_until_uptime(since: Duration, after: Duration) {
    while os_uptime() < since + after {
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// A stopwatch for printed timelines.
pub fn since(t0: Instant) -> String {
    format!("{:.2} s", t0.elapsed().as_secs_f64())
}
