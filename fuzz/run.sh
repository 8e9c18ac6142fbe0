#!/usr/bin/env bash
# Runs every cargo-fuzz target for SECONDS each (default 60), one after the other, with the
# committed corpus as seeds. Needs cargo-fuzz (`cargo install cargo-fuzz`, about a minute)
# and libFuzzer's nightly flags: RUSTC_BOOTSTRAP=1 on the default toolchain (or
# FUZZ_NIGHTLY=1 for `cargo +nightly`).
#
#   fuzz/run.sh            # 60 s per target
#   fuzz/run.sh 600 yaml   # 10 minutes on the yaml target only
#   FUZZ_RUNS=20000 fuzz/run.sh   # 20,000 inputs per target from a fixed seed (FUZZ_SEED,
#                                 # default 1): the same commit gives the same run (CI)
#
# New inputs go to fuzz/corpus/<target>/ only when FUZZ_KEEP_CORPUS=1 (otherwise to a
# scratch copy). A crash stops the run: the input is in fuzz/artifacts/<target>/; make it
# a regression (fuzz/regressions/<target>/, replayed by `cargo test --test fuzz_smoke`),
# fix it, and add a unit test in the module that failed.
set -euo pipefail
cd "$(dirname "$0")"

secs="${1:-60}"
shift || true
if [ "$#" -gt 0 ]; then
    targets=("$@")
else
    mapfile -t targets < <(sed -n 's/^name = "\(.*\)"$/\1/p' Cargo.toml | grep -v '^sealbox-fuzz$')
fi

if ! command -v cargo-fuzz >/dev/null 2>&1; then
    echo "cargo-fuzz is not installed: cargo install cargo-fuzz" >&2
    exit 2
fi
# The default toolchain with RUSTC_BOOTSTRAP=1 (what CI has); FUZZ_NIGHTLY=1 uses
# `cargo +nightly` instead.
toolchain=()
if [ "${FUZZ_NIGHTLY:-0}" = 1 ]; then
    toolchain=(+nightly)
else
    export RUSTC_BOOTSTRAP=1
fi
# No sanitizer: the code under test is safe Rust; we look for panics, hangs and memory
# blow-ups. Set FUZZ_SANITIZER=address for ASan.
san="${FUZZ_SANITIZER:-none}"

cargo "${toolchain[@]}" fuzz build -O -s "$san"

status=0
log="$(mktemp)"
for t in "${targets[@]}"; do
    corpus="corpus/$t"
    scratch=""
    if [ "${FUZZ_KEEP_CORPUS:-0}" != 1 ]; then
        scratch="$(mktemp -d)"
        cp -r "corpus/$t/." "$scratch/"
        corpus="$scratch"
    fi
    seeds=("$corpus")
    [ -d "regressions/$t" ] && seeds+=("regressions/$t")
    if [ -n "${FUZZ_RUNS:-}" ]; then
        echo "==> $t ($FUZZ_RUNS inputs, seed ${FUZZ_SEED:-1})"
    else
        echo "==> $t (${secs}s)"
    fi
    # -rss_limit_mb: an input that makes a parser allocate past this is a finding too.
    rc=0
    if [ -n "${FUZZ_RUNS:-}" ]; then
        budget=(-runs="$FUZZ_RUNS" -seed="${FUZZ_SEED:-1}")
    else
        budget=(-max_total_time="$secs")
    fi
    cargo "${toolchain[@]}" fuzz run -O -s "$san" "$t" "${seeds[@]}" -- \
        "${budget[@]}" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
        -print_final_stats=1 >"$log" 2>&1 || rc=$?
    grep -E '^stat::(number_of_executed_units|peak_rss_mb)|^#[0-9]+ +DONE|panicked|SUMMARY|Test unit written|ERROR' "$log" || true
    if [ "$rc" -ne 0 ]; then
        tail -n 30 "$log" >&2
        echo "!! $t: cargo fuzz exited $rc (the input is in fuzz/artifacts/$t/)" >&2
        status=1
    fi
    [ -z "$scratch" ] || rm -rf "$scratch"
done
rm -f "$log"
exit "$status"
