//! The fuzz targets on stable, under `cargo test`: every target of
//! [`sealbox_tests::fuzz_targets`] runs over the committed seed corpus (`fuzz/corpus/<target>/`),
//! every regression input (`fuzz/regressions/<target>/`, crashes found by fuzzing) and a fixed
//! number of deterministic mutations of them (bit flips, truncations, interesting bytes and
//! tokens, repeated chunks, splices). A panic, or a case that runs for more than
//! [`CASE_TIMEOUT`], fails the test; the offending input is saved under the target dir so it
//! can be added to `fuzz/regressions/`.
//!
//! `SEALBOX_FUZZ_SMOKE_ITERS` sets the number of mutations per target (default 1500);
//! `SEALBOX_FUZZ_SMOKE_SEED` the generator's seed. Real coverage-guided fuzzing is
//! `fuzz/run.sh` (cargo-fuzz, nightly).

use sealbox_tests::fuzz_targets::{self, Target, TARGETS};
use sealbox_tests::workspace_root;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// A single input may take this long before it counts as a hang (generous: the machine is
/// shared, and unoptimised test builds are slow).
const CASE_TIMEOUT: Duration = Duration::from_secs(60);
/// Mutated inputs are cut to this size.
const MAX_LEN: usize = 64 * 1024;

/// xorshift64*: deterministic, no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }
}

const BYTES: &[u8] = b"\x00\xff\x80\x7f\n\r\t \"'\\[]{}:,-#&*!|>=%;$~?@`\xc3\xe2";
const TOKENS: &[&str] = &[
    "ENC[AES256_GCM,data:",
    ",iv:",
    ",tag:",
    ",type:str]",
    ",type:int]",
    ",type:comment]",
    "AAAA",
    "====",
    "&a ",
    "*a",
    "<<: *a",
    "!!binary ",
    "!!int ",
    "!!timestamp ",
    "!!float ",
    "sops",
    "sops_",
    "[sops]",
    "\n- ",
    "\n  ",
    "[",
    "{",
    "[[[[[[[[",
    "{\"a\":{\"a\":",
    "\\u",
    "\\ud800",
    "\"",
    "\n---\n",
    "...",
    "lastmodified",
    "2024-01-01T00:00:00Z",
    "9999999999999999999999",
    "-0.0e-400",
    "1e309",
    "0x",
    "key_groups",
    "shamir_threshold",
    "-----BEGIN AGE ENCRYPTED FILE-----\n",
    "-----END AGE ENCRYPTED FILE-----\n",
    "-> X25519 ",
    "age1",
    "AGE-SECRET-KEY-1",
    "ssh-ed25519 ",
    "ssh-rsa ",
    "-----BEGIN OPENSSH PRIVATE KEY-----\n",
    "<SOPS:",
    ":PLACEHOLDER>",
    "%r",
    "%%",
    "..",
    "/",
    "\u{feff}",
    "é",
];

fn mutate(rng: &mut Rng, input: &[u8], others: &[Vec<u8>]) -> Vec<u8> {
    let mut v = input.to_vec();
    let rounds = 1 + rng.below(4);
    for _ in 0..rounds {
        let len = v.len();
        match rng.below(10) {
            0 | 1 if len > 0 => {
                let i = rng.below(len);
                v[i] ^= 1 << rng.below(8);
            }
            2 if len > 0 => {
                let i = rng.below(len);
                v[i] = BYTES[rng.below(BYTES.len())];
            }
            3 => {
                let i = rng.below(len + 1);
                v.insert(i, BYTES[rng.below(BYTES.len())]);
            }
            4 => {
                let i = rng.below(len + 1);
                let t = TOKENS[rng.below(TOKENS.len())].as_bytes();
                v.splice(i..i, t.iter().copied());
            }
            5 => v.truncate(rng.below(len + 1)),
            6 if len > 0 => {
                // delete a range
                let a = rng.below(len);
                let b = (a + 1 + rng.below(64)).min(len);
                v.drain(a..b);
            }
            7 if len > 0 => {
                // repeat a chunk (deep nesting, long runs)
                let a = rng.below(len);
                let b = (a + 1 + rng.below(32)).min(len);
                let chunk = v[a..b].to_vec();
                let times = 1 + rng.below(64);
                for _ in 0..times {
                    v.splice(b..b, chunk.iter().copied());
                }
            }
            8 if !others.is_empty() => {
                // splice in part of another input
                let o = &others[rng.below(others.len())];
                if !o.is_empty() {
                    let a = rng.below(o.len());
                    let b = (a + 1 + rng.below(256)).min(o.len());
                    let at = rng.below(len + 1);
                    v.splice(at..at, o[a..b].iter().copied());
                }
            }
            _ if len > 1 => {
                // swap two bytes
                let (a, b) = (rng.below(len), rng.below(len));
                v.swap(a, b);
            }
            _ => v.push(BYTES[rng.below(BYTES.len())]),
        }
    }
    v.truncate(MAX_LEN);
    v
}

fn files_in(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.is_file())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

/// Where failing inputs are saved.
fn failure_dir() -> PathBuf {
    let d = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("fuzz-smoke-failures");
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn panic_text(p: &(dyn std::any::Any + Send)) -> String {
    p.downcast_ref::<String>()
        .cloned()
        .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "(non-string panic)".into())
}

/// Runs `target` over the corpus, the regressions and the mutations; panics with a report.
fn smoke(name: &str) {
    let target: Target = fuzz_targets::target(name).expect("known target");
    let root = workspace_root().join("fuzz");
    let seeds: Vec<Vec<u8>> = files_in(&root.join("corpus").join(name))
        .iter()
        .chain(files_in(&root.join("regressions").join(name)).iter())
        .map(|p| std::fs::read(p).unwrap())
        .collect();
    assert!(
        !seeds.is_empty(),
        "no seed corpus for {name} in fuzz/corpus/{name}/"
    );
    let iters = env_u64("SEALBOX_FUZZ_SMOKE_ITERS", 1500);
    let seed = env_u64("SEALBOX_FUZZ_SMOKE_SEED", 0x5ea1_b0c5);
    let mut rng = Rng(seed
        ^ name.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
        }));

    // One worker thread (8 MiB stack, like a main thread) runs the cases; this thread
    // watches for hangs.
    let (in_tx, in_rx) = mpsc::channel::<Vec<u8>>();
    let (out_tx, out_rx) = mpsc::channel::<Result<(), String>>();
    let worker = std::thread::Builder::new()
        .name(format!("fuzz-{name}"))
        .stack_size(8 << 20)
        .spawn(move || {
            for input in in_rx {
                let r = std::panic::catch_unwind(|| target(&input)).map_err(|p| panic_text(&*p));
                if out_tx.send(r).is_err() {
                    break;
                }
            }
        })
        .unwrap();

    let mut failures = Vec::new();
    let mut cases = 0usize;
    let started = Instant::now();
    let total = seeds.len() + iters as usize;
    for i in 0..total {
        let input = if i < seeds.len() {
            seeds[i].clone()
        } else {
            let base = &seeds[rng.below(seeds.len())];
            mutate(&mut rng, base, &seeds)
        };
        in_tx.send(input.clone()).unwrap();
        cases += 1;
        let save = |why: &str| {
            let h = input.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| {
                (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
            });
            let p = failure_dir().join(format!("{name}-{h:016x}"));
            std::fs::write(&p, &input).unwrap();
            format!(
                "{name}: case {i} {why}; input saved in {} (add it to fuzz/regressions/{name}/)",
                p.display()
            )
        };
        match out_rx.recv_timeout(CASE_TIMEOUT) {
            Ok(Ok(())) => {}
            Ok(Err(msg)) => {
                failures.push(format!("{}\n  panic: {msg}", save("panicked")));
                if failures.len() >= 10 {
                    break;
                }
            }
            Err(_) => {
                // The worker is stuck: report and give up on this target (the thread is
                // left behind; the test process ends with the failure).
                failures.push(save(&format!("ran for more than {CASE_TIMEOUT:?} (hang)")));
                panic!("{}", failures.join("\n\n"));
            }
        }
    }
    drop(in_tx);
    worker.join().unwrap();
    eprintln!(
        "{name}: {cases} cases ({} seeds) in {:.1?}",
        seeds.len(),
        started.elapsed()
    );
    assert!(
        failures.is_empty(),
        "{} failing inputs for fuzz target {name}:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

macro_rules! smoke_tests {
    ($($t:ident),* $(,)?) => {
        $(
            #[test]
            fn $t() {
                smoke(stringify!($t));
            }
        )*

        /// Every target has a test here, a cargo-fuzz binary and a seed corpus.
        #[test]
        fn every_target_is_wired() {
            let here: Vec<&str> = vec![$(stringify!($t)),*];
            let lib: Vec<&str> = TARGETS.iter().map(|(n, _)| *n).collect();
            assert_eq!(here, lib, "fuzz_smoke.rs and fuzz_targets::TARGETS differ");
            let root = workspace_root().join("fuzz");
            let manifest = std::fs::read_to_string(root.join("Cargo.toml")).unwrap();
            for n in lib {
                assert!(
                    root.join("fuzz_targets").join(format!("{n}.rs")).is_file(),
                    "fuzz/fuzz_targets/{n}.rs is missing"
                );
                assert!(
                    manifest.contains(&format!("name = \"{n}\"")),
                    "fuzz/Cargo.toml has no [[bin]] {n}"
                );
                assert!(
                    !files_in(&root.join("corpus").join(n)).is_empty(),
                    "fuzz/corpus/{n}/ is empty"
                );
            }
        }
    };
}

smoke_tests!(
    yaml,
    yaml_encrypted,
    json,
    json_encrypted,
    dotenv,
    dotenv_encrypted,
    ini,
    ini_encrypted,
    enc_value,
    metadata,
    decrypt,
    config,
    manifest,
    age_identity,
    ssh_key,
    tree_path,
);

/// Prints seed inputs for the `enc_value` target (values encrypted under
/// [`fuzz_targets::FUZZ_DATA_KEY`]): `cargo test -p sealbox-tests --test fuzz_smoke --
/// --ignored write_enc_value_seeds`.
#[test]
#[ignore]
fn write_enc_value_seeds() {
    use sealbox_formats::cipher::{Cipher, DataKey, ValueType};
    let c = Cipher::new(&DataKey::from_slice(&fuzz_targets::FUZZ_DATA_KEY).unwrap());
    let dir = workspace_root().join("fuzz/corpus/enc_value");
    std::fs::create_dir_all(&dir).unwrap();
    let cases: [(&str, &[u8], ValueType); 5] = [
        ("str", b"hello world", ValueType::Str),
        ("int", b"42", ValueType::Int),
        ("float", b"1.5", ValueType::Float),
        ("bool", b"True", ValueType::Bool),
        ("comment", b" a comment", ValueType::Comment),
    ];
    for (n, plain, t) in cases {
        let aad = format!("a:{n}:");
        let v = c.encrypt(plain, aad.as_bytes(), t).unwrap();
        std::fs::write(dir.join(n), format!("{aad}\n{v}")).unwrap();
    }
}
