//! Helpers shared by the lab tests.

use mmm_lab::Lab;

/// A fresh lab with a unique prefix, or `None` (after printing why) when not running as root.
pub fn lab() -> Option<Lab> {
    if !mmm_lab::lab_available("mmm-lab test") {
        return None;
    }
    let _ = tracing_subscriber_init();
    Some(Lab::new_unique("mmmt").expect("create lab"))
}

/// Whether the current process is root; prints a skip message otherwise.
pub fn root_or_skip() -> bool {
    mmm_lab::lab_available("mmm-lab test")
}

fn tracing_subscriber_init() -> Option<()> {
    None
}

/// Asserts that none of `names` is listed by `ip netns list` any more.
pub fn assert_namespaces_gone(names: &[String]) {
    let out = std::process::Command::new("ip")
        .args(["netns", "list"])
        .output()
        .expect("ip netns list");
    let listed = String::from_utf8_lossy(&out.stdout);
    for name in names {
        assert!(
            !listed
                .lines()
                .any(|l| l.split_whitespace().next() == Some(name)),
            "namespace {name} still exists after the lab was dropped:\n{listed}"
        );
    }
}
