//! sops' `age` key source: age and SSH recipients and identities
//! (docs/format.md#the-data-key, docs/format.md#recipients-and-identities), where sops finds
//! identities (environment, files, `SOPS_AGE_KEY_CMD`), and ssh-to-age.
//!
//! * [`Recipient`]: a recipient string as stored in a sops file (`age1…`, `age1NAME1…` of
//!   a plugin, `ssh-ed25519 …`, `ssh-rsa …`) and [`Recipient::wrap`], which writes the
//!   armored `enc` blob sops stores;
//! * [`parse_recipient_list`]: the comma-separated CLI/env form;
//! * [`IdentitySources`] / [`Identities`]: where sops looks for identities, in its order,
//!   with per-source errors, and [`Identities::unwrap_entries`]; every kind of key: X25519,
//!   SSH (passphrase-protected too; an ed25519 key opens both stanza kinds), plugins,
//!   passphrase-sealed identity files, key commands;
//! * [`Ui`]: who answers passphrase prompts and plugin requests (the terminal, or nobody);
//! * [`ssh_to_age_public`] / [`ssh_to_age_private`]: Mic92/ssh-to-age conversions;
//!   [`convert_public_line`] / [`convert_private`]: the same with that tool's input rules
//!   and messages (known_hosts and authorized_keys lines, skips, `SSH_TO_AGE_PASSPHRASE`);
//! * [`generate_age_key`], [`seal_identity_file`]: a fresh X25519 identity, and one sealed
//!   with a passphrase as `age -p` does.
//!
//! Secrets stay in zeroizing buffers; messages never contain key material.

mod convert;
mod identity;
mod passphrase;
mod plugin;
mod recipient;
mod sshkey;
mod sshtoage;
mod ui;

pub use convert::{generate_age_key, ssh_to_age_private, ssh_to_age_public};
pub use identity::{
    x25519_public_of, Identities, IdentitySources, SourceReport, SourceStatus, ENV_RECIPIENT,
};
pub use passphrase::seal_identity_file;
pub use recipient::{parse_recipient_list, Recipient, ARMOR_BEGIN, ARMOR_END};
pub use sshtoage::{convert_private, convert_public_line, Converted};
pub use ui::{Answer, Request, Ui};
