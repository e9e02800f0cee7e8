//! Real tests of mmm-agentd: the agent binary runs inside lab namespaces next to real MariaDB
//! servers, and a client namespace talks gRPC (and MySQL, and ARP) to it.

mod agent {
    mod catchup;
    mod failsafe;
    mod fencing;
    pub mod harness;
    mod lease;
    mod server_timer;
    mod slave;
    mod validation;
    mod writer;
}
