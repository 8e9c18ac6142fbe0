//! sops' `age` key source: age and SSH recipients and identities
//! (docs/format.md#the-data-key, docs/format.md#recipients-and-identities), where sops finds
//! identities (environment, files, `SOPS_AGE_KEY_CMD`), and ssh-to-age.
//!
//! * [`Recipient`]: a recipient string as stored in a sops file (`age1…`, `ssh-ed25519 …`,
//!   `ssh-rsa …`) and [`Recipient::wrap`], which writes the armored `enc` blob sops
//!   stores;
//! * [`parse_recipient_list`]: the comma-separated CLI/env form;
//! * [`IdentitySources`] / [`Identities`]: where sops looks for identities, in its order,
//!   with per-source errors, and [`Identities::unwrap`];
//! * [`ssh_to_age_public`] / [`ssh_to_age_private`]: Mic92/ssh-to-age conversions;
//! * [`generate_age_key`]: a fresh X25519 identity.
//!
//! Secrets stay in zeroizing buffers; messages never contain key material.

mod convert;
mod identity;
mod recipient;

pub use convert::{generate_age_key, ssh_to_age_private, ssh_to_age_public};
pub use identity::{x25519_public_of, Identities, IdentitySources, SourceReport, SourceStatus};
pub use recipient::{parse_recipient_list, Recipient, ARMOR_BEGIN, ARMOR_END};
