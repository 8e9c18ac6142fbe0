//! Validation as `sealbox_activation::validate` offered it before the manifest contract
//! moved to sealbox-manifest (the fuzz targets and hygiene tests of the tests crate call
//! it): against this machine ([`crate::plan::System`]), one message per problem.

use sealbox_manifest::{Checks, Manifest};
pub use sealbox_manifest::{
    Depth, Owners, Plan, PlannedEntry as Entry, PlannedSecret, PlannedTemplate,
};

/// Validates the manifest; every problem found, one line each, naming the secret or
/// template. Template files and (sopsfile depth) encrypted files are read.
pub fn validate(m: &Manifest, owners: Owners, depth: Depth) -> Result<Plan, Vec<String>> {
    let checks = Checks {
        owners,
        depth,
        defer_unreadable: false,
    };
    sealbox_manifest::validate(m, checks, &mut crate::plan::System::default())
        .map_err(|ps| ps.iter().map(ToString::to_string).collect())
}
