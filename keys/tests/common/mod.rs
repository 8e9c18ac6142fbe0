//! Throwaway GnuPG homes for the pgp tests: the workspace's test homes
//! (`sealbox_testkit::gnupg::GpgHome`: a private temp directory, keys generated at test
//! time, every daemon stopped on drop), plus what these tests check of our own code: the
//! product's gpg runner for the home, and stopping its agent with the product's
//! `Gpg::kill_all` (the call `sealbox-install` makes), then checking none is left.
#![allow(dead_code)]

use std::ops::Deref;
use std::path::{Path, PathBuf};

use sealbox_keys::pgp::Gpg;
use sealbox_testkit::gnupg::GpgHome;

/// The repository's `tests/vectors/` directory.
pub fn vectors() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/vectors")
}

/// A temporary GnuPG home and our gpg runner for it; the testkit home's methods (`run`,
/// `ok`, `generate`, `fingerprint_of`, `agents`, …) through `Deref`.
pub struct Home(GpgHome);

impl Deref for Home {
    type Target = GpgHome;
    fn deref(&self) -> &GpgHome {
        &self.0
    }
}

impl Home {
    /// A new, empty home for the gpg at `gpg_path`.
    pub fn new(gpg_path: &Path) -> Home {
        Home(GpgHome::new(gpg_path))
    }

    /// Our gpg runner for this home (`--homedir`).
    pub fn gpg(&self) -> Gpg {
        Gpg::new(self.0.gpg()).with_home(self.path())
    }

    /// Stops every daemon of the home with the product's `Gpg::kill_all` and checks that no
    /// gpg-agent of it is left.
    pub fn stop_and_check(&self) {
        self.gpg().kill_all().expect("gpgconf --kill all");
        self.assert_agent_gone();
    }

    /// Waits (up to 5 s) for the home's gpg-agent to exit; panics if it does not.
    /// `gpgconf --kill` returns once the agent was asked to stop, a moment before it exits.
    pub fn assert_agent_gone(&self) {
        self.0.assert_no_agent();
    }
}
