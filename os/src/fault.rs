//! Fault injection for the crash-consistency tests (`tests/crash.rs`).
//!
//! Only with the cargo feature `fault-injection` (never in release builds: enabling it
//! there is a compile error). [`point`] is then a numbered checkpoint placed after every
//! filesystem step of an activation; with `SEALBOX_FAULT_AFTER=N` set the process prints
//! `sealbox-fault: <n> <label>` to stderr at each checkpoint and SIGKILLs itself at the
//! N-th (`N = 0`: trace only). Without the feature [`point`] is an empty inline function.

#[cfg(all(feature = "fault-injection", not(debug_assertions)))]
compile_error!("the fault-injection feature is for test builds only, never for release builds");

/// A checkpoint after a filesystem step (`label` names the step for the test's messages).
#[cfg(not(feature = "fault-injection"))]
#[inline(always)]
pub fn point(_label: &str) {}

/// A checkpoint after a filesystem step (`label` names the step for the test's messages).
#[cfg(feature = "fault-injection")]
pub fn point(label: &str) {
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::OnceLock;
    static AFTER: OnceLock<Option<u64>> = OnceLock::new();
    static COUNT: AtomicU64 = AtomicU64::new(0);
    let Some(after) = *AFTER.get_or_init(|| {
        std::env::var("SEALBOX_FAULT_AFTER")
            .ok()
            .and_then(|v| v.parse().ok())
    }) else {
        return;
    };
    let n = COUNT.fetch_add(1, Ordering::SeqCst) + 1;
    eprintln!("sealbox-fault: {n} {label}");
    if n == after {
        let _ = nix::sys::signal::raise(nix::sys::signal::Signal::SIGKILL);
        // SIGKILL cannot be caught; never continue past the fault point.
        std::process::abort();
    }
}
