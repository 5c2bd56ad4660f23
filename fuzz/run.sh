#!/usr/bin/env bash
# Runs every cargo-fuzz target for SECONDS each, from the corpus kept in fuzz/corpus/<target>.
#
#   fuzz/run.sh SECONDS
#
# Installs cargo-fuzz if it is missing (`cargo install cargo-fuzz --locked`). libFuzzer needs
# nightly compiler flags; stable Rust accepts them with RUSTC_BOOTSTRAP=1, so no nightly
# toolchain is downloaded. AddressSanitizer is used when its runtime links, else none (the
# targets are safe Rust: the fuzzer still finds panics, overflows and hangs).
# New inputs go to a temporary directory, so the corpus in the repository stays as committed.
# Prints one line per target with the executions reached; exits non-zero on any crash.
set -euo pipefail

seconds=${1:?usage: fuzz/run.sh SECONDS}
here=$(cd "$(dirname "$0")" && pwd)
cd "$here"

if ! cargo fuzz --version >/dev/null 2>&1; then
    cargo install cargo-fuzz --locked
fi
export RUSTC_BOOTSTRAP=1
# The fuzz crate builds in its own target directory, never the workspace's.
unset CARGO_TARGET_DIR

# FUZZ_SANITIZER=none skips AddressSanitizer (CI does, to keep its build short: the targets are
# safe Rust, so panics, overflows and hangs are still found).
sanitizer=${FUZZ_SANITIZER:-address}
if [ "$sanitizer" = address ] && ! cargo fuzz build --sanitizer address frame >/dev/null 2>&1; then
    sanitizer=none
fi
echo "fuzz: sanitizer $sanitizer, $seconds s per target"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
status=0
for target in $(cargo fuzz list); do
    mkdir -p "$work/$target" "corpus/$target"
    log="$work/$target.log"
    if cargo fuzz run --sanitizer "$sanitizer" "$target" "$work/$target" "corpus/$target" -- \
        -max_total_time="$seconds" -max_len=65536 -timeout=10 -rss_limit_mb=2048 >"$log" 2>&1; then
        runs=$(grep -Eo 'Done [0-9]+ runs' "$log" | grep -Eo '[0-9]+' || echo '?')
        echo "fuzz: $target: $runs executions, 0 crashes"
    else
        status=1
        echo "fuzz: $target: FAILED (artifacts in fuzz/artifacts/$target)"
        tail -n 40 "$log"
    fi
done
exit $status
