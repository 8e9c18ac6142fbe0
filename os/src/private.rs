//! Private directories: where plaintext may live for a moment (the file an editor edits,
//! the file `exec-file` hands to a command). A 0700 directory under `$TMPDIR` with a
//! fresh random name, removed with its contents (regular files overwritten with zeros
//! first) when the handle is dropped. Its name carries our PID, so that the directory of
//! a run killed before the drop is found and wiped by the next run
//! ([`crate::leftovers::sweep_private_dirs`]).

use crate::fault;
use crate::leftovers::{wipe, PRIVATE_PREFIX};
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

/// A private 0700 directory removed (with its contents) on drop.
#[derive(Debug)]
pub struct PrivateDir(PathBuf);

impl PrivateDir {
    /// A new private directory in `base` (normally `$TMPDIR`, [`std::env::temp_dir`]).
    pub fn new_in(base: &Path) -> std::io::Result<PrivateDir> {
        let p = base.join(format!(
            "{PRIVATE_PREFIX}{}-{:016x}",
            std::process::id(),
            crate::random_u64()
        ));
        std::fs::DirBuilder::new().mode(0o700).create(&p)?;
        fault::point("mkdir private dir");
        Ok(PrivateDir(p))
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for PrivateDir {
    fn drop(&mut self) {
        if let Ok(entries) = std::fs::read_dir(&self.0) {
            for e in entries.flatten() {
                let p = e.path();
                // Overwrite regular files before removing them.
                if let Ok(m) = std::fs::symlink_metadata(&p) {
                    if m.is_file() {
                        if let Ok(mut f) = std::fs::OpenOptions::new().write(true).open(&p) {
                            wipe(&mut f, m.len());
                            fault::point("overwrite private file");
                        }
                    }
                }
                let _ = std::fs::remove_file(&p);
                fault::point("remove private file");
            }
        }
        let _ = std::fs::remove_dir(&self.0);
        fault::point("remove private dir");
    }
}
