//! mysql-mmm configuration files: parsing, templates, includes, per-program validation.

pub mod model;

pub use model::*;
