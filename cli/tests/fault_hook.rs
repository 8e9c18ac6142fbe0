//! The crash-test hook (sealbox-os's `fault::point`, `os/src/fault.rs`) is compiled only
//! with the test-only feature `fault-injection`: a default build has no trace of it
//! (`tests/crash.rs` runs with it on).

#[cfg(not(feature = "fault-injection"))]
#[test]
fn default_builds_have_no_fault_hook() {
    let bin = std::fs::read(env!("CARGO_BIN_EXE_sealbox")).unwrap();
    assert!(!bin.windows(19).any(|w| w == b"SEALBOX_FAULT_AFTER"));
    assert!(!bin.windows(15).any(|w| w == b"sealbox-fault: "));
}

#[cfg(feature = "fault-injection")]
#[test]
fn the_fault_hook_is_in_this_build() {
    let bin = std::fs::read(env!("CARGO_BIN_EXE_sealbox")).unwrap();
    assert!(bin.windows(19).any(|w| w == b"SEALBOX_FAULT_AFTER"));
}
