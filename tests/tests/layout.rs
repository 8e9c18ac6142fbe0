//! The layout holds: no import cycle between the modules of a crate, no crate depending on
//! one the graph of ARCHITECTURE.md does not allow, and ARCHITECTURE.md's module tables
//! list exactly the modules there are.
//!
//! Modules and their imports are read from the sources (every `crate::…` and `super::…`
//! path in code that is not a test module), so the check needs no build; a module `a`
//! importing from `b` while `b` imports from `a`, directly or through others, is a cycle.

use sealbox_tests::workspace_root;
use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

/// Who may depend on whom (crate short names: `sealbox-` left out). ARCHITECTURE.md draws
/// the same graph.
const ALLOWED: &[(&str, &[&str])] = &[
    ("formats", &[]),
    ("os", &[]),
    ("manifest", &["formats"]),
    ("keys", &["formats", "os"]),
    ("cli", &["formats", "keys", "os", "manifest"]),
    ("activation", &["formats", "keys", "os", "manifest"]),
    ("testkit", &[]),
    // The test age plugin: a binary of its own.
    ("age-plugin-sealboxtest", &[]),
    // The cross-crate test suite may use every library.
    (
        "tests",
        &["formats", "keys", "os", "manifest", "activation", "testkit"],
    ),
];

/// Modules allowed to stay in an import cycle (none). The test fails if this list is not
/// exactly the modules found in cycles, so an entry can never outlive its cycle.
const NOT_YET_UNTANGLED: &[(&str, &[&str])] = &[];

struct Crate {
    /// `formats`, `keys`, … (the package name without `sealbox-`).
    name: String,
    /// The workspace dependencies (short names), from `[dependencies]`.
    deps: BTreeSet<String>,
    /// Module path (`store::yaml::fast`; the root is `""`) → the modules it imports from.
    modules: BTreeMap<String, BTreeSet<String>>,
}

fn members(root: &Path) -> Vec<PathBuf> {
    let text = fs::read_to_string(root.join("Cargo.toml")).unwrap();
    let line = text
        .lines()
        .find(|l| l.trim_start().starts_with("members"))
        .expect("workspace members");
    line.split('"')
        .skip(1)
        .step_by(2)
        .map(|m| root.join(m))
        .collect()
}

/// The package name and the `sealbox-*` entries of `[dependencies]`.
fn manifest(dir: &Path) -> (String, BTreeSet<String>) {
    let text = fs::read_to_string(dir.join("Cargo.toml")).unwrap();
    let mut section = String::new();
    let mut name = String::new();
    let mut deps = BTreeSet::new();
    for line in text.lines().map(str::trim) {
        if line.starts_with('[') {
            section = line.to_string();
            continue;
        }
        if section == "[package]" && line.starts_with("name") {
            name = line.split('"').nth(1).unwrap().to_string();
        }
        if section == "[dependencies]" && line.starts_with("sealbox-") {
            let dep = line.split(['.', ' ', '=']).next().unwrap();
            deps.insert(short(dep));
        }
    }
    (short(&name), deps)
}

fn short(package: &str) -> String {
    package.trim_start_matches("sealbox-").to_string()
}

/// Every `.rs` file under `src` but the extra binaries of `src/bin`, with its module path.
fn module_files(src: &Path) -> Vec<(String, PathBuf)> {
    let mut out = Vec::new();
    let mut dirs = vec![src.to_path_buf()];
    while let Some(d) = dirs.pop() {
        for e in fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                if p != src.join("bin") {
                    dirs.push(p);
                }
                continue;
            }
            if p.extension().is_none_or(|x| x != "rs") {
                continue;
            }
            let rel = p.strip_prefix(src).unwrap().with_extension("");
            let mut parts: Vec<String> = rel
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            if matches!(
                parts.last().map(String::as_str),
                Some("mod" | "lib" | "main")
            ) {
                parts.pop();
            }
            out.push((parts.join("::"), p));
        }
    }
    out
}

/// The code of a file that is not a test module: a top-level `#[cfg(test)] mod …{ … }` is
/// left out up to its closing `}` (rustfmt puts it alone at the start of a line); comment
/// lines are left out. The lines of a top-level inline module (`mod x {`) are marked.
fn code_lines(text: &str) -> Vec<(bool, String)> {
    let mut out = Vec::new();
    let mut lines = text.lines().peekable();
    let mut inline = false;
    while let Some(line) = lines.next() {
        if line.trim() == "#[cfg(test)]"
            && lines
                .peek()
                .is_some_and(|n| n.starts_with("mod ") && n.ends_with('{'))
        {
            for l in lines.by_ref() {
                if l == "}" {
                    break;
                }
            }
            continue;
        }
        if line.starts_with("mod ") && line.ends_with('{') {
            inline = true;
            continue;
        }
        if inline && line == "}" {
            inline = false;
            continue;
        }
        let t = line.trim_start();
        if t.starts_with("//") {
            continue;
        }
        out.push((inline, line.to_string()));
    }
    out
}

/// The paths written after `crate::` or `super::` at `rest` (a group `{a::b, c}` gives each
/// of its items): each as its segments.
fn paths_after(rest: &str) -> Vec<Vec<String>> {
    fn ident(s: &str) -> (&str, &str) {
        let end = s
            .find(|c: char| !(c.is_alphanumeric() || c == '_'))
            .unwrap_or(s.len());
        (&s[..end], &s[end..])
    }
    fn path(s: &str, prefix: Vec<String>, out: &mut Vec<Vec<String>>) -> usize {
        let mut segs = prefix;
        let mut i = 0;
        loop {
            let rest = &s[i..];
            if let Some(group) = rest.strip_prefix('{') {
                // Items until the matching brace.
                let mut depth = 1;
                let mut start = 0;
                let b = group.as_bytes();
                let mut j = 0;
                while j < b.len() && depth > 0 {
                    match b[j] {
                        b'{' => depth += 1,
                        b'}' => depth -= 1,
                        b',' if depth == 1 => {
                            path(group[start..j].trim_start(), segs.clone(), out);
                            start = j + 1;
                        }
                        _ => {}
                    }
                    j += 1;
                }
                let last = group[start..j.saturating_sub(1)].trim();
                if !last.is_empty() {
                    path(last, segs.clone(), out);
                }
                return i + 1 + j;
            }
            let (id, after) = ident(rest);
            if id.is_empty() {
                break;
            }
            segs.push(id.to_string());
            i += id.len();
            if after.starts_with("::") {
                i += 2;
                continue;
            }
            break;
        }
        if !segs.is_empty() {
            out.push(segs);
        }
        i
    }
    let mut out = Vec::new();
    path(rest, Vec::new(), &mut out);
    out
}

/// Where `name` comes from when the crate root re-exports it (`pub use m::{name}` or a glob).
fn root_exports(root_file: &str) -> (BTreeMap<String, String>, Vec<String>) {
    let mut names = BTreeMap::new();
    let mut globs = Vec::new();
    for (_, line) in code_lines(root_file) {
        let Some(rest) = line.trim().strip_prefix("pub use ") else {
            continue;
        };
        for p in paths_after(rest.trim_end_matches(';')) {
            if p.first().is_some_and(|s| s == "self" || s == "crate") {
                continue;
            }
            let module = p[0].clone();
            match p.last().map(String::as_str) {
                Some(last) if p.len() > 1 => {
                    names.insert(last.to_string(), module);
                }
                _ if rest.contains("::*") => globs.push(module),
                _ => {}
            }
        }
    }
    (names, globs)
}

fn read_crate(dir: &Path) -> Crate {
    let (name, deps) = manifest(dir);
    let files = module_files(&dir.join("src"));
    let known: BTreeSet<String> = files.iter().map(|(m, _)| m.clone()).collect();
    let root_text = ["lib.rs", "main.rs"]
        .iter()
        .find_map(|f| fs::read_to_string(dir.join("src").join(f)).ok())
        .unwrap_or_default();
    let (exports, globs) = root_exports(&root_text);
    let mut modules = BTreeMap::new();
    for (module, file) in &files {
        let text = fs::read_to_string(file).unwrap();
        let segs: Vec<&str> = if module.is_empty() {
            vec![]
        } else {
            module.split("::").collect()
        };
        let mut imports = BTreeSet::new();
        for (inline, line) in code_lines(&text) {
            for (kw, from_root) in [("crate::", true), ("super::", false)] {
                let mut at = 0;
                while let Some(i) = line[at..].find(kw) {
                    let pos = at + i;
                    at = pos + kw.len();
                    let before = line[..pos].chars().last();
                    if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':') {
                        continue;
                    }
                    // The module `super` names, and the path after it.
                    let (base, rest): (Vec<&str>, &str) = if from_root {
                        (vec![], &line[at..])
                    } else {
                        let mut base = segs.clone();
                        // In a file module `a/b.rs` super is `a`; inside an inline module
                        // of that file it is the file's module itself.
                        if !inline {
                            base.pop();
                        }
                        let mut rest = &line[at..];
                        while let Some(r) = rest.strip_prefix("super::") {
                            base.pop();
                            rest = r;
                        }
                        (base, rest)
                    };
                    if rest.starts_with("super") {
                        continue;
                    }
                    for p in paths_after(rest) {
                        let mut target: Option<String> = None;
                        let mut full = base.clone();
                        for s in &p {
                            full.push(s);
                            let m = full.join("::");
                            if known.contains(&m) {
                                target = Some(m);
                            }
                        }
                        if target.is_none() && base.is_empty() {
                            target = p.first().and_then(|first| {
                                exports.get(first).cloned().or_else(|| {
                                    (globs.len() == 1 && !known.contains(first))
                                        .then(|| globs[0].clone())
                                })
                            });
                        }
                        if let Some(t) = target {
                            if &t != module && !t.is_empty() {
                                imports.insert(t);
                            }
                        }
                    }
                }
            }
        }
        modules.insert(module.clone(), imports);
    }
    Crate {
        name,
        deps,
        modules,
    }
}

fn crates() -> Vec<Crate> {
    members(&workspace_root())
        .iter()
        .map(|d| read_crate(d))
        .collect()
}

/// The modules that are in an import cycle (strongly connected components of more than
/// one module), each cycle as a sorted list.
fn cycles(modules: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<String>> {
    // Kosaraju: order by finish time, then walk the reversed graph.
    fn visit(
        n: &str,
        g: &BTreeMap<String, BTreeSet<String>>,
        seen: &mut BTreeSet<String>,
        order: &mut Vec<String>,
    ) {
        if !seen.insert(n.to_string()) {
            return;
        }
        for m in g.get(n).into_iter().flatten() {
            visit(m, g, seen, order);
        }
        order.push(n.to_string());
    }
    let mut seen = BTreeSet::new();
    let mut order = Vec::new();
    for n in modules.keys() {
        visit(n, modules, &mut seen, &mut order);
    }
    let mut rev: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (a, bs) in modules {
        for b in bs {
            rev.entry(b.clone()).or_default().insert(a.clone());
        }
    }
    let mut assigned = BTreeSet::new();
    let mut out = Vec::new();
    for n in order.iter().rev() {
        let mut comp = Vec::new();
        visit(n, &rev, &mut assigned, &mut comp);
        if comp.len() > 1 {
            comp.sort();
            out.push(comp);
        }
    }
    out
}

#[test]
fn no_module_imports_itself_back_through_others() {
    let mut problems = Vec::new();
    for c in crates() {
        let found: BTreeSet<String> = cycles(&c.modules).into_iter().flatten().collect();
        let known: BTreeSet<String> = NOT_YET_UNTANGLED
            .iter()
            .filter(|(n, _)| *n == c.name)
            .flat_map(|(_, ms)| ms.iter().map(|m| m.to_string()))
            .collect();
        if found != known {
            for cycle in cycles(&c.modules) {
                let edges: Vec<String> = cycle
                    .iter()
                    .flat_map(|a| {
                        c.modules[a]
                            .iter()
                            .filter(|b| cycle.contains(b))
                            .map(move |b| format!("{a} -> {b}"))
                    })
                    .collect();
                problems.push(format!("{}: cycle {}", c.name, edges.join(", ")));
            }
            if found.is_empty() {
                problems.push(format!(
                    "{}: no cycle left; remove it from NOT_YET_UNTANGLED",
                    c.name
                ));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn crates_depend_only_as_the_architecture_allows() {
    let mut problems = Vec::new();
    for c in crates() {
        let Some((_, allowed)) = ALLOWED.iter().find(|(n, _)| *n == c.name) else {
            problems.push(format!(
                "{}: a crate the graph does not know; add it to ARCHITECTURE.md and ALLOWED",
                c.name
            ));
            continue;
        };
        for d in &c.deps {
            if !allowed.contains(&d.as_str()) {
                problems.push(format!(
                    "{} depends on {d}, which the graph forbids",
                    c.name
                ));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// The module tables of ARCHITECTURE.md: crate → modules. A table belongs to the crate of
/// the heading above it (`### sealbox-formats …`); its rows start with the module in
/// backticks.
fn documented_modules() -> BTreeMap<String, BTreeSet<String>> {
    let text = fs::read_to_string(workspace_root().join("ARCHITECTURE.md")).unwrap();
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut current: Option<String> = None;
    for line in text.lines() {
        if let Some(h) = line.strip_prefix("### ") {
            current = h
                .split_whitespace()
                .find(|w| w.trim_matches('`').starts_with("sealbox-"))
                .map(|w| short(w.trim_matches('`')));
            continue;
        }
        if line.starts_with("## ") {
            current = None;
        }
        let (Some(c), Some(row)) = (&current, line.strip_prefix("| `")) else {
            continue;
        };
        let module = row.split('`').next().unwrap().to_string();
        out.entry(c.clone()).or_default().insert(module);
    }
    out
}

#[test]
fn the_architecture_module_tables_list_every_module() {
    let documented = documented_modules();
    let mut problems = Vec::new();
    for c in crates() {
        let actual: BTreeSet<String> = c
            .modules
            .keys()
            .filter(|m| !m.is_empty())
            .cloned()
            .collect();
        let doc = documented.get(&c.name).cloned().unwrap_or_default();
        for m in actual.difference(&doc) {
            problems.push(format!(
                "{}: module {m} is missing from ARCHITECTURE.md",
                c.name
            ));
        }
        for m in doc.difference(&actual) {
            problems.push(format!(
                "{}: ARCHITECTURE.md lists {m}, which does not exist",
                c.name
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_reader_sees_imports_in_every_form() {
    // The parser behind the three tests above, on the forms the sources use.
    let p = paths_after("{credstore, generations::join};");
    assert_eq!(p, [vec!["credstore"], vec!["generations", "join"]]);
    let p = paths_after("store::{self, yaml::{fast, scalar}}, x");
    assert_eq!(
        p,
        [
            vec!["store", "self"],
            vec!["store", "yaml", "fast"],
            vec!["store", "yaml", "scalar"]
        ]
    );
    let mut g = BTreeMap::new();
    g.insert("a".to_string(), BTreeSet::from(["b".to_string()]));
    g.insert("b".to_string(), BTreeSet::from(["c".to_string()]));
    g.insert("c".to_string(), BTreeSet::from(["a".to_string()]));
    g.insert("d".to_string(), BTreeSet::from(["a".to_string()]));
    assert_eq!(cycles(&g), [vec!["a", "b", "c"]]);
    g.get_mut("c").unwrap().clear();
    assert!(cycles(&g).is_empty());
    let code = "use x;\n#[cfg(test)]\nmod tests {\n    use super::*;\n}\nfn after() {}\n";
    let kept: Vec<String> = code_lines(code).into_iter().map(|(_, l)| l).collect();
    assert_eq!(kept, ["use x;", "fn after() {}"]);
}
