//! The lab: a bridge namespace, host namespaces wired to it, and network faults between them.

use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;
use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};

use crate::delay::{DelayLine, Shape};
use crate::error::{LabError, Result};
use crate::host::{HOST_INTERFACE, Host};
use crate::netns::{self, Netns};
use crate::process::{PidRegistry, send_signal};
use crate::shaping::Netem;

/// The lab subnet; it exists only inside lab namespaces and has no route out.
pub const LAB_SUBNET: &str = "10.213.7.0/24";
/// Prefix length of [`LAB_SUBNET`].
pub const LAB_PREFIX_LEN: u8 = 24;
/// Name of the bridge device inside the bridge namespace.
const BRIDGE: &str = "br0";
/// nftables table (bridge family) that implements cuts and isolation.
const NFT_TABLE: &str = "mmmlab";

/// Conventional octet of the first monitor host (`mon1` = .21, `mon2` = .22, …); database hosts
/// use `DB_OCTET_BASE + N` (.11…), VIPs start at .100.
pub const MONITOR_OCTET_BASE: u8 = 20;
/// Conventional octet of a client / application host.
pub const CLIENT_OCTET: u8 = 50;

/// The address `10.213.7.<octet>` on the lab subnet.
pub fn lab_ip(octet: u8) -> Ipv4Addr {
    Ipv4Addr::new(10, 213, 7, octet)
}

/// A set of namespaces on one bridge, owned by one test: dropping it kills the processes started
/// in it and deletes exactly its namespaces.
#[derive(Debug)]
pub struct Lab {
    prefix: String,
    bridge: Netns,
    hosts: Mutex<Vec<Host>>,
    registry: PidRegistry,
    dir: tempfile::TempDir,
    cuts: Mutex<BTreeSet<(String, String)>>,
    delays: Mutex<BTreeMap<String, DelayLine>>,
}

impl Lab {
    /// Creates an empty lab whose namespaces are all named `<prefix>-…`; fails if the bridge
    /// namespace `<prefix>-br` already exists.
    pub fn new(prefix: &str) -> Result<Self> {
        validate_prefix(prefix)?;
        let dir = tempfile::Builder::new()
            .prefix(&format!("{prefix}-"))
            .tempdir()
            .map_err(|e| LabError::io("creating the lab directory", e))?;
        let bridge = Netns::create(&format!("{prefix}-br"))?;
        let lab = Self {
            prefix: prefix.to_owned(),
            bridge,
            hosts: Mutex::new(Vec::new()),
            registry: PidRegistry::default(),
            dir,
            cuts: Mutex::new(BTreeSet::new()),
            delays: Mutex::new(BTreeMap::new()),
        };
        lab.bridge.ip(&["link", "add", BRIDGE, "type", "bridge"])?;
        lab.bridge.ip(&["link", "set", BRIDGE, "up"])?;
        lab.bridge
            .exec_with_input("nft", &["-f", "-"], Some(&nft_ruleset()))?;
        tracing::info!(prefix, "lab created");
        Ok(lab)
    }

    /// Creates a lab with a prefix unique to this process and call (`<tag>-<pid>-<n>`). First
    /// removes what labs of dead processes left behind ([`crate::cleanup_orphans`]).
    pub fn new_unique(tag: &str) -> Result<Self> {
        if let Err(e) = crate::cleanup_orphans() {
            tracing::warn!(error = %e, "could not look for orphaned lab namespaces");
        }
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        Self::new(&format!("{tag}-{}-{n}", std::process::id()))
    }

    /// The prefix every namespace of this lab starts with.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The lab's scratch directory (removed on drop).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The namespace holding the bridge.
    pub fn bridge_netns(&self) -> &Netns {
        &self.bridge
    }

    /// Adds host `name` with address `10.213.7.<octet>`: a namespace `<prefix>-<name>` whose
    /// `eth0` is a veth whose peer sits on the lab bridge. No default route.
    pub fn add_host(&self, name: &str, octet: u8) -> Result<Host> {
        validate_host_name(name)?;
        if octet == 0 || octet == 255 {
            return Err(LabError::InvalidName {
                name: octet.to_string(),
                reason: "host octet must be 1..=254",
            });
        }
        {
            let hosts = self.lock_hosts();
            if hosts
                .iter()
                .any(|h| h.name == name || h.ip == lab_ip(octet))
            {
                return Err(LabError::InvalidName {
                    name: format!("{name}/{octet}"),
                    reason: "host name or address already used in this lab",
                });
            }
        }
        let ns = Netns::create(&format!("{}-{name}", self.prefix))?;
        let port = format!("vh{octet}");
        let wired = self.wire(&ns, &port, octet);
        if let Err(e) = wired {
            let _ = ns.delete();
            return Err(e);
        }
        let dir = self.dir().join(name);
        std::fs::create_dir_all(&dir)
            .map_err(|e| LabError::io(format!("creating {}", dir.display()), e))?;
        let host = Host {
            name: name.to_owned(),
            ip: lab_ip(octet),
            netns: ns,
            bridge_port: port,
            registry: self.registry.clone(),
            dir,
        };
        self.lock_hosts().push(host.clone());
        tracing::debug!(host = name, ip = %host.ip, "lab host added");
        Ok(host)
    }

    fn wire(&self, ns: &Netns, port: &str, octet: u8) -> Result<()> {
        self.bridge.ip(&[
            "link",
            "add",
            port,
            "type",
            "veth",
            "peer",
            "name",
            HOST_INTERFACE,
            "netns",
            ns.name(),
        ])?;
        self.bridge.ip(&["link", "set", port, "master", BRIDGE])?;
        self.bridge.ip(&["link", "set", port, "up"])?;
        let cidr = format!("{}/{LAB_PREFIX_LEN}", lab_ip(octet));
        ns.ip(&["addr", "add", &cidr, "dev", HOST_INTERFACE])?;
        ns.ip(&["link", "set", HOST_INTERFACE, "up"])?;
        Ok(())
    }

    /// The host called `name`, if added.
    pub fn host(&self, name: &str) -> Option<Host> {
        self.lock_hosts().iter().find(|h| h.name == name).cloned()
    }

    /// All hosts in the order they were added.
    pub fn hosts(&self) -> Vec<Host> {
        self.lock_hosts().clone()
    }

    /// Names of all namespaces this lab created (bridge first).
    pub fn namespaces(&self) -> Vec<String> {
        let mut names = vec![self.bridge.name().to_owned()];
        names.extend(self.lock_hosts().iter().map(|h| h.netns.name().to_owned()));
        names
    }

    /// Drops all traffic (IP and ARP, VIPs included) between hosts `a` and `b` in both directions,
    /// with an nftables rule on the bridge between their two ports.
    pub fn cut(&self, a: &Host, b: &Host) -> Result<()> {
        let pair = ordered(&a.bridge_port, &b.bridge_port);
        let mut cuts = self.lock_cuts();
        if cuts.contains(&pair) {
            return Ok(());
        }
        self.nft(&format!(
            "add element bridge {NFT_TABLE} cut {{ \"{0}\" . \"{1}\", \"{1}\" . \"{0}\" }}",
            pair.0, pair.1
        ))?;
        cuts.insert(pair);
        tracing::info!(a = %a.name, b = %b.name, "lab link cut");
        Ok(())
    }

    /// Restores traffic between `a` and `b` after [`Lab::cut`]; healing an intact link is a no-op.
    pub fn heal(&self, a: &Host, b: &Host) -> Result<()> {
        let pair = ordered(&a.bridge_port, &b.bridge_port);
        let mut cuts = self.lock_cuts();
        if !cuts.contains(&pair) {
            return Ok(());
        }
        self.nft(&format!(
            "delete element bridge {NFT_TABLE} cut {{ \"{0}\" . \"{1}\", \"{1}\" . \"{0}\" }}",
            pair.0, pair.1
        ))?;
        cuts.remove(&pair);
        tracing::info!(a = %a.name, b = %b.name, "lab link healed");
        Ok(())
    }

    /// Drops what `from` sends to `to` (IP and ARP), while `to` still reaches `from`: a one-way
    /// cut. TCP between them then fails to connect, but what `to` sends on an open connection
    /// still arrives (only the answers and acknowledgements are lost).
    pub fn cut_one_way(&self, from: &Host, to: &Host) -> Result<()> {
        self.nft(&format!(
            "add element bridge {NFT_TABLE} oneway {{ \"{}\" . \"{}\" }}",
            from.bridge_port, to.bridge_port
        ))?;
        tracing::info!(from = %from.name, to = %to.name, "lab link cut one way");
        Ok(())
    }

    /// Undoes [`Lab::cut_one_way`]; healing a direction that is not cut is a no-op.
    pub fn heal_one_way(&self, from: &Host, to: &Host) -> Result<()> {
        let element = format!("\"{}\" . \"{}\"", from.bridge_port, to.bridge_port);
        let present = self
            .bridge
            .exec("nft", &["list", "set", "bridge", NFT_TABLE, "oneway"])?
            .contains(&element);
        if present {
            self.nft(&format!(
                "delete element bridge {NFT_TABLE} oneway {{ {element} }}"
            ))?;
            tracing::info!(from = %from.name, to = %to.name, "lab one-way cut healed");
        }
        Ok(())
    }

    /// Splits the lab: every host of `side_a` is cut from every host of `side_b` (links inside
    /// each side stay up).
    pub fn partition(&self, side_a: &[&Host], side_b: &[&Host]) -> Result<()> {
        for a in side_a {
            for b in side_b {
                self.cut(a, b)?;
            }
        }
        Ok(())
    }

    /// Heals every cut (both-way and one-way) of this lab and rejoins every isolated host.
    pub fn heal_all(&self) -> Result<()> {
        let mut cuts = self.lock_cuts();
        self.nft(&format!(
            "flush set bridge {NFT_TABLE} cut\nflush set bridge {NFT_TABLE} isolated\n\
             flush set bridge {NFT_TABLE} oneway\n"
        ))?;
        cuts.clear();
        tracing::info!(prefix = %self.prefix, "all lab links healed");
        Ok(())
    }

    /// Cuts `host` off from every other host of the lab (its bridge port drops everything).
    pub fn isolate(&self, host: &Host) -> Result<()> {
        if self.isolated(host)? {
            return Ok(());
        }
        self.nft(&format!(
            "add element bridge {NFT_TABLE} isolated {{ \"{}\" }}",
            host.bridge_port
        ))?;
        tracing::info!(host = %host.name, "lab host isolated");
        Ok(())
    }

    /// Undoes [`Lab::isolate`]; a host that is not isolated is left alone.
    pub fn rejoin(&self, host: &Host) -> Result<()> {
        if !self.isolated(host)? {
            return Ok(());
        }
        self.nft(&format!(
            "delete element bridge {NFT_TABLE} isolated {{ \"{}\" }}",
            host.bridge_port
        ))?;
        tracing::info!(host = %host.name, "lab host rejoined");
        Ok(())
    }

    fn isolated(&self, host: &Host) -> Result<bool> {
        let out = self
            .bridge
            .exec("nft", &["list", "set", "bridge", NFT_TABLE, "isolated"])?;
        Ok(out.contains(&format!("\"{}\"", host.bridge_port)))
    }

    /// Degrades everything `host` sends: `delay_ms` of delay and `loss_pct` % random loss.
    /// Replaces any earlier setting (see [`Lab::shape`]).
    pub fn netem(&self, host: &Host, delay_ms: u32, loss_pct: f64) -> Result<()> {
        self.shape(host, &Netem::delay_loss(delay_ms, loss_pct))
    }

    /// Degrades everything `host` sends as `netem` says (delay, jitter, reordering, loss),
    /// replacing any earlier setting. Delay, jitter and reordering use tc netem on the host's
    /// `eth0` when the kernel has `sch_netem`, otherwise a userspace delay line spliced in front
    /// of the host's bridge port; loss is an nftables `numgen` rule on that port. All of it works
    /// with cuts and isolation.
    pub fn shape(&self, host: &Host, netem: &Netem) -> Result<()> {
        netem.validate()?;
        self.set_delay(host, netem)?;
        self.set_loss(host, netem.loss_bp())?;
        tracing::info!(host = %host.name, ?netem, "lab link degraded");
        Ok(())
    }

    /// Whether the kernel has `sch_netem` (otherwise delays go through the userspace delay line).
    pub fn kernel_netem(&self) -> bool {
        let probe = self.bridge.exec(
            "tc",
            &[
                "qdisc", "add", "dev", BRIDGE, "root", "netem", "delay", "1ms",
            ],
        );
        let ok = probe.is_ok();
        if ok {
            let _ = self
                .bridge
                .exec("tc", &["qdisc", "del", "dev", BRIDGE, "root"]);
        }
        ok
    }

    fn set_delay(&self, host: &Host, netem: &Netem) -> Result<()> {
        let mut delays = self
            .delays
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if !netem.delays() {
            self.clear_delay(host)?;
            if let Some(line) = delays.remove(&host.name) {
                drop(line);
                self.unsplice(host)?;
            }
            return Ok(());
        }
        let shape = Shape {
            delay: netem.delay,
            jitter: netem.jitter,
            reorder_bp: netem.reorder_bp(),
        };
        if let Some(line) = delays.get(&host.name) {
            line.set_shape(shape);
            return Ok(());
        }
        let mut args: Vec<String> = ["qdisc", "replace", "dev", HOST_INTERFACE, "root", "netem"]
            .iter()
            .map(|a| (*a).to_owned())
            .collect();
        args.extend(netem.tc_args());
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let set = host.netns.exec("tc", &args);
        match set {
            Ok(_) => Ok(()),
            Err(LabError::Command { stderr, .. }) if stderr.contains("qdisc kind is unknown") => {
                let (host_side, bridge_side) = self.splice(host)?;
                let seed = u64::from(u32::from(host.ip));
                match DelayLine::start(&self.bridge, &host_side, &bridge_side, shape, seed) {
                    Ok(line) => {
                        delays.insert(host.name.clone(), line);
                        Ok(())
                    }
                    Err(e) => {
                        let _ = self.unsplice(host);
                        Err(e)
                    }
                }
            }
            Err(e) => Err(e),
        }
    }

    /// Puts a relay point in front of `host`'s bridge port: the host's veth end becomes `rhN` and
    /// a new pair `vhN` (on the bridge, same name, so cut/isolate/loss rules still apply) ⇄ `qhN`
    /// is created. Returns (`rhN`, `qhN`).
    fn splice(&self, host: &Host) -> Result<(String, String)> {
        let port = host.bridge_port.as_str();
        let suffix = port.trim_start_matches("vh");
        let host_side = format!("rh{suffix}");
        let bridge_side = format!("qh{suffix}");
        let b = &self.bridge;
        b.ip(&["link", "set", port, "nomaster"])?;
        b.ip(&["link", "set", port, "down"])?;
        b.ip(&["link", "set", port, "name", &host_side])?;
        b.ip(&["link", "set", &host_side, "up"])?;
        b.ip(&[
            "link",
            "add",
            port,
            "type",
            "veth",
            "peer",
            "name",
            &bridge_side,
        ])?;
        b.ip(&["link", "set", port, "master", BRIDGE])?;
        b.ip(&["link", "set", port, "up"])?;
        b.ip(&["link", "set", &bridge_side, "up"])?;
        Ok((host_side, bridge_side))
    }

    /// Undoes [`Lab::splice`]: the relay pair goes, the host's veth end is the bridge port again.
    fn unsplice(&self, host: &Host) -> Result<()> {
        let port = host.bridge_port.as_str();
        let host_side = format!("rh{}", port.trim_start_matches("vh"));
        let b = &self.bridge;
        b.ip(&["link", "del", port])?;
        b.ip(&["link", "set", &host_side, "down"])?;
        b.ip(&["link", "set", &host_side, "name", port])?;
        b.ip(&["link", "set", port, "master", BRIDGE])?;
        b.ip(&["link", "set", port, "up"])?;
        Ok(())
    }

    /// Removes delay and loss from `host`; no-op when there is none.
    pub fn clear_netem(&self, host: &Host) -> Result<()> {
        self.set_delay(host, &Netem::default())?;
        self.set_loss(host, 0)
    }

    fn clear_delay(&self, host: &Host) -> Result<()> {
        let qdisc = host
            .netns
            .exec("tc", &["qdisc", "show", "dev", HOST_INTERFACE])?;
        if qdisc.contains("netem") {
            host.netns
                .exec("tc", &["qdisc", "del", "dev", HOST_INTERFACE, "root"])?;
        }
        Ok(())
    }

    /// Installs (or with 0 removes) a per-port chain dropping `threshold` hundredths of a
    /// percent of the frames `host` sends.
    fn set_loss(&self, host: &Host, threshold: u32) -> Result<()> {
        let port = &host.bridge_port;
        let chain = format!("loss_{port}");
        let present = self
            .bridge
            .exec("nft", &["list", "map", "bridge", NFT_TABLE, "loss_ports"])?
            .contains(&format!("\"{port}\""));
        let mut script = String::new();
        if present {
            script.push_str(&format!(
                "delete element bridge {NFT_TABLE} loss_ports {{ \"{port}\" }}\n\
                 delete chain bridge {NFT_TABLE} {chain}\n"
            ));
        }
        if threshold > 0 {
            let matcher = if threshold >= 10_000 {
                String::new()
            } else {
                format!("numgen random mod 10000 < {threshold} ")
            };
            script.push_str(&format!(
                "add chain bridge {NFT_TABLE} {chain}\n\
                 add rule bridge {NFT_TABLE} {chain} {matcher}drop\n\
                 add element bridge {NFT_TABLE} loss_ports {{ \"{port}\" : jump {chain} }}\n"
            ));
        }
        if script.is_empty() {
            return Ok(());
        }
        self.nft(&script).map(|_| ())
    }

    /// Deletes namespaces left by a crashed earlier run with exactly this prefix (`<prefix>-<host>`),
    /// killing the processes inside them by pid first, and its scratch directory. Other prefixes
    /// are never touched. Returns what was removed (namespace names, then directory paths).
    pub fn cleanup_stale(prefix: &str) -> Result<Vec<String>> {
        validate_prefix(prefix)?;
        let mine = format!("{prefix}-");
        let mut removed = Vec::new();
        for name in netns::list()? {
            if let Some(rest) = name.strip_prefix(&mine) {
                if rest.contains('-') && !rest.is_empty() {
                    // `<prefix>-<host>` only; a longer prefix sharing ours is another lab.
                    continue;
                }
                let ns = Netns::from_name(&name);
                kill_namespace_processes(&ns);
                ns.delete()?;
                removed.push(name);
            }
        }
        // The crashed lab's scratch directory (`<tmp>/<prefix>-XXXXXX`, servers' datadirs inside).
        if let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) {
            for entry in entries.flatten() {
                let file_name = entry.file_name();
                let Some(rest) = file_name.to_str().and_then(|n| n.strip_prefix(&mine)) else {
                    continue;
                };
                if !rest.is_empty() && rest.chars().all(|c| c.is_ascii_alphanumeric()) {
                    let path = entry.path();
                    std::fs::remove_dir_all(&path)
                        .map_err(|e| LabError::io(format!("removing {}", path.display()), e))?;
                    removed.push(path.display().to_string());
                }
            }
        }
        Ok(removed)
    }

    fn nft(&self, command: &str) -> Result<String> {
        self.bridge
            .exec_with_input("nft", &["-f", "-"], Some(command))
    }

    fn lock_hosts(&self) -> std::sync::MutexGuard<'_, Vec<Host>> {
        self.hosts
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn lock_cuts(&self) -> std::sync::MutexGuard<'_, BTreeSet<(String, String)>> {
        self.cuts
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        self.delays
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clear();
        self.registry.kill_all();
        let hosts = self.lock_hosts().clone();
        for host in hosts.iter().rev() {
            kill_namespace_processes(&host.netns);
            if let Err(e) = host.netns.delete() {
                tracing::warn!(netns = host.netns.name(), error = %e, "could not delete lab namespace");
            }
        }
        kill_namespace_processes(&self.bridge);
        if let Err(e) = self.bridge.delete() {
            tracing::warn!(netns = self.bridge.name(), error = %e, "could not delete lab namespace");
        }
        if std::env::var_os("MMM_LAB_KEEP_DIR").is_some() {
            let kept = std::mem::replace(
                &mut self.dir,
                match tempfile::tempdir() {
                    Ok(d) => d,
                    Err(_) => return,
                },
            );
            tracing::info!(dir = %kept.keep().display(), "lab directory kept");
        }
    }
}

/// SIGKILLs every process whose network namespace is `ns` (found by pid via `ip netns pids`).
fn kill_namespace_processes(ns: &Netns) {
    if let Ok(pids) = ns.pids() {
        for pid in pids {
            if let Ok(pid) = u32::try_from(pid) {
                let _ = send_signal(pid, libc::SIGKILL);
            }
        }
    }
}

fn ordered(a: &str, b: &str) -> (String, String) {
    if a <= b {
        (a.to_owned(), b.to_owned())
    } else {
        (b.to_owned(), a.to_owned())
    }
}

fn nft_ruleset() -> String {
    format!(
        "table bridge {NFT_TABLE} {{
  set cut {{ type ifname . ifname; }}
  set isolated {{ type ifname; }}
  set oneway {{ type ifname . ifname; }}
  map loss_ports {{ type ifname : verdict; }}
  chain forward {{
    type filter hook forward priority 0; policy accept;
    iifname vmap @loss_ports
    iifname . oifname @cut drop
    iifname . oifname @oneway drop
    iifname @isolated drop
    oifname @isolated drop
  }}
}}
"
    )
}

fn validate_prefix(prefix: &str) -> Result<()> {
    let bad = |reason| {
        Err(LabError::InvalidName {
            name: prefix.to_owned(),
            reason,
        })
    };
    if prefix.len() < 3 || prefix.len() > 32 {
        return bad("a lab prefix must be 3..=32 characters");
    }
    if !prefix
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
    {
        return bad("a lab prefix may only hold a-z, 0-9 and '-'");
    }
    Ok(())
}

fn validate_host_name(name: &str) -> Result<()> {
    let bad = |reason| {
        Err(LabError::InvalidName {
            name: name.to_owned(),
            reason,
        })
    };
    if name.is_empty() || name.len() > 16 {
        return bad("a host name must be 1..=16 characters");
    }
    if !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return bad("a host name may only hold letters, digits and '_'");
    }
    if name == "br" {
        return bad("`br` is the bridge namespace's suffix");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_and_names_are_validated() {
        assert!(validate_prefix("mmmt-12-0").is_ok());
        assert!(validate_prefix("ab").is_err());
        assert!(validate_prefix("MMM").is_err());
        assert!(validate_prefix("a b c").is_err());
        assert!(validate_host_name("db1").is_ok());
        assert!(validate_host_name("db-1").is_err());
        assert!(validate_host_name("br").is_err());
        assert!(validate_host_name("").is_err());
    }

    #[test]
    fn lab_ips_are_on_the_lab_subnet() {
        assert_eq!(lab_ip(11).to_string(), "10.213.7.11");
    }

    #[test]
    fn pairs_are_ordered() {
        assert_eq!(ordered("vh12", "vh11"), ("vh11".into(), "vh12".into()));
    }
}
