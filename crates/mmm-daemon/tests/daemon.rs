//! mmm-daemon's integration tests: configuration files on disk (search path, includes,
//! permissions), TLS files and their reload.

mod daemon {
    #[path = "../../../mmm-core/tests/core/config_tests/common.rs"]
    pub mod common;

    mod config_files;
    mod config_includes;
}
