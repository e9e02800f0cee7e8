//! `config check` (filled in when the config loader lands).
