//! The first word of `sealbox WORD …`: a subcommand, a file to edit, or a typo.
//!
//! `sops FILE` edits FILE, and sealbox keeps that form. But sops takes *any* word that is not
//! a command for a file, so `sops decrpyt f` opens an editor on a new file named `decrpyt`.
//! sealbox treats a word as a file when it is one (the path exists) or looks like one (it has
//! a directory part or an extension, e.g. `new.yaml`); a bare word within a small edit
//! distance of a subcommand, or the start of one, is reported as a typo with the likely
//! commands instead. Any other word is still a new file, as in sops.

use std::ffi::OsStr;
use std::path::Path;

/// What the first word means.
#[derive(Debug, PartialEq, Eq)]
pub enum FirstWord {
    /// A file to edit (`sealbox FILE` = `sealbox edit FILE`).
    File,
    /// Not a file and close to these subcommands (best first).
    Typo(Vec<String>),
}

/// Classifies a first word that is neither a subcommand nor an option.
pub fn classify(word: &OsStr, subcommands: &[&str]) -> FirstWord {
    let path = Path::new(word);
    if std::fs::symlink_metadata(path).is_ok() {
        return FirstWord::File;
    }
    let Some(w) = word.to_str() else {
        return FirstWord::File;
    };
    if w.contains('/') || w.contains('.') || w.is_empty() {
        return FirstWord::File;
    }
    let w = w.to_ascii_lowercase();
    // Short words get less slack: two edits turn almost any 3-letter word into another.
    let limit = match w.chars().count() {
        0..=2 => 0,
        3..=4 => 1,
        _ => 2,
    };
    let mut close: Vec<(usize, &str)> = subcommands
        .iter()
        .filter_map(|&c| {
            let d = strsim::damerau_levenshtein(&w, c);
            let prefix = w.len() >= 3 && c.starts_with(&w);
            (d <= limit || prefix).then_some((if prefix { 0 } else { d }, c))
        })
        .collect();
    // Only the closest: `dcrypt` is one edit from decrypt and two from encrypt.
    let Some(best) = close.iter().map(|(d, _)| *d).min() else {
        return FirstWord::File;
    };
    close.retain(|(d, _)| *d == best);
    close.sort();
    FirstWord::Typo(close.into_iter().map(|(_, c)| c.to_string()).collect())
}

/// The message for a typo (`word` is what was typed).
pub fn typo_message(word: &str, candidates: &[String]) -> String {
    let list = candidates
        .iter()
        .map(|c| format!("`sealbox {c}`"))
        .collect::<Vec<_>>()
        .join(" or ");
    format!(
        "sealbox: `{word}` is not a command, and no file of that name exists\n  \
         did you mean {list}?\n  \
         (to create a new file named `{word}`, run `sealbox edit {word}`)"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const CMDS: &[&str] = &[
        "encrypt",
        "decrypt",
        "edit",
        "set",
        "unset",
        "filestatus",
        "exec-env",
        "exec-file",
        "rotate",
        "updatekeys",
        "recipients",
        "check",
        "keygen",
        "ssh-to-age",
        "manifest",
        "completions",
        "man",
    ];

    fn typo(w: &str) -> Vec<String> {
        match classify(OsStr::new(w), CMDS) {
            FirstWord::Typo(v) => v,
            FirstWord::File => panic!("{w:?} taken for a file"),
        }
    }

    fn file(w: &str) {
        assert_eq!(classify(OsStr::new(w), CMDS), FirstWord::File, "{w:?}");
    }

    #[test]
    fn swapped_missing_and_extra_letters_are_typos() {
        assert_eq!(typo("decrpyt"), ["decrypt"]);
        assert_eq!(typo("dcrypt"), ["decrypt"]);
        assert_eq!(typo("encyrpt"), ["encrypt"]);
        assert_eq!(typo("updatkeys"), ["updatekeys"]);
        assert_eq!(typo("keygne"), ["keygen"]);
        assert_eq!(typo("completion"), ["completions"]);
        assert_eq!(typo("Decrypt"), ["decrypt"]);
    }

    #[test]
    fn the_start_of_a_command_names_every_command_it_starts() {
        assert_eq!(typo("dec"), ["decrypt"]);
        assert_eq!(typo("exec"), ["exec-env", "exec-file"]);
    }

    #[test]
    fn names_that_look_like_files_stay_files() {
        for w in [
            "new.yaml",
            "decrypt.yaml",
            "secrets/decrpyt",
            "./decrpyt",
            ".env",
            "secrets",
            "notes",
            "a",
            "x1",
        ] {
            file(w);
        }
    }

    #[test]
    fn an_existing_file_wins_over_a_near_command() {
        let t = tempfile::tempdir().unwrap();
        let p = t.path().join("decrpyt");
        std::fs::write(&p, "").unwrap();
        assert_eq!(classify(p.as_os_str(), CMDS), FirstWord::File);
    }

    #[test]
    fn the_message_names_the_word_the_commands_and_the_escape() {
        let m = typo_message("exec", &["exec-env".into(), "exec-file".into()]);
        assert!(m.contains("`exec` is not a command"), "{m}");
        assert!(
            m.contains("`sealbox exec-env` or `sealbox exec-file`"),
            "{m}"
        );
        assert!(m.contains("sealbox edit exec"), "{m}");
    }
}
