//! Crash consistency of the `sealbox` CLI (issue 8): `encrypt -i`, `updatekeys -y`,
//! `rotate -i` and `edit` are SIGKILLed
//!
//! * at every filesystem step of `write_atomic` and of the editor's private directory
//!   (the binary is built with the test-only feature `fault-injection`;
//!   `SEALBOX_FAULT_AFTER=N` makes it SIGKILL itself at the N-th step, `os/src/fault.rs`), and
//! * after pseudo-random delays spread over a normal run's duration,
//!
//! and after each kill the secrets file is the old one (byte for byte) or a whole new one
//! (it decrypts with sealbox — and for a sample with the real sops — to the new content),
//! never truncated or half-encrypted; no plaintext is anywhere but in a 0700 private
//! directory (0600 files) under `$TMPDIR`, and every other leftover is ciphertext.
//!
//! The leftovers of each command's kills are then put back, and one more normal run must
//! remove them all: the temporary files next to the secrets file (every command), and the
//! private directories of killed edits (the next `edit`).
//!
//! Run with `cargo test -p sealbox-cli --features fault-injection --test crash`.

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_sealbox");
/// Marker strings in every plaintext value: found anywhere on disk = leaked plaintext.
const MARK: &str = "plainmark";
const PLAIN: &str = "db:\n    user: plainmark-user\n    password: plainmark-pw-1\ntoken: plainmark-token\nlist:\n    - plainmark-a\n    - plainmark-b\n";

struct Env {
    dir: tempfile::TempDir,
    tmp: PathBuf,
    key1: PathBuf,
    key2: PathBuf,
    r1: String,
    r2: String,
}

impl Env {
    fn p(&self, n: &str) -> PathBuf {
        self.dir.path().join(n)
    }
}

fn keygen(p: &Path) -> String {
    let out = Command::new(BIN)
        .args(["keygen", "-o"])
        .arg(p)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stderr)
        .unwrap()
        .trim()
        .strip_prefix("Public key: ")
        .unwrap()
        .to_string()
}

fn setup() -> Env {
    let dir = tempfile::tempdir().unwrap();
    let tmp = dir.path().join("tmp");
    fs::create_dir(&tmp).unwrap();
    fs::set_permissions(&tmp, fs::Permissions::from_mode(0o777)).unwrap();
    let keys = dir.path().join("keys");
    fs::create_dir(&keys).unwrap();
    let key1 = keys.join("k1.txt");
    let key2 = keys.join("k2.txt");
    let r1 = keygen(&key1);
    let r2 = keygen(&key2);
    let work = dir.path().join("work");
    fs::create_dir(&work).unwrap();
    // what the kills leave, kept aside until the sweep check
    fs::create_dir_all(dir.path().join("stash/work")).unwrap();
    fs::create_dir_all(dir.path().join("stash/tmp")).unwrap();
    Env {
        dir,
        tmp,
        key1,
        key2,
        r1,
        r2,
    }
}

fn cmd(env: &Env, args: &[&str], key: &Path) -> Command {
    let mut c = Command::new(BIN);
    c.args(args)
        .current_dir(env.p("work"))
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", env.dir.path())
        .env("TMPDIR", &env.tmp)
        .env("SOPS_AGE_KEY_FILE", key)
        .env("EDITOR", env.p("editor.sh"))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    c
}

fn run(env: &Env, args: &[&str], key: &Path) -> Output {
    cmd(env, args, key).output().unwrap()
}

fn decrypt(env: &Env, file: &Path, key: &Path) -> Result<Vec<u8>, String> {
    let o = run(env, &["decrypt", file.to_str().unwrap()], key);
    if o.status.success() {
        Ok(o.stdout)
    } else {
        Err(String::from_utf8_lossy(&o.stderr).into_owned())
    }
}

fn sops_bin() -> PathBuf {
    sealbox_testkit::sops().unwrap_or_else(|e| panic!("{e}"))
}

fn sops_decrypt(file: &Path, key: &Path) -> Vec<u8> {
    let o = Command::new(sops_bin())
        .env("SOPS_DISABLE_VERSION_CHECK", "1")
        .env("SOPS_AGE_KEY_FILE", key)
        .args(["-d"])
        .arg(file)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "sops -d {}: {}",
        file.display(),
        String::from_utf8_lossy(&o.stderr)
    );
    o.stdout
}

fn contains(hay: &[u8], needle: &str) -> bool {
    hay.windows(needle.len()).any(|w| w == needle.as_bytes())
}

/// One command under test and what its old and new states are.
struct Op {
    name: &'static str,
    args: Vec<String>,
    /// The file's bytes before the command.
    old: Vec<u8>,
    /// Whether the old file is plaintext (encrypt -i).
    old_is_plain: bool,
    /// What the new file decrypts to (with `key`).
    new_plain: Vec<u8>,
    /// The key that decrypts the new file (for updatekeys: only the added recipient's).
    key: PathBuf,
    /// The key the command runs with.
    run_key: PathBuf,
}

#[derive(Default)]
struct Tally {
    runs: u64,
    killed: u64,
    old: u64,
    new: u64,
    temp_left: u64,
    private_left: u64,
    temp_swept: u64,
    private_swept: u64,
    sops_checked: u64,
}

/// `assert!` that returns the message as an error (so the negative controls can see it).
macro_rules! ensure {
    ($c:expr, $($m:tt)+) => {
        if !$c {
            return Err(format!($($m)+));
        }
    };
}

/// Whether `tail` is `<pid>-<16 hex digits>` (the PID part of our leftover names).
fn pid_tail(tail: &str) -> bool {
    tail.split_once('-').is_some_and(|(pid, r)| {
        !pid.is_empty()
            && pid.bytes().all(|b| b.is_ascii_digit())
            && r.len() == 16
            && r.bytes().all(|b| b.is_ascii_hexdigit())
    })
}

/// Our leftovers: temporary files next to the secrets file, private dirs in TMPDIR.
fn leftovers(env: &Env) -> (Vec<String>, Vec<String>) {
    let names = |d: &Path, prefix: &str| -> Vec<String> {
        fs::read_dir(d)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .filter(|n| n.starts_with(prefix))
            .collect()
    };
    (
        names(&env.p("work"), ".s.yaml.sealbox"),
        names(&env.tmp, ".sealbox"),
    )
}

/// After a kill: the file is old or whole-new, and no plaintext is outside private dirs.
/// Moves the leftovers to `stash/` (put back later for the sweep check) and restores the
/// old file for the next run.
fn check_and_reset(
    env: &Env,
    op: &Op,
    tally: &mut Tally,
    what: &str,
    sops_sample: bool,
) -> Result<(), String> {
    let file = env.p("work/s.yaml");
    let now = fs::read(&file).map_err(|e| format!("{what}: the file is gone: {e}"))?;
    if now == op.old {
        tally.old += 1;
    } else {
        let d = decrypt(env, &file, &op.key).map_err(|e| {
            format!(
                "{what}: the file is neither the old one nor a whole new one ({} bytes): {e}",
                now.len()
            )
        })?;
        assert_eq!(
            d, op.new_plain,
            "{what}: the new file decrypts to the wrong text"
        );
        ensure!(!contains(&now, MARK), "{what}: plaintext in the new file");
        if sops_sample {
            ensure!(sops_decrypt(&file, &op.key) == op.new_plain, "{what}: sops");
            tally.sops_checked += 1;
        }
        tally.new += 1;
    }
    // every other file in the work directory: ciphertext temporaries of write_atomic only
    for ent in fs::read_dir(env.p("work")).unwrap() {
        let ent = ent.unwrap();
        let n = ent.file_name().into_string().unwrap();
        if n == "s.yaml" || n == ".sops.yaml" {
            continue;
        }
        ensure!(
            n.strip_prefix(".s.yaml.sealbox-")
                .and_then(|r| r.strip_suffix(".tmp"))
                .is_some_and(pid_tail),
            "{what}: unexpected leftover {n}"
        );
        let b = fs::read(ent.path()).unwrap();
        ensure!(!contains(&b, MARK), "{what}: plaintext in the leftover {n}");
        tally.temp_left += 1;
        fs::rename(ent.path(), env.p("stash/work").join(&n)).unwrap();
    }
    // $TMPDIR: private 0700 directories with 0600 files only
    for ent in fs::read_dir(&env.tmp).unwrap() {
        let ent = ent.unwrap();
        let n = ent.file_name().into_string().unwrap();
        let md = fs::symlink_metadata(ent.path()).unwrap();
        ensure!(
            n.strip_prefix(".sealbox-private-").is_some_and(pid_tail)
                && md.is_dir()
                && md.mode() & 0o777 == 0o700,
            "{what}: {n} in TMPDIR is not a private 0700 directory ({:o})",
            md.mode()
        );
        for f in fs::read_dir(ent.path()).unwrap() {
            let f = f.unwrap();
            let md = fs::symlink_metadata(f.path()).unwrap();
            ensure!(
                md.is_file() && md.mode() & 0o777 == 0o600,
                "{what}: {:?} in a private directory is not a 0600 file",
                f.file_name()
            );
        }
        tally.private_left += 1;
        fs::rename(ent.path(), env.p("stash/tmp").join(&n)).unwrap();
    }
    // nothing else anywhere below the test directory holds plaintext
    fn scan(p: &Path, skip: &[PathBuf], what: &str) -> Result<(), String> {
        for ent in fs::read_dir(p).unwrap() {
            let ent = ent.unwrap();
            let q = ent.path();
            if skip.contains(&q) {
                continue;
            }
            let md = fs::symlink_metadata(&q).unwrap();
            if md.is_dir() {
                scan(&q, skip, what)?;
            } else if md.is_file() {
                ensure!(
                    !contains(&fs::read(&q).unwrap(), MARK),
                    "{what}: plaintext in {}",
                    q.display()
                );
            }
        }
        Ok(())
    }
    let mut skip = vec![env.p("editor.sh"), env.p("stash")];
    if op.old_is_plain {
        skip.push(env.p("work/s.yaml"));
    }
    scan(env.dir.path(), &skip, what)?;
    fs::write(&file, &op.old).unwrap();
    Ok(())
}

fn write_config(env: &Env, recipients: &str) {
    fs::write(
        env.p("work/.sops.yaml"),
        format!("creation_rules:\n    - path_regex: .*\n      age: {recipients}\n"),
    )
    .unwrap();
}

/// Makes the encrypted starting file (for r1 only) and returns its bytes.
fn encrypted_for_r1(env: &Env) -> Vec<u8> {
    write_config(env, &env.r1);
    let f = env.p("work/s.yaml");
    fs::write(&f, PLAIN).unwrap();
    let o = run(env, &["encrypt", "-i", "s.yaml"], &env.key1);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    fs::read(&f).unwrap()
}

fn ops(env: &Env) -> Vec<Op> {
    let file = env.p("work/s.yaml");
    let plain_out = |bytes: &[u8], key: &Path| {
        fs::write(&file, bytes).unwrap();
        decrypt(env, &file, key).unwrap()
    };
    let mut v = Vec::new();
    // encrypt -i: plaintext → encrypted
    let enc = encrypted_for_r1(env);
    let decrypted = plain_out(&enc, &env.key1);
    v.push(Op {
        name: "encrypt -i",
        args: vec!["encrypt".into(), "-i".into(), "s.yaml".into()],
        old: PLAIN.as_bytes().to_vec(),
        old_is_plain: true,
        new_plain: decrypted.clone(),
        key: env.key1.clone(),
        run_key: env.key1.clone(),
    });
    // updatekeys -y: r1 → r1 + r2; the new file is the one key2 opens
    v.push(Op {
        name: "updatekeys -y",
        args: vec!["updatekeys".into(), "-y".into(), "s.yaml".into()],
        old: enc.clone(),
        old_is_plain: false,
        new_plain: decrypted.clone(),
        key: env.key2.clone(),
        run_key: env.key1.clone(),
    });
    // rotate -i: a new data key, same text
    v.push(Op {
        name: "rotate -i",
        args: vec!["rotate".into(), "-i".into(), "s.yaml".into()],
        old: enc.clone(),
        old_is_plain: false,
        new_plain: decrypted.clone(),
        key: env.key1.clone(),
        run_key: env.key1.clone(),
    });
    // edit: the editor changes a value
    let edited = String::from_utf8(decrypted.clone())
        .unwrap()
        .replace("plainmark-pw-1", "plainmark-pw-2-edited");
    v.push(Op {
        name: "edit",
        args: vec!["edit".into(), "s.yaml".into()],
        old: enc,
        old_is_plain: false,
        new_plain: edited.into_bytes(),
        key: env.key1.clone(),
        run_key: env.key1.clone(),
    });
    v
}

/// Tiny deterministic generator (no dependency): xorshift64*.
struct Rng(u64);
impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) % n.max(1)
    }
}

#[test]
fn killed_commands_leave_the_old_or_the_new_file_and_no_plaintext() {
    sealbox_testkit::require!(sealbox_testkit::sops());
    let started = Instant::now();
    let env = setup();
    fs::write(
        env.p("editor.sh"),
        "#!/bin/sh\nsed -i 's/plainmark-pw-1/plainmark-pw-2-edited/' \"$1\"\n",
    )
    .unwrap();
    fs::set_permissions(env.p("editor.sh"), fs::Permissions::from_mode(0o755)).unwrap();
    let ops = ops(&env);
    let file = env.p("work/s.yaml");
    let mut tally = Tally::default();
    let mut rng = Rng(0x5eed_cafe_f00d_1234);
    let mut points = Vec::new();
    for op in &ops {
        // updatekeys needs the config naming both recipients; the others the old one
        if op.name == "updatekeys -y" {
            write_config(&env, &format!("{},{}", env.r1, env.r2));
        } else {
            write_config(&env, &env.r1);
        }
        let args: Vec<&str> = op.args.iter().map(String::as_str).collect();
        // a normal run: the new state, and how long a run takes
        fs::write(&file, &op.old).unwrap();
        let t0 = Instant::now();
        let o = run(&env, &args, &op.run_key);
        let normal = t0.elapsed();
        assert!(
            o.status.success(),
            "{}: {}",
            op.name,
            String::from_utf8_lossy(&o.stderr)
        );
        assert_ne!(
            fs::read(&file).unwrap(),
            op.old,
            "{}: a normal run changes the file",
            op.name
        );
        check_and_reset(
            &env,
            op,
            &mut tally,
            &format!("{} normal run", op.name),
            true,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        // 1. every fault point
        let mut n = 1u64;
        loop {
            let o = cmd(&env, &args, &op.run_key)
                .env("SEALBOX_FAULT_AFTER", n.to_string())
                .output()
                .unwrap();
            tally.runs += 1;
            let err = String::from_utf8_lossy(&o.stderr).into_owned();
            let label = err
                .lines()
                .rev()
                .find_map(|l| l.strip_prefix("sealbox-fault: "))
                .unwrap_or("")
                .to_string();
            let killed = o.status.signal() == Some(9);
            if killed {
                tally.killed += 1;
                assert!(label.starts_with(&format!("{n} ")), "{}: {err}", op.name);
            } else {
                assert!(o.status.success(), "{} fault run {n}: {err}", op.name);
            }
            check_and_reset(
                &env,
                op,
                &mut tally,
                &format!("{} killed at point {label}", op.name),
                n.is_multiple_of(3),
            )
            .unwrap_or_else(|e| panic!("{e}"));
            if !killed {
                points.push((op.name, n - 1));
                break;
            }
            n += 1;
            assert!(n < 100);
        }
        // 2. kills after random delays over a normal run's duration
        let span = (normal.as_micros() as u64 * 3 / 2).max(2_000);
        for i in 0..60 {
            let delay = Duration::from_micros(rng.below(span));
            let mut child = cmd(&env, &args, &op.run_key).spawn().unwrap();
            std::thread::sleep(delay);
            let _ = child.kill();
            let st = child.wait().unwrap();
            tally.runs += 1;
            if st.signal() == Some(9) {
                tally.killed += 1;
            } else {
                assert!(st.success(), "{}: {st}", op.name);
            }
            // the editor of a killed `edit` may still be finishing
            std::thread::sleep(Duration::from_millis(20));
            check_and_reset(
                &env,
                op,
                &mut tally,
                &format!("{} killed after {delay:?}", op.name),
                i % 15 == 0,
            )
            .unwrap_or_else(|e| panic!("{e}"));
        }
        // 3. this command's kills' leftovers put back (the killers are gone): one more
        // normal run removes them all. For `edit`, half of the private dirs go back first
        // and must be swept by an `exec-file` run (the other command that makes one).
        if op.name == "edit" {
            let mut half = Vec::new();
            for (i, ent) in fs::read_dir(env.p("stash/tmp")).unwrap().enumerate() {
                if i % 2 == 0 {
                    let n = ent.unwrap().file_name();
                    fs::rename(env.p("stash/tmp").join(&n), env.tmp.join(&n)).unwrap();
                    half.push(n);
                }
            }
            let o = run(
                &env,
                &["exec-file", "s.yaml", "cat {} >/dev/null"],
                &op.run_key,
            );
            assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
            let (_, dirs) = leftovers(&env);
            assert!(
                dirs.is_empty(),
                "exec-file left {} of {} private dirs of killed edits: {dirs:?}",
                dirs.len(),
                half.len()
            );
            tally.private_swept += half.len() as u64;
        }
        let mut back = (0, 0);
        for (sub, to, count) in [
            ("stash/work", env.p("work"), &mut back.0),
            ("stash/tmp", env.tmp.clone(), &mut back.1),
        ] {
            for ent in fs::read_dir(env.p(sub)).unwrap() {
                let ent = ent.unwrap();
                fs::rename(ent.path(), to.join(ent.file_name())).unwrap();
                *count += 1;
            }
        }
        fs::write(&file, &op.old).unwrap();
        let o = run(&env, &args, &op.run_key);
        assert!(
            o.status.success(),
            "{} after kills: {}",
            op.name,
            String::from_utf8_lossy(&o.stderr)
        );
        let (mut temps, mut dirs) = leftovers(&env);
        // A killed run's PID reused by a live process meanwhile keeps its leftover (the
        // rule is "process gone"); rare, and only that may stay.
        let pid_alive = |n: &String| {
            let pid = n
                .trim_end_matches(".tmp")
                .rsplit('-')
                .nth(1)
                .unwrap_or_default();
            Path::new("/proc").join(pid).exists()
        };
        temps.retain(|n| !pid_alive(n));
        dirs.retain(|n| !pid_alive(n));
        assert!(
            temps.is_empty() && dirs.is_empty(),
            "{}: a normal run after the kills left {} of {} temporary files next to the file and {} of {} private dirs in TMPDIR: {temps:?} {dirs:?}",
            op.name,
            temps.len(),
            back.0,
            dirs.len(),
            back.1
        );
        tally.temp_swept += back.0;
        tally.private_swept += back.1;
        check_and_reset(
            &env,
            op,
            &mut tally,
            &format!("{} after the sweep", op.name),
            true,
        )
        .unwrap_or_else(|e| panic!("{e}"));
    }
    eprintln!(
        "cli crash test: {} runs, {} killed; file old {} / new {}; {} ciphertext temp files and {} private dirs left by kills, {} and {} removed by the next normal run (private dirs by exec-file and edit); {} checked with sops; fault points {points:?}; {:?}",
        tally.runs,
        tally.killed,
        tally.old,
        tally.new,
        tally.temp_left,
        tally.private_left,
        tally.temp_swept,
        tally.private_swept,
        tally.sops_checked,
        started.elapsed()
    );
    // the sweep checks saw something to sweep
    assert!(tally.temp_swept > 0, "no temporary file left by the kills");
    assert!(
        tally.private_swept > 0,
        "no private dir left by the killed edits"
    );
    assert!(tally.killed >= 100, "only {} killed runs", tally.killed);
    assert!(tally.old > 0 && tally.new > 0);
    for (name, p) in &points {
        assert!(*p >= 6, "{name}: only {p} fault points");
    }
}

/// Names of a planted temporary file and private directory (well-formed).
const TEMP1: &str = "work/.s.yaml.sealbox-1-0000000000000000.tmp";
const PRIV1: &str = ".sealbox-private-1-0000000000000000";

/// A named way to break the state.
type Breaker<'a> = (&'a str, Box<dyn Fn() + 'a>);

#[test]
fn the_checks_catch_a_truncated_or_plaintext_file() {
    let env = setup();
    let enc = encrypted_for_r1(&env);
    let op = Op {
        name: "rotate -i",
        args: vec![],
        old: enc.clone(),
        old_is_plain: false,
        new_plain: decrypt(&env, &env.p("work/s.yaml"), &env.key1).unwrap(),
        key: env.key1.clone(),
        run_key: env.key1.clone(),
    };
    let file = env.p("work/s.yaml");
    let mut t = Tally::default();
    let bad: Vec<Breaker> = vec![
        (
            "truncated",
            Box::new(|| fs::write(&file, &enc[..enc.len() / 2]).unwrap()),
        ),
        (
            "plaintext temp",
            Box::new(|| fs::write(env.p(TEMP1), PLAIN).unwrap()),
        ),
        (
            "plaintext in TMPDIR",
            Box::new(|| fs::write(env.tmp.join("stray"), PLAIN).unwrap()),
        ),
        (
            "open private dir",
            Box::new(|| {
                let d = env.tmp.join(PRIV1);
                fs::create_dir(&d).unwrap();
                fs::set_permissions(&d, fs::Permissions::from_mode(0o755)).unwrap();
            }),
        ),
    ];
    for (what, f) in &bad {
        fs::write(&file, &enc).unwrap();
        f();
        let r = check_and_reset(&env, &op, &mut t, what, false);
        assert!(r.is_err(), "{what} is caught");
        let _ = fs::remove_file(env.p(TEMP1));
        let _ = fs::remove_file(env.tmp.join("stray"));
        let _ = fs::remove_dir(env.tmp.join(PRIV1));
    }
    fs::write(&file, &enc).unwrap();
    check_and_reset(&env, &op, &mut t, "clean", false).unwrap();
}
