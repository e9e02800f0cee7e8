//! What both mmm daemons (`mmm-mond`, `mmm-agentd`) share, in mysql-mmm's manner.
//!
//! * [`signal`]: waiting for SIGTERM / SIGINT, after which a daemon logs
//!   `Signal received: exiting...`, stops, and logs `END`.

pub mod signal;
