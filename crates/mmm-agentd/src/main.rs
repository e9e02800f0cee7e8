//! mmm-agentd (being built).

fn main() {}
