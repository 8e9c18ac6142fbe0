//! Checks on encrypted files and decrypted outputs against a generated [`Doc`].

use crate::gen::{predict, Doc, Format, Selector};
use crate::json::{self, Value};

fn leaves(v: &Value, path: &mut Vec<String>, out: &mut Vec<(String, Value)>) {
    match v {
        Value::Obj(m) => {
            for (k, v) in m {
                path.push(k.clone());
                leaves(v, path, out);
                path.pop();
            }
        }
        Value::Arr(a) => a.iter().for_each(|v| leaves(v, path, out)),
        v => out.push((path.join(":"), v.clone())),
    }
}

fn is_enc(v: &Value, ty_comment: bool) -> bool {
    v.as_str().is_some_and(|s| {
        s.starts_with("ENC[AES256_GCM,data:")
            && s.ends_with(']')
            && s.contains(",type:comment]") == ty_comment
    })
}

/// The part of an encrypted YAML text before the top-level `sops:` key.
fn yaml_body(text: &str) -> &str {
    if text.starts_with("sops:") {
        return "";
    }
    text.find("\nsops:").map(|i| &text[..i + 1]).unwrap_or(text)
}

/// Checks which values and comments of the encrypted file are `ENC[…]` and which stay plain,
/// as predicted by sops' rule (docs/format.md#which-values-are-encrypted), plus the recorded
/// selector.
pub fn check_encrypted(doc: &Doc, sel: Selector, enc: &str) -> Result<(), String> {
    let pred = predict(doc, sel);
    // a YAML document encrypted with `--output-type json` is checked leaf by leaf like JSON
    let as_json = doc.format == Format::Json || enc.trim_start().starts_with('{');
    match if as_json { Format::Json } else { Format::Yaml } {
        Format::Json => {
            let mut v =
                json::parse(enc).map_err(|e| format!("encrypted JSON does not parse: {e}"))?;
            let md = v
                .get("sops")
                .cloned()
                .ok_or("no sops key in encrypted JSON")?;
            if let Value::Obj(m) = &mut v {
                m.retain(|(k, _)| k != "sops");
            }
            let mut got = Vec::new();
            leaves(&v, &mut Vec::new(), &mut got);
            // sops 3.11 stores encrypted comments inside lists as list strings; JSON output
            // keeps them. They are not values: skip them.
            got.retain(|(_, v)| !is_enc(v, true));
            if got.len() != pred.leaves.len() {
                return Err(format!(
                    "encrypted file has {} leaves, expected {}",
                    got.len(),
                    pred.leaves.len()
                ));
            }
            for ((gp, gv), (ep, ev)) in got.iter().zip(&pred.leaves) {
                if gp != ep {
                    return Err(format!("leaf path {gp:?} where {ep:?} was expected"));
                }
                match ev {
                    None if !is_enc(gv, false) => {
                        return Err(format!(
                            "{selector:?}: value at {gp:?} should be ENC[…] but is {gv}",
                            selector = sel
                        ))
                    }
                    Some(ev) if gv != ev => {
                        return Err(format!(
                            "{sel:?}: value at {gp:?} should stay plain {ev} but is {gv}"
                        ))
                    }
                    _ => {}
                }
            }
            check_metadata_json(&md, sel)
        }
        Format::Yaml => {
            let body = yaml_body(enc);
            let mut enc_values = 0;
            let mut enc_comments = 0;
            let mut plain_comments = Vec::new();
            for line in body.lines() {
                let t = line.trim();
                let n = t.matches("ENC[AES256_GCM,").count();
                if t.contains(",type:comment]") {
                    enc_comments += n;
                } else {
                    enc_values += n;
                }
                if t.starts_with('#') && !t.starts_with("#ENC[AES256_GCM,") {
                    plain_comments.push(t.to_string());
                }
            }
            plain_comments.sort();
            if enc_values != pred.enc_values {
                return Err(format!(
                    "{sel:?}: {enc_values} encrypted values in the file, expected {} (plain: {:?})",
                    pred.enc_values, pred.plain_values
                ));
            }
            if enc_comments != pred.enc_comments {
                return Err(format!(
                    "{sel:?}: {enc_comments} encrypted comments, expected {}",
                    pred.enc_comments
                ));
            }
            if plain_comments != pred.plain_comments {
                return Err(format!(
                    "{sel:?}: plain comments in the encrypted file {plain_comments:?}, expected {:?}",
                    pred.plain_comments
                ));
            }
            let md = &enc[body.len()..];
            let (k, v) = selector_kv(sel);
            let spellings = [
                format!("{k}: {v}"),
                format!("{k}: \"{v}\""),
                format!("{k}: '{v}'"),
            ];
            if !md.lines().any(|l| spellings.iter().any(|s| l.trim() == s)) {
                return Err(format!("{sel:?}: metadata lacks `{k}: {v}`:\n{md}"));
            }
            if sel == Selector::MacOnlyEncrypted
                && !md.lines().any(|l| l.trim() == "mac_only_encrypted: true")
            {
                return Err(format!("metadata lacks `mac_only_encrypted: true`:\n{md}"));
            }
            Ok(())
        }
    }
}

fn selector_kv(sel: Selector) -> (&'static str, &'static str) {
    match sel {
        Selector::Default | Selector::MacOnlyEncrypted => ("unencrypted_suffix", "_unencrypted"),
        Selector::UnencryptedSuffix => ("unencrypted_suffix", "_plain"),
        Selector::EncryptedSuffix => ("encrypted_suffix", "_secret"),
        Selector::UnencryptedRegex => ("unencrypted_regex", "^pub_"),
        Selector::EncryptedRegex => ("encrypted_regex", "^(sec_|password)"),
        Selector::EncryptedCommentRegex => ("encrypted_comment_regex", "sops:enc"),
        Selector::UnencryptedCommentRegex => ("unencrypted_comment_regex", "sops:plain"),
    }
}

fn check_metadata_json(md: &Value, sel: Selector) -> Result<(), String> {
    let (k, v) = selector_kv(sel);
    if md.get(k).and_then(Value::as_str) != Some(v) {
        return Err(format!("{sel:?}: metadata should record {k} = {v:?}: {md}"));
    }
    if sel == Selector::MacOnlyEncrypted && md.get("mac_only_encrypted") != Some(&Value::Bool(true))
    {
        return Err(format!(
            "metadata should have mac_only_encrypted: true: {md}"
        ));
    }
    Ok(())
}

/// Compares a `--output-type json` decryption with the document's tree.
pub fn check_decrypted_json(doc: &Doc, out: &[u8]) -> Result<(), String> {
    let text = std::str::from_utf8(out).map_err(|_| "decrypted JSON is not UTF-8".to_string())?;
    let got =
        json::parse(text).map_err(|e| format!("decrypted output is not JSON: {e}\n{text}"))?;
    let want = doc.expected();
    if got != want {
        return Err(format!(
            "decrypted tree differs:\n{}",
            diff_values(&want, &got)
        ));
    }
    Ok(())
}

/// Compares the comment lines of a YAML decryption with the document's comments.
pub fn check_decrypted_yaml_comments(doc: &Doc, out: &[u8]) -> Result<(), String> {
    let text = String::from_utf8_lossy(out);
    let got = crate::comment_lines(&text);
    let want = doc.comments();
    if got != want {
        return Err(format!(
            "comment lines differ: want {want:?}\n got {got:?}\noutput:\n{text}"
        ));
    }
    Ok(())
}

/// First differing leaf, with both values.
pub fn diff_values(want: &Value, got: &Value) -> String {
    let (mut a, mut b) = (Vec::new(), Vec::new());
    leaves(want, &mut Vec::new(), &mut a);
    leaves(got, &mut Vec::new(), &mut b);
    for (i, (x, y)) in a.iter().zip(&b).enumerate() {
        if x != y {
            let short = |v: &Value| {
                let s = v.to_string();
                if s.chars().count() > 200 {
                    format!(
                        "{}… ({} chars)",
                        s.chars().take(200).collect::<String>(),
                        s.chars().count()
                    )
                } else {
                    s
                }
            };
            return format!(
                "leaf #{i}: want {:?} = {}\n          got  {:?} = {}",
                x.0,
                short(&x.1),
                y.0,
                short(&y.1)
            );
        }
    }
    if a.len() != b.len() {
        return format!("leaf count: want {}, got {}", a.len(), b.len());
    }
    format!("structure differs (same leaves):\nwant {want}\ngot  {got}")
}
