//! `sealbox set FILE PATH VALUE`: one value changed in place, the rest of the file keeping
//! its ciphertext.

use crate::context::{store_options, Context};
use crate::files::read_input;
use crate::session::{mac_check, open};
use crate::SetArgs;
use sealbox_formats::path::{self as tree_path, PathUse};
use sealbox_formats::store;
use sealbox_formats::{Error, ErrorKind, Result, Value};
use std::path::Path;
use zeroize::Zeroizing;

/// Parses a `set` value: JSON (an array is accepted too, unlike sops 3.11).
pub fn parse_json_value(text: &str) -> Result<Value> {
    let bad = || {
        Error::new(
            ErrorKind::InvalidSetValue,
            "Value for --set is not valid JSON",
        )
        .with_hint(r#"quote strings as JSON: '"text"'; numbers, true/false, null and {…} are fine"#)
    };
    let wrapped = format!("{{\"v\": {text}\n}}");
    let mut doc = store::json::parse(&wrapped).map_err(|_| bad())?;
    if doc.len() != 1 {
        return Err(bad());
    }
    doc.remove("v").ok_or_else(bad)
}

/// The value's JSON text: the argument, the file it names (`--value-file`), or stdin.
fn value_text(a: &SetArgs) -> Result<Zeroizing<Vec<u8>>> {
    if a.value_stdin {
        if a.value.is_some() {
            return Err(Error::new(
                ErrorKind::InvalidSetValue,
                "give either VALUE or --value-stdin, not both",
            ));
        }
        return Ok(Zeroizing::new(read_input(Path::new("-"))?));
    }
    let v = a.value.as_deref().ok_or_else(|| {
        Error::new(ErrorKind::NoFile, "missing VALUE")
            .with_hint(r#"sealbox set FILE '["key"]' '"value"'"#)
    })?;
    if a.value_file {
        Ok(Zeroizing::new(read_input(Path::new(v))?))
    } else {
        Ok(Zeroizing::new(v.as_bytes().to_vec()))
    }
}

/// Runs `sealbox set`.
pub fn run(cx: &Context, a: &SetArgs) -> Result<()> {
    let steps = tree_path::parse(&a.path, PathUse::Set)?;
    if steps.is_empty() {
        return Err(Error::new(ErrorKind::InvalidSetValue, "the path is empty"));
    }
    let text = value_text(a)?;
    let text = std::str::from_utf8(&text)
        .map_err(|_| Error::new(ErrorKind::InvalidSetValue, "the value is not UTF-8"))?;
    let value = parse_json_value(text)?;
    let mut s = open(&a.file, &a.format, mac_check(a.ignore_mac), cx.keys())?;
    s.stash
        .allow_plaintext_downgrade(a.allow_plaintext_downgrade);
    let doc = s.first_doc()?;
    if a.idempotent && tree_path::lookup(doc, &steps).ok() == Some(&value) {
        return Ok(());
    }
    tree_path::set(doc, &steps, value);
    s.save(&a.file, &store_options(cx.load_config()?.as_ref())?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_values() {
        assert_eq!(parse_json_value("\"x\"").unwrap(), Value::str("x"));
        assert_eq!(parse_json_value("true").unwrap(), Value::Bool(true));
        assert!(matches!(
            parse_json_value("[1, 2]").unwrap(),
            Value::List(_)
        ));
        assert_eq!(
            parse_json_value("x").unwrap_err().kind,
            ErrorKind::InvalidSetValue
        );
        assert_eq!(
            parse_json_value("1, \"w\": 2").unwrap_err().kind,
            ErrorKind::InvalidSetValue
        );
    }
}
