//! A multi-host lab on one machine (being built).
