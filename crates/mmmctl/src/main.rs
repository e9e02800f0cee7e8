//! mmmctl (being built).

fn main() {}
