//! Numbers and booleans as sops serialises them.

/// Go `strconv.FormatFloat(v, 'f', -1, 64)`: shortest round-trip digits, never an
/// exponent; infinities and NaN as `+Inf`, `-Inf`, `NaN`. This is the plaintext sops
/// encrypts and hashes for a float.
pub fn go_float_f(v: f64) -> String {
    if v.is_nan() {
        "NaN".to_string()
    } else if v.is_infinite() {
        if v > 0.0 { "+Inf" } else { "-Inf" }.to_string()
    } else {
        // Rust's Display is shortest round-trip and never uses an exponent.
        format!("{v}")
    }
}

/// Go `strconv.ParseFloat(s, 64)` for the forms sops writes and users type (Rust's parser
/// already takes `+Inf`, `-Inf`, `NaN` and a leading `+`).
pub fn parse_go_float(s: &str) -> Option<f64> {
    s.parse::<f64>().ok()
}

/// Go `strconv.Atoi`: optional sign, decimal digits, 64-bit range.
pub fn parse_go_int(s: &str) -> Option<i64> {
    let body = s.strip_prefix(['+', '-']).unwrap_or(s);
    if body.is_empty() || !body.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let t = s.strip_prefix('+').unwrap_or(s);
    t.parse().ok()
}

/// Go `strconv.ParseBool`.
pub fn parse_go_bool(s: &str) -> Option<bool> {
    match s {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

/// The plaintext of a boolean: `True`/`False` (sops' Python heritage).
pub fn sops_bool(b: bool) -> &'static str {
    if b {
        "True"
    } else {
        "False"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn float_plaintext_matches_go() {
        assert_eq!(go_float_f(1.0), "1");
        assert_eq!(go_float_f(1e21), "1000000000000000000000");
        assert_eq!(go_float_f(1e-7), "0.0000001");
        assert_eq!(go_float_f(-0.0), "-0");
        assert_eq!(go_float_f(0.1), "0.1");
        assert_eq!(go_float_f(1e10), "10000000000");
        assert_eq!(go_float_f(f64::INFINITY), "+Inf");
        assert_eq!(go_float_f(f64::NEG_INFINITY), "-Inf");
        assert_eq!(go_float_f(f64::NAN), "NaN");
        assert_eq!(
            go_float_f(1.2345678901234568e29),
            "123456789012345680000000000000"
        );
    }

    #[test]
    fn parsing() {
        assert_eq!(parse_go_int("+5"), Some(5));
        assert_eq!(parse_go_int("-42"), Some(-42));
        assert_eq!(parse_go_int("4 2"), None);
        assert_eq!(parse_go_int(""), None);
        assert_eq!(parse_go_int("+-1"), None);
        assert_eq!(parse_go_float("+Inf"), Some(f64::INFINITY));
        assert_eq!(parse_go_float("-Inf"), Some(f64::NEG_INFINITY));
        assert!(parse_go_float("NaN").unwrap().is_nan());
        assert_eq!(parse_go_float("1e10"), Some(1e10));
        assert_eq!(parse_go_float("+1.5"), Some(1.5));
        assert_eq!(parse_go_float("x"), None);
        assert_eq!(parse_go_bool("T"), Some(true));
        assert_eq!(parse_go_bool("yes"), None);
    }
}

/// Go `strconv.FormatFloat(v, 'g' or 'G', -1, 64)`: shortest digits; the exponent form
/// when the decimal exponent is below -4 or at least 6 (Go's threshold for shortest
/// precision), so `1e+06`, `123456`, `1e-05`, `0.0001`.
pub fn go_float_g(v: f64, upper: bool) -> String {
    if v.is_nan() {
        return "NaN".into();
    }
    if v.is_infinite() {
        return if v > 0.0 { "+Inf" } else { "-Inf" }.into();
    }
    if v == 0.0 {
        return if v.is_sign_negative() { "-0" } else { "0" }.into();
    }
    // Rust's `{:e}` gives the shortest round-trip digits: "-1.2345e8".
    let sci = format!("{v:e}");
    let (mant, exp) = sci.split_once('e').expect("exponent");
    let exp: i32 = exp.parse().expect("exponent digits");
    let (neg, mant) = match mant.strip_prefix('-') {
        Some(m) => (true, m),
        None => (false, mant),
    };
    let digits: String = mant.chars().filter(|c| *c != '.').collect();
    let mut out = String::new();
    if neg {
        out.push('-');
    }
    if !(-4..6).contains(&exp) {
        // d.ddde±XX
        out.push_str(&digits[..1]);
        if digits.len() > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        out.push(if upper { 'E' } else { 'e' });
        out.push(if exp < 0 { '-' } else { '+' });
        out.push_str(&format!("{:02}", exp.abs()));
    } else if exp < 0 {
        out.push_str("0.");
        for _ in 0..(-exp - 1) {
            out.push('0');
        }
        out.push_str(&digits);
    } else {
        let point = exp as usize + 1;
        if digits.len() <= point {
            out.push_str(&digits);
            for _ in digits.len()..point {
                out.push('0');
            }
        } else {
            out.push_str(&digits[..point]);
            out.push('.');
            out.push_str(&digits[point..]);
        }
    }
    out
}

/// sops' `ValToString` for a float (dotenv, INI, exec-env): `%G`, with `.0` added when the
/// result has neither a point nor an exponent.
pub fn val_to_string_float(v: f64) -> String {
    let s = go_float_g(v, true);
    if s.contains(['.', 'E']) || !s.bytes().last().is_some_and(|b| b.is_ascii_digit()) {
        s
    } else {
        s + ".0"
    }
}

#[cfg(test)]
mod g_tests {
    use super::*;

    #[test]
    fn g_format_matches_go() {
        assert_eq!(go_float_g(1e10, false), "1e+10");
        assert_eq!(go_float_g(1e-6, false), "1e-06");
        assert_eq!(go_float_g(123456789.125, false), "1.23456789125e+08");
        assert_eq!(go_float_g(1.0, false), "1");
        assert_eq!(go_float_g(0.5, false), "0.5");
        assert_eq!(go_float_g(100000.0, false), "100000");
        assert_eq!(go_float_g(1234567.0, false), "1.234567e+06");
        assert_eq!(go_float_g(0.0001, false), "0.0001");
        assert_eq!(go_float_g(0.00001, false), "1e-05");
        assert_eq!(go_float_g(-2.5, false), "-2.5");
        assert_eq!(
            go_float_g(1.2345678901234568e29, false),
            "1.2345678901234568e+29"
        );
        assert_eq!(val_to_string_float(1.0), "1.0");
        assert_eq!(val_to_string_float(3.5), "3.5");
        assert_eq!(val_to_string_float(1e21), "1E+21");
        assert_eq!(val_to_string_float(f64::NAN), "NaN");
    }
}
