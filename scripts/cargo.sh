# shellcheck shell=sh
# Shell functions shared by scripts/install-deps and scripts/lab-demo (sourced, not run): which
# cargo builds, and running it as the user who builds.

# The cargo that builds: $CARGO, else the one on PATH, else (under sudo) the invoking user's
# ~/.cargo/bin/cargo. Prints nothing if there is none.
find_cargo() {
    if [ -n "${CARGO:-}" ]; then
        echo "$CARGO"
    elif command -v cargo >/dev/null 2>&1; then
        command -v cargo
    elif [ -n "${SUDO_USER:-}" ]; then
        builder_home=$(getent passwd "$SUDO_USER" | cut -d: -f6)
        if [ -x "$builder_home/.cargo/bin/cargo" ]; then
            echo "$builder_home/.cargo/bin/cargo"
        fi
    fi
    return 0
}

# Runs a command as the user who builds: under sudo the invoking user (their toolchain, their
# ~/.cargo, their ownership of target/), else the caller.
as_builder() {
    if [ -n "${SUDO_USER:-}" ] && [ "$SUDO_USER" != root ] && [ "$(id -u)" -eq 0 ]; then
        runuser -u "$SUDO_USER" -- "$@"
    else
        "$@"
    fi
}
