//! What the creation rules reach in a checkout: the rule each path falls under (regexes
//! compiled once, paths relative to the checkout's root), the directories the rules are
//! about, and what the caller leaves out.
//!
//! A rule's directory is the literal directory its `path_regex` starts with
//! (`^secrets/.*\.yaml$` → `secrets/`, `^(prod|stage)/` → both): a file there that no rule
//! matches (`secrets/new.json`) is most likely a secret the rules forgot, so `check`
//! reports it instead of passing it silently. The literals come from `regex-syntax`'s
//! prefix extraction (the parser the `regex` crate itself uses), so what counts as literal
//! is the regex engine's own answer.

use regex_syntax::hir::literal::{ExtractKind, Extractor};
use regex_syntax::hir::Look;
use sealbox_formats::config::{CompiledRules, Config, CreationRule};
use sealbox_formats::{Error, ErrorKind, Result};

/// One directory a rule is about: the rule, and the directory prefix (`secrets/`).
struct RuleDir {
    rule: usize,
    prefix: String,
    /// The regex starts with `^`: the prefix is at the start of the path; otherwise it may
    /// follow any `/`.
    anchored: bool,
}

/// The rules of a config as they apply to one checkout.
pub struct Scope<'c> {
    rules: CompiledRules<'c>,
    dirs: Vec<RuleDir>,
    exclude: Vec<regex::Regex>,
}

/// Most literal prefixes taken from one regex (a case-insensitive one has many).
const MAX_PREFIXES: usize = 16;

/// The literal directories `re` starts with, and whether it is anchored; none when it
/// starts with anything else (or is not a valid regex: the caller has compiled it).
fn literal_dirs(re: &str) -> (Vec<String>, bool) {
    let Ok(hir) = regex_syntax::Parser::new().parse(re) else {
        return (Vec::new(), false);
    };
    let anchored = hir.properties().look_set_prefix().contains(Look::Start);
    let seq = Extractor::new().kind(ExtractKind::Prefix).extract(&hir);
    let Some(lits) = seq.literals() else {
        return (Vec::new(), anchored);
    };
    if lits.len() > MAX_PREFIXES {
        return (Vec::new(), anchored);
    }
    let mut dirs: Vec<String> = lits
        .iter()
        .filter_map(|l| std::str::from_utf8(l.as_bytes()).ok())
        .filter_map(|s| s.rfind('/').map(|i| s[..=i].to_string()))
        .filter(|d| d != "/" && !d.starts_with('/'))
        .collect();
    dirs.sort();
    dirs.dedup();
    (dirs, anchored)
}

impl<'c> Scope<'c> {
    /// The scope of `cfg`'s rules, leaving out paths matching one of `exclude`
    /// (regexes over the root-relative path). `None` when the config has no
    /// `creation_rules`. Every `path_regex` must compile.
    pub fn new(cfg: &'c Config, exclude: &[String]) -> Result<Option<Scope<'c>>> {
        let Some(rules) = cfg.compile_rules()? else {
            return Ok(None);
        };
        let mut dirs = Vec::new();
        for (i, r) in rules.rules().iter().enumerate() {
            if let Some(re) = r.path_regex.as_deref().filter(|s| !s.is_empty()) {
                let (ds, anchored) = literal_dirs(re);
                dirs.extend(ds.into_iter().map(|prefix| RuleDir {
                    rule: i,
                    prefix,
                    anchored,
                }));
            }
        }
        let exclude = exclude
            .iter()
            .map(|e| {
                regex::Regex::new(e).map_err(|err| {
                    Error::new(
                        ErrorKind::ConflictingOptions,
                        format!("--exclude {e:?} is not a valid regular expression: {err}"),
                    )
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Some(Scope {
            rules,
            dirs,
            exclude,
        }))
    }

    /// The rule for the root-relative path `rel` (the first that matches).
    pub fn rule(&self, rel: &str) -> Option<&'c CreationRule> {
        self.rules.first_match(rel)
    }

    /// The first rule whose directory holds `rel`, if any (for paths no rule matches).
    pub fn rule_dir_of(&self, rel: &str) -> Option<(&'c CreationRule, &str)> {
        let rules = self.rules.rules();
        self.dirs
            .iter()
            .find(|d| {
                rel.starts_with(&d.prefix)
                    || (!d.anchored && rel.contains(&format!("/{}", d.prefix)))
            })
            .map(|d| (&rules[d.rule], d.prefix.as_str()))
    }

    /// Whether `rel` is left out by `--exclude`.
    pub fn excluded(&self, rel: &str) -> bool {
        self.exclude.iter().any(|e| e.is_match(rel))
    }

    /// The rules, in order.
    pub fn rules(&self) -> &'c [CreationRule] {
        self.rules.rules()
    }
}

/// How a rule is named in messages: `creation rule 2 (path_regex "^secrets/")`.
pub fn rule_name(r: &CreationRule) -> String {
    match r.path_regex.as_deref() {
        Some(re) if !re.is_empty() => format!("creation rule {} (path_regex {re:?})", r.index + 1),
        _ => format!("creation rule {} (no path_regex: every file)", r.index + 1),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scope_of(yaml: &str) -> Config {
        Config::from_text(std::path::Path::new("/r/.sops.yaml"), yaml).unwrap()
    }

    #[test]
    fn rule_directories_are_the_literal_directories_a_regex_starts_with() {
        assert_eq!(
            literal_dirs("^secrets/.*\\.yaml$"),
            (vec!["secrets/".into()], true)
        );
        assert_eq!(
            literal_dirs("^(prod|stage)/db/"),
            (vec!["prod/db/".into(), "stage/db/".into()], true)
        );
        assert_eq!(literal_dirs("secrets/"), (vec!["secrets/".into()], false));
        assert_eq!(literal_dirs("^secret"), (vec![], true));
        assert_eq!(literal_dirs("\\.yaml$").0, Vec::<String>::new());
        assert_eq!(literal_dirs("^a/b?/c").0, ["a//", "a/b/"]);
        let cfg = scope_of(
            "creation_rules:\n  - path_regex: ^secrets/.*\\.yaml$\n    age: age1qfxn8ltsunju9p829z05ehj6mwq9l5x2v3jck8z3vdvywezcxdnqdnzhld\n  - path_regex: keys/\n    age: age1qfxn8ltsunju9p829z05ehj6mwq9l5x2v3jck8z3vdvywezcxdnqdnzhld\n",
        );
        let s = Scope::new(&cfg, &["^secrets/README\\.md$".into()])
            .unwrap()
            .unwrap();
        assert_eq!(s.rule("secrets/a.yaml").unwrap().index, 0);
        assert!(s.rule("secrets/a.json").is_none());
        assert_eq!(s.rule_dir_of("secrets/a.json").unwrap().1, "secrets/");
        assert_eq!(s.rule_dir_of("x/keys/k.txt").unwrap().0.index, 1);
        assert!(s.rule_dir_of("public/a.json").is_none());
        assert!(s.excluded("secrets/README.md") && !s.excluded("secrets/a.yaml"));
        assert!(Scope::new(&cfg, &["(".into()]).is_err());
    }
}
