//! Reading the manifest (docs/activation.md#the-manifest): a bounded read of the file
//! (sealbox-os), its JSON text decoded by sealbox-manifest ([`sealbox_manifest::from_json`]:
//! duplicate keys refused, then Go `encoding/json` semantics: unknown fields are ignored,
//! `null` or a missing field is the zero value, and a value of the wrong JSON type is an
//! error naming the field).

use crate::error::Error;
use sealbox_manifest::Manifest;
use std::path::Path;

/// Reads and parses the manifest at `path` (at most 64 MiB, a regular file).
pub fn read_file(path: &Path) -> Result<Manifest, Error> {
    let failed = |parse: bool| {
        move |reason: String| Error::Manifest {
            path: path.to_path_buf(),
            parse,
            reason,
        }
    };
    let text = sealbox_os::inputs::read_text(path, sealbox_os::inputs::MAX_MANIFEST)
        .map_err(|e| failed(false)(e.to_string()))?;
    sealbox_manifest::from_json(&text).map_err(failed(true))
}
