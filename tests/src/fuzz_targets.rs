//! The fuzz targets: one function per parser that reads untrusted bytes.
//!
//! Each function takes arbitrary bytes and must return without panicking, hanging or
//! allocating without bound: every failure is an [`Err`] with a message. They are shared by
//! the cargo-fuzz targets in `fuzz/` (libFuzzer, nightly, run by `fuzz/run.sh`) and by the
//! stable harness `tests/tests/fuzz_smoke.rs`, which replays the committed corpus
//! (`fuzz/corpus/<target>/`, `fuzz/regressions/<target>/`) and a few thousand deterministic
//! mutations of it under `cargo test`.
//!
//! Where a parse succeeds and emitting is cheap, the target also checks the round trip:
//! what we emit must parse again, and emitting that must give the same bytes (a fixpoint).
//! A round-trip failure panics, so the fuzzers report it like a crash.

use sealbox_activation::plan::System;
use sealbox_formats::cipher::{self, Cipher, DataKey};
use sealbox_formats::config::Config;
use sealbox_formats::metadata::Metadata;
use sealbox_formats::path::PathUse;
use sealbox_formats::store::{self, flatten, Format, StoreOptions};
use sealbox_formats::{path, sops, Document, ErrorKind, Map, Value};
use sealbox_keys::age::{self as keys, Identities, Recipient};
use sealbox_keys::KeyServices;
use sealbox_manifest::{Checks, Depth, Owners};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// The age identity the `decrypt` target's seed files are encrypted to. A throwaway test key
/// made for the fuzz corpus; it protects nothing.
pub const FUZZ_AGE_IDENTITY: &str =
    "AGE-SECRET-KEY-1L50A9NCWYZ0J4ACCYHKTW9TM24V84H6YLWHYP3YAAAUC0FLMZ5VQ3KR5M4";
/// Its recipient.
pub const FUZZ_AGE_RECIPIENT: &str =
    "age1rmp74xycl9zv98zws2crzxhlmkfnet9jwk7rv3pd3khwx5zdq9rqv95esw";

/// The data key of the `enc_value` target (32 bytes of 0x42).
pub const FUZZ_DATA_KEY: [u8; 32] = [0x42; 32];

/// A fuzz target: bytes in, nothing out; panics only on a bug.
pub type Target = fn(&[u8]);

/// Every target, by name (the names of `fuzz/fuzz_targets/*.rs` and of the corpus folders).
pub const TARGETS: &[(&str, Target)] = &[
    ("yaml", yaml),
    ("yaml_encrypted", yaml_encrypted),
    ("json", json),
    ("json_encrypted", json_encrypted),
    ("dotenv", dotenv),
    ("dotenv_encrypted", dotenv_encrypted),
    ("ini", ini),
    ("ini_encrypted", ini_encrypted),
    ("enc_value", enc_value),
    ("metadata", metadata),
    ("decrypt", decrypt),
    ("config", config),
    ("manifest", manifest),
    ("age_identity", age_identity),
    ("ssh_key", ssh_key),
    ("tree_path", tree_path),
];

/// The target called `name`.
pub fn target(name: &str) -> Option<Target> {
    TARGETS.iter().find(|(n, _)| *n == name).map(|(_, t)| *t)
}

/// An error must say something: an empty message is a bug.
fn check_err(what: &str, e: &sealbox_formats::Error) {
    assert!(
        !e.message.trim().is_empty(),
        "{what}: error without a message ({:?})",
        e.kind
    );
}

fn text(data: &[u8]) -> Option<&str> {
    std::str::from_utf8(data).ok()
}

fn plain(f: Format, data: &[u8]) {
    let docs = match store::load_plain(f, data, "fuzz input") {
        Ok(d) => d,
        Err(e) => return check_err("load_plain", &e),
    };
    let opts = StoreOptions::default();
    let out = match store::emit_plain(f, &docs, &opts) {
        Ok(o) => o,
        Err(e) => return check_err("emit_plain", &e),
    };
    round_trip(
        f,
        &out,
        |b| store::load_plain(f, b, "re-emitted"),
        |d| store::emit_plain(f, d, &opts),
    );
    let _ = store::has_metadata(f, &docs);
}

/// `out` (emitted by us) must load again, and emitting must reach a fixpoint after at most
/// one more pass. One normalising pass is allowed because sops' formats have a few lossy
/// spellings that sops itself writes: a float -0 is written `-0`, which reads back as the
/// integer 0; a document holding only a comment is written as that comment, which reads
/// back as no document.
fn round_trip(
    f: Format,
    out: &[u8],
    load: impl Fn(&[u8]) -> sealbox_formats::Result<Vec<Document>>,
    emit: impl Fn(&[Document]) -> sealbox_formats::Result<Vec<u8>>,
) {
    let pass = |bytes: &[u8]| -> Vec<u8> {
        let again = load(bytes).unwrap_or_else(|e| {
            panic!(
                "{}: our own output does not parse again: {e}\noutput: {:?}",
                f.name(),
                String::from_utf8_lossy(bytes)
            )
        });
        emit(&again).unwrap_or_else(|e| panic!("{}: re-parsed output does not emit: {e}", f.name()))
    };
    let out2 = pass(out);
    if out2 == out {
        return;
    }
    let out3 = pass(&out2);
    assert!(
        out3 == out2,
        "{}: emit does not reach a fixpoint:\nfirst:  {:?}\nsecond: {:?}\nthird:  {:?}",
        f.name(),
        String::from_utf8_lossy(out),
        String::from_utf8_lossy(&out2),
        String::from_utf8_lossy(&out3)
    );
}

fn encrypted(f: Format, data: &[u8]) {
    let (docs, md) = match store::load_encrypted(f, data, "fuzz input") {
        Ok(x) => x,
        Err(e) => return check_err("load_encrypted", &e),
    };
    let opts = StoreOptions::default();
    let out = match store::emit_encrypted(f, &docs, &md, &opts) {
        Ok(o) => o,
        Err(e) => return check_err("emit_encrypted", &e),
    };
    // One normalising pass is allowed, as for plain files: metadata entries sealbox keeps
    // verbatim (key groups of other key services) can hold a lossy spelling such as the
    // float `7.`, written `7`, which reads back as an integer.
    let pass = |bytes: &[u8]| {
        let (d, m) = store::load_encrypted(f, bytes, "re-emitted").unwrap_or_else(|e| {
            panic!(
                "{}: our own encrypted output does not load again: {e}\noutput: {:?}",
                f.name(),
                String::from_utf8_lossy(bytes)
            )
        });
        let o = store::emit_encrypted(f, &d, &m, &opts)
            .unwrap_or_else(|e| panic!("{}: re-loaded file does not emit: {e}", f.name()));
        (m, o)
    };
    let (md2, out2) = pass(&out);
    if md2 == md && out2 == out {
        return;
    }
    let (md3, out3) = pass(&out2);
    assert_eq!(
        md2,
        md3,
        "{}: metadata changes on every round trip",
        f.name()
    );
    assert!(
        out3 == out2,
        "{}: encrypted emit does not reach a fixpoint:\nfirst:  {:?}\nsecond: {:?}\nthird:  {:?}",
        f.name(),
        String::from_utf8_lossy(&out),
        String::from_utf8_lossy(&out2),
        String::from_utf8_lossy(&out3)
    );
}

/// YAML plaintext: load, emit, reload.
pub fn yaml(data: &[u8]) {
    plain(Format::Yaml, data);
}

/// YAML encrypted file: the store and the metadata block.
pub fn yaml_encrypted(data: &[u8]) {
    encrypted(Format::Yaml, data);
}

/// JSON plaintext.
pub fn json(data: &[u8]) {
    plain(Format::Json, data);
}

/// JSON encrypted file (also the binary store's container).
pub fn json_encrypted(data: &[u8]) {
    encrypted(Format::Json, data);
}

/// dotenv plaintext.
pub fn dotenv(data: &[u8]) {
    plain(Format::Dotenv, data);
}

/// dotenv encrypted file (metadata as flattened `sops_*` lines).
pub fn dotenv_encrypted(data: &[u8]) {
    encrypted(Format::Dotenv, data);
}

/// INI plaintext.
pub fn ini(data: &[u8]) {
    plain(Format::Ini, data);
}

/// INI encrypted file (metadata in a `[sops]` section).
pub fn ini_encrypted(data: &[u8]) {
    encrypted(Format::Ini, data);
}

/// The `ENC[AES256_GCM,…]` value syntax and its decryption under a fixed key. The first
/// line is the additional data (key path), the rest the stored value.
pub fn enc_value(data: &[u8]) {
    let Some(t) = text(data) else { return };
    let (aad, value) = t.split_once('\n').unwrap_or(("a:", t));
    let _ = cipher::is_encrypted(value);
    let _ = cipher::parse_encoded(value);
    static CIPHER: OnceLock<Cipher> = OnceLock::new();
    let c = CIPHER.get_or_init(|| Cipher::new(&DataKey::from_slice(&FUZZ_DATA_KEY).unwrap()));
    match c.decrypt(value, aad.as_bytes(), "[\"fuzz\"]") {
        Ok((plain, typ)) => {
            // Re-encrypting with the same IV gives the same string (up to trailing text).
            let e = cipher::parse_encoded(value).expect("decrypted, so it parsed");
            let iv: [u8; 32] = base64_decode(e.iv).try_into().expect("32-byte IV checked");
            let again = c.encrypt_with_iv(&plain, aad.as_bytes(), typ, &iv).unwrap();
            let (p2, t2) = c.decrypt(&again, aad.as_bytes(), "again").unwrap();
            assert_eq!((&p2[..], t2), (&plain[..], typ));
        }
        Err(e) => {
            check_err("Cipher::decrypt", &e);
            assert_eq!(e.kind, ErrorKind::ValueDecrypt, "{e}");
        }
    }
}

fn base64_decode(s: &str) -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.decode(s).unwrap()
}

/// The metadata block: from a JSON/YAML tree (the `sops` key, or the whole document) and
/// from the flattened `key=value` lines of dotenv and INI files; what loads must survive
/// `to_value` → `from_value`.
pub fn metadata(data: &[u8]) {
    let Some(t) = text(data) else { return };
    let mut values = Vec::new();
    if let Ok(docs) = sealbox_formats::store::yaml::parse(t) {
        for d in docs {
            values.push(d.get("sops").cloned().unwrap_or(Value::Map(d)));
        }
    }
    let pairs: Vec<(String, String)> = t
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.replace("\\n", "\n")))
        .collect();
    match flatten::unflatten(&pairs) {
        Ok(v) => values.push(v),
        Err(e) => check_err("unflatten", &e),
    }
    for v in values {
        match Metadata::from_value(&v, "fuzz input") {
            Ok(md) => {
                let again = Metadata::from_value(&md.to_value(), "again")
                    .unwrap_or_else(|e| panic!("metadata we write does not read again: {e}"));
                assert_eq!(md, again, "metadata changed in the round trip");
                let _ = sops::Selection::for_metadata(&md);
                // dotenv and INI write a newline in a metadata value as the two characters
                // `\n` (as sops does), so a value that already holds a backslash cannot come
                // back unchanged; sops' own values (base64, armor, dates) never hold one.
                let flat = flatten::flatten(&md.to_value());
                if flat
                    .iter()
                    .any(|(k, v)| k.contains('\\') || v.contains('\\'))
                {
                    continue;
                }
                let v2 = flatten::unflatten(&flat)
                    .unwrap_or_else(|e| panic!("flattened metadata does not unflatten: {e}"));
                let again = Metadata::from_value(&v2, "flat")
                    .unwrap_or_else(|e| panic!("flattened metadata does not read again: {e}"));
                assert_eq!(md, again, "metadata changed in the flatten round trip");
            }
            Err(e) => check_err("Metadata::from_value", &e),
        }
    }
}

fn fuzz_identities() -> &'static Identities {
    static IDS: OnceLock<Identities> = OnceLock::new();
    IDS.get_or_init(|| Identities::from_text(FUZZ_AGE_IDENTITY).expect("fuzz identity"))
}

/// A whole decryption as `sealbox decrypt` does it: load (format from the first byte: `{`
/// JSON, else YAML), recover the data key with the fuzz identity (the age parser on the
/// `enc` blobs), decrypt every value and check the MAC.
pub fn decrypt(data: &[u8]) {
    let f = if data.first() == Some(&b'{') {
        Format::Json
    } else {
        Format::Yaml
    };
    let (mut docs, md) = match store::load_encrypted(f, data, "fuzz input") {
        Ok(x) => x,
        Err(e) => return check_err("load_encrypted", &e),
    };
    let key = match sealbox_keys::recover(
        &md,
        &KeyServices::borrowing(fuzz_identities()),
        "fuzz input",
    ) {
        Ok(k) => k,
        Err(e) => return check_err("sealbox_keys::recover", &e),
    };
    if let Err(e) = sops::decrypt_tree(&mut docs, &md, &key, sops::MacCheck::Verify, "fuzz input") {
        check_err("decrypt_tree", &e);
        let _ = sops::decrypt_tree(&mut docs, &md, &key, sops::MacCheck::Ignore, "fuzz input");
        return;
    }
    let _ = store::emit_plain(f, &docs, &StoreOptions::default());
}

/// `.sops.yaml`: parse, read the rules, pick the rule for a few paths.
pub fn config(data: &[u8]) {
    let Some(t) = text(data) else { return };
    let docs = match sealbox_formats::store::yaml::parse(t) {
        Ok(d) => d,
        Err(e) => return check_err("yaml::parse", &e),
    };
    let empty = Map::new();
    let doc = docs.first().unwrap_or(&empty);
    let cfg = match Config::from_document(PathBuf::from("/fuzz/.sops.yaml"), doc) {
        Ok(c) => c,
        Err(e) => return check_err("Config::from_document", &e),
    };
    let _ = cfg.stores.yaml_indent_width();
    for p in ["/fuzz/secrets/a.yaml", "/fuzz/b.env", "/elsewhere/c.json"] {
        match cfg.rule_for(Path::new(p)) {
            Ok(Some(rule)) => {
                let _ = format!("{rule:?}");
            }
            Ok(None) => {}
            Err(e) => check_err("rule_for", &e),
        }
    }
}

/// The activation manifest (sops-nix JSON): parse, validate without looking anything up,
/// and render its templates with made-up values.
pub fn manifest(data: &[u8]) {
    let Some(t) = text(data) else { return };
    let mut m = match sealbox_manifest::from_json(t) {
        Ok(m) => m,
        Err(e) => {
            assert!(!e.trim().is_empty(), "from_json: empty error");
            return;
        }
    };
    // No file system: template files are not read here.
    for tpl in &mut m.templates {
        tpl.file.clear();
    }
    m.expand_runtime_dir("/run/user/1000");
    let checks = Checks {
        owners: Owners::Unresolved,
        depth: Depth::Manifest,
        defer_unreadable: false,
    };
    match sealbox_manifest::validate(&m, checks, &mut System) {
        Ok(plan) => {
            let values: Vec<(&str, &[u8])> = plan
                .secrets
                .iter()
                .filter_map(|s| s.placeholder.as_deref())
                .map(|p| (p, b"value".as_slice()))
                .collect();
            for tpl in &plan.templates {
                let _ = sealbox_manifest::render(&tpl.text, &values);
                let _ = sealbox_manifest::used_secrets(tpl, &plan.secrets);
            }
        }
        Err(problems) => {
            assert!(
                problems.iter().all(|p| !p.to_string().trim().is_empty()),
                "validate: empty error"
            );
        }
    }
}

/// age identity files (`AGE-SECRET-KEY-1…` lines) and single secret keys.
pub fn age_identity(data: &[u8]) {
    let Some(t) = text(data) else { return };
    match Identities::from_text(t) {
        Ok(ids) => {
            for r in ids.recipients() {
                Recipient::parse(&r)
                    .unwrap_or_else(|e| panic!("the recipient of a parsed identity: {e}"));
            }
        }
        Err(e) => check_err("Identities::from_text", &e),
    }
    if let Err(e) = keys::x25519_public_of(t) {
        check_err("x25519_public_of", &e);
    }
}

/// SSH key files: private keys as age-ssh identities and for ssh-to-age, public keys as
/// recipients and for ssh-to-age.
pub fn ssh_key(data: &[u8]) {
    let mut ids = Identities::new();
    if let Err(e) = ids.push_ssh_private_key(data, "fuzz key") {
        check_err("push_ssh_private_key", &e);
    }
    let Some(t) = text(data) else { return };
    if let Err(e) = keys::ssh_to_age_private(t) {
        check_err("ssh_to_age_private", &e);
    }
    match keys::ssh_to_age_public(t) {
        Ok(r) => {
            Recipient::parse(&r).unwrap_or_else(|e| panic!("ssh-to-age output: {e}"));
        }
        Err(e) => check_err("ssh_to_age_public", &e),
    }
    if let Err(e) = Recipient::parse(t) {
        check_err("Recipient::parse", &e);
    }
    if let Err(e) = keys::parse_recipient_list(t) {
        check_err("parse_recipient_list", &e);
    }
}

/// `--extract` / `set` / `unset` tree paths, applied to a small document.
pub fn tree_path(data: &[u8]) {
    let Some(t) = text(data) else { return };
    let steps = match path::parse(t, PathUse::Extract) {
        Ok(s) => s,
        Err(e) => return check_err("path::parse", &e),
    };
    let mut doc = Map::new();
    doc.push("a", Value::List(vec![Value::str("x"), Value::Int(1)]));
    let mut inner = Map::new();
    inner.push("c", Value::Bool(true));
    doc.push("b", Value::Map(inner));
    if let Err(e) = path::lookup(&doc, &steps) {
        check_err("path::lookup", &e);
    }
    if !steps.is_empty() {
        path::set(&mut doc, &steps, Value::str("new"));
        let _ = path::unset(&mut doc, &steps);
    }
}
