//! MySQL/MariaDB access shared by the agent and the monitor (being built).
