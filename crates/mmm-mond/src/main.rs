//! mmm-mond (being built).

fn main() {}
