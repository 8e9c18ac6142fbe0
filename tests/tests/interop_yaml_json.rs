//! Generated YAML and JSON documents cross the boundary between sealbox and the real sops 3.11
//! in both directions, with every recipient kind and every selector option.
//!
//! Seeds: `0..SEALBOX_INTEROP_SEEDS` (default 100) per format. Each test runs its seeds on a few
//! threads and reports every failing seed with the kept temp dir that holds its files.

use sealbox_tests::check::{check_decrypted_json, check_decrypted_yaml_comments, check_encrypted};
use sealbox_tests::gen::{generate, selector_for, Doc, Format, Selector};
use sealbox_tests::{Identity, Keys, Out, Peers, Sandbox};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

fn seeds() -> u64 {
    std::env::var("SEALBOX_INTEROP_SEEDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(100)
}

/// The recipients a seed encrypts to, and the identity it decrypts with.
fn recipients(keys: &Keys, seed: u64) -> (Vec<&Identity>, &Identity, &'static str) {
    match seed % 3 {
        0 => (vec![&keys.age1], &keys.age1, "age X25519"),
        1 => (vec![&keys.ssh], &keys.ssh, "ssh-ed25519"),
        _ => {
            let all = keys.all();
            (
                all.to_vec(),
                all[((seed / 3) % 3) as usize],
                "age1+age2+ssh",
            )
        }
    }
}

fn selector(seed: u64) -> Selector {
    selector_for(seed)
}

fn env_of(id: &Identity) -> Vec<(&'static str, String)> {
    id.env().to_vec()
}

fn run(sb: &Sandbox, prog: &Path, args: &[String], env: &[(&'static str, String)]) -> Out {
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    sb.run(prog, args, &env, None)
}

fn must(out: Out, what: &str) -> Result<Out, String> {
    if out.code == 0 {
        Ok(out)
    } else {
        Err(format!(
            "{what} failed with exit {}:\n{}",
            out.code, out.stderr
        ))
    }
}

fn s(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

/// Runs `case` for every seed of both formats on a few threads; panics listing the failures.
fn for_all_seeds(
    name: &str,
    case: impl Fn(&Peers, &Keys, &Doc, &Sandbox) -> Result<(), String> + Sync,
) {
    let peers = sealbox_tests::require!(Peers::get());
    let keys = Keys::generate(&peers);
    let n = seeds();
    // SEALBOX_INTEROP_FORMATS=json (or yaml) narrows the run while debugging
    let only = std::env::var("SEALBOX_INTEROP_FORMATS").unwrap_or_default();
    let jobs: Vec<(u64, Format)> = (0..n)
        .flat_map(|s| [(s, Format::Yaml), (s, Format::Json)])
        .filter(|(_, f)| only.is_empty() || only.contains(f.ext()))
        .collect();
    // how many failures to report (and keep the files of)
    let show: usize = std::env::var("SEALBOX_INTEROP_SHOW")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(15);
    let next = AtomicUsize::new(0);
    let failures = Mutex::new(Vec::new());
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2)
        .clamp(1, 8);
    std::thread::scope(|sc| {
        for _ in 0..threads {
            sc.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                let Some(&(seed, format)) = jobs.get(i) else {
                    break;
                };
                let doc = generate(seed, format);
                let sb = Sandbox::new();
                sb.write(&format!("plain.{}", format.ext()), &doc.text);
                if let Err(e) = case(&peers, &keys, &doc, &sb) {
                    let mut f = failures.lock().unwrap();
                    // keep the files of the first failures only
                    let kept = if f.len() < show {
                        format!("files kept in {}", sb.keep().display())
                    } else {
                        "files not kept".to_string()
                    };
                    f.push(format!(
                        "seed {seed} {format:?} (selector {:?}, recipients {}): {kept}\n{e}",
                        selector(seed),
                        recipients(&keys, seed).2,
                    ));
                }
            });
        }
    });
    let mut f = failures.into_inner().unwrap();
    if !f.is_empty() {
        let total = f.len();
        f.truncate(show);
        panic!(
            "{name}: {total} of {} documents failed (first {}):\n\n{}",
            jobs.len(),
            f.len(),
            f.join("\n\n")
        );
    }
}

fn sops_encrypt_with(
    peers: &Peers,
    sb: &Sandbox,
    doc: &Doc,
    recips: &[&Identity],
    sel: Selector,
    extra: &[&str],
) -> Result<String, String> {
    // real sops 3.11 takes the comment-regex and mac-only flags only in the top-level form
    let mut args = vec![
        "--age".to_string(),
        recips
            .iter()
            .map(|r| r.recipient.clone())
            .collect::<Vec<_>>()
            .join(","),
    ];
    args.extend(sel.flags());
    args.extend(extra.iter().map(|a| a.to_string()));
    args.extend(s(&["-e", &format!("plain.{}", doc.format.ext())]));
    let out = must(run(sb, &peers.sops, &args, &[]), "sops encrypt")?;
    Ok(out.stdout_str())
}

fn sops_encrypt_to_json(
    peers: &Peers,
    sb: &Sandbox,
    doc: &Doc,
    recips: &[&Identity],
    sel: Selector,
) -> Result<String, String> {
    sops_encrypt_with(peers, sb, doc, recips, sel, &["--output-type", "json"])
}

fn sealbox_encrypt_to_json(
    peers: &Peers,
    sb: &Sandbox,
    doc: &Doc,
    recips: &[&Identity],
    sel: Selector,
) -> Result<String, String> {
    sealbox_encrypt_with(peers, sb, doc, recips, sel, &["--output-type", "json"])
}

fn sops_encrypt(
    peers: &Peers,
    sb: &Sandbox,
    doc: &Doc,
    recips: &[&Identity],
    sel: Selector,
) -> Result<String, String> {
    sops_encrypt_with(peers, sb, doc, recips, sel, &[])
}

fn sealbox_encrypt(
    peers: &Peers,
    sb: &Sandbox,
    doc: &Doc,
    recips: &[&Identity],
    sel: Selector,
) -> Result<String, String> {
    sealbox_encrypt_with(peers, sb, doc, recips, sel, &[])
}

fn sealbox_encrypt_with(
    peers: &Peers,
    sb: &Sandbox,
    doc: &Doc,
    recips: &[&Identity],
    sel: Selector,
    extra: &[&str],
) -> Result<String, String> {
    let mut args = s(&["encrypt", "--age"]);
    args.push(
        recips
            .iter()
            .map(|r| r.recipient.clone())
            .collect::<Vec<_>>()
            .join(","),
    );
    args.extend(sel.flags());
    args.extend(extra.iter().map(|a| a.to_string()));
    args.push(format!("plain.{}", doc.format.ext()));
    let out = must(run(sb, &peers.sealbox, &args, &[]), "sealbox encrypt")?;
    Ok(out.stdout_str())
}

/// Decrypts `file` with `prog` (sops or sealbox, both take the `decrypt` subcommand) to JSON
/// and to the file's own format, and compares both with the document.
fn decrypt_and_compare(
    prog: &Path,
    who: &str,
    sb: &Sandbox,
    doc: &Doc,
    file: &str,
    id: &Identity,
) -> Result<(), String> {
    let (env, source) = identity_source(sb, id, doc.seed / 3);
    let id_desc = format!("{} identity via {source}", id.name);
    let result = decrypt_and_compare_with(prog, who, sb, doc, file, &id_desc, &env);
    // undo default-location keys so later "this identity alone" checks stay meaningful
    let home = sb.path().join("home");
    let _ = std::fs::remove_file(home.join(".config/sops/age/keys.txt"));
    let _ = std::fs::remove_file(home.join(".ssh/id_ed25519"));
    result
}

/// Hands `id` to the tools through one of the sources sops reads
/// (docs/format.md#identity-sources), chosen by `n`.
fn identity_source(
    sb: &Sandbox,
    id: &Identity,
    n: u64,
) -> (Vec<(&'static str, String)>, &'static str) {
    let key_path = id.key_file.display().to_string();
    let home = sb.path().join("home");
    if id.env_var == "SOPS_AGE_SSH_PRIVATE_KEY_FILE" {
        if n.is_multiple_of(2) {
            return (env_of(id), "SOPS_AGE_SSH_PRIVATE_KEY_FILE");
        }
        use std::os::unix::fs::PermissionsExt;
        let dst = home.join(".ssh/id_ed25519");
        std::fs::create_dir_all(dst.parent().unwrap()).unwrap();
        std::fs::copy(&id.key_file, &dst).unwrap();
        std::fs::set_permissions(&dst, std::fs::Permissions::from_mode(0o600)).unwrap();
        return (Vec::new(), "~/.ssh/id_ed25519");
    }
    match n % 4 {
        0 => (env_of(id), "SOPS_AGE_KEY_FILE"),
        1 => (
            vec![(
                "SOPS_AGE_KEY",
                std::fs::read_to_string(&id.key_file).unwrap(),
            )],
            "SOPS_AGE_KEY",
        ),
        2 => {
            let dst = home.join(".config/sops/age/keys.txt");
            std::fs::create_dir_all(dst.parent().unwrap()).unwrap();
            std::fs::copy(&id.key_file, &dst).unwrap();
            (Vec::new(), "$XDG_CONFIG_HOME/sops/age/keys.txt")
        }
        _ => (
            vec![("SOPS_AGE_KEY_CMD", format!("cat {key_path}"))],
            "SOPS_AGE_KEY_CMD",
        ),
    }
}

fn decrypt_and_compare_with(
    prog: &Path,
    who: &str,
    sb: &Sandbox,
    doc: &Doc,
    file: &str,
    id_desc: &str,
    env: &[(&'static str, String)],
) -> Result<(), String> {
    let j = must(
        run(
            sb,
            prog,
            &s(&["decrypt", "--output-type", "json", file]),
            env,
        ),
        &format!("{who} decrypt --output-type json with the {id_desc}"),
    )?;
    check_decrypted_json(doc, &j.stdout)
        .map_err(|e| format!("{who} decrypt --output-type json: {e}"))?;
    if doc.format == Format::Yaml {
        let y = must(
            run(sb, prog, &s(&["decrypt", file]), env),
            &format!("{who} decrypt"),
        )?;
        check_decrypted_yaml_comments(doc, &y.stdout)
            .map_err(|e| format!("{who} decrypt (yaml): {e}"))?;
        sb.write(&format!("{who}.decrypted.yaml"), &y.stdout);
    }
    Ok(())
}

/// `--extract '["key"]'` for every addressable top-level key: same exit code as sops, and for
/// string values the same raw bytes.
fn extract_like_sops(
    peers: &Peers,
    sb: &Sandbox,
    doc: &Doc,
    file: &str,
    id: &Identity,
) -> Result<(), String> {
    use sealbox_tests::gen::{Node, Scalar};
    let Node::Map(entries, _) = &doc.root else {
        return Ok(());
    };
    for e in entries.iter().take(4) {
        let key = e.key.as_deref().unwrap();
        if key.contains('[') {
            continue;
        }
        let path = format!("[\"{key}\"]");
        let args = s(&["decrypt", "--extract", &path, file]);
        let theirs = run(sb, &peers.sops, &args, &env_of(id));
        let ours = run(sb, &peers.sealbox, &args, &env_of(id));
        if theirs.code != ours.code {
            return Err(format!(
                "--extract {path}: sealbox exits {} ({}), sops exits {} ({})",
                ours.code, ours.stderr, theirs.code, theirs.stderr
            ));
        }
        if matches!(e.value, Node::Scalar(Scalar::Str(..))) && theirs.stdout != ours.stdout {
            return Err(format!(
                "--extract {path}: sealbox prints {:?}, sops prints {:?}",
                ours.stdout_str(),
                theirs.stdout_str()
            ));
        }
    }
    Ok(())
}

/// The oracle itself: the generator's documents round-trip through the real sops alone, and the
/// selector model predicts what sops encrypts. If this fails, the generator is wrong, not sealbox.
#[test]
fn generator_round_trips_through_real_sops() {
    for_all_seeds("sops -> sops", |peers, keys, doc, sb| {
        let sel = selector(doc.seed);
        let (recips, id, _) = recipients(keys, doc.seed);
        let enc = sops_encrypt(peers, sb, doc, &recips, sel)?;
        let file = format!("sops.enc.{}", doc.format.ext());
        sb.write(&file, &enc);
        check_encrypted(doc, sel, &enc).map_err(|e| format!("sops-encrypted file: {e}"))?;
        if doc.format == Format::Yaml {
            let j = sops_encrypt_to_json(peers, sb, doc, &recips, sel)?;
            check_encrypted(doc, sel, &j)
                .map_err(|e| format!("sops-encrypted file (--output-type json): {e}\n{j}"))?;
        }
        decrypt_and_compare(&peers.sops, "sops", sb, doc, &file, id)
    });
}

/// sealbox encrypt -> real sops decrypt gives the original document (values, types, comments),
/// and sealbox encrypts exactly the leaves the selector asks for.
#[test]
fn sealbox_encrypts_real_sops_decrypts() {
    for_all_seeds("sealbox -> sops", |peers, keys, doc, sb| {
        let sel = selector(doc.seed);
        let (recips, id, _) = recipients(keys, doc.seed);
        let enc = sealbox_encrypt(peers, sb, doc, &recips, sel)?;
        let file = format!("sealbox.enc.{}", doc.format.ext());
        sb.write(&file, &enc);
        check_encrypted(doc, sel, &enc)
            .map_err(|e| format!("sealbox-encrypted file: {e}\n{enc}"))?;
        if doc.format == Format::Yaml {
            // the same selection, checked leaf by leaf through a JSON rendering
            let j = sealbox_encrypt_to_json(peers, sb, doc, &recips, sel)?;
            check_encrypted(doc, sel, &j)
                .map_err(|e| format!("sealbox-encrypted file (--output-type json): {e}\n{j}"))?;
        }
        decrypt_and_compare(&peers.sops, "sops", sb, doc, &file, id)?;
        // several recipients: every identity alone opens the file (checked on some seeds)
        if recips.len() > 1 && doc.seed % 2 == 0 {
            for other in keys.all() {
                let j = run(
                    sb,
                    &peers.sops,
                    &s(&["decrypt", "--output-type", "json", &file]),
                    &env_of(other),
                );
                let j = must(
                    j,
                    &format!("sops decrypt with only the {} identity", other.name),
                )?;
                check_decrypted_json(doc, &j.stdout)?;
            }
        }
        // sealbox reads back its own file too
        decrypt_and_compare(&peers.sealbox, "sealbox", sb, doc, &file, id)
    });
}

/// real sops encrypt -> sealbox decrypt gives the original document; sealbox's YAML output
/// reparses (through the real sops) to the same tree.
#[test]
fn real_sops_encrypts_sealbox_decrypts() {
    for_all_seeds("sops -> sealbox", |peers, keys, doc, sb| {
        let sel = selector(doc.seed);
        let (recips, id, _) = recipients(keys, doc.seed);
        let enc = sops_encrypt(peers, sb, doc, &recips, sel)?;
        let file = format!("sops.enc.{}", doc.format.ext());
        sb.write(&file, &enc);
        decrypt_and_compare(&peers.sealbox, "sealbox", sb, doc, &file, id)?;
        if recips.len() > 1 && doc.seed % 2 == 1 {
            for other in keys.all() {
                let j = run(
                    sb,
                    &peers.sealbox,
                    &s(&["decrypt", "--output-type", "json", &file]),
                    &env_of(other),
                );
                let j = must(
                    j,
                    &format!("sealbox decrypt with only the {} identity", other.name),
                )?;
                check_decrypted_json(doc, &j.stdout)?;
            }
        }
        if doc.seed % 4 == 1 {
            extract_like_sops(peers, sb, doc, &file, id)?;
        }
        if doc.seed % 4 == 2 {
            // `-` reads stdin and gives the same output as the file
            let env = env_of(id);
            let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let ty = doc.format.ext();
            let from_file = sb.run(&peers.sealbox, &["decrypt", &file], &env, None);
            let from_stdin = sb.run(
                &peers.sealbox,
                &["decrypt", "--input-type", ty, "--output-type", ty, "-"],
                &env,
                Some(enc.as_bytes()),
            );
            if from_stdin.code != 0 || from_stdin.stdout != from_file.stdout {
                return Err(format!(
                    "sealbox decrypt - (stdin) exits {} and differs from decrypting the file: {}",
                    from_stdin.code, from_stdin.stderr
                ));
            }
        }
        if doc.format == Format::Yaml && doc.seed % 3 == 0 {
            // sealbox's YAML output must be YAML that means the same tree to yaml.v3
            let reenc = must(
                run(
                    sb,
                    &peers.sops,
                    &s(&[
                        "--age",
                        &keys.age1.recipient,
                        "-e",
                        "sealbox.decrypted.yaml",
                    ]),
                    &[],
                ),
                "sops encrypt of sealbox's decrypted YAML",
            )?;
            sb.write("reparse.enc.yaml", &reenc.stdout);
            let j = must(
                run(
                    sb,
                    &peers.sops,
                    &s(&["decrypt", "--output-type", "json", "reparse.enc.yaml"]),
                    &env_of(&keys.age1),
                ),
                "sops decrypt of the re-encrypted sealbox output",
            )?;
            check_decrypted_json(doc, &j.stdout)
                .map_err(|e| format!("sealbox's decrypted YAML, read by sops: {e}"))?;
        }
        Ok(())
    });
}
