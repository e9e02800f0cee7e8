//! Real-lab tests: namespaces, MariaDB servers, replication and faults. They need root (network
//! namespaces); without it each test prints why and returns.

mod lab {
    pub mod common;
    mod faults;
    mod mariadb;
    mod network;
    mod topology;
}
