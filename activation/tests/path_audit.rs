//! Keeps SECURITY.md's "Path-based calls: audit" current (issue 13): every call in
//! `activation/src` and `cli/src` (outside `#[cfg(test)]` modules) that looks a path up –
//! `std::fs` functions, `File::open`, `OpenOptions`, `DirBuilder`, `symlink`/`chown`/
//! `lchown` by path, `mount`, `statfs`, `mkfifo`, inotify watches, `tempfile`, Path methods
//! that stat, and `openat(CWD, …)` – must have a row in that table naming its file,
//! function and call, and every row must still match a call. A new path-based call thus
//! fails this test until someone has written down who can write that path and why the
//! call is safe (or moved it onto a directory descriptor, `activation/src/safedir.rs`).

use std::collections::BTreeSet;
use std::path::Path;

/// (regex, the call's name in the table). The regex's group 1, when it has one, is a
/// receiver that is not a path (metadata, file types) and makes the match not count.
const PATTERNS: &[(&str, &str)] = &[
    (r"\bfs::read_to_string\(", "fs::read_to_string"),
    (r"\bfs::read\(", "fs::read"),
    (r"\bfs::write\(", "fs::write"),
    (r"\bfs::read_dir\(", "fs::read_dir"),
    (r"\bfs::read_link\(", "fs::read_link"),
    (r"\bfs::metadata\(", "fs::metadata"),
    (r"\bfs::symlink_metadata\(", "fs::symlink_metadata"),
    (r"\bfs::canonicalize\(", "fs::canonicalize"),
    (r"\bfs::create_dir(_all)?\(", "fs::create_dir"),
    (r"\bfs::remove_file\(", "fs::remove_file"),
    (r"\bfs::remove_dir(_all)?\(", "fs::remove_dir"),
    (r"\bfs::rename\(", "fs::rename"),
    (r"\bfs::set_permissions\(", "fs::set_permissions"),
    (r"\bfs::(copy|hard_link)\(", "fs::copy"),
    (r"\bFile::(open|create)\(", "File::open"),
    (r"\bOpenOptions::new\(\)", "OpenOptions::open"),
    (r"\bDirBuilder::new\(\)", "DirBuilder::create"),
    (r"(?:^|[^.\w])(?:fn\s+)?symlink\(", "symlink"),
    (r"(?:^|[^.\w])(?:fn\s+)?chown\(", "chown"),
    (r"(?:^|[^.\w])(?:fn\s+)?lchown\(", "lchown"),
    (r"(?:^|[^.\w])(?:fn\s+)?mount\(", "mount"),
    (r"\bstatfs\(", "statfs"),
    (r"\bmkfifo\(", "mkfifo"),
    (r"\bunistd::(mkdir|unlink|chdir)\(", "nix path call"),
    (r"\.add_watch\(", "inotify add_watch"),
    (r"\b(tempdir_in|tempdir|NamedTempFile)\b", "tempfile"),
    (r"rustix::fs::CWD", "openat(CWD)"),
    (r"\.(exists|try_exists)\(\)", "Path::exists"),
    (r"(\w+)\.is_(dir|file)\(\)", "Path::is_dir"),
    (r"\.join\([^)]*\)\.is_(dir|file)\(\)", "Path::is_dir"),
];

/// Receivers of `.is_dir()`/`.is_file()` that are metadata or file types, not paths.
const NOT_PATHS: &[&str] = &["md", "m", "meta", "ft", "st", "kind", "now"];

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap()
}

/// (file, function, call) of every path-based call.
fn calls() -> BTreeSet<(String, String, String)> {
    let pats: Vec<(regex::Regex, &str)> = PATTERNS
        .iter()
        .map(|(r, n)| (regex::Regex::new(r).unwrap(), *n))
        .collect();
    let fn_re = regex::Regex::new(r"\bfn\s+(\w+)").unwrap();
    let mut out = BTreeSet::new();
    for dir in [
        "activation/src",
        "activation/src/bin",
        "cli/src",
        "cli/src/commands",
    ] {
        let mut files: Vec<_> = std::fs::read_dir(root().join(dir))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "rs"))
            .collect();
        files.sort();
        for f in files {
            let rel = format!("{dir}/{}", f.file_name().unwrap().to_string_lossy());
            let text = std::fs::read_to_string(&f).unwrap();
            let mut func = String::from("(top)");
            let mut lines = text.lines().peekable();
            while let Some(line) = lines.next() {
                // the unit tests at the end of a module are not the program
                if line.trim() == "#[cfg(test)]"
                    && lines
                        .peek()
                        .is_some_and(|n| n.trim().starts_with("mod tests"))
                {
                    break;
                }
                let code = line.split("//").next().unwrap_or_default();
                if let Some(c) = fn_re.captures(code) {
                    func = c[1].to_string();
                }
                for (re, name) in &pats {
                    for c in re.captures_iter(code) {
                        let whole = c.get(0).unwrap().as_str();
                        if whole.contains("fn ") {
                            continue; // a declaration, not a call
                        }
                        if *name == "Path::is_dir"
                            && c.get(1).is_some_and(|r| NOT_PATHS.contains(&r.as_str()))
                        {
                            continue;
                        }
                        out.insert((rel.clone(), func.clone(), name.to_string()));
                    }
                }
            }
        }
    }
    out
}

/// (file, function, call) of every row of the audit table.
fn table() -> BTreeSet<(String, String, String)> {
    let doc = std::fs::read_to_string(root().join("SECURITY.md")).unwrap();
    let start = doc
        .find("## Path-based calls: audit")
        .expect("SECURITY.md has the section \"Path-based calls: audit\"");
    let section = &doc[start..];
    let end = section[3..].find("\n## ").map_or(section.len(), |i| i + 3);
    let tick = regex::Regex::new(r"`([^`]+)`").unwrap();
    let mut out = BTreeSet::new();
    for line in section[..end].lines() {
        let cols: Vec<&str> = line.split('|').collect();
        if cols.len() < 4 || !cols[1].contains(".rs") {
            continue;
        }
        let site: Vec<String> = tick.captures_iter(cols[1]).map(|c| c[1].into()).collect();
        let [file, func] = &site[..] else {
            panic!("a row's first column is `file` `function`: {line}");
        };
        for c in tick.captures_iter(cols[2]) {
            out.insert((file.clone(), func.clone(), c[1].to_string()));
        }
    }
    out
}

#[test]
fn every_path_based_call_is_in_the_security_audit_and_every_row_is_a_call() {
    let found = calls();
    let listed = table();
    let missing: Vec<_> = found.difference(&listed).collect();
    let stale: Vec<_> = listed.difference(&found).collect();
    assert!(
        missing.is_empty() && stale.is_empty(),
        "SECURITY.md \"Path-based calls: audit\" is out of date.\n\
         Path-based calls without a row (add one: who can write the path, why the call is safe,\n\
         or move the call onto a directory descriptor):\n{}\n\
         Rows that match no call any more (remove or update them):\n{}",
        missing
            .iter()
            .map(|(f, func, c)| format!("  | `{f}` `{func}` | `{c}` |"))
            .collect::<Vec<_>>()
            .join("\n"),
        stale
            .iter()
            .map(|(f, func, c)| format!("  | `{f}` `{func}` | `{c}` |"))
            .collect::<Vec<_>>()
            .join("\n"),
    );
    // the scanner does find calls (a broken pattern list would pass vacuously)
    assert!(found.len() > 20, "{found:?}");
    assert!(found.contains(&(
        "activation/src/fsops.rs".into(),
        "mount_secret_fs".into(),
        "mount".into()
    )));
}
