//! The repository stands on its own: no file names a path of a developer's or CI machine, or
//! background material that lives outside the repository, and every `docs/…md#anchor` that a
//! comment or document points at exists.

use sealbox_tests::workspace_root;
use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The repository's files: `git ls-files`, or (outside a git checkout, e.g. an unpacked
/// tarball) every file but build output and VCS data.
fn tracked_files() -> Vec<PathBuf> {
    let root = workspace_root();
    let git = Command::new("git")
        .args(["ls-files", "-z"])
        .current_dir(&root)
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output();
    if let Some(o) = git
        .ok()
        .filter(|o| o.status.success() && !o.stdout.is_empty())
    {
        return o
            .stdout
            .split(|b| *b == 0)
            .filter(|p| !p.is_empty())
            .map(|p| root.join(String::from_utf8_lossy(p).as_ref()))
            .filter(|p| p.is_file())
            .collect();
    }
    let mut out = Vec::new();
    let mut dirs = vec![root];
    while let Some(d) = dirs.pop() {
        for e in fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            let name = e.file_name();
            if name == "target" || name == ".git" {
                continue;
            }
            if p.is_dir() {
                dirs.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out
}

/// Text files only (a NUL byte means binary).
fn text(p: &Path) -> Option<String> {
    let bytes = fs::read(p).ok()?;
    if bytes.contains(&0) {
        return None;
    }
    Some(String::from_utf8_lossy(&bytes).into_owned())
}

fn rel(p: &Path) -> String {
    p.strip_prefix(workspace_root())
        .unwrap_or(p)
        .display()
        .to_string()
}

/// Paths the product itself uses, or fake homes of test fixtures.
const ALLOWED: &[&str] = &["/home/alice", "/home/bob", "/home/u/", "/root/.gnupg"];

/// What one line wrongly names, if anything.
fn finding(line: &str) -> Option<String> {
    // Built from pieces so that this file does not match itself.
    let outside = [
        ["..", "/shared"].concat(),
        ["shared", "/spec"].concat(),
        ["SEALBOX", "_SHARED"].concat(),
    ];
    for s in &outside {
        if line.contains(s.as_str()) {
            return Some(format!("names `{s}`, which is not in the repository"));
        }
    }
    // Section signs point into a specification; only external standards (RFC 4253 §6.6)
    // are fine. Sections of sealbox's own docs are `docs/FILE.md#anchor`.
    let sign = '\u{a7}';
    for (i, _) in line.match_indices(sign) {
        let before = line[..i].trim_end();
        let word = before.rsplit(' ').nth(1).unwrap_or("");
        if word.trim_start_matches(|c: char| !c.is_alphanumeric()) != "RFC" {
            return Some(format!(
                "a `{sign}` reference to a document the repository lacks"
            ));
        }
    }
    for s in [
        ["the ", "spec's"].concat(),
        ["of the ", "spec"].concat(),
        ["(", "spec "].concat(),
        ["spec ", "Appendix"].concat(),
    ] {
        if line.contains(s.as_str()) {
            return Some(format!("`{s}`: a specification outside the repository"));
        }
    }
    // Absolute paths of someone's machine.
    for prefix in [
        ["/", "work/"].concat(),
        ["/", "home/"].concat(),
        ["/", "root/"].concat(),
        ["/", "Users/"].concat(),
    ] {
        for (i, _) in line.match_indices(prefix.as_str()) {
            let starts_path = line[..i]
                .chars()
                .next_back()
                .is_none_or(|c| c.is_whitespace() || "\"'`(=,:[<|".contains(c));
            let allowed = ALLOWED.iter().any(|a| line[i..].starts_with(a));
            if starts_path && !allowed {
                return Some(format!(
                    "an absolute path of a machine: `{}`",
                    line[i..].split_whitespace().next().unwrap_or("")
                ));
            }
        }
    }
    None
}

#[test]
fn the_checker_catches_what_it_is_for() {
    let bad = [
        ["see ..", "/shared/STYLE.md"].concat(),
        ["spec: shared", "/spec/activation.md"].concat(),
        ["SEALBOX", "_SHARED=x cargo test"].concat(),
        ["// step 6 (", "\u{a7}4)"].concat(),
        ["cd /", "work/wt/x"].concat(),
        ["path = \"/", "home/jdoe/src\""].concat(),
        ["/", "root/.cargo/bin/cargo"].concat(),
        ["as the ", "spec's table says"].concat(),
    ];
    for l in bad {
        assert!(finding(&l).is_some(), "missed: {l}");
    }
    let good = [
        "string \"ssh-rsa\", mpint e, mpint n (RFC 4253 \u{a7}6.6)",
        "root:x:0:0:root:/root:/bin/sh",
        "alice:x:1234:2345::/home/alice:/bin/sh",
        "mkdir -p '{t}/home/alice'",
        "`/proc/PID/root/…` reads the namespace's view",
        "sops.gnupg.home = \"/root/.gnupg\";",
        "see docs/format.md#mac",
        "fn spec_tv2_vectors() {",
    ];
    for l in good {
        assert_eq!(finding(l), None, "{l}");
    }
}

#[test]
fn no_file_names_a_machine_path_or_material_outside_the_repository() {
    let files = tracked_files();
    assert!(files.len() > 50, "found only {} files", files.len());
    let mut found = Vec::new();
    for f in &files {
        let Some(t) = text(f) else { continue };
        for (n, line) in t.lines().enumerate() {
            if let Some(why) = finding(line) {
                found.push(format!("{}:{}: {why}", rel(f), n + 1));
            }
        }
    }
    assert!(
        found.is_empty(),
        "write what a maintainer needs in docs/ and point there instead:\n{}",
        found.join("\n")
    );
}

/// GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens.
fn slug(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric() || *c == '-' || *c == '_' || *c == ' ')
        .map(|c| if c == ' ' { '-' } else { c })
        .collect()
}

/// The anchors of a markdown file (headings outside code blocks).
fn anchors(md: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut fenced = false;
    for line in md.lines() {
        if line.starts_with("```") {
            fenced = !fenced;
        } else if !fenced && line.starts_with('#') {
            let h = line.trim_start_matches('#');
            assert!(out.insert(slug(h)), "heading `{}` twice", h.trim());
        }
    }
    out
}

/// `(file, anchor)` for every `docs/NAME.md#anchor` (or `docs/NAME.md`) in `t`.
fn doc_refs(t: &str) -> Vec<(String, Option<String>)> {
    let mut out = Vec::new();
    let word = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_';
    for (i, _) in t.match_indices("docs/") {
        let rest = &t[i + 5..];
        let name: String = rest.chars().take_while(|&c| word(c)).collect();
        // Names of docs are lower case; `docs/FILE.md#anchor` in prose is a pattern.
        let lower = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-';
        if name.is_empty() || !name.chars().all(lower) {
            continue;
        }
        let Some(after) = rest[name.len()..].strip_prefix(".md") else {
            continue;
        };
        let anchor = after
            .strip_prefix('#')
            .map(|a| a.chars().take_while(|&c| word(c)).collect::<String>());
        out.push((format!("{name}.md"), anchor));
    }
    out
}

#[test]
fn every_docs_anchor_named_in_the_repository_exists() {
    let docs = workspace_root().join("docs");
    let mut known: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for e in fs::read_dir(&docs).unwrap().flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if name.ends_with(".md") {
            known.insert(name, anchors(&fs::read_to_string(e.path()).unwrap()));
        }
    }
    for needed in ["format.md", "activation.md", "nixos-module.md"] {
        assert!(known.contains_key(needed), "docs/{needed} is missing");
    }
    let mut bad = Vec::new();
    let mut count = 0;
    for f in tracked_files() {
        let Some(t) = text(&f) else { continue };
        let mut refs = doc_refs(&t);
        // Inside docs/: `(other.md#x)` and `(#x)` links.
        if f.starts_with(&docs) {
            let own = f.file_name().unwrap().to_string_lossy().into_owned();
            for (i, _) in t.match_indices("](") {
                let target = &t[i + 2..];
                let target = &target[..target.find(')').unwrap_or(0)];
                let (file, anchor) = target.split_once('#').unwrap_or((target, ""));
                let file = if file.is_empty() { own.as_str() } else { file };
                if known.contains_key(file) && !anchor.is_empty() {
                    refs.push((file.to_string(), Some(anchor.to_string())));
                }
            }
        }
        for (file, anchor) in refs {
            count += 1;
            match (known.get(&file), &anchor) {
                (None, _) => bad.push(format!("{}: docs/{file} does not exist", rel(&f))),
                (Some(a), Some(x)) if !a.contains(x) => {
                    bad.push(format!("{}: docs/{file}#{x} is not a heading", rel(&f)))
                }
                _ => {}
            }
        }
    }
    assert!(
        count > 40,
        "only {count} references found: is the scan broken?"
    );
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}

/// The file names a line of a document names, such as `cli/src/files.rs`, `../docs/format.md` or
/// `tests/crash.rs`: words with a `/` whose last part has one of our files' extensions.
/// Absolute paths, `~/…`, `$VAR/…` and URLs are not ours and are left out.
fn named_files(line: &str) -> Vec<String> {
    const EXTENSIONS: &[&str] = &[
        "rs", "md", "toml", "nix", "json", "sh", "py", "yaml", "yml", "lock", "txt", "service",
        "conf",
    ];
    let path_char = |c: char| c.is_ascii_alphanumeric() || "_.-/".contains(c);
    let mut out = Vec::new();
    let mut rest = line;
    while let Some(start) = rest.find(path_char) {
        let before = rest[..start].chars().last();
        let len = rest[start..]
            .find(|c: char| !path_char(c))
            .unwrap_or(rest.len() - start);
        let word = rest[start..start + len].trim_end_matches('.');
        rest = &rest[start + len..];
        if word.starts_with('/') || before.is_some_and(|c| "~$:@".contains(c)) {
            continue;
        }
        let word = word.strip_prefix("./").unwrap_or(word);
        let Some((_, last)) = word.rsplit_once('/') else {
            continue;
        };
        if last
            .rsplit_once('.')
            .is_some_and(|(stem, ext)| !stem.is_empty() && EXTENSIONS.contains(&ext))
        {
            out.push(word.to_string());
        }
    }
    out
}

/// Whether `name`, named in the document `doc` (both relative to the root), is a file of
/// the repository: `../x` from the document's directory, anything else as a path from the
/// root or the end of one (`tests/crash.rs` in a crate's README, `store/mod.rs` of a crate).
fn names_a_file(name: &str, doc: &Path, files: &BTreeSet<String>) -> bool {
    if name.starts_with("../") {
        let mut p: PathBuf = doc.parent().unwrap_or(Path::new("")).to_path_buf();
        for part in name.split('/') {
            match part {
                ".." => {
                    p.pop();
                }
                _ => p.push(part),
            }
        }
        return files.contains(&p.display().to_string());
    }
    let suffix = format!("/{name}");
    files.iter().any(|f| f == name || f.ends_with(&suffix))
}

#[test]
fn the_checker_of_named_files_finds_names_in_prose() {
    assert_eq!(
        named_files("see `cli/src/files.rs` and [x](../docs/format.md), tests/crash.rs."),
        ["cli/src/files.rs", "../docs/format.md", "tests/crash.rs"]
    );
    // Not ours: machines' paths, homes, variables, URLs, words without an extension.
    assert!(named_files(
        "/etc/ssh/key.conf ~/.config/sops/age/keys.txt $XDG/x.toml https://a.example/b.md cli/src/ and/or"
    )
    .is_empty());
    let files = BTreeSet::from([
        "docs/format.md".to_string(),
        "cli/tests/crash.rs".to_string(),
    ]);
    let doc = Path::new("cli/README.md");
    assert!(names_a_file("../docs/format.md", doc, &files));
    assert!(names_a_file("tests/crash.rs", doc, &files));
    assert!(!names_a_file("src/gone.rs", doc, &files));
    assert!(!names_a_file("../format.md", doc, &files));
}

/// Documents name files to send a reader there: every name must still be a file after
/// files move (a renamed module, a test moved to another crate). Examples in fenced code
/// blocks (a user's `secrets/app.yaml`) are left out.
#[test]
fn every_file_a_document_names_exists() {
    let root = workspace_root();
    let tracked = tracked_files();
    let files: BTreeSet<String> = tracked.iter().map(|f| rel(f)).collect();
    let mut bad = Vec::new();
    let mut count = 0;
    for f in &tracked {
        let name = rel(f);
        // (upstream descriptions of the test vectors name upstream files)
        if !name.ends_with(".md") || name.starts_with("tests/vectors/") {
            continue;
        }
        let Some(t) = text(f) else { continue };
        let mut fenced = false;
        for (i, line) in t.lines().enumerate() {
            if line.trim_start().starts_with("```") {
                fenced = !fenced;
                continue;
            }
            if fenced {
                continue;
            }
            for named in named_files(line) {
                count += 1;
                if !names_a_file(&named, Path::new(&name), &files) {
                    bad.push(format!("{name}:{}: {named}", i + 1));
                }
            }
        }
    }
    assert!(
        count > 150,
        "only {count} file names found in {}: is the scan broken?",
        root.display()
    );
    assert!(
        bad.is_empty(),
        "documents name files that do not exist (fix the name, or show an example in a code block):\n{}",
        bad.join("\n")
    );
}
