# shellcheck shell=sh
# Shell functions shared by scripts/install-deps and scripts/lab-demo (sourced, not run): which
# cargo builds, and running it as the user who builds.

# The cargo that builds: $CARGO, else the one on PATH, else the builder's ~/.cargo/bin/cargo
# (under sudo the invoking user's, else the caller's: where rustup installs it, even when the
# shell's PATH does not have it yet). Prints nothing if there is none.
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
    elif [ -n "${HOME:-}" ] && [ -x "$HOME/.cargo/bin/cargo" ]; then
        echo "$HOME/.cargo/bin/cargo"
    fi
    return 0
}

# Runs a command as the user who builds: under sudo the invoking user (their toolchain, their
# ~/.cargo, their ownership of target/), else the caller.
as_builder() {
    if [ -n "${SUDO_USER:-}" ] && [ "$SUDO_USER" != root ] && [ "$(id -u)" -eq 0 ]; then
        # sudo sets HOME to root's; cargo and rustup find their homes through it.
        runuser -u "$SUDO_USER" -- env HOME="$(getent passwd "$SUDO_USER" | cut -d: -f6)" "$@"
    else
        "$@"
    fi
}
