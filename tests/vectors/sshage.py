"""ssh-to-age's conversion, written out independently of sealbox for the fixture scripts
(generated/make.sh, ssh-to-age/cases.py): an ssh-ed25519 public key -> its `age1...`
recipient (the Edwards y -> Montgomery u map, Bech32 "age"), and an unencrypted OpenSSH
ed25519 private key -> its `AGE-SECRET-KEY-1...` identity (the first 32 bytes of
SHA-512(seed), Bech32 "age-secret-key-", upper case). This is what Mic92/ssh-to-age computes.
"""

import base64
import hashlib
import struct

CHARSET = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"


def _polymod(values):
    gen = [0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3]
    chk = 1
    for v in values:
        b = chk >> 25
        chk = (chk & 0x1FFFFFF) << 5 ^ v
        for i in range(5):
            chk ^= gen[i] if (b >> i) & 1 else 0
    return chk


def bech32(hrp, data):
    acc, bits, five = 0, 0, []
    for b in data:
        acc, bits = acc << 8 | b, bits + 8
        while bits >= 5:
            bits -= 5
            five.append(acc >> bits & 31)
    if bits:
        five.append(acc << (5 - bits) & 31)
    exp = [ord(c) >> 5 for c in hrp] + [0] + [ord(c) & 31 for c in hrp]
    pm = _polymod(exp + five + [0] * 6) ^ 1
    check = [pm >> 5 * (5 - i) & 31 for i in range(6)]
    return hrp + "1" + "".join(CHARSET[d] for d in five + check)


def ssh_string(buf, off):
    (n,) = struct.unpack(">I", buf[off:off + 4])
    return buf[off + 4:off + 4 + n], off + 4 + n


def ed25519_blob(line):
    """The 32-byte public key of an ssh-ed25519 public key line (key type, base64, ...)."""
    blob = base64.b64decode(line.split()[1])
    kt, off = ssh_string(blob, 0)
    pk, _ = ssh_string(blob, off)
    assert kt == b"ssh-ed25519" and len(pk) == 32
    return pk


def age_recipient(line):
    """The `age1...` recipient of an ssh-ed25519 public key line."""
    p = 2**255 - 19
    y = int.from_bytes(ed25519_blob(line), "little") & ((1 << 255) - 1)
    u = (1 + y) * pow(1 - y, p - 2, p) % p
    return bech32("age", u.to_bytes(32, "little"))


def age_identity(pem_text, public_key):
    """The `AGE-SECRET-KEY-1...` identity of an unencrypted OpenSSH ed25519 private key
    (PEM text) whose public key is `public_key` (32 bytes, checked)."""
    pem = pem_text.split("-----")[2]
    raw = base64.b64decode("".join(pem.split()))
    assert raw.startswith(b"openssh-key-v1\0")
    off = len(b"openssh-key-v1\0")
    cipher, off = ssh_string(raw, off)
    kdf, off = ssh_string(raw, off)
    _, off = ssh_string(raw, off)  # kdf options
    off += 4  # number of keys
    _, off = ssh_string(raw, off)  # public key
    priv, _ = ssh_string(raw, off)
    assert cipher == b"none" and kdf == b"none"
    o = 8  # two check ints
    kt, o = ssh_string(priv, o)
    pk2, o = ssh_string(priv, o)
    sk, o = ssh_string(priv, o)
    assert kt == b"ssh-ed25519" and pk2 == public_key and len(sk) == 64
    scalar = hashlib.sha512(sk[:32]).digest()[:32]
    return bech32("age-secret-key-", scalar).upper()
