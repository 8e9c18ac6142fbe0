#!/usr/bin/env python3
"""Deterministic benchmark inputs for secrets files: the same generator the project's performance goals were set with.

usage: gen.py KIND LEAVES OUT
  KIND: flat-yaml | commented-yaml | nested-yaml | json | dotenv | binary
        (LEAVES = bytes for binary)

The same KIND and LEAVES always give the same bytes. Only the standard library is used:
the nested YAML is written by a small emitter that produces what PyYAML's
`safe_dump(doc, sort_keys=False)` gives for these documents (checked with `--check` when
PyYAML is installed)."""
import json
import random
import re
import sys

ALNUM = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
KINDS = ("flat-yaml", "commented-yaml", "nested-yaml", "json", "dotenv", "binary")


def nested(n, rng):
    """services (maps) of groups (maps) holding lists and scalars; n leaves in total."""

    def word(k=40):
        return "".join(rng.choice(ALNUM) for _ in range(k))

    def leaf(i):
        r = i % 10
        if r < 6:
            return word()
        if r == 6:
            return rng.randint(0, 10**9)
        if r == 7:
            return rng.choice([True, False])
        if r == 8:
            return round(rng.random() * 1000, 3)
        return "line one " + word(10) + "\nline two " + word(10) + "\n"

    doc, i = {}, 0
    while i < n:
        svc = doc.setdefault(f"service_{i // 100}", {})
        grp = svc.setdefault(f"group_{(i // 10) % 10}", {})
        if i % 10 == 9:
            grp["list"] = [word(12), word(12)]
            i += 2
        else:
            grp[f"key_{i % 10}"] = leaf(i)
            i += 1
    return doc


# A plain scalar that YAML would read as something other than a string must be quoted.
_NOT_STR = re.compile(r"^([-+]?[0-9_.]+([eE][-+]?[0-9]+)?|0x[0-9a-fA-F_]+|0o?[0-7_]+|"
                      r"(y|Y|yes|Yes|YES|n|N|no|No|NO|true|True|TRUE|false|False|FALSE|"
                      r"on|On|ON|off|Off|OFF|null|Null|NULL|~))$")


def yaml_scalar(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return repr(v)
    if "\n" in v or _NOT_STR.match(v) or not v:
        return json.dumps(v)  # not produced by nested() for plain values
    return v


def yaml_dump(doc):
    out = []

    def emit(m, ind):
        for k, v in m.items():
            if isinstance(v, dict):
                out.append(f"{' ' * ind}{k}:\n")
                emit(v, ind + 2)
            elif isinstance(v, list):
                out.append(f"{' ' * ind}{k}:\n")
                for e in v:
                    out.append(f"{' ' * ind}- {yaml_scalar(e)}\n")
            else:
                out.append(f"{' ' * ind}{k}: {yaml_scalar(v)}\n")

    emit(doc, 0)
    return "".join(out)


def flat_yaml(n, seed):
    """n `key_i: <40 random characters>` lines from the random seed `seed`."""
    rng = random.Random(seed)
    return "".join(f"key_{i}: {''.join(rng.choice(ALNUM) for _ in range(40))}\n" for i in range(n)).encode()


def commented_yaml(n, seed):
    """flat_yaml with a comment on top and one before every 100th key: any comment sends
    a file to the general YAML loader (whose duplicate-key check was quadratic)."""
    lines = flat_yaml(n, seed).decode().splitlines(keepends=True)
    out = ["# generated secrets\n"]
    for i, line in enumerate(lines):
        if i and i % 100 == 0:
            out.append(f"# block {i // 100}\n")
        out.append(line)
    return "".join(out).encode()


def generate(kind, n):
    """The bytes of input KIND with N leaves (bytes for binary)."""
    rng = random.Random(f"{kind}-{n}")

    def word(k=40):
        return "".join(rng.choice(ALNUM) for _ in range(k))

    if kind == "binary":
        return rng.randbytes(n)
    if kind == "flat-yaml":
        return flat_yaml(n, f"{kind}-{n}")
    if kind == "commented-yaml":
        return commented_yaml(n, f"{kind}-{n}")
    if kind == "dotenv":
        return "".join(f"KEY_{i}={word()}\n" for i in range(n)).encode()
    if kind == "json":
        return json.dumps(nested(n, rng), indent=2).encode()
    if kind == "nested-yaml":
        return yaml_dump(nested(n, rng)).encode()
    raise SystemExit(f"unknown kind {kind!r}; one of {', '.join(KINDS)}")


def main(argv):
    if len(argv) == 2 and argv[1] == "--check":
        import yaml  # PyYAML, only for this self-check

        for n in (100, 1000, 10000):
            doc = nested(n, random.Random(f"nested-yaml-{n}"))
            want = yaml.safe_dump(doc, sort_keys=False, allow_unicode=True)
            assert yaml_dump(doc) == want, f"nested-yaml {n} differs from PyYAML"
        print("nested-yaml matches PyYAML safe_dump")
        return
    if len(argv) != 4:
        raise SystemExit(__doc__)
    with open(argv[3], "wb") as f:
        f.write(generate(argv[1], int(argv[2])))


if __name__ == "__main__":
    main(sys.argv)
