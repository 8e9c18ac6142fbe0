//! Timestamps as Go prints them.
//!
//! sops stores YAML timestamps as `time.Time` and serialises them with `MarshalText`
//! (RFC 3339 with nanoseconds, trailing zeros trimmed, `Z` for a zero offset). The MAC's
//! additional data is `lastmodified` parsed as RFC 3339 and formatted again without
//! fractional seconds. Both are plain string rewrites once the fields are parsed, so no
//! calendar library is needed except for "now".

/// The fields of a parsed timestamp.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Parts<'a> {
    date: &'a str,
    hms: (u32, u32, u32),
    frac: &'a str,
    /// Offset in minutes east of UTC.
    offset_min: i32,
}

fn digits(s: &str, n: usize) -> Option<u32> {
    if s.len() == n && s.bytes().all(|b| b.is_ascii_digit()) {
        s.parse().ok()
    } else {
        None
    }
}

fn valid_date(date: &str) -> bool {
    let b = date.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return false;
    }
    let (Some(y), Some(m), Some(d)) = (
        digits(&date[0..4], 4),
        digits(&date[5..7], 2),
        digits(&date[8..10], 2),
    ) else {
        return false;
    };
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let days = [
        31,
        if leap { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ];
    (1..=12).contains(&m) && d >= 1 && d <= days[m as usize - 1]
}

/// Parses the YAML 1.1 timestamp forms yaml.v3 accepts (which include RFC 3339):
/// `2001-12-14`, `2001-12-14t21:59:43.10-05:00`, `2001-12-14 21:59:43.10 -5`,
/// `2001-12-14 21:59:43.10` (UTC).
fn parse(s: &str) -> Option<Parts<'_>> {
    if !s.get(..10).is_some_and(valid_date) {
        return None;
    }
    let date = &s[..10];
    let rest = &s[10..];
    if rest.is_empty() {
        return Some(Parts {
            date,
            hms: (0, 0, 0),
            frac: "",
            offset_min: 0,
        });
    }
    let rest = if let Some(r) = rest.strip_prefix(['T', 't']) {
        r
    } else {
        let trimmed = rest.trim_start_matches([' ', '\t']);
        if trimmed.len() == rest.len() {
            return None;
        }
        trimmed
    };
    // hour may be one or two digits in YAML 1.1; RFC 3339 has two.
    let colon = rest.find(':')?;
    let hour: u32 = rest[..colon]
        .parse()
        .ok()
        .filter(|_| (1..=2).contains(&colon))?;
    let rest = &rest[colon + 1..];
    let minute = digits(rest.get(..2)?, 2)?;
    let rest = rest[2..].strip_prefix(':')?;
    let second = digits(rest.get(..2)?, 2)?;
    let mut rest = &rest[2..];
    let mut frac = "";
    if let Some(r) = rest.strip_prefix('.') {
        let n = r.bytes().take_while(|b| b.is_ascii_digit()).count();
        if n == 0 {
            return None;
        }
        frac = &r[..n];
        rest = &r[n..];
    }
    let rest = rest.trim_start_matches([' ', '\t']);
    let offset_min = if rest.is_empty() || rest == "Z" || rest == "z" {
        0
    } else {
        let sign = match rest.as_bytes()[0] {
            b'+' => 1,
            b'-' => -1,
            _ => return None,
        };
        let body = &rest[1..];
        let (h, m) = match body.split_once(':') {
            Some((h, m)) => (h, m),
            None if body.len() > 2 => (&body[..body.len() - 2], &body[body.len() - 2..]),
            None => (body, "0"),
        };
        if h.is_empty() || h.len() > 2 || m.is_empty() || m.len() > 2 {
            return None;
        }
        let h: i32 = h.parse().ok()?;
        let m: i32 = m.parse().ok()?;
        sign * (h * 60 + m)
    };
    if hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    Some(Parts {
        date,
        hms: (hour, minute, second),
        frac,
        offset_min,
    })
}

fn format(p: &Parts<'_>, with_frac: bool) -> String {
    let mut out = format!("{}T{:02}:{:02}:{:02}", p.date, p.hms.0, p.hms.1, p.hms.2);
    let frac = p.frac.get(..9).unwrap_or(p.frac).trim_end_matches('0');
    if with_frac && !frac.is_empty() {
        out.push('.');
        out.push_str(frac);
    }
    if p.offset_min == 0 {
        out.push('Z');
    } else {
        let sign = if p.offset_min < 0 { '-' } else { '+' };
        let a = p.offset_min.abs();
        out.push_str(&format!("{sign}{:02}:{:02}", a / 60, a % 60));
    }
    out
}

/// The canonical form of a timestamp (Go `MarshalText`), or None if `s` is not one.
pub fn canonical_time(s: &str) -> Option<String> {
    parse(s).map(|p| format(&p, true))
}

/// Whether `s` is a YAML timestamp (as yaml.v3 resolves plain scalars).
pub fn is_timestamp(s: &str) -> bool {
    parse(s).is_some()
}

/// The MAC's additional data for a `lastmodified` value: RFC 3339 parsed and formatted
/// again, dropping fractional seconds and writing a zero offset as `Z`.
pub fn mac_aad(lastmodified: &str) -> Option<String> {
    // RFC 3339 as Go's time.Parse(time.RFC3339) takes it: `T`, two-digit hour, optional
    // fraction, then `Z` or `±hh:mm` (upper case only: sops refuses `t` and `z`).
    let b = lastmodified.as_bytes();
    if b.len() < 20 || b[10] != b'T' || b[13] != b':' {
        return None;
    }
    let mut zone = lastmodified.get(19..)?;
    if let Some(f) = zone.strip_prefix('.') {
        zone = f.trim_start_matches(|c: char| c.is_ascii_digit());
    }
    let z = zone.as_bytes();
    let zone_ok = zone == "Z"
        || (z.len() == 6
            && matches!(z[0], b'+' | b'-')
            && z[3] == b':'
            && [1, 2, 4, 5].iter().all(|&i| z[i].is_ascii_digit()));
    if !zone_ok {
        return None;
    }
    parse(lastmodified).map(|p| format(&p, false))
}

/// Converts days since 1970-01-01 to a civil date (proleptic Gregorian).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// A Unix time as `YYYY-MM-DDTHH:MM:SSZ`.
pub fn format_unix(secs: i64) -> String {
    let (y, m, d) = civil_from_days(secs.div_euclid(86_400));
    let s = secs.rem_euclid(86_400);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        s / 3600,
        (s / 60) % 60,
        s % 60
    )
}

/// Days since 1970-01-01 of a civil date (proleptic Gregorian); inverse of
/// `civil_from_days`.
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = i64::from((m + 9) % 12);
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// An RFC 3339 time (as in `lastmodified`) as Unix seconds (fractions dropped), or None
/// when it is not one.
pub fn parse_rfc3339_unix(s: &str) -> Option<i64> {
    mac_aad(s)?;
    let p = parse(s)?;
    let y: i64 = p.date[0..4].parse().ok()?;
    let m: u32 = p.date[5..7].parse().ok()?;
    let d: u32 = p.date[8..10].parse().ok()?;
    let (hh, mm, ss) = p.hms;
    Some(
        days_from_civil(y, m, d) * 86_400
            + i64::from(hh) * 3600
            + i64::from(mm) * 60
            + i64::from(ss)
            - i64::from(p.offset_min) * 60,
    )
}

/// Now, as Unix seconds.
pub fn now_unix() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// Now, in UTC, to the second: what sops writes as `lastmodified`.
pub fn now_rfc3339() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    format_unix(secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_forms() {
        assert_eq!(
            canonical_time("2024-01-01").as_deref(),
            Some("2024-01-01T00:00:00Z")
        );
        assert_eq!(
            canonical_time("2001-12-14T21:59:43.10-05:00").as_deref(),
            Some("2001-12-14T21:59:43.1-05:00")
        );
        assert_eq!(
            canonical_time("2001-12-14 21:59:43.10 -5").as_deref(),
            Some("2001-12-14T21:59:43.1-05:00")
        );
        assert_eq!(
            canonical_time("2024-01-02T03:04:05Z").as_deref(),
            Some("2024-01-02T03:04:05Z")
        );
        assert_eq!(
            canonical_time("2024-01-02T03:04:05+00:00").as_deref(),
            Some("2024-01-02T03:04:05Z")
        );
        assert_eq!(canonical_time("2024-13-01"), None);
        assert_eq!(canonical_time("2023-02-29"), None);
        assert_eq!(canonical_time("hello"), None);
        assert_eq!(canonical_time("2024-01-01x"), None);
        assert_eq!(
            canonical_time("cödé çà"),
            None,
            "multibyte text must not panic"
        );
        assert_eq!(canonical_time("秘密の値"), None);
    }

    #[test]
    fn mac_aad_rules() {
        assert_eq!(
            mac_aad("2026-11-22T17:50:54.000Z").as_deref(),
            Some("2026-11-22T17:50:54Z")
        );
        assert_eq!(
            mac_aad("2026-11-22T17:50:54+00:00").as_deref(),
            Some("2026-11-22T17:50:54Z")
        );
        assert_eq!(
            mac_aad("2026-11-22T18:50:54+01:00").as_deref(),
            Some("2026-11-22T18:50:54+01:00")
        );
        assert_eq!(mac_aad("2026-11-22"), None);
        assert_eq!(mac_aad("garbage"), None);
        // Found by the tamper sweep: sops (Go's RFC 3339 parser) refuses these spellings.
        assert_eq!(mac_aad("2026-11-22t17:50:54Z"), None);
        assert_eq!(mac_aad("2026-11-22T17:50:54z"), None);
        assert_eq!(mac_aad("2026-11-22T17:50:54 Z"), None);
        assert_eq!(mac_aad("2026-11-22T17:50:54+0100"), None);
        assert_eq!(mac_aad("2026-11-22T17:50:\u{fffd}5Z"), None);
    }

    #[test]
    fn unix_formatting() {
        assert_eq!(format_unix(0), "1970-01-01T00:00:00Z");
        assert_eq!(format_unix(1_704_067_200), "2024-01-01T00:00:00Z");
        assert_eq!(format_unix(951_782_400), "2000-02-29T00:00:00Z");
        assert!(now_rfc3339().ends_with('Z'));
    }

    #[test]
    fn rfc3339_to_unix() {
        assert_eq!(parse_rfc3339_unix("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(
            parse_rfc3339_unix("2024-01-01T00:00:00Z"),
            Some(1_704_067_200)
        );
        assert_eq!(
            parse_rfc3339_unix("2000-02-29T00:00:00.123Z"),
            Some(951_782_400)
        );
        assert_eq!(
            parse_rfc3339_unix("2024-01-01T01:00:00+01:00"),
            Some(1_704_067_200)
        );
        assert_eq!(
            parse_rfc3339_unix("2023-12-31T19:00:00-05:00"),
            Some(1_704_067_200)
        );
        for secs in [0i64, 86_399, 951_782_400, 1_704_067_200, 4_102_444_800] {
            assert_eq!(parse_rfc3339_unix(&format_unix(secs)), Some(secs));
        }
        assert_eq!(parse_rfc3339_unix("2024-01-01"), None);
        assert_eq!(parse_rfc3339_unix("not a time"), None);
        assert_eq!(parse_rfc3339_unix("2024-02-30T00:00:00Z"), None);
    }
}
