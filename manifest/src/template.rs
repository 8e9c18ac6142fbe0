//! Templates (docs/activation.md#templates): the text with each secret's placeholder
//! replaced by the secret's value, and which secrets a template uses (a template that uses
//! a secret that failed is not rendered). Pure, like the rest of the contract: the values
//! come from the caller.

use crate::validate::{PlannedSecret, PlannedTemplate};
use zeroize::Zeroizing;

/// Renders a template: one left-to-right pass replacing each placeholder of `values` by its
/// bytes; inserted values are not scanned again.
// quirk 8: keep – placeholders of secrets that are not in this manifest stay verbatim;
// fix – the substitution is a single deterministic pass (Go's map order is random).
pub fn render(text: &str, values: &[(&str, &[u8])]) -> Zeroizing<Vec<u8>> {
    let t = text.as_bytes();
    let mut out = Zeroizing::new(Vec::with_capacity(t.len()));
    let mut i = 0;
    while i < t.len() {
        let hit = values
            .iter()
            .filter(|(p, _)| !p.is_empty() && t[i..].starts_with(p.as_bytes()))
            .max_by_key(|(p, _)| p.len());
        match hit {
            Some((p, v)) => {
                out.extend_from_slice(v);
                i += p.len();
            }
            None => {
                out.push(t[i]);
                i += 1;
            }
        }
    }
    out
}

/// The placeholders a template uses among `secrets` (to report which failed secret makes
/// it unrenderable).
pub fn used_secrets<'s>(t: &PlannedTemplate, secrets: &'s [PlannedSecret]) -> Vec<&'s str> {
    secrets
        .iter()
        .filter(|s| {
            s.placeholder
                .as_deref()
                .is_some_and(|p| !p.is_empty() && t.text.contains(p))
        })
        .map(|s| s.entry.name.as_str())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_pass_and_foreign_placeholders() {
        let a = "<SOPS:a:PLACEHOLDER>";
        let b = "<SOPS:b:PLACEHOLDER>";
        let text = format!("x={a} y={b} z=<SOPS:zz:PLACEHOLDER> {a}");
        // a's value contains b's placeholder: it must not be expanded again.
        let out = render(&text, &[(a, b.as_bytes()), (b, b"B")]);
        assert_eq!(
            String::from_utf8(out.to_vec()).unwrap(),
            format!("x={b} y=B z=<SOPS:zz:PLACEHOLDER> {b}")
        );
    }

    #[test]
    fn binary_values_and_empty_text() {
        assert!(render("", &[("p", b"v")]).is_empty());
        assert_eq!(
            render("[p]", &[("p", &[0, 255])]).to_vec(),
            vec![b'[', 0, 255, b']']
        );
    }
}
