//! The Debian package, built from this workspace by `scripts/build-deb`: what it holds (paths,
//! modes, owners, conffiles, maintainer scripts), then a real `dpkg -i` into a throwaway root —
//! an overlay of this machine's root filesystem in a private mount namespace, so nothing
//! reaches the real system — where the `mmm` user exists afterwards, the configs are root:mmm
//! 0640 and readable by that user (mmmctl's `config check` run as `mmm` accepts them), the
//! installed `mmmctl --version` is the package's, and `systemd-analyze verify` accepts the units.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use mmm_lab::process::output_with_deadline;

/// A cold release build of the workspace on a busy 2-core machine.
const BUILD_DEADLINE: Duration = Duration::from_secs(40 * 60);
const TOOL_DEADLINE: Duration = Duration::from_secs(120);

fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Runs `program args…`, returns stdout; panics with stderr when it fails.
fn run(program: &str, args: &[&str], deadline: Duration) -> String {
    let mut command = Command::new(program);
    command.args(args).current_dir(workspace());
    let what = format!("{program} {}", args.join(" "));
    let out = output_with_deadline(command, &what, deadline, None)
        .unwrap_or_else(|e| panic!("{what}: {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{what}: {}\nstdout:\n{stdout}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// Whether cargo-deb is installed; without it the test can't run (CI installs it).
fn cargo_deb_available() -> bool {
    let cargo = option_env!("CARGO").unwrap_or("cargo");
    let ok = Command::new(cargo)
        .args(["deb", "--version"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        let why = "cargo-deb is missing (cargo install --locked cargo-deb)";
        assert!(
            std::env::var_os(mmm_lab::REQUIRE_LAB_ENV).is_none(),
            "the .deb test must run here: {why}"
        );
        eprintln!("SKIPPED the .deb test: {why}");
    }
    ok
}

fn build_deb() -> PathBuf {
    let out = run("bash", &["scripts/build-deb"], BUILD_DEADLINE);
    let path = out.lines().last().unwrap_or_default().trim();
    let deb = workspace().join(path);
    assert!(deb.is_file(), "build-deb printed '{path}', not a file");
    deb
}

/// `dpkg-deb -c`'s line for `path` (mode, owner/group, size, date, path).
fn entry<'a>(listing: &'a str, path: &str) -> &'a str {
    listing
        .lines()
        .find(|l| l.ends_with(&format!(" .{path}")))
        .unwrap_or_else(|| panic!("{path} is not in the package:\n{listing}"))
}

/// Whether a `dpkg-deb -c` line has `mode` and root's owner and group, by name or number
/// (tar archives may carry either; cargo-deb writes the numbers).
fn root_owned(line: &str, mode: &str) -> bool {
    let mut fields = line.split_whitespace();
    fields.next() == Some(mode) && matches!(fields.next(), Some("root/root" | "0/0"))
}

fn inspect(deb: &Path) {
    let deb = deb.to_str().expect("utf-8 path");
    let info = run("dpkg-deb", &["-I", deb], TOOL_DEADLINE);
    for want in [
        "Package: mmm",
        &format!("Version: {}", env!("CARGO_PKG_VERSION")),
        "passwd",
        "postinst",
        "prerm",
        "postrm",
        "conffiles",
    ] {
        assert!(info.contains(want), "no '{want}' in dpkg-deb -I:\n{info}");
    }
    let conffiles = run("dpkg-deb", &["-f", deb, "Package"], TOOL_DEADLINE);
    assert_eq!(conffiles.trim(), "mmm");
    let listing = run("dpkg-deb", &["-c", deb], TOOL_DEADLINE);
    for bin in ["mmm-mond", "mmm-agentd", "mmmctl"] {
        let l = entry(&listing, &format!("/usr/sbin/{bin}"));
        assert!(root_owned(l, "-rwxr-xr-x"), "{l}");
        let man = entry(&listing, &format!("/usr/share/man/man8/{bin}.8.gz"));
        assert!(root_owned(man, "-rw-r--r--"), "{man}");
    }
    // Subcommands have pages of their own.
    entry(&listing, "/usr/share/man/man8/mmmctl-cluster.8.gz");
    for conf in ["mmm_common.conf", "mmm_agent.conf", "mmm_mon.conf"] {
        // The archive can't name the mmm group (it doesn't exist yet): postinst sets it.
        let l = entry(&listing, &format!("/etc/mysql-mmm/{conf}"));
        assert!(root_owned(l, "-rw-r-----"), "{l}");
    }
    for unit in [
        "mmm-mond.service",
        "mmm-mond@.service",
        "mmm-agentd.service",
    ] {
        entry(&listing, &format!("/lib/systemd/system/{unit}"));
    }
    for example in [
        "prometheus/mmm-alerts.yml",
        "grafana/mmm-dashboard.json",
        "haproxy/haproxy.cfg",
    ] {
        let l = entry(&listing, &format!("/usr/share/doc/mmm/examples/{example}"));
        assert!(root_owned(l, "-rw-r--r--"), "{l}");
    }
    for completion in [
        "/usr/share/bash-completion/completions/mmmctl",
        "/usr/share/zsh/vendor-completions/_mmmctl",
        "/usr/share/fish/vendor_completions.d/mmmctl.fish",
    ] {
        entry(&listing, completion);
    }
}

/// The commands run inside the throwaway root, after `dpkg -i`; each prints one checked line.
const CHECKS: &str = r#"
set -e
getent passwd mmm | cut -d: -f1,6,7
stat -c "dir %U:%G %a" /etc/mysql-mmm
for f in mmm_common.conf mmm_agent.conf mmm_mon.conf; do stat -c "conf %U:%G %a %n" /etc/mysql-mmm/$f; done
echo "version $(/usr/sbin/mmmctl --version)"
setpriv --reuid mmm --regid mmm --init-groups /usr/sbin/mmmctl config check --as monitor /etc/mysql-mmm/mmm_mon.conf >/tmp/check.out 2>&1 || { cat /tmp/check.out; exit 1; }
echo "check as mmm: ok"
systemd-analyze verify /lib/systemd/system/mmm-mond.service /lib/systemd/system/mmm-agentd.service /lib/systemd/system/mmm-mond@c2.service
echo "verify: ok"
"#;

/// Installs `deb` with dpkg into an overlay of `/` inside a private mount namespace and runs
/// [`CHECKS`] there; returns their output. The overlay's upper layer is a temporary directory,
/// removed afterwards: the real root is never written.
fn install_throwaway(deb: &Path) -> String {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (upper, work, root) = (
        tmp.path().join("upper"),
        tmp.path().join("work"),
        tmp.path().join("root"),
    );
    for d in [&upper, &work, &root] {
        std::fs::create_dir(d).expect("mkdir");
    }
    std::fs::copy(deb, upper.join("mmm.deb")).expect("copy the .deb");
    let script = format!(
        "set -e
mount --make-rprivate /
mount -t overlay overlay -o lowerdir=/,upperdir={upper},workdir={work} {root}
mount -t proc proc {root}/proc
mount -t tmpfs tmpfs {root}/tmp
mount -t tmpfs tmpfs {root}/run
chroot {root} dpkg -i /mmm.deb >&2
chroot {root} sh -c '{CHECKS}'",
        upper = upper.display(),
        work = work.display(),
        root = root.display(),
    );
    run(
        "unshare",
        &["--mount", "--fork", "sh", "-c", &script],
        TOOL_DEADLINE,
    )
}

#[test]
fn the_deb_holds_the_binaries_pages_units_and_configs_and_installs_cleanly() {
    if !mmm_lab::lab_available("the .deb test (a throwaway dpkg -i needs root)")
        || !cargo_deb_available()
    {
        return;
    }
    let deb = build_deb();
    inspect(&deb);
    let out = install_throwaway(&deb);
    let version = env!("CARGO_PKG_VERSION");
    for want in [
        "mmm:/var/lib/mmm:/usr/sbin/nologin".to_owned(),
        "dir root:mmm 750".to_owned(),
        "conf root:mmm 640 /etc/mysql-mmm/mmm_common.conf".to_owned(),
        "conf root:mmm 640 /etc/mysql-mmm/mmm_agent.conf".to_owned(),
        "conf root:mmm 640 /etc/mysql-mmm/mmm_mon.conf".to_owned(),
        format!("version mmmctl {version}"),
        "check as mmm: ok".to_owned(),
        "verify: ok".to_owned(),
    ] {
        assert!(
            out.lines().any(|l| l == want),
            "no line '{want}' in:\n{out}"
        );
    }
}
