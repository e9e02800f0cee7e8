//! Real-lab tests: namespaces, MariaDB servers, replication and faults. They need root (network
//! namespaces); without it each test prints why and returns.

mod lab {
    mod cluster;
    pub mod common;
    mod demo;
    mod faults;
    mod mariadb;
    mod network;
    mod orphans;
    pub mod system;
    mod topology;
}
