//! Steps 1–3 of docs/activation.md#the-activation-sequence: read the manifest, expand
//! `%r` (user mode), validate it against this machine – the user and group databases,
//! template files and (`--check-mode=sopsfile`) the sops files – into the [`Plan`] of what
//! to install. The rules themselves are sealbox-manifest's; this is its [`Host`].

use crate::error::Error;
use crate::manifest;
use crate::options::{CheckMode, Options};
use sealbox_manifest::{Checks, Depth, Host, Manifest, Owners, Plan, Problem, Subject};
use std::path::Path;

/// The machine, as validation sees it.
#[derive(Default)]
pub struct System;

impl Host for System {
    fn user(&mut self, name: &str) -> Result<Option<u32>, String> {
        nix::unistd::User::from_name(name)
            .map(|u| u.map(|u| u.uid.as_raw()))
            .map_err(|e| e.to_string())
    }

    fn group(&mut self, name: &str) -> Result<Option<u32>, String> {
        lookup_group(name)
    }

    fn template_text(&mut self, path: &str) -> Result<String, String> {
        sealbox_os::inputs::read_text(Path::new(path), sealbox_os::inputs::MAX_TEMPLATE_FILE)
            .map(|s| s.to_string())
            .map_err(|e| e.to_string())
    }

    fn sops_file(&mut self, file: &str) -> Result<Vec<u8>, String> {
        // (encrypted: no plaintext to wipe; at most 64 MiB, a regular file)
        sealbox_os::inputs::read(Path::new(file), sealbox_os::inputs::MAX_SOPS_FILE)
            .map(|mut b| std::mem::take(&mut *b))
            .map_err(|e| e.to_string())
    }
}

/// Looks up a group's gid in the group database (`Err`: the lookup failed).
pub(crate) fn lookup_group(name: &str) -> Result<Option<u32>, String> {
    nix::unistd::Group::from_name(name)
        .map(|g| g.map(|g| g.gid.as_raw()))
        .map_err(|e| e.to_string())
}

/// Steps 1–3: reads, expands (user mode) and validates the manifest at `path`.
pub fn load(path: &Path, o: &Options) -> Result<(Manifest, Plan), Error> {
    // 1. read the manifest
    let mut m = manifest::read_file(path)?;
    // 2. user mode: %r
    if m.user_mode {
        match &o.runtime_dir {
            Some(r) => m.expand_runtime_dir(r),
            None if o.check_mode == CheckMode::Off => return Err(Error::NoRuntimeDir),
            None => {}
        }
    }
    // 3. validate
    let owners = if o.check_mode != CheckMode::Off {
        Owners::Unresolved
    } else if o.ignore_passwd || o.dry {
        Owners::Root
    } else {
        Owners::Lookup
    };
    let depth = if o.check_mode == CheckMode::SopsFile {
        Depth::SopsFile
    } else {
        Depth::Manifest
    };
    let checks = Checks {
        owners,
        depth,
        defer_unreadable: o.check_mode == CheckMode::Off && o.keep_going,
    };
    let plan = sealbox_manifest::validate(&m, checks, &mut System).map_err(Error::Invalid)?;
    if o.check_mode == CheckMode::Off
        && (m.secrets_mount_point.is_empty() || m.symlink_path.is_empty())
    {
        return Err(Error::Invalid(vec![Problem {
            subject: Subject::Manifest,
            detail: "secretsMountPoint and symlinkPath must be set".into(),
        }]));
    }
    Ok((m, plan))
}
