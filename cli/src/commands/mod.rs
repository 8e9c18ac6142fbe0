//! The subcommands.

mod check;
mod edit;
mod exec_file;
mod man;
mod updatekeys;

use crate::fsio::{read_input, write_atomic, write_stdout, ENCRYPTED_MODE, PLAINTEXT_MODE};
use crate::{Cli, Command, DecryptArgs, EncryptArgs, IoArgs, KeyArgs, KeygenArgs, SshToAgeArgs};
use sealbox_formats::cipher::DataKey;
use sealbox_formats::config::{self, Config};
use sealbox_formats::metadata::{Metadata, Selector, WRITER_VERSION};
use sealbox_formats::path::{self as tree_path, PathUse};
use sealbox_formats::sops::{self, Selection};
use sealbox_formats::store::{self, Format, StoreOptions};
use sealbox_formats::{timefmt, Document, Error, ErrorKind, Result};
use sealbox_keys::age::{self, Identities};
use sealbox_keys::{KeyServices, Recipient};
use std::borrow::Cow;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Runs the parsed command line; the exit code on success (`check` exits 1 on findings).
pub fn run(cli: &Cli) -> Result<ExitCode> {
    let done = match &cli.command {
        Command::Check(a) => {
            return check::check(cli, a).map(|clean| {
                if clean {
                    ExitCode::SUCCESS
                } else {
                    ExitCode::from(1)
                }
            })
        }
        Command::Encrypt(a) => encrypt(cli, a),
        Command::Decrypt(a) => decrypt(cli, a),
        Command::Edit(a) => edit::edit(cli, a),
        Command::Set(a) => crate::session::set(cli, a),
        Command::Unset(a) => crate::session::unset(cli, a),
        Command::Filestatus(a) => crate::session::filestatus(a),
        Command::ExecEnv(a) => exec_file::exec_env(a),
        Command::ExecFile(a) => exec_file::exec_file(a),
        Command::Rotate(a) => updatekeys::rotate(cli, a),
        Command::Updatekeys(a) => updatekeys::updatekeys(cli, a),
        Command::Recipients(a) => updatekeys::recipients(a),
        Command::Keygen(a) => keygen(a),
        Command::SshToAge(a) => ssh_to_age(a),
        Command::Manifest(a) => crate::manifest::manifest(a),
        Command::Completions(a) => man::completions(a),
        Command::Man(a) => man::man(a),
    };
    done.map(|()| ExitCode::SUCCESS)
}

/// The `.sops.yaml` in force: `--config`/`SOPS_CONFIG`, else the first found upward from
/// the current directory, if its owner is trusted (see [`load_trusted_config`]).
pub(crate) fn load_config(cli: &Cli) -> Result<Option<Config>> {
    match &cli.config {
        Some(p) => Config::load(p).map(Some),
        None => {
            let cwd = std::env::current_dir().map_err(|e| {
                Error::new(
                    ErrorKind::Other,
                    format!("cannot read the current directory: {e}"),
                )
            })?;
            config::find_config(&cwd)
                .map(|p| load_trusted_config(&p))
                .transpose()
        }
    }
}

/// The variable listing other owners whose `.sops.yaml` the search may use.
pub(crate) const TRUSTED_OWNERS_VAR: &str = "SEALBOX_TRUSTED_CONFIG_OWNERS";

/// Whether `uid` may own a `.sops.yaml` found by the search: the user, root, or one listed
/// in `SEALBOX_TRUSTED_CONFIG_OWNERS` (user names or uids, comma-separated; `*`: anyone).
fn trusted_owner(uid: u32) -> bool {
    if uid == 0 || uid == nix::unistd::geteuid().as_raw() {
        return true;
    }
    let list = std::env::var(TRUSTED_OWNERS_VAR).unwrap_or_default();
    let name = user_name(uid);
    list.split(',').map(str::trim).any(|w| {
        w == "*"
            || w.parse::<u32>().ok() == Some(uid)
            || (!w.is_empty() && name.as_deref() == Some(w))
    })
}

fn user_name(uid: u32) -> Option<String> {
    nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(uid))
        .ok()
        .flatten()
        .map(|u| u.name)
}

/// Reads the `.sops.yaml` the search found, refusing it unless its owner is trusted
/// ([`trusted_owner`]); the search does not go on upward then. A config decides which
/// values are encrypted and for whom, so one planted by another user in a shared
/// directory (a `/tmp`-like one above the working directory) could leave secrets in clear
/// or encrypt them for the planter: git refuses repositories owned by others for the same
/// reason (`safe.directory`). The owner checked is that of the file actually read (`fstat`
/// of the open file, and `lstat` of a symlink at the name), so the file cannot be swapped
/// between the check and the read. An owned file in a directory others can write to is
/// fine: whoever replaces it owns the replacement, which is then refused. `--config` and
/// `SOPS_CONFIG` name a file explicitly and are not checked.
fn load_trusted_config(path: &Path) -> Result<Config> {
    use std::io::Read;
    use std::os::unix::fs::MetadataExt;
    let shown = path.display();
    let cannot = |e: std::io::Error| {
        Error::new(
            ErrorKind::InvalidConfig,
            format!("error loading config: cannot read {shown}: {e}"),
        )
    };
    let refuse = |what: &str, uid: u32| {
        let who = match user_name(uid) {
            Some(n) => format!("{n} (uid {uid})"),
            None => format!("uid {uid}"),
        };
        let me = nix::unistd::geteuid().as_raw();
        Error::new(ErrorKind::Other, format!(
            "{what} {shown} is owned by {who}, who is neither you (uid {me}) nor root: sealbox does not use a .sops.yaml another user could have planted, and does not look further up"
        ))
        .with_hint(format!(
            "if you trust it, set {TRUSTED_OWNERS_VAR}={} (users or uids, comma-separated), or pass --config FILE; otherwise remove it or work in a directory of your own",
            user_name(uid).unwrap_or_else(|| uid.to_string())
        ))
    };
    let link = std::fs::symlink_metadata(path).map_err(cannot)?;
    if link.file_type().is_symlink() && !trusted_owner(link.uid()) {
        return Err(refuse("the symlink", link.uid()));
    }
    let mut f = std::fs::File::open(path).map_err(cannot)?;
    let meta = f.metadata().map_err(cannot)?;
    if !meta.is_file() {
        return Err(Error::new(
            ErrorKind::Other,
            format!("error loading config: {shown} is not a regular file"),
        ));
    }
    if !trusted_owner(meta.uid()) {
        return Err(refuse("the config file", meta.uid()));
    }
    let mut text = String::new();
    f.read_to_string(&mut text).map_err(cannot)?;
    Config::from_text(path, &text)
}

pub(crate) fn store_options(cfg: Option<&Config>) -> Result<StoreOptions> {
    match cfg {
        None => Ok(StoreOptions::default()),
        Some(c) => Ok(StoreOptions {
            yaml_indent: c.stores.yaml_indent_width()?,
            json_indent: c.stores.json_indent,
            json_binary_indent: c.stores.json_binary_indent,
        }),
    }
}

/// Input path (None = stdin), the path used for format detection and rules, and the
/// input and output formats.
struct Target {
    input: PathBuf,
    name: Option<PathBuf>,
    input_format: Format,
    output_format: Format,
}

fn target(file: &Option<PathBuf>, io: &IoArgs) -> Result<Target> {
    let input = file.clone().unwrap_or_else(|| PathBuf::from("-"));
    let stdin = input == Path::new("-");
    if io.in_place && io.output.is_some() {
        return Err(Error::new(
            ErrorKind::ConflictingOptions,
            "cannot use --in-place together with --output",
        ));
    }
    if stdin && io.in_place {
        return Err(Error::new(
            ErrorKind::ConflictingOptions,
            "cannot use --in-place when reading from stdin",
        ));
    }
    let name = io
        .filename_override
        .clone()
        .or_else(|| (!stdin).then(|| input.clone()));
    let by_name = name.as_deref().map(Format::from_path);
    let input_format = io
        .input_type
        .as_deref()
        .map(Format::from_name)
        .or(by_name)
        .unwrap_or(Format::Binary);
    let output_format = io
        .output_type
        .as_deref()
        .map(Format::from_name)
        .or(by_name)
        .unwrap_or(Format::Binary);
    Ok(Target {
        input,
        name,
        input_format,
        output_format,
    })
}

pub(crate) fn display(p: &Path) -> String {
    if p == Path::new("-") {
        "stdin".into()
    } else {
        p.display().to_string()
    }
}

fn write_output(t: &Target, io: &IoArgs, data: &[u8], new_mode: u32) -> Result<()> {
    if io.in_place {
        write_atomic(&t.input, data, new_mode)
    } else if let Some(out) = &io.output {
        write_atomic(out, data, new_mode)
    } else {
        write_stdout(data)
    }
}

fn encrypt(cli: &Cli, a: &EncryptArgs) -> Result<()> {
    let t = target(&a.file, &a.io)?;
    let Some(name) = t.name.clone() else {
        return Err(Error::new(
            ErrorKind::ConflictingOptions,
            "reading from stdin needs --filename-override to choose the format and the creation rule",
        ));
    };
    let what = display(&t.input);
    let cfg = load_config(cli)?;
    let abs = std::path::absolute(&name).unwrap_or(name.clone());
    // Like sops, the creation rules are consulted even when keys come from flags, so a
    // config whose rules match nothing is an error either way.
    let rule = match &cfg {
        Some(c) => c.rule_for(&abs)?,
        None => None,
    };
    let plain = read_input(&t.input)?;
    let mut docs =
        store::load_plain_owned(t.input_format, plain, &what).map_err(|e| match e.kind {
            // sops: a plaintext input that does not load is exit 2, whatever the cause, but
            // a key or value it cannot encrypt is exit 23.
            ErrorKind::Encrypt | ErrorKind::Parse | ErrorKind::DuplicateKey => e,
            _ => e.with_kind(ErrorKind::ReadInput),
        })?;
    if docs.is_empty() {
        return Err(Error::new(
            ErrorKind::EmptyInput,
            format!("{what}: the file is empty: nothing to encrypt"),
        ));
    }
    if store::has_metadata(t.input_format, &docs) {
        return Err(Error::new(
            ErrorKind::AlreadyEncrypted,
            format!("{what}: the file already has a top-level `sops` key: it is already encrypted"),
        )
        .with_hint("decrypt it first, or use `sealbox edit`/`set` to change it"));
    }

    let plan = CreationPlan::new(cfg.as_ref(), rule, &a.keys, t.input_format)?;
    let md = plan
        .encrypt(&mut docs, &DataKey::generate(), &KeyServices::from_env())
        .map_err(|e| e.context(&what))?;
    let opts = store_options(cfg.as_ref())?;
    let out =
        store::emit_encrypted(t.output_format, &docs, &md, &opts).map_err(|e| e.context(&what))?;
    write_output(&t, &a.io, &out, ENCRYPTED_MODE)?;
    // The process ends now, and the tree holds nothing secret any more (ciphertext, and
    // the unencrypted values just written out in clear; plaintext was wiped as it was
    // replaced): leave it, and the output, to the exit instead of wiping and freeing
    // every node (a measurable part of encrypting a large file).
    std::mem::forget(docs);
    std::mem::forget(out);
    Ok(())
}

/// How a new file is encrypted: from the flags, else from the creation rule.
pub(crate) struct CreationPlan {
    groups: Vec<Vec<Recipient>>,
    threshold: usize,
    selector: Option<Selector>,
    mac_only: bool,
    binary: bool,
}

impl CreationPlan {
    pub(crate) fn new(
        cfg: Option<&Config>,
        rule: Option<&config::CreationRule>,
        a: &KeyArgs,
        format: Format,
    ) -> Result<Self> {
        // Recipients: flags win over the creation rule.
        let (groups, rule_threshold) = if let Some(list) =
            a.age.as_deref().filter(|s| !s.is_empty())
        {
            (
                vec![age::parse_recipient_list(list)?
                    .into_iter()
                    .map(Recipient::Age)
                    .collect()],
                0,
            )
        } else if let Some(rule) = rule {
            let mut groups = Vec::new();
            for (i, g) in rule.key_groups.iter().enumerate() {
                if let Some((kind, _)) = g.other.first() {
                    return Err(Error::new(
                        ErrorKind::Other,
                        format!(
                        "creation rule in {} uses {kind} keys, which sealbox does not support yet",
                        cfg.map(|c| c.path.display().to_string())
                            .unwrap_or_default()
                    ),
                    )
                    .with_hint("use age or SSH recipients"));
                }
                let rs = g
                    .age
                    .iter()
                    .map(|r| age::Recipient::parse(r).map(Recipient::Age))
                    .collect::<Result<Vec<_>>>()
                    .map_err(|e| e.context(format!("key group {i}")))?;
                groups.push(rs);
            }
            (groups, rule.shamir_threshold)
        } else {
            return Err(Error::new(ErrorKind::Other,
                "config file not found, or has no creation rules, and no keys provided through command line options",
            )
            .with_hint("pass --age RECIPIENT (see `sealbox keygen`), or add a creation rule to .sops.yaml"));
        };
        let flag = |v: &Option<String>| v.as_deref().unwrap_or("").to_string();
        let pairs = [
            ("unencrypted_suffix", flag(&a.unencrypted_suffix)),
            ("encrypted_suffix", flag(&a.encrypted_suffix)),
            ("unencrypted_regex", flag(&a.unencrypted_regex)),
            ("encrypted_regex", flag(&a.encrypted_regex)),
            (
                "unencrypted_comment_regex",
                flag(&a.unencrypted_comment_regex),
            ),
            ("encrypted_comment_regex", flag(&a.encrypted_comment_regex)),
        ];
        let flag_selector = Selector::from_pairs(pairs.iter().map(|(k, v)| (*k, v.as_str())))?;
        let mut selector = flag_selector.or_else(|| rule.and_then(|r| r.selector.clone()));
        let mut mac_only = a.mac_only_encrypted || rule.is_some_and(|r| r.mac_only_encrypted);
        let binary = format == Format::Binary;
        if binary {
            if selector.is_some() || mac_only {
                tracing::warn!("encryption selection options are ignored for binary files");
            }
            selector = None;
            mac_only = false;
        }
        Ok(CreationPlan {
            groups,
            threshold: a.shamir_threshold.unwrap_or(rule_threshold),
            selector,
            mac_only,
            binary,
        })
    }

    /// Encrypts `docs` in place under `key` and returns the metadata.
    pub(crate) fn encrypt(
        &self,
        docs: &mut [Document],
        key: &DataKey,
        keys: &KeyServices,
    ) -> Result<Metadata> {
        let key_groups = sealbox_keys::wrap(key, &self.groups, self.threshold, keys)?;
        let lastmodified = timefmt::now_rfc3339();
        let selector = self.selector.clone().unwrap_or_default();
        let sel = Selection::new(Some(&selector), self.mac_only)?;
        let mac = sops::encrypt_tree(docs, key, &sel, &lastmodified)?;
        Ok(Metadata {
            shamir_threshold: match (key_groups.len(), self.threshold) {
                (1, _) => 0,
                (n, 0) => n,
                (_, t) => t,
            },
            key_groups,
            lastmodified,
            mac,
            // The binary store records no selector (sops writes none either).
            selector: (!self.binary).then_some(selector),
            mac_only_encrypted: self.mac_only,
            version: WRITER_VERSION.to_string(),
        })
    }
}

/// sops refuses files whose `version` is not Major.Minor.Patch (a check for a historic
/// AWS KMS bug); so do we, with the same exit code.
pub(crate) fn check_version(v: &str, what: &str) -> Result<()> {
    let bad = |why: &str| {
        Error::new(
            ErrorKind::InvalidMetadata,
            format!("{what}: invalid sops.version {v:?}: {why}"),
        )
        .with_hint("the metadata was altered; restore `version` (e.g. 3.11.0) from version control")
    };
    if v.is_empty() {
        return Err(bad("version string empty"));
    }
    let core = v.strip_prefix('v').unwrap_or(v);
    let core = core.split(['-', '+']).next().unwrap_or("");
    if core.starts_with("1.") {
        return Ok(());
    }
    let parts: Vec<&str> = core.split('.').collect();
    let numeric = |p: &&str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit());
    if parts.len() != 3 || !parts.iter().all(numeric) {
        return Err(bad("no Major.Minor.Patch elements found"));
    }
    Ok(())
}

fn decrypt(cli: &Cli, a: &DecryptArgs) -> Result<()> {
    let t = target(&a.file, &a.io)?;
    let what = display(&t.input);
    let cfg = load_config(cli)?;
    let extract = a
        .extract
        .as_deref()
        .map(|p| tree_path::parse(p, PathUse::Extract))
        .transpose()?;
    let bytes = read_input(&t.input)?;
    let (mut docs, md) = store::load_encrypted(t.input_format, &bytes, &what)?;
    drop(bytes);
    check_version(&md.version, &what)?;
    let key = sealbox_keys::recover(&md, &KeyServices::from_env(), &what)?;
    sops::decrypt_tree(&mut docs, &md, &key, a.ignore_mac, &what)?;
    let opts = store_options(cfg.as_ref())?;
    let empty = Document::default();
    let out = match &extract {
        Some(steps) => {
            let first = docs.first().unwrap_or(&empty);
            let v = tree_path::lookup(first, steps).map_err(|e| e.context(&what))?;
            store::emit_value(t.output_format, v, &opts).map(Cow::Owned)
        }
        // Binary output is the tree's own bytes: a large file is not copied again.
        None if t.output_format == Format::Binary => store::binary_data(&docs).map(Cow::Borrowed),
        None => store::emit_plain(t.output_format, &docs, &opts).map(Cow::Owned),
    }
    .map_err(|e| e.context(&what))?;
    write_output(&t, &a.io, &out, PLAINTEXT_MODE)
}

fn keygen(a: &KeygenArgs) -> Result<()> {
    if let Some(idf) = &a.convert {
        let text = read_input(idf)?;
        let text = String::from_utf8(text).map_err(|_| {
            Error::new(
                ErrorKind::Other,
                format!("{}: not a text file", display(idf)),
            )
        })?;
        let ids = Identities::from_text(&text).map_err(|e| e.context(display(idf)))?;
        let out: String = ids.recipients().iter().map(|r| format!("{r}\n")).collect();
        return write_stdout(out.as_bytes());
    }
    let (identity, recipient) = age::generate_age_key();
    let text = zeroize::Zeroizing::new(format!(
        "# created: {}\n# public key: {recipient}\n{}\n",
        timefmt::now_rfc3339(),
        identity.as_str()
    ));
    match &a.output {
        Some(p) => {
            use std::io::Write;
            use std::os::unix::fs::OpenOptionsExt;
            crate::keyfile::make_parent_dirs(p)?;
            let mut f = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(p)
                .map_err(|e| crate::keyfile::create_error(p, e))?;
            f.write_all(text.as_bytes())
                .map_err(|e| Error::new(ErrorKind::WriteOutput, format!("{}: {e}", p.display())))?;
            eprintln!("Public key: {recipient}");
            Ok(())
        }
        None => {
            eprintln!("Public key: {recipient}");
            write_stdout(text.as_bytes())
        }
    }
}

fn ssh_to_age(a: &SshToAgeArgs) -> Result<()> {
    let input = a.input.clone().unwrap_or_else(|| PathBuf::from("-"));
    let raw = zeroize::Zeroizing::new(read_input(&input)?);
    let text = std::str::from_utf8(&raw).map_err(|_| {
        Error::new(
            ErrorKind::Other,
            format!("{}: not a text file", display(&input)),
        )
    })?;
    let out = if a.private_key {
        let k = age::ssh_to_age_private(text).map_err(|e| e.context(display(&input)))?;
        zeroize::Zeroizing::new(format!("{}\n", k.as_str()))
    } else {
        let mut out = String::new();
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let r = age::ssh_to_age_public(line)
                .map_err(|e| e.context(format!("{} line {}", display(&input), n + 1)))?;
            out.push_str(&r);
            out.push('\n');
        }
        if out.is_empty() {
            return Err(Error::new(
                ErrorKind::Other,
                format!("{}: no SSH public key found", display(&input)),
            ));
        }
        zeroize::Zeroizing::new(out)
    };
    match &a.output {
        Some(p) => crate::keyfile::make_parent_dirs(p).and_then(|()| {
            write_atomic(
                p,
                out.as_bytes(),
                if a.private_key {
                    PLAINTEXT_MODE
                } else {
                    ENCRYPTED_MODE
                },
            )
            .map_err(|e| crate::keyfile::write_hint(p, e))
        }),
        None => write_stdout(out.as_bytes()),
    }
}

#[cfg(test)]
mod tests {
    use super::check_version;
    use sealbox_formats::ErrorKind;

    #[test]
    fn version_check_like_sops() {
        assert!(check_version("3.11.0", "f").is_ok());
        assert!(check_version("v3.7.1", "f").is_ok());
        assert!(check_version("1.5", "f").is_ok());
        assert!(check_version("3.2", "f").is_err());
        assert!(check_version("garbage", "f").is_err());
        assert_eq!(
            check_version("", "f").unwrap_err().kind,
            ErrorKind::InvalidMetadata
        );
    }
}
