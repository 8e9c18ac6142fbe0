# Evaluation tests of the sealbox NixOS and home-manager modules with nothing
# but nixpkgs' lib (docs/nixos-module.md#evaluating-without-nixpkgs): option
# stubs for the host options the module touches, a stub `pkgs`, `lib.evalModules`.
#
#   nix-instantiate --eval --strict --json nix/tests/eval.nix \
#     --arg lib 'import /path/to/nixpkgs/lib'
#
# Result: { failures = [ "<case>: <problem>" … ]; checked = <number of checks>; }
# – the tests pass when `failures` is empty.
{ lib }:
let
  pkgs = import ./pkgs-stub.nix { inherit lib; };
  sopsFile = ../../examples/secrets.enc.yaml;
  sopsFileHash = builtins.hashString "sha256" (builtins.readFile sopsFile);
  keyFile = "/var/lib/sealbox/key.txt";
  ph = n: "<SOPS:${builtins.hashString "sha256" n}:PLACEHOLDER>";

  evalNixos =
    modules:
    lib.evalModules {
      modules = [
        ./stubs.nix
        ../modules/nixos.nix
        { _module.args.pkgs = pkgs; }
      ] ++ modules;
    };
  evalHm =
    modules:
    lib.evalModules {
      modules = [
        ./hm-stubs.nix
        ../modules/home-manager.nix
        { _module.args.pkgs = pkgs; }
      ] ++ modules;
    };

  plain = s: builtins.unsafeDiscardStringContext (toString s);
  json = d: builtins.fromJSON (builtins.unsafeDiscardStringContext d.text);
  show = v: builtins.unsafeDiscardStringContext (builtins.toJSON v);

  summary =
    ev:
    let
      c = ev.config;
    in
    {
      failedAssertions = map (a: a.message) (lib.filter (a: !a.assertion) c.assertions);
      warnings = c.warnings;
      manifest = json c.system.build.sops-nix-manifest;
      usersManifest = json c.system.build.sops-nix-users-manifest;
      checkPhase = plain c.system.build.sops-nix-manifest.checkPhase;
      scripts = lib.mapAttrs (_: s: if builtins.isString s then { text = plain s; } else s // { text = plain s.text; }) c.system.activationScripts;
      services = c.systemd.services;
    };

  # Check helpers: each returns a list of failure strings.
  eq =
    what: actual: expected:
    if actual == expected then [ ] else [ "${what}: expected ${show expected}, got ${show actual}" ];
  ok = what: cond: if cond then [ ] else [ what ];
  hasMsg =
    what: msgs: needle:
    ok "${what}: no message containing '${needle}' in ${show msgs}" (lib.any (lib.hasInfix needle) msgs);
  # Evaluating `v` deeply must fail (a throw: type error, manifest check, …).
  fails =
    what: v:
    ok "${what}: evaluation succeeded but should fail" (!(builtins.tryEval (builtins.deepSeq v v)).success);
  case = name: checks: map (f: "${name}: ${f}") (lib.flatten checks);

  base = {
    sops.defaultSopsFile = sopsFile;
    sops.age.keyFile = keyFile;
  };

  # --- a regular host: secrets, template, owners, a renamed secret ---------------------------
  basic = summary (evalNixos [
    base
    (
      { config, ... }:
      {
        users.users.app.group = "appgrp";
        sops.secrets.api_token.restartUnits = [ "app.service" ];
        sops.secrets."db/password" = {
          key = "database/password";
          owner = "app";
          mode = "0440";
        };
        sops.secrets.renamed = {
          name = "renamed-file";
          key = "api_token";
          path = "/etc/app/token";
        };
        sops.templates."app.env" = {
          content = ''
            TOKEN=${config.sops.placeholder.api_token}
            OTHER=${config.sops.placeholder.renamed}
          '';
          restartUnits = [ "app.service" ];
        };
      }
    )
  ]);
  bm = basic.manifest;
  secretByName = m: n: lib.findFirst (s: s.name == n) null m.secrets;

  basicChecks = case "basic" [
    (eq "failed assertions" basic.failedAssertions [ ])
    (eq "warnings" basic.warnings [ ])
    (eq "secret names (sorted by attribute)" (map (s: s.name) bm.secrets) [
      "api_token"
      "db/password"
      "renamed-file"
    ])
    (eq "paths" (map (s: s.path) bm.secrets) [
      "/run/secrets/api_token"
      "/run/secrets/db/password"
      "/etc/app/token"
    ])
    (eq "keys" (map (s: s.key) bm.secrets) [
      "api_token"
      "database/password"
      "api_token"
    ])
    (eq "modes" (map (s: s.mode) bm.secrets) [
      "0400"
      "0440"
      "0400"
    ])
    (eq "owners" (map (s: s.owner) bm.secrets) [
      null
      "app"
      null
    ])
    (eq "groups (owner's group by default)" (map (s: s.group) bm.secrets) [
      null
      "appgrp"
      null
    ])
    (eq "uids" (map (s: s.uid) bm.secrets) [
      0
      0
      0
    ])
    (eq "formats" (map (s: s.format) bm.secrets) [
      "yaml"
      "yaml"
      "yaml"
    ])
    (eq "restartUnits" (secretByName bm "api_token").restartUnits [ "app.service" ])
    (eq "neededForUsers field" (secretByName bm "api_token").neededForUsers false)
    (eq "sopsFileHash" (secretByName bm "api_token").sopsFileHash sopsFileHash)
    (ok "sopsFile is a store path ending in -secrets.enc.yaml" (
      lib.hasPrefix builtins.storeDir (secretByName bm "api_token").sopsFile
      && lib.hasSuffix "-secrets.enc.yaml" (secretByName bm "api_token").sopsFile
    ))
    (eq "top-level keys" (builtins.attrNames bm) [
      "ageKeyFile"
      "ageSshKeyPaths"
      "gnupgHome"
      "keepGenerations"
      "logging"
      "placeholderBySecretName"
      "secrets"
      "secretsMountPoint"
      "sshKeyPaths"
      "symlinkPath"
      "templates"
      "useTmpfs"
      "userMode"
    ])
    (eq "secret keys" (builtins.attrNames (builtins.head bm.secrets)) [
      "format"
      "gid"
      "group"
      "key"
      "mode"
      "name"
      "neededForUsers"
      "owner"
      "path"
      "reloadUnits"
      "restartUnits"
      "sopsFile"
      "sopsFileHash"
      "uid"
    ])
    (eq "secretsMountPoint" bm.secretsMountPoint "/run/secrets.d")
    (eq "symlinkPath" bm.symlinkPath "/run/secrets")
    (eq "keepGenerations" bm.keepGenerations 1)
    (eq "logging" bm.logging {
      keyImport = true;
      secretChanges = true;
    })
    (eq "userMode" bm.userMode false)
    (eq "useTmpfs" bm.useTmpfs false)
    (eq "ageKeyFile" bm.ageKeyFile keyFile)
    (eq "ageSshKeyPaths" bm.ageSshKeyPaths [ ])
    (eq "sshKeyPaths" bm.sshKeyPaths [ ])
    (eq "gnupgHome" bm.gnupgHome null)
    # Fixed sops-nix bug: placeholders keyed by the secret's `name`, hashed from the attribute name.
    (eq "placeholderBySecretName" bm.placeholderBySecretName {
      api_token = ph "api_token";
      "db/password" = ph "db/password";
      "renamed-file" = ph "renamed";
    })
    (eq "placeholder hash as sops-nix (docs/activation.md#templates)" (ph "test_key")
      "<SOPS:92488e1e3eeecdf99f3ed2ce59233efb4b4fb612d5655c0ce9ea52b5a502e655:PLACEHOLDER>"
    )
    (eq "template names" (map (t: t.name) bm.templates) [ "app.env" ])
    (eq "template path" (builtins.head bm.templates).path "/run/secrets/rendered/app.env")
    (eq "template content" (builtins.head bm.templates).content
      "TOKEN=${ph "api_token"}\nOTHER=${ph "renamed"}\n"
    )
    (eq "template mode/owner/uid" (
      with builtins.head bm.templates;
      [
        mode
        owner
        uid
        group
        gid
      ]
    ) [ "0400" null 0 null 0 ])
    (eq "template restartUnits" (builtins.head bm.templates).restartUnits [ "app.service" ])
    (ok "template file is a store path" (lib.hasPrefix builtins.storeDir (builtins.head bm.templates).file))
    (ok "checkPhase runs sealbox-install --check-mode=sopsfile: ${basic.checkPhase}" (
      builtins.match ".*/bin/sealbox-install --check-mode=sopsfile \"\\$out\".*" basic.checkPhase != null
    ))
    (eq "setupSecrets deps" basic.scripts.setupSecrets.deps [
      "specialfs"
      "users"
      "groups"
    ])
    (eq "setupSecrets supportsDryActivation" basic.scripts.setupSecrets.supportsDryActivation true)
    (ok "setupSecrets text: ${basic.scripts.setupSecrets.text}" (
      builtins.match (
        "\\[ -e /run/current-system ] \\|\\| echo setting up secrets\\.\\.\\.\n"
        + "\\(\n  export HOME='/var/empty'\n  /nix/store/[^ ]*-sealbox-0\\.1\\.0/bin/sealbox-install /nix/store/[^ ]*-manifest\\.json\n\\)\n"
      ) basic.scripts.setupSecrets.text != null
    ))
    (eq "no for-users script" (basic.scripts ? setupSecretsForUsers) false)
    (eq "no generate-age-key script" (basic.scripts ? generate-age-key) false)
    (eq "no systemd units" basic.services { })
    (eq "users manifest empty" basic.usersManifest.secrets [ ])
    (eq "users manifest mount point" basic.usersManifest.secretsMountPoint "/run/secrets-for-users.d")
  ];

  # --- neededForUsers: the split into two manifests, activation script order --------------------
  forUsers = summary (evalNixos [
    base
    {
      sops.secrets.pw.neededForUsers = true;
      sops.secrets.pw.owner = "root";
      sops.secrets.other = { };
      sops.keepGenerations = 0;
      sops.log = [ "secretChanges" ];
      sops.useTmpfs = true;
      sops.environment.FOO = "it's";
    }
  ]);
  forUsersChecks = case "forUsers" [
    (eq "failed assertions" forUsers.failedAssertions [ ])
    (eq "regular secrets" (map (s: s.name) forUsers.manifest.secrets) [ "other" ])
    (eq "for-users secrets" (map (s: s.name) forUsers.usersManifest.secrets) [ "pw" ])
    (eq "for-users path" (builtins.head forUsers.usersManifest.secrets).path "/run/secrets-for-users/pw")
    (eq "for-users neededForUsers" (builtins.head forUsers.usersManifest.secrets).neededForUsers true)
    (eq "for-users mount/symlink" (with forUsers.usersManifest; [
      secretsMountPoint
      symlinkPath
    ]) [ "/run/secrets-for-users.d" "/run/secrets-for-users" ])
    (eq "for-users templates" forUsers.usersManifest.templates [ ])
    (eq "keepGenerations" forUsers.manifest.keepGenerations 0)
    (eq "logging" forUsers.manifest.logging {
      keyImport = false;
      secretChanges = true;
    })
    (eq "useTmpfs" forUsers.usersManifest.useTmpfs true)
    (eq "no placeholders without templates" forUsers.manifest.placeholderBySecretName { })
    (eq "setupSecretsForUsers deps" forUsers.scripts.setupSecretsForUsers.deps [ "specialfs" ])
    (ok "users script depends on setupSecretsForUsers" (
      lib.elem "setupSecretsForUsers" forUsers.scripts.users.deps
    ))
    (ok "for-users script uses --ignore-passwd and the users manifest" (
      builtins.match ".*bin/sealbox-install --ignore-passwd /nix/store/[^ ]*-manifest-for-users\\.json.*" forUsers.scripts.setupSecretsForUsers.text
      != null
    ))
    (ok "environment exported shell-escaped: ${forUsers.scripts.setupSecrets.text}" (
      lib.hasInfix "  export FOO='it'\\''s'\n  export HOME='/var/empty'\n" forUsers.scripts.setupSecrets.text
    ))
  ];

  # --- systemd activation (sysusers) -----------------------------------------------------------
  sysusersCfg = extra: evalNixos [
    base
    {
      systemd.sysusers.enable = true;
      sops.secrets.pw.neededForUsers = true;
      sops.secrets.other.reloadUnits = [ "nginx.service" ];
      sops.age.plugins = [ (pkgs.age) ];
    }
    extra
  ];
  sysusers = summary (sysusersCfg { });
  unit = sysusers.services.sops-install-secrets or { };
  userUnit = sysusers.services.sops-install-secrets-for-users or { };
  sysusersChecks = case "sysusers" [
    (eq "failed assertions" sysusers.failedAssertions [ ])
    (eq "no setup scripts" (lib.attrNames (lib.filterAttrs (n: _: lib.hasPrefix "setupSecrets" n) sysusers.scripts)) [ ])
    (eq "unit wantedBy" unit.wantedBy [ "sysinit.target" ])
    (eq "unit after" unit.after [
      "local-fs.target"
      "systemd-sysusers.service"
      "userborn.service"
    ])
    (eq "unit requiredBy/before" [
      unit.requiredBy
      unit.before
    ] [ [ "sysinit-reactivation.target" ] [ "sysinit.target" "sysinit-reactivation.target" ] ])
    (eq "unit DefaultDependencies" unit.unitConfig.DefaultDependencies "no")
    (eq "unit RequiresMountsFor" unit.unitConfig.RequiresMountsFor [ keyFile ])
    (eq "unit environment" unit.environment { SOPS_RESTART_UNITS_VIA_SYSTEMCTL = "1"; })
    (eq "unit path" (map plain unit.path) [ (plain pkgs.age) ])
    (eq "unit Type/RemainAfterExit" (with unit.serviceConfig; [
      Type
      RemainAfterExit
    ]) [ "oneshot" true ])
    (ok "unit ExecStart" (
      builtins.match "/nix/store/[^ ]*/bin/sealbox-install --no-network /nix/store/[^ ]*-manifest\\.json" (plain (builtins.head unit.serviceConfig.ExecStart)) != null
    ))
    (eq "for-users unit wantedBy/before" [
      userUnit.wantedBy
      userUnit.before
    ] [ [ "systemd-sysusers.service" ] [ "systemd-sysusers.service" ] ])
    (ok "for-users unit ExecStart" (
      builtins.match "/nix/store/[^ ]*/bin/sealbox-install --ignore-passwd --no-network /nix/store/[^ ]*-manifest-for-users\\.json" (plain (builtins.head userUnit.serviceConfig.ExecStart)) != null
    ))
    (hasMsg "immutable users" (summary (sysusersCfg { users.mutableUsers = false; })).failedAssertions
      "can only work with config.users.mutableUsers enabled"
    )
  ];

  # --- needsNetwork: a third manifest, installed after network-online.target ---------------
  netCfg = extra: evalNixos [
    base
    {
      sops.secrets.local = { };
      sops.secrets.db = {
        needsNetwork = true;
        owner = "root";
      };
      sops.environment = {
        VAULT_ROLE_ID = "role";
        VAULT_SECRET_ID_FILE = "/var/lib/sealbox/vault-secret-id";
      };
    }
    extra
  ];
  net = summary (netCfg { });
  netManifest = json (netCfg { }).config.system.build.sops-nix-network-manifest;
  netUnit = net.services.sops-install-secrets-network or { };
  netSd = summary (netCfg { sops.useSystemdActivation = true; });
  networkChecks = case "needsNetwork" [
    (eq "failed assertions" net.failedAssertions [ ])
    (eq "regular manifest" (map (s: s.name) net.manifest.secrets) [ "local" ])
    (eq "network manifest" (map (s: s.name) netManifest.secrets) [ "db" ])
    (eq "network path" (builtins.head netManifest.secrets).path "/run/secrets-network/db")
    (eq "network mount/symlink" [
      netManifest.secretsMountPoint
      netManifest.symlinkPath
    ] [ "/run/secrets-network.d" "/run/secrets-network" ])
    (eq "no needsNetwork field in the manifest (sops-nix's shape)" ((builtins.head netManifest.secrets) ? needsNetwork) false)
    (eq "a unit even with activation scripts" (lib.attrNames net.services) [ "sops-install-secrets-network" ])
    (eq "network unit order" [
      netUnit.after
      netUnit.wants
      netUnit.wantedBy
    ] [ [ "network-online.target" "sops-install-secrets.service" ] [ "network-online.target" ] [ "multi-user.target" ] ])
    (eq "network unit retries" (with netUnit.serviceConfig; [
      TimeoutStartSec
      Restart
      RestartSec
    ]) [ "10min" "on-failure" "10s" ])
    (eq "network unit environment" netUnit.environment {
      SOPS_RESTART_UNITS_VIA_SYSTEMCTL = "1";
      VAULT_ROLE_ID = "role";
      VAULT_SECRET_ID_FILE = "/var/lib/sealbox/vault-secret-id";
    })
    (ok "network unit ExecStart" (
      builtins.match "/bin/sh -c 'until /nix/store/[^ ]*/bin/sealbox-install /nix/store/[^ ]*-manifest-network\\.json; do sleep 10; done'" (plain (builtins.head netUnit.serviceConfig.ExecStart)) != null
    ))
    (eq "systemd mode: both units" (lib.attrNames netSd.services) [
      "sops-install-secrets"
      "sops-install-secrets-network"
    ])
    (hasMsg "with neededForUsers" (summary (netCfg { sops.secrets.db.neededForUsers = true; })).failedAssertions
      "neededForUsers and needsNetwork exclude each other"
    )
    (hasMsg "in a template" (summary (netCfg (
      { config, ... }:
      {
        sops.templates.t.content = "pw=${config.sops.placeholder.db}";
      }
    ))).failedAssertions "uses the placeholder of a needsNetwork secret")
  ];

  # useSystemdActivation without sysusers: regular secrets by unit, for-users still by script.
  sdOnly = summary (evalNixos [
    base
    {
      sops.useSystemdActivation = true;
      sops.secrets.pw.neededForUsers = true;
      sops.secrets.other = { };
    }
  ]);
  sdOnlyChecks = case "useSystemdActivation" [
    (eq "units" (lib.attrNames sdOnly.services) [ "sops-install-secrets" ])
    (eq "scripts" (lib.attrNames (lib.filterAttrs (n: _: lib.hasPrefix "setupSecrets" n) sdOnly.scripts)) [
      "setupSecretsForUsers"
    ])
  ];

  # --- key sources from openssh, generateKey, validateSopsFiles = false -------------------------
  ssh = summary (evalNixos [
    {
      sops.defaultSopsFile = sopsFile;
      services.openssh.enable = true;
      services.openssh.hostKeys = [
        {
          type = "ed25519";
          path = "/etc/ssh/ssh_host_ed25519_key";
        }
        {
          type = "ed25519";
          path = "/run/secrets/skip";
        }
      ];
      sops.secrets.a = { };
    }
  ]);
  gen = summary (evalNixos [
    base
    {
      sops.age.generateKey = true;
      sops.validateSopsFiles = false;
      sops.secrets.a.sopsFile = "/etc/secrets/a.yaml";
      sops.secrets.a.uid = 5;
      sops.secrets.a.owner = "x";
    }
  ]);
  keyChecks = case "keys" [
    (eq "ssh: failed assertions" ssh.failedAssertions [ ])
    (eq "ssh: ageSshKeyPaths" ssh.manifest.ageSshKeyPaths [ "/etc/ssh/ssh_host_ed25519_key" ])
    (eq "ssh: ageKeyFile" ssh.manifest.ageKeyFile null)
    (eq "generateKey: failed assertions (owner/uid skipped without validation)" gen.failedAssertions [ ])
    (eq "generateKey: deps" gen.scripts.setupSecrets.deps [
      "specialfs"
      "users"
      "groups"
      "generate-age-key"
    ])
    (ok "generateKey: uses sealbox keygen -o: ${gen.scripts.generate-age-key.text}" (
      lib.hasInfix "/bin/sealbox keygen -o ${lib.escapeShellArg keyFile}\n" gen.scripts.generate-age-key.text
    ))
    (ok "no validation: --check-mode=manifest" (lib.hasInfix "--check-mode=manifest" gen.checkPhase))
    (eq "no validation: sopsFileHash empty" (builtins.head gen.manifest.secrets).sopsFileHash "")
    (eq "no validation: sopsFile kept as given" (builtins.head gen.manifest.secrets).sopsFile "/etc/secrets/a.yaml")
  ];

  # --- assertions and errors for bad configurations --------------------------------------------
  bad = m: (summary (evalNixos m)).failedAssertions;
  badWarn = m: (summary (evalNixos m)).warnings;
  badChecks = case "bad" [
    (hasMsg "no key source" (bad [
      { sops.defaultSopsFile = sopsFile; sops.secrets.a = { }; }
    ]) "No key source configured for sops")
    (hasMsg "gnupg home + ssh keys" (bad [
      {
        sops.defaultSopsFile = sopsFile;
        services.openssh.enable = true;
        sops.gnupg.home = "/root/.gnupg";
        sops.secrets.a = { };
      }
    ]) "Exactly one of sops.gnupg.home and sops.gnupg.sshKeyPaths must be set")
    (eq "gnupg: no warning (sealbox-install decrypts with it)" (badWarn [
      base
      {
        sops.gnupg.home = "/root/.gnupg";
        sops.secrets.a = { };
      }
    ]) [ ])
    (hasMsg "owner and uid" (bad [
      base
      { sops.secrets.a = { owner = "x"; uid = 3; }; }
    ]) "In a exactly one of sops.owner and sops.uid must be set")
    (hasMsg "group and gid" (bad [
      base
      { sops.secrets.a = { group = "x"; gid = 3; }; }
    ]) "In a exactly one of sops.group and sops.gid must be set")
    (hasMsg "template owner and uid" (bad [
      base
      { sops.templates.t = { content = "x"; owner = "x"; uid = 3; }; }
    ]) "sops.templates.t: set only one of `owner` (x) and `uid` (3)")
    (hasMsg "template group and gid" (bad [
      base
      { sops.templates.t = { content = "x"; group = "g"; gid = 3; }; }
    ]) "sops.templates.t: set only one of `group` (g) and `gid` (3)")
    (hasMsg "neededForUsers with a non-root owner (silently root in sops-nix)" (bad [
      base
      { sops.secrets.pw = { neededForUsers = true; owner = "alice"; }; }
    ]) "neededForUsers secrets are installed before users exist")
    (hasMsg "neededForUsers with a uid" (bad [
      base
      { sops.secrets.pw = { neededForUsers = true; uid = 1000; }; }
    ]) "always owned by root:root")
    (hasMsg "template using a neededForUsers placeholder" (bad [
      base
      (
        { config, ... }:
        {
          sops.secrets.pw.neededForUsers = true;
          sops.templates.t.content = "pw=${config.sops.placeholder.pw}";
        }
      )
    ]) "sops.templates.t uses the placeholder of a neededForUsers secret")
    (hasMsg "duplicate names" (bad [
      base
      {
        sops.secrets.a = { };
        sops.secrets.b.name = "a";
      }
    ]) "several secrets have the same name (a)")
    (hasMsg "generateKey without keyFile" (bad [
      {
        sops.defaultSopsFile = sopsFile;
        services.openssh.enable = true;
        sops.gnupg.sshKeyPaths = [ ];
        sops.age.generateKey = true;
        sops.secrets.a = { };
      }
    ]) "sops.age.generateKey needs sops.age.keyFile")
    (hasMsg "renamed option warning" (badWarn [
      base
      { sops.gnupgHome = "/g"; }
    ]) "has been renamed to `sops.gnupg.home'")
    (fails "unknown defaultSopsFormat (an enum, not a string)" (summary (evalNixos [
      base
      {
        sops.defaultSopsFormat = "toml";
        sops.secrets.a = { };
      }
    ])).manifest)
    (fails "unknown format" (summary (evalNixos [
      base
      { sops.secrets.a.format = "toml"; }
    ])).manifest)
    (fails "age.keyFile in the store" (summary (evalNixos [
      base
      {
        sops.age.keyFile = lib.mkForce "${builtins.storeDir}/00000000000000000000000000000000-key.txt";
        sops.secrets.a = { };
      }
    ])).manifest)
    (fails "missing sops file" (summary (evalNixos [
      base
      { sops.secrets.a.sopsFile = "/nonexistent/secrets.yaml"; }
    ])).manifest)
    (fails "sops file not in the store" (summary (evalNixos [
      base
      { sops.secrets.a.sopsFile = "/etc/hostname"; }
    ])).manifest)
    (fails "no defaultSopsFile" (summary (evalNixos [
      {
        sops.age.keyFile = keyFile;
        sops.secrets.a = { };
      }
    ])).manifest)
  ];

  # --- systemd credentials (sealbox only) --------------------------------------------------------
  cred = summary (evalNixos [
    base
    {
      sops.secrets.a.credentialName = "app-db";
      sops.secrets.b = { };
    }
  ]);
  credChecks = case "credentialName" [
    (eq "failed assertions" cred.failedAssertions [ ])
    (eq "in the manifest when set" (secretByName cred.manifest "a").credentialName "app-db")
    (eq "absent when unset (manifest as sops-nix's)" ((secretByName cred.manifest "b") ? credentialName) false)
    (hasMsg "duplicate credential names" (bad [
      base
      {
        sops.secrets.a.credentialName = "x";
        sops.secrets.b.credentialName = "x";
      }
    ]) "several secrets have the same credentialName (x)")
    (fails "a credential name with a slash" (summary (evalNixos [
      base
      { sops.secrets.a.credentialName = "../shadow"; }
    ])).manifest)
    (fails "a credential name .." (summary (evalNixos [
      base
      { sops.secrets.a.credentialName = ".."; }
    ])).manifest)
  ];

  # --- no secrets: manifests exist, nothing is activated ---------------------------------------
  empty = summary (evalNixos [ ]);
  emptyChecks = case "empty" [
    (eq "failed assertions" empty.failedAssertions [ ])
    (eq "manifest secrets" empty.manifest.secrets [ ])
    (eq "users manifest secrets" empty.usersManifest.secrets [ ])
    (eq "scripts" empty.scripts { })
    (eq "units" empty.services { })
  ];

  # --- home-manager ----------------------------------------------------------------------------
  hmEval = evalHm [
    (
      { config, ... }:
      {
        sops.defaultSopsFile = sopsFile;
        sops.age.keyFile = "/home/alice/.config/sops/age/keys.txt";
        sops.secrets.api_token = { };
        sops.secrets.db.key = "database/password";
        sops.templates."app.env".content = "T=${config.sops.placeholder.api_token}";
        sops.environment.A = "b";
      }
    )
  ];
  hm = hmEval.config;
  hmm = json hm.sops.manifest;
  hmUnit = hm.systemd.user.services.sops-nix;
  hmChecks = case "home-manager" [
    (eq "failed assertions" (map (a: a.message) (lib.filter (a: !a.assertion) hm.assertions)) [ ])
    (eq "userMode" hmm.userMode true)
    (eq "secretsMountPoint" hmm.secretsMountPoint "%r/secrets.d")
    (eq "symlinkPath" hmm.symlinkPath "/home/alice/.config/sops-nix/secrets")
    (eq "secret names" (map (s: s.name) hmm.secrets) [
      "api_token"
      "db"
    ])
    (eq "secret paths" (map (s: s.path) hmm.secrets) [
      "/home/alice/.config/sops-nix/secrets/api_token"
      "/home/alice/.config/sops-nix/secrets/db"
    ])
    (eq "secret fields" (builtins.attrNames (builtins.head hmm.secrets)) [
      "format"
      "key"
      "mode"
      "name"
      "path"
      "sopsFile"
    ])
    (eq "no useTmpfs" (hmm ? useTmpfs) false)
    (eq "template path" (builtins.head hmm.templates).path "/home/alice/.config/sops-nix/secrets/rendered/app.env")
    (eq "placeholders" hmm.placeholderBySecretName {
      api_token = ph "api_token";
      db = ph "db";
    })
    (ok "checkPhase" (lib.hasInfix "sealbox-install --check-mode=sopsfile" (plain hm.sops.manifest.checkPhase)))
    (eq "unit Type" hmUnit.Service.Type "oneshot")
    (eq "unit Environment" hmUnit.Service.Environment "'A=b' 'PATH='")
    (ok "unit ExecStart is the script" (lib.hasSuffix "-sops-nix-user" (plain hmUnit.Service.ExecStart)))
    (eq "unit WantedBy" hmUnit.Install.WantedBy [ "default.target" ])
    (eq "activation after" hm.home.activation.sops-nix.after [ "writeBoundary" ])
    (ok "activation restarts the unit" (
      lib.hasInfix "restart --user sops-nix" hm.home.activation.sops-nix.data
    ))
  ];

  # --- the example host evaluates (undeclared NixOS options are accepted freely) ---------------
  example = summary (evalNixos [
    (import ../../examples/nixos/configuration.nix)
    { _module.freeformType = lib.types.attrsOf lib.types.anything; }
  ]);
  exampleChecks = case "examples/nixos" [
    (eq "failed assertions" example.failedAssertions [ ])
    (ok "has secrets" (example.manifest.secrets != [ ]))
    (ok "has templates" (example.manifest.templates != [ ]))
    (ok "a secret restarts a unit" (lib.any (s: s.restartUnits != [ ]) example.manifest.secrets))
  ];

  # --- flake.nix outputs, with a stand-in nixpkgs (lib + the stub pkgs) ------------------------
  fakeNixpkgs = {
    inherit lib;
    legacyPackages = lib.genAttrs [
      "x86_64-linux"
      "aarch64-linux"
    ] (system: import ./pkgs-stub.nix { inherit lib system; });
  };
  flake = (import ../../flake.nix).outputs {
    self = flake;
    nixpkgs = fakeNixpkgs;
  };
  flakePkg = flake.packages.x86_64-linux.sealbox;
  viaFlake =
    module: stubs: extra:
    (lib.evalModules {
      modules = [
        stubs
        module
        { _module.args.pkgs = pkgs; }
        base
        extra
      ];
    }).config;
  flakeNixos = viaFlake flake.nixosModules.default ./stubs.nix { sops.secrets.a = { }; };
  flakeHm = viaFlake flake.homeManagerModules.sealbox ./hm-stubs.nix { sops.secrets.a = { }; };
  flakeChecks = case "flake" [
    (eq "packages" (builtins.attrNames flake.packages.x86_64-linux) [
      "default"
      "sealbox"
    ])
    (eq "package name" flakePkg.name "sealbox-0.1.0")
    (ok "package: both binaries built" (
      flakePkg.passthruArgs.cargoBuildFlags == [
        "-p"
        "sealbox-cli"
        "-p"
        "sealbox-activation"
      ]
    ))
    (eq "package: cargoLock" (baseNameOf flakePkg.passthruArgs.cargoLock.lockFile) "Cargo.lock")
    (ok "package: source is a store path" (lib.hasPrefix builtins.storeDir (plain flakePkg.passthruArgs.src)))
    (eq "nixosModules" (builtins.attrNames flake.nixosModules) [
      "default"
      "sealbox"
    ])
    (eq "homeManagerModules" (builtins.attrNames flake.homeManagerModules) [
      "default"
      "sealbox"
    ])
    (ok "nixosModules.default sets sops.package to the flake's build" (flakeNixos.sops.package ? passthruArgs))
    (ok "nixos via flake: activation uses it" (
      lib.hasInfix (plain flakeNixos.sops.package) (plain flakeNixos.system.activationScripts.setupSecrets.text)
    ))
    (ok "homeManagerModules.sealbox sets sops.package" (flakeHm.sops.package ? passthruArgs))
    (ok "overlay provides sealbox" ((flake.overlays.default pkgs pkgs).sealbox ? passthruArgs))
    (eq "checks" (builtins.attrNames flake.checks.x86_64-linux) [
      "module-eval"
      "nixos"
      "package"
    ])
    (eq "devShells" (builtins.attrNames flake.devShells.x86_64-linux) [ "default" ])
  ];

  failures =
    flakeChecks
    ++ basicChecks
    ++ forUsersChecks
    ++ sysusersChecks
    ++ sdOnlyChecks
    ++ networkChecks
    ++ keyChecks
    ++ badChecks
    ++ credChecks
    ++ emptyChecks
    ++ hmChecks
    ++ exampleChecks;
in
{
  inherit failures;
}
