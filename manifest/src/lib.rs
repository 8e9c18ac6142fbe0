//! sealbox-manifest: the one contract between whoever writes a sops-nix manifest (the
//! NixOS and home-manager modules, `sealbox manifest`) and `sealbox-install`, which reads
//! it. Pure: no file system, environment or process; JSON text and sops files are parsed
//! by sealbox-formats (pure too), and validation asks the machine through [`Host`].
//!
//! * `model.rs`: the types ([`Manifest`], [`Secret`], [`Template`], [`Common`]);
//! * `value.rs`: [`Value`], the JSON shape, and its conversion from and to
//!   sealbox-formats' tree;
//! * `fields.rs`: one line per JSON field, driving [`read`] (Go `encoding/json`
//!   semantics) and [`write`] (what `builtins.toJSON` writes);
//! * `json.rs`: [`from_json`] and [`to_json`], the manifest as text;
//! * `sopsfile.rs`: the sops documents `--check-mode=sopsfile` looks into;
//! * `rules.rs`: names, paths, units, modes, formats, credential names, placeholders;
//! * `validate.rs`: [`validate`], every problem of a manifest, or the [`Plan`] to install;
//! * `template.rs`: [`render`], a template's text with the secrets' values in place of
//!   their placeholders.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod fields;
mod json;
mod model;
mod rules;
mod sopsfile;
mod template;
mod validate;
mod value;

pub use fields::Field;
pub use fields::{
    entry_field_names, read, write, Entry, ReadError, COMMON, LOGGING, SECRET, TEMPLATE, TOP,
};
pub use json::{from_json, to_json};
pub use model::{expand_percent, Common, Logging, Manifest, Secret, Template};
pub use rules::{
    check_credential_name, check_locations, check_name, check_path, check_unit, parse_format,
    parse_mode, placeholder, walk_key, Format, KeyNode,
};
pub use template::{render, used_secrets};
pub use validate::Entry as PlannedEntry;
pub use validate::{
    validate, Checks, Depth, EntryKind, EntryRef, Host, Owners, Plan, PlannedSecret,
    PlannedTemplate, Problem, Subject,
};
pub use value::Value;
