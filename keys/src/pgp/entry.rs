//! One `pgp` entry of the `sops` metadata block, exactly as sops 3.11 writes and reads it.
//!
//! ```yaml
//! pgp:
//!     - created_at: "2020-07-12T08:03:51Z"
//!       enc: |-
//!         -----BEGIN PGP MESSAGE-----
//!         ...
//!         -----END PGP MESSAGE-----
//!       fp: 7FB89715AADA920D65D25E63F9BA9DEBD03F57C0
//! ```
//!
//! * `fp` is the fingerprint as the user gave it (flag, `SOPS_PGP_FP`, `.sops.yaml`) with
//!   spaces removed and nothing else changed: sops neither upper-cases it nor checks its
//!   length, so a lower-case fingerprint, a long key ID or a `FPR!` (exact subkey) is
//!   written back as given, and gpg resolves it.
//! * `created_at` is RFC 3339 without fractional seconds (Go's `time.RFC3339`); sops
//!   creates it from the UTC clock (`…Z`) and, reading a file, parses it and formats it
//!   again, so an offset other than `Z` survives. We keep the string as read.
//! * `enc` is gpg's ASCII-armored output with surrounding whitespace trimmed (sops
//!   3.11 `bytes.TrimSpace`, so YAML shows `|-`); files written by sops ≤ 3.7 keep gpg's
//!   final newline (`|`). Reading, sops passes the string to gpg unchanged; so do we.

use super::time;
use sealbox_formats::metadata::{EntryFields, PgpEntry};

/// The master-key type name of these entries in the metadata (`sops.pgp`, and `pgp` in
/// `key_groups`).
pub const KEY_TYPE: &str = "pgp";

/// One PGP master key of a file: whom the data key is encrypted to, when, and the
/// encrypted data key. Field names follow the metadata keys (`fp`, `created_at`, `enc`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PgpKey {
    /// `fp`: the fingerprint (or key ID) as given, spaces removed.
    pub fingerprint: String,
    /// `created_at`: RFC 3339, e.g. `2020-07-12T08:03:51Z`.
    pub created_at: String,
    /// `enc`: the ASCII-armored OpenPGP message holding the data key (or its Shamir share).
    pub enc: String,
}

impl PgpKey {
    /// An entry as read from a file's metadata, fields verbatim.
    pub fn new(
        fingerprint: impl Into<String>,
        created_at: impl Into<String>,
        enc: impl Into<String>,
    ) -> PgpKey {
        PgpKey {
            fingerprint: fingerprint.into(),
            created_at: created_at.into(),
            enc: enc.into(),
        }
    }

    /// The entry's fields as `(metadata key, value)` pairs in the order sops 3.11 writes
    /// them (`created_at`, `enc`, `fp`: its YAML/JSON encoders sort struct fields this way).
    pub fn fields(&self) -> [(&'static str, &str); 3] {
        [
            ("created_at", &self.created_at),
            ("enc", &self.enc),
            ("fp", &self.fingerprint),
        ]
    }

    /// Builds an entry from `(metadata key, value)` pairs as read from a file. Unknown
    /// keys are ignored, as sops' decoder ignores them. A missing `fp` or `enc` is an
    /// error naming it; a missing `created_at` is kept empty (sops would fail to parse it
    /// only when the key is used for rotation checks).
    pub fn from_fields<'a>(
        pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<PgpKey, String> {
        let (mut fp, mut created, mut enc) = (None, None, None);
        for (k, v) in pairs {
            match k {
                "fp" => fp = Some(v),
                "created_at" => created = Some(v),
                "enc" => enc = Some(v),
                _ => {}
            }
        }
        Ok(PgpKey {
            fingerprint: fp
                .ok_or_else(|| "a pgp key entry has no `fp`".to_string())?
                .to_string(),
            created_at: created.unwrap_or_default().to_string(),
            enc: enc
                .ok_or_else(|| "a pgp key entry has no `enc`".to_string())?
                .to_string(),
        })
    }

    /// A new entry for `fingerprint` around `enc`, created now (UTC).
    pub fn created_now(fingerprint: &str, enc: String) -> PgpKey {
        PgpKey {
            fingerprint: normalize_fingerprint(fingerprint),
            created_at: time::now_rfc3339(),
            enc,
        }
    }
}

impl PgpKey {
    /// The entry of a file's metadata (`fp`, `created_at`, `enc`, read verbatim; a
    /// timestamp the YAML store typed as such is its text). A missing `fp` or `enc` is an
    /// error naming it.
    pub fn from_entry(e: &PgpEntry) -> Result<PgpKey, String> {
        PgpKey::from_fields(e.fields.pairs())
    }

    /// The metadata entry sops 3.11 writes for this key: `created_at`, `enc`, `fp`, in that
    /// order.
    pub fn to_entry(&self) -> PgpEntry {
        PgpEntry {
            fields: EntryFields::from_pairs(self.fields()),
        }
    }
}

/// A fingerprint as sops stores it: spaces removed, case and everything else kept
/// (sops' `NewMasterKeyFromFingerprint`).
pub fn normalize_fingerprint(fp: &str) -> String {
    fp.replace(' ', "")
}

/// A comma-separated fingerprint list (`--pgp`, `SOPS_PGP_FP`, `.sops.yaml` `pgp:`) as
/// sops splits it: an empty string is no key; every comma separates (so `A,,B` has an
/// empty middle entry, as in sops); spaces are removed from each.
pub fn fingerprints_from_list(list: &str) -> Vec<String> {
    if list.is_empty() {
        return Vec::new();
    }
    list.split(',').map(normalize_fingerprint).collect()
}

/// The long key ID sops passes to `--trusted-key`: the last 16 characters of the
/// fingerprint, keeping a trailing `!` and the 16 before it (sops' `shortenFingerprint`).
/// Shorter input is returned whole.
pub fn short_key_id(fp: &str) -> &str {
    let mut offset = fp.len() as isize - 16;
    if fp.ends_with('!') {
        offset -= 1;
    }
    if offset > 0 && fp.is_char_boundary(offset as usize) {
        &fp[offset as usize..]
    } else {
        fp
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_keep_their_case_and_lose_their_spaces() {
        assert_eq!(
            normalize_fingerprint("7fb8 9715 AADA 920D 65D2  5E63 F9BA 9DEB D03F 57C0"),
            "7fb89715AADA920D65D25E63F9BA9DEBD03F57C0"
        );
        assert_eq!(
            fingerprints_from_list("A B,C, D"),
            vec!["AB".to_string(), "C".into(), "D".into()]
        );
        assert_eq!(fingerprints_from_list(""), Vec::<String>::new());
        assert_eq!(fingerprints_from_list("A,,B").len(), 3);
    }

    #[test]
    fn the_trusted_key_id_is_the_last_16_characters_and_keeps_a_bang() {
        let fp = "7FB89715AADA920D65D25E63F9BA9DEBD03F57C0";
        assert_eq!(short_key_id(fp), "F9BA9DEBD03F57C0");
        assert_eq!(short_key_id(&format!("{fp}!")), "F9BA9DEBD03F57C0!");
        assert_eq!(short_key_id("D03F57C0"), "D03F57C0");
        assert_eq!(short_key_id("F9BA9DEBD03F57C0"), "F9BA9DEBD03F57C0");
    }

    #[test]
    fn an_entry_round_trips_through_its_fields_in_sops_order() {
        let k = PgpKey::new("FP", "2020-07-12T08:03:51Z", "-----BEGIN PGP MESSAGE-----");
        let f = k.fields();
        assert_eq!(
            f.iter().map(|(k, _)| *k).collect::<Vec<_>>(),
            ["created_at", "enc", "fp"]
        );
        assert_eq!(PgpKey::from_fields(f).unwrap(), k);
        let e = PgpKey::from_fields([("fp", "X")]).unwrap_err();
        assert!(e.contains("`enc`"), "{e}");
    }

    #[test]
    fn a_metadata_entry_maps_to_a_key_and_back_in_sops_field_order() {
        let e = PgpEntry {
            fields: EntryFields::from_pairs([
                ("fp", "ABCD"),
                ("enc", "-----BEGIN PGP MESSAGE-----"),
                ("created_at", "2020-07-12T08:03:51Z"),
            ]),
        };
        let k = PgpKey::from_entry(&e).unwrap();
        assert_eq!(
            k,
            PgpKey::new(
                "ABCD",
                "2020-07-12T08:03:51Z",
                "-----BEGIN PGP MESSAGE-----"
            )
        );
        let back = k.to_entry();
        assert_eq!(
            back.fields.pairs().collect::<Vec<_>>(),
            [
                ("created_at", "2020-07-12T08:03:51Z"),
                ("enc", "-----BEGIN PGP MESSAGE-----"),
                ("fp", "ABCD")
            ]
        );
        let no_enc = PgpEntry {
            fields: EntryFields::from_pairs([("fp", "ABCD")]),
        };
        assert!(PgpKey::from_entry(&no_enc).unwrap_err().contains("`enc`"));
    }

    #[test]
    fn a_new_entry_is_stamped_with_the_utc_time_and_a_normalized_fingerprint() {
        let k = PgpKey::created_now("AB CD", "enc".into());
        assert_eq!(k.fingerprint, "ABCD");
        assert_eq!(k.created_at.len(), 20, "{}", k.created_at);
        assert!(k.created_at.ends_with('Z') && k.created_at.as_bytes()[10] == b'T');
    }
}
