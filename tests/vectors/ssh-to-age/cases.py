#!/usr/bin/env python3
"""Writes cases.json: what Mic92/ssh-to-age v1.3.0 prints and exits with, case by case.

Every expectation below was derived by reading its Go source (cmd/ssh-to-age/main.go,
convert.go) and what it calls (golang.org/x/crypto/ssh's ParseAuthorizedKey,
ParseKnownHosts and ParseRawPrivateKey*, Go's flag and encoding/base64): see README.md.
The tool itself was not run. The strings are written out literally here; only the age keys
of the ed25519 inputs are computed (and checked against the repository's known
conversions). Run from anywhere: python3 tests/vectors/ssh-to-age/cases.py
"""

import base64
import json
import os
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
VECTORS = os.path.dirname(HERE)
sys.path.insert(0, VECTORS)
from sshage import age_recipient, ed25519_blob  # noqa: E402


def vector(path):
    with open(os.path.join(VECTORS, path)) as f:
        return f.read()


# --- the age conversion (tests/vectors/sshage.py; checked below against known conversions)


def b64_string(s):
    return struct.pack(">I", len(s)) + s


# --- inputs -----------------------------------------------------------------------------------
ED_PUB = vector("generated/ssh-ed25519.pub")  # "ssh-ed25519 AAAA... sealbox-fixture-ed25519\n"
ED_LINE = ED_PUB.strip()
ED_TYPE, ED_BLOB = ED_LINE.split()[:2]
ED_REC = age_recipient(ED_LINE)
assert ED_REC == vector("generated/ssh-ed25519.age-recipient").strip()
ED_PROT = vector("generated/ssh-ed25519")  # passphrase-protected
ED_PASS = vector("generated/ssh-ed25519.passphrase").strip()
ED_UNPROT = vector("generated/ssh-ed25519.unprotected")
ED_ID = vector("generated/ssh-ed25519.age-identity").strip()

ED2_LINE = vector("sops-nix/ssh-ed25519-key.pub").strip()  # no comment
ED2_BLOB = ED2_LINE.split()[1]
ED2_REC = age_recipient(ED2_LINE)
assert ED2_REC == "age1a8pk4akrdamj7nvqy3zywgtny8dxz7t5xzu7u8v9mhrayp9freqsqatyrs"
ED2_PRIV = vector("sops-nix/ssh-ed25519-key")  # unprotected
# SHA-512(seed)[:32] of that key; `age-keygen -y` of it gives ED2_REC.
ED2_ID = "AGE-SECRET-KEY-1D88T3T22862F5SWX0V7M7CG9Q5T9FA90CCN9NVLJRCQATZ3WGL3QMR7CN4"

RSA_KEY = " ".join(vector("generated/ssh-rsa.pub").split()[:2])
RSA_PRIV = vector("sops-nix/ssh-key")  # unprotected OpenSSH RSA
ECDSA_LINE = vector("ssh-to-age/inputs/ecdsa-p256.pub").strip()  # "... root@host"
ECDSA_KEY = " ".join(ECDSA_LINE.split()[:2])
CERT_LINE = vector("ssh-to-age/inputs/ssh-ed25519-cert.pub").strip()
PKCS8 = vector("ssh-to-age/inputs/pkcs8-ed25519.pem")
# A FIDO (sk-) ed25519 public key, built from ED's point (no hardware needed to parse one).
SK_KEY = "sk-ssh-ed25519@openssh.com " + base64.b64encode(
    b64_string(b"sk-ssh-ed25519@openssh.com") + b64_string(ed25519_blob(ED_LINE)) + b64_string(b"ssh:")
).decode()

A = "{argv0}"
USAGE = (
    "Usage of {argv0}:\n"
    "  -i string\n"
    "    \tInput path. Reads by default from standard input (default \"-\")\n"
    "  -o string\n"
    "    \tOutput path. Prints by default to standard output (default \"-\")\n"
    "  -private-key\n"
    "    \tconvert private key instead of public key\n"
    "  -stdinpass\n"
    "    \tread private key passphrase from standard input\n"
    "  -version\n"
    "    \tshow version and exit\n"
)
SKIP = "skipped key: got {} key type, but only ed25519 keys are supported\n"


def pub_err(line, err):
    return f"{A}: failed to convert '{line}': failed to parse ssh public key: {err}\n"


def priv_err(content, err):
    return f"{A}: failed to convert '{content}': failed to parse ssh private key: {err}\n"


def priv_type(content, go_type):
    return (f"{A}: failed to convert '{content}': got {go_type} key type but: "
            "only ed25519 keys are supported\n")



cases = []


def case(name, why, args=(), stdin="", files=None, env=None, dirs=(), exit=0, stdout="",
         stderr="", files_after=None):
    assert not any(c["name"] == name for c in cases), name
    c = {"name": name, "why": why, "args": list(args), "stdin": stdin, "files": files or {},
         "dirs": list(dirs), "env": env or {}, "exit": exit, "stdout": stdout, "stderr": stderr}
    if files_after is not None:
        c["files_after"] = files_after
    cases.append(c)


KEY = {"key.pub": ED_PUB}

# --- flags ------------------------------------------------------------------------------------
case("version", "-version prints the version the build set (main.version, `dev` without "
     "-ldflags; nixpkgs sets the release number) and exits before reading any input",
     args=["-version", "-i", "missing.pub"], stdout="{version}\n")
case("help", "-h (also -help, --help): Go's flag package prints the usage on stderr, exit 0",
     args=["-h"], stderr=USAGE)
case("unknown-flag", "an unknown flag: the flag package's message, the usage, exit 2",
     args=["-x"], exit=2, stderr="flag provided but not defined: -x\n" + USAGE)
case("flag-without-value", "-i at the end has no value: exit 2",
     args=["-i"], exit=2, stderr="flag needs an argument: -i\n" + USAGE)
case("double-dash-flag", "Go's flag package accepts --flag like -flag",
     args=["--i", "key.pub"], files=KEY, stdout=ED_REC + "\n")
case("positional-argument-ignored", "a file named without -i is ignored: stdin is read "
     "(here empty: no output, exit 0)", args=["key.pub"], files=KEY)
case("flags-after-a-positional-are-not-parsed", "the flag package stops at the first "
     "non-flag, so this -i is an ignored argument too and stdin is converted",
     args=["key.pub", "-i", "key.pub"], files=KEY, stdin=ED2_LINE + "\n", stdout=ED2_REC + "\n")

# --- input and output -------------------------------------------------------------------------
case("stdin", "no flags: public keys from stdin, one age recipient per line on stdout",
     stdin=ED_PUB, stdout=ED_REC + "\n")
case("i-file", "-i FILE", args=["-i", "key.pub"], files=KEY, stdout=ED_REC + "\n")
case("i-dash-is-stdin", "-i - is stdin", args=["-i", "-"], stdin=ED_PUB, stdout=ED_REC + "\n")
case("i-missing-file", "os.ReadFile's error, wrapped; nothing is created for -o",
     args=["-i", "missing.pub", "-o", "out.txt"], exit=1,
     stderr=A + ": error reading missing.pub: open missing.pub: no such file or directory\n",
     files_after={"out.txt": None})
case("i-directory", "a directory opens but does not read",
     args=["-i", "dir"], dirs=["dir"], exit=1,
     stderr=A + ": error reading dir: read dir: is a directory\n")
case("o-file", "-o FILE: the recipients go to the file (created or truncated), nothing to stdout",
     args=["-i", "key.pub", "-o", "out.txt"], files={"key.pub": ED_PUB, "out.txt": "old\n"},
     files_after={"out.txt": ED_REC + "\n"})
case("o-in-missing-directory", "os.Create's error, wrapped",
     args=["-i", "key.pub", "-o", "nodir/out.txt"], files=KEY, exit=1,
     stderr=A + ": failed to create nodir/out.txt: open nodir/out.txt: no such file or directory\n")
case("o-keeps-what-was-written-before-an-error", "the output is created before converting and "
     "written key by key: a bad second line leaves the first recipient in it, exit 1",
     args=["-i", "keys.txt", "-o", "out.txt"], files={"keys.txt": ED_PUB + "garbage\n"}, exit=1,
     stderr=pub_err("garbage", "EOF"), files_after={"out.txt": ED_REC + "\n"})

# --- public key lines -------------------------------------------------------------------------
case("authorized-key-without-comment", "a line starting with `ssh-` is parsed as an "
     "authorized_keys line", stdin=ED2_LINE + "\n", stdout=ED2_REC + "\n")
case("authorized-key-comment-with-spaces", "the comment of an `ssh-` line may hold spaces",
     stdin=f"{ED2_LINE} my laptop key\n", stdout=ED2_REC + "\n")
case("no-trailing-newline", "the last line needs no newline", stdin=ED2_LINE, stdout=ED2_REC + "\n")
case("several-lines", "one recipient per key, in order, duplicates kept",
     stdin=f"{ED_LINE}\n{ED2_LINE}\n{ED_LINE}\n", stdout=f"{ED_REC}\n{ED2_REC}\n{ED_REC}\n")
case("comments-and-blank-lines", "empty lines and lines starting with # are skipped",
     stdin=f"# a comment\n\n{ED2_LINE}\n#\n\n", stdout=ED2_REC + "\n")
case("empty-input", "no input: no output, exit 0")
case("only-comments", "nothing to convert is no error", stdin="# nothing\n\n")
case("non-ed25519-skipped", "ssh-rsa is parsed, then skipped with a warning on stderr; the "
     "exit code stays 0 even when nothing was converted",
     stdin=RSA_KEY + " rsa-comment\n", stderr=SKIP.format("ssh-rsa"))
case("ssh-keyscan-output", "ssh-keyscan lines (`host type key`) are parsed as known_hosts "
     "lines; its `# host:port SSH-2.0-...` lines are comments; rsa and ecdsa are skipped",
     stdin=("# host.example:22 SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\n"
            f"host.example {RSA_KEY}\n"
            "# host.example:22 SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\n"
            f"host.example {ECDSA_KEY}\n"
            "# host.example:22 SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\n"
            f"host.example {ED_TYPE} {ED_BLOB}\n"),
     stdout=ED_REC + "\n",
     stderr=SKIP.format("ssh-rsa") + SKIP.format("ecdsa-sha2-nistp256"))
case("ssh-keyscan-port", "`[host]:port` is just the host field",
     stdin=f"[host.example]:2222 ssh-ed25519 {ED2_BLOB}\n", stdout=ED2_REC + "\n")
case("known-hosts-hashed", "a hashed host field (HashKnownHosts) is ignored like any host",
     stdin=f"|1|F1E1KeoE/eEWhi10WpGv4OdiO6Y=|3988QV0VE8wmZL7suNrYQLITLCg= ssh-ed25519 {ED2_BLOB}\n",
     stdout=ED2_REC + "\n")
case("known-hosts-host-list", "a comma-separated host list",
     stdin=f"host.example,192.0.2.7 ssh-ed25519 {ED2_BLOB}\n", stdout=ED2_REC + "\n")
case("known-hosts-cert-authority", "a @cert-authority marker is dropped: the CA key is "
     "converted like any key", stdin=f"@cert-authority *.example.com ssh-ed25519 {ED2_BLOB}\n",
     stdout=ED2_REC + "\n")
case("known-hosts-revoked", "a @revoked key is converted too (the marker is not looked at)",
     stdin=f"@revoked host.example ssh-ed25519 {ED2_BLOB} old\n", stdout=ED2_REC + "\n")
case("known-hosts-marker-counts-as-a-field", "the 3-to-5 field limit is checked before the "
     "marker is removed: a marker and a two-word comment are six fields",
     stdin=f"@revoked host.example ssh-ed25519 {ED2_BLOB} old key\n", exit=1,
     stderr=pub_err(f"@revoked host.example ssh-ed25519 {ED2_BLOB} old key",
                    "ssh: invalid entry in known_hosts data"))
case("known-hosts-two-word-comment", "a known_hosts line has 3 to 5 fields: a two-word "
     "comment fits", stdin=f"host.example ssh-ed25519 {ED2_BLOB} two words\n",
     stdout=ED2_REC + "\n")
case("known-hosts-three-word-comment", "six fields: x/crypto refuses the line, and one bad "
     "line ends the run (exit 1)",
     stdin=f"host.example ssh-ed25519 {ED2_BLOB} my laptop key\n", exit=1,
     stderr=pub_err(f"host.example ssh-ed25519 {ED2_BLOB} my laptop key",
                           "ssh: invalid entry in known_hosts data"))
case("known-hosts-non-ed25519-skipped", "an ecdsa known_hosts line is skipped",
     stdin=f"host.example {ECDSA_KEY}\n", stderr=SKIP.format("ecdsa-sha2-nistp256"))
case("known-hosts-sk-ed25519-skipped", "a FIDO sk-ssh-ed25519 key is not ssh-ed25519: skipped",
     stdin=f"host.example {SK_KEY}\n", stderr=SKIP.format("sk-ssh-ed25519@openssh.com"))
case("authorized-keys-options", "an authorized_keys line with options does not start with "
     "`ssh-`, so it is read as a known_hosts line whose host field is the options: it converts "
     "when the options hold no space",
     stdin=f"no-pty,no-agent-forwarding ssh-ed25519 {ED2_BLOB} deploy\n", stdout=ED2_REC + "\n")
case("authorized-keys-command-option", "a quoted command without spaces is one field too",
     stdin=f'command="/usr/bin/true",no-pty ssh-ed25519 {ED2_BLOB}\n', stdout=ED2_REC + "\n")
case("authorized-keys-option-with-space", "a space inside the quoted command splits it into "
     "two fields: `ssh-ed25519` lands where the base64 key should be and fails to decode "
     "at its `-` (byte 3), exit 1",
     stdin=f'command="echo hi",no-pty ssh-ed25519 {ED2_BLOB} deploy\n', exit=1,
     stderr=pub_err(f'command="echo hi",no-pty ssh-ed25519 {ED2_BLOB} deploy',
                           "illegal base64 data at input byte 3"))
case("key-type-field-ignored", "the key type comes from the base64 blob; the first field "
     "of an `ssh-` line is not compared with it", stdin=f"ssh-rsa {ED2_BLOB} mislabelled\n",
     stdout=ED2_REC + "\n")
case("certificate-skipped", "an ed25519 certificate parses as a certificate type: skipped",
     stdin=CERT_LINE + "\n", stderr=SKIP.format("ssh-ed25519-cert-v01@openssh.com"))
case("ecdsa-public-key-file-fails", "an id_ecdsa.pub line does not start with `ssh-`: read as "
     "known_hosts (`host`=key type, key=comment), the comment fails to decode (at `@`, byte "
     "4): a fatal error, not a skip",
     stdin=ECDSA_LINE + "\n", exit=1,
     stderr=pub_err(ECDSA_LINE, "illegal base64 data at input byte 4"))
case("ecdsa-public-key-without-comment-fails", "two fields are too few for known_hosts",
     stdin=ECDSA_KEY + "\n", exit=1,
     stderr=pub_err(ECDSA_KEY, "ssh: invalid entry in known_hosts data"))
case("indented-key-fails", "leading spaces: not `ssh-`, so known_hosts, with two fields",
     stdin=f"  {ED2_LINE}\n", exit=1,
     stderr=pub_err(f"  {ED2_LINE}", "ssh: invalid entry in known_hosts data"))
case("whitespace-line-fails", "a line of spaces is not skipped (only empty ones are): x/crypto "
     "finds no entry in it (io.EOF), exit 1 after the keys before it were printed",
     stdin=f"{ED2_LINE}\n   \n{ED_LINE}\n", exit=1, stdout=ED2_REC + "\n",
     stderr=pub_err("   ", "EOF"))
case("indented-comment-fails", "only lines starting with # are comments",
     stdin=" # indented\n", exit=1, stderr=pub_err(" # indented", "EOF"))
case("crlf-lines", "lines are split at \\n; x/crypto drops the \\r of each", 
     stdin=f"{ED_LINE}\r\n{ED2_LINE}\r\n", stdout=f"{ED_REC}\n{ED2_REC}\n")
case("crlf-blank-line-fails", "an empty CRLF line is a lone \\r: not empty, so it fails "
     "(the message holds the raw \\r)",
     stdin=f"{ED2_LINE}\r\n\r\n", exit=1, stdout=ED2_REC + "\n",
     stderr=pub_err("\r", "EOF"))
case("garbled-word", "one word with no space: x/crypto skips it and reports io.EOF",
     stdin="garbage\n", exit=1, stderr=pub_err("garbage", "EOF"))
case("garbled-words", "five words: host `this`, key `not` fails to decode at byte 0",
     stdin="this is not a key\n", exit=1,
     stderr=pub_err("this is not a key", "illegal base64 data at input byte 0"))
case("garbled-ssh-line", "an `ssh-` line whose key is not base64: ParseAuthorizedKey also "
     "tries the first field as options, finds nothing, and reports its first error",
     stdin="ssh-ed25519 garbled\n", exit=1,
     stderr=pub_err("ssh-ed25519 garbled", "ssh: no key found; last parsing error "
                           "for ignored line: illegal base64 data at input byte 4"))
case("truncated-ssh-line", "valid base64, too short for a key",
     stdin="ssh-ed25519 AAAA\n", exit=1,
     stderr=pub_err("ssh-ed25519 AAAA", "ssh: no key found; last parsing error for "
                           "ignored line: ssh: short read"))
case("key-type-only", "an `ssh-` word alone", stdin="ssh-ed25519\n", exit=1,
     stderr=pub_err("ssh-ed25519", "ssh: no key found"))
case("passphrase-ignored-for-public-keys", "SSH_TO_AGE_PASSPHRASE and -stdinpass only matter "
     "with -private-key (stdin is not read here)",
     args=["-stdinpass", "-i", "key.pub"], files=KEY, stdin="ignored\n",
     env={"SSH_TO_AGE_PASSPHRASE": "ignored"}, stdout=ED_REC + "\n")

# --- private keys -----------------------------------------------------------------------------
case("private-key", "-private-key: the X25519 identity of an unprotected OpenSSH ed25519 key",
     args=["-private-key", "-i", "id_ed25519"], files={"id_ed25519": ED2_PRIV},
     stdout=ED2_ID + "\n")
case("private-key-stdin", "the private key from stdin",
     args=["-private-key"], stdin=ED2_PRIV, stdout=ED2_ID + "\n")
case("private-key-o-file", "-o FILE with -private-key",
     args=["-private-key", "-i", "id_ed25519", "-o", "key.txt"], files={"id_ed25519": ED2_PRIV},
     files_after={"key.txt": ED2_ID + "\n"})
case("private-key-unprotected-copy", "the generated key without its passphrase",
     args=["-private-key", "-i", "id"], files={"id": ED_UNPROT}, stdout=ED_ID + "\n")
case("private-key-passphrase-protected", "a protected key without a passphrase; the message "
     "quotes the WHOLE input (the encrypted key) and the output file is left empty",
     args=["-private-key", "-i", "id", "-o", "key.txt"], files={"id": ED_PROT}, exit=1,
     stderr=priv_err(ED_PROT, "ssh: this private key is passphrase protected"),
     files_after={"key.txt": ""})
case("private-key-passphrase-env", "SSH_TO_AGE_PASSPHRASE opens a protected key",
     args=["-private-key", "-i", "id"], files={"id": ED_PROT},
     env={"SSH_TO_AGE_PASSPHRASE": ED_PASS}, stdout=ED_ID + "\n")
case("private-key-passphrase-env-empty", "an empty SSH_TO_AGE_PASSPHRASE is no passphrase",
     args=["-private-key", "-i", "id"], files={"id": ED_PROT},
     env={"SSH_TO_AGE_PASSPHRASE": ""}, exit=1,
     stderr=priv_err(ED_PROT, "ssh: this private key is passphrase protected"))
case("private-key-wrong-passphrase", "the check integers do not match after decryption",
     args=["-private-key", "-i", "id"], files={"id": ED_PROT},
     env={"SSH_TO_AGE_PASSPHRASE": "wrong"}, exit=1,
     stderr=priv_err(ED_PROT, "x509: decryption password incorrect"))
case("private-key-passphrase-for-unprotected-key", "a passphrase for an unprotected OpenSSH "
     "key is an error, not ignored",
     args=["-private-key", "-i", "id"], files={"id": ED2_PRIV},
     env={"SSH_TO_AGE_PASSPHRASE": "unneeded"}, exit=1,
     stderr=priv_err(ED2_PRIV, "ssh: key is not password protected"))
case("private-key-stdinpass", "-stdinpass reads the passphrase from stdin, dropping the "
     "trailing \\r and \\n", args=["-private-key", "-stdinpass", "-i", "id"],
     files={"id": ED_PROT}, stdin=ED_PASS + "\r\n", stdout=ED_ID + "\n")
case("private-key-stdinpass-over-env", "with -stdinpass the environment variable is not used",
     args=["-private-key", "-stdinpass", "-i", "id"], files={"id": ED_PROT},
     stdin=ED_PASS + "\n", env={"SSH_TO_AGE_PASSPHRASE": "wrong"}, stdout=ED_ID + "\n")
case("private-key-stdinpass-empty", "an empty stdin is no passphrase",
     args=["-private-key", "-stdinpass", "-i", "id"], files={"id": ED_PROT},
     env={"SSH_TO_AGE_PASSPHRASE": ED_PASS}, exit=1,
     stderr=priv_err(ED_PROT, "ssh: this private key is passphrase protected"))
case("private-key-stdinpass-needs-i", "key and passphrase cannot both come from stdin "
     "(checked after the key was read)", args=["-private-key", "-stdinpass"], stdin=ED_PROT,
     exit=1, stderr=A + ": cannot read both private key and passphrase from stdin\n")
case("private-key-rsa", "an RSA key parses, then is refused (a fatal error here, unlike the "
     "public-key skip); the message quotes the whole key",
     args=["-private-key", "-i", "id_rsa"], files={"id_rsa": RSA_PRIV}, exit=1,
     stderr=priv_type(RSA_PRIV, "*rsa.PrivateKey"))
case("private-key-pkcs8-ed25519", "a PKCS#8 ed25519 key (openssl genpkey) parses to "
     "ed25519.PrivateKey, not the *ed25519.PrivateKey the tool expects: refused",
     args=["-private-key", "-i", "key.pem"], files={"key.pem": PKCS8}, exit=1,
     stderr=priv_type(PKCS8, "ed25519.PrivateKey"))
case("private-key-pkcs8-with-passphrase", "a passphrase for an unencrypted PEM key",
     args=["-private-key", "-i", "key.pem"], files={"key.pem": PKCS8},
     env={"SSH_TO_AGE_PASSPHRASE": "unneeded"}, exit=1,
     stderr=priv_err(PKCS8, "ssh: not an encrypted key"))
case("private-key-given-a-public-key", "no PEM block in the input",
     args=["-private-key", "-i", "key.pub"], files=KEY, exit=1,
     stderr=priv_err(ED_PUB, "ssh: no key found"))
case("private-key-garbage", "not a key at all", args=["-private-key"], stdin="garbage", exit=1,
     stderr=priv_err("garbage", "ssh: no key found"))
case("private-key-empty", "empty input", args=["-private-key"], exit=1,
     stderr=priv_err("", "ssh: no key found"))

# --- where sealbox differs on purpose ---------------------------------------------------------
# A case's "sealbox" entry replaces the fields it names for `sealbox ssh-to-age` (and sealbox
# started as `ssh-to-age`); its "why" says why sealbox does not copy the tool there.


def differ(name, why, **fields):
    c = next(c for c in cases if c["name"] == name)
    c["sealbox"] = dict(fields, why=why)


NO_QUOTE = ("sealbox never quotes a private key in a message (the tool prints the whole input, "
            "which may be an unencrypted key, into logs): it names where the key came from")
for c in cases:
    prefix = A + ": failed to convert '"
    if "-private-key" in c["args"] and c["stderr"].startswith(prefix):
        quoted_end = c["stderr"].rindex("': ")
        reason = c["stderr"][quoted_end + 3:]
        src = c["args"][c["args"].index("-i") + 1] if "-i" in c["args"] else None
        where = f"in '{src}'" if src else "on stdin"
        differ(c["name"], NO_QUOTE,
               stderr=f"{A}: failed to convert the private key {where}: {reason}")
differ("o-in-missing-directory", "sealbox creates the missing directories of -o (0700: the "
       "usual target is ~/.config/sops/age/keys.txt in a fresh home)",
       exit=0, stderr="", files_after={"nodir/out.txt": ED_REC + "\n"})
differ("o-keeps-what-was-written-before-an-error", "sealbox writes -o atomically once "
       "everything converted: a failure leaves no partial file", files_after={"out.txt": None})
differ("private-key-passphrase-protected", "sealbox writes -o atomically once the key "
       "converted: a failure leaves no empty file (and never quotes the key)",
       stderr=f"{A}: failed to convert the private key in 'id': failed to parse ssh private key: "
              "ssh: this private key is passphrase protected\n",
       files_after={"key.txt": None})

doc = {
    "what": "Behaviour of Mic92/ssh-to-age, derived from its source (not run): see README.md",
    "source": {
        "ssh-to-age": "v1.3.0 (a5c0f5982b5dde4e5ab9dc21b7644a63508a088e); main.go and "
                      "convert.go are unchanged at master 2643a7fda399ae849e1caa4e050bb546ea63558a",
        "golang.org/x/crypto": "v0.50.0 (ssh-to-age v1.3.0's go.mod)",
    },
    "run": "in an empty directory holding `files` (text, written as given) and `dirs`; "
           "`args` after the program name; `stdin` as standard input; the environment "
           "without SSH_TO_AGE_PASSPHRASE unless `env` sets it",
    "placeholders": {
        "{argv0}": "the program's argv[0] exactly as it was started (Go prints os.Args[0])",
        "{version}": "the version the build embeds",
    },
    "compare": "exit code, stdout and stderr exactly (after the placeholders); `files_after`: "
               "each file's exact content afterwards, null for a file that must not exist",
    "sealbox": "a case's `sealbox` object replaces the fields it names when the program is "
               "sealbox (`sealbox ssh-to-age`, or sealbox started as `ssh-to-age`); its `why` "
               "says why sealbox differs there on purpose",
    "cases": cases,
}
with open(os.path.join(HERE, "cases.json"), "w") as f:
    json.dump(doc, f, indent=1, ensure_ascii=False)
    f.write("\n")
print(f"{len(cases)} cases written to cases.json")
