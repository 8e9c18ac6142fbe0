//! Shamir secret sharing over GF(2^8), as sops does it for several key groups.
//!
//! The field uses the AES polynomial x^8+x^4+x^3+x+1. A share is the polynomial values
//! for every secret byte followed by the x-coordinate (one byte, 1-based).

use crate::error::{Error, ErrorKind, Result};
use rand::RngCore;
use zeroize::Zeroizing;

fn mul(mut a: u8, mut b: u8) -> u8 {
    // Constant-time in the data: always eight rounds.
    let mut r = 0u8;
    for _ in 0..8 {
        r ^= a & (0u8.wrapping_sub(b & 1));
        let hi = 0u8.wrapping_sub(a >> 7);
        a = (a << 1) ^ (0x1b & hi);
        b >>= 1;
    }
    r
}

fn inv(a: u8) -> u8 {
    // a^254 = a^-1 for a != 0.
    let mut r = 1u8;
    for _ in 0..254 {
        r = mul(r, a);
    }
    r
}

/// Splits `secret` into `n` shares, any `k` of which rebuild it (2 <= k <= n <= 255).
pub fn split(secret: &[u8], n: usize, k: usize) -> Result<Vec<Zeroizing<Vec<u8>>>> {
    if k < 2 {
        return Err(Error::new(ErrorKind::Other, "threshold must be at least 2"));
    }
    if n < k || n > 255 {
        return Err(Error::new(ErrorKind::Other, format!(
            "cannot split the data key into {n} parts with threshold {k}: need 2 <= threshold <= groups <= 255"
        )));
    }
    let mut shares: Vec<Zeroizing<Vec<u8>>> = (0..n)
        .map(|_| Zeroizing::new(Vec::with_capacity(secret.len() + 1)))
        .collect();
    let mut coeffs = Zeroizing::new(vec![0u8; k]);
    for &s in secret {
        coeffs[0] = s;
        rand::rngs::OsRng.fill_bytes(&mut coeffs[1..]);
        for (i, share) in shares.iter_mut().enumerate() {
            let x = (i + 1) as u8;
            // Horner evaluation.
            let mut y = 0u8;
            for &c in coeffs.iter().rev() {
                y = mul(y, x) ^ c;
            }
            share.push(y);
        }
    }
    for (i, share) in shares.iter_mut().enumerate() {
        share.push((i + 1) as u8);
    }
    Ok(shares)
}

/// Rebuilds the secret from shares (each ends with its x-coordinate).
pub fn combine(shares: &[Zeroizing<Vec<u8>>]) -> Result<Zeroizing<Vec<u8>>> {
    let err = |m: &str| Error::new(ErrorKind::DataKeyUnavailable, m.to_string());
    if shares.len() < 2 {
        return Err(err(
            "at least two key-group shares are needed to rebuild the data key",
        ));
    }
    let len = shares[0].len();
    if len < 2 || shares.iter().any(|s| s.len() != len) {
        return Err(err("the key-group shares have different lengths"));
    }
    let xs: Vec<u8> = shares.iter().map(|s| s[len - 1]).collect();
    for (i, x) in xs.iter().enumerate() {
        if *x == 0 || xs[..i].contains(x) {
            return Err(err("two key-group shares have the same index"));
        }
    }
    // Lagrange basis at 0.
    let basis: Vec<u8> = (0..xs.len())
        .map(|j| {
            let mut l = 1u8;
            for (m, &xm) in xs.iter().enumerate() {
                if m != j {
                    l = mul(l, mul(xm, inv(xs[j] ^ xm)));
                }
            }
            l
        })
        .collect();
    let mut out = Zeroizing::new(vec![0u8; len - 1]);
    for (i, o) in out.iter_mut().enumerate() {
        *o = shares
            .iter()
            .zip(&basis)
            .fold(0u8, |acc, (s, &l)| acc ^ mul(s[i], l));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Zeroizing<Vec<u8>> {
        Zeroizing::new(
            (0..s.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
                .collect(),
        )
    }

    // TV-6 (docs/format.md#test-vectors): two shares from a real sops file.
    #[test]
    fn spec_tv6() {
        let a = hex("416beed98c246ca3860d9a0347d3976dd809cb2a8e7c3a31a51be81a18ed3cfc01");
        let b = hex("bb96645d006dd5763c6bbec2129c4fe1d42e1e7cad1bbcdc22a82090a32b8f6e02");
        let k = combine(&[a.clone(), b.clone()]).unwrap();
        assert_eq!(
            &k[..],
            &hex("17c961a501eaf219192f86b5741fdfe0dc14711866a8b16ad883599571afa47b")[..]
        );
        assert_eq!(&combine(&[b, a]).unwrap()[..], &k[..]);
    }

    #[test]
    fn any_k_of_n_rebuild() {
        let secret: Vec<u8> = (0..32).map(|i| (i * 7 + 3) as u8).collect();
        let shares = split(&secret, 3, 2).unwrap();
        for (i, j) in [(0, 1), (0, 2), (1, 2)] {
            let got = combine(&[shares[i].clone(), shares[j].clone()]).unwrap();
            assert_eq!(&got[..], &secret[..]);
        }
        assert!(split(&secret, 2, 1).is_err());
        assert!(combine(&[shares[0].clone(), shares[0].clone()]).is_err());
    }

    #[test]
    fn field_inverse() {
        for a in 1..=255u8 {
            assert_eq!(mul(a, inv(a)), 1);
        }
    }
}
