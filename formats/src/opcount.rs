//! A test-only counter of the steps of loops whose cost could grow with the product of two
//! sizes (keys times keys, comments times leaves, key length times leaves): the linearity
//! tests count them for an input and for one four times larger, which is deterministic
//! where timing is not. In other builds [`tick`] is an empty inline function.

#[cfg(test)]
thread_local! {
    static STEPS: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

/// Counts `n` steps (test builds only).
#[inline(always)]
pub(crate) fn tick(n: usize) {
    #[cfg(test)]
    STEPS.with(|c| c.set(c.get() + n as u64));
    #[cfg(not(test))]
    let _ = n;
}

/// The steps counted on this thread since the last call (test builds only).
#[cfg(test)]
pub(crate) fn take() -> u64 {
    STEPS.with(|c| c.replace(0))
}

/// Linearity: the steps counted for an input four times larger are at most about four
/// times as many. Each case is one of the quadratic paths found (issue 13): the duplicate
/// check of the YAML loader (taken by every plain YAML file with a comment) and of INI
/// sections, the comment stack of the comment rules, the key rules above many leaves.
#[cfg(test)]
mod tests {
    use crate::cipher::DataKey;
    use crate::metadata::Selector;
    use crate::sops::{encrypt_tree, Selection};
    use crate::store::{self, Format};

    /// Steps of loading `text` as plain `format` and encrypting it with `selector`.
    fn steps(format: Format, text: &str, selector: Option<Selector>) -> u64 {
        super::take();
        let mut docs = store::load_plain(format, text.as_bytes(), "input").unwrap();
        let sel = Selection::new(selector.as_ref(), false).unwrap();
        let key = DataKey::from_slice(&[7u8; 32]).unwrap();
        encrypt_tree(&mut docs, &key, &sel, "2024-01-01T00:00:00Z").unwrap();
        super::take()
    }

    /// Fails unless `gen(4n)` costs at most 4.5 times `gen(n)` (plus a constant).
    fn assert_linear(what: &str, n: usize, f: impl Fn(usize) -> u64) {
        let (small, big) = (f(n), f(4 * n));
        assert!(
            big <= small * 9 / 2 + 1000,
            "{what}: {small} steps for {n}, {big} for {} ({:.1}x)",
            4 * n,
            big as f64 / small as f64
        );
    }

    #[test]
    fn plain_yaml_with_a_comment_loads_and_encrypts_in_linear_steps() {
        assert_linear("YAML keys after a comment", 1000, |n| {
            let text: String = (0..n).map(|i| format!("key_{i}: v{i}\n")).collect();
            steps(Format::Yaml, &format!("# a comment\n{text}"), None)
        });
        // ... nested too (the loader's maps at every level).
        assert_linear("nested YAML keys after a comment", 1000, |n| {
            let text: String = (0..n).map(|i| format!("  key_{i}: v{i}\n")).collect();
            steps(Format::Yaml, &format!("# a comment\ntop:\n{text}"), None)
        });
    }

    #[test]
    fn ini_sections_load_in_linear_steps() {
        assert_linear("INI keys of one section", 1000, |n| {
            let text: String = (0..n).map(|i| format!("key_{i} = v{i}\n")).collect();
            steps(Format::Ini, &format!("; c\n[s]\n{text}"), None)
        });
    }

    #[test]
    fn comments_above_many_leaves_cost_once() {
        for sel in [
            Selector::UnencryptedCommentRegex("^ *keep".into()),
            Selector::EncryptedCommentRegex("^ *secret".into()),
        ] {
            assert_linear(sel.key(), 1000, |n| {
                let comments: String = (0..n).map(|i| format!("# note {i}\n")).collect();
                let leaves: String = (0..n).map(|i| format!("  k{i}: v\n")).collect();
                steps(
                    Format::Yaml,
                    &format!("{comments}top:\n{leaves}"),
                    Some(sel.clone()),
                )
            });
        }
    }

    #[test]
    fn a_long_key_above_many_leaves_is_matched_once() {
        for sel in [
            Selector::EncryptedRegex("^zz".into()),
            Selector::UnencryptedSuffix("_u".into()),
        ] {
            assert_linear(sel.key(), 300, |n| {
                let leaves: String = (0..n).map(|i| format!("  k{i}: v\n")).collect();
                steps(
                    Format::Yaml,
                    &format!("{}:\n{leaves}", "a".repeat(10 * n)),
                    Some(sel.clone()),
                )
            });
        }
    }

    #[test]
    fn json_and_dotenv_load_in_linear_steps() {
        assert_linear("JSON keys", 1000, |n| {
            let pairs: Vec<String> = (0..n).map(|i| format!("\"k{i}\": \"v\"")).collect();
            steps(Format::Json, &format!("{{{}}}", pairs.join(",")), None)
        });
        assert_linear("dotenv keys with comments", 1000, |n| {
            let text: String = (0..n).map(|i| format!("# c{i}\nK{i}=v\n")).collect();
            steps(Format::Dotenv, &text, None)
        });
    }
}
