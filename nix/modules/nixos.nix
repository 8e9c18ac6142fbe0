# sealbox NixOS module: a drop-in for sops-nix's `sops.*` options.
#
# Same option names, types and defaults as sops-nix (switching is a change of
# the import), the same manifest JSON (read by `sealbox-install`) and the same
# activation hooks. Deviations, all documented in the option descriptions:
#   * placeholders reach the manifest keyed by the secret's `name` (sops-nix keys
#     them by attribute name, which breaks templates when the two differ);
#   * `neededForUsers` secrets with a non-root owner/group are an assertion
#     failure instead of being installed root:root silently;
#   * `defaultSopsFormat` is an enum like `format` (an unknown format used to
#     become yaml at runtime);
#   * a template using the placeholder of a `neededForUsers` secret is an
#     assertion failure (sops-nix renders the placeholder verbatim);
#   * two secrets with the same `name`, and `age.generateKey` without
#     `age.keyFile`, are assertion failures;
#   * `sops.environment` values are exported shell-escaped (taken literally),
#     and PATH is exported only when `age.plugins` is non-empty (sops-nix
#     exported `PATH=''` otherwise);
#   * sealbox addition: `sops.secrets.<name>.needsNetwork` puts a secret whose
#     sops file needs a Vault/OpenBao server into a third manifest, installed by
#     sops-install-secrets-network.service after network-online.target into
#     /run/secrets-network (its own generations and symlink, as for-users has);
#     the early units run with --no-network;
#   * with `useSystemdActivation`, sops-install-secrets is also ordered
#     Before=sysinit.target (sops-nix only pulls it in with WantedBy=, so services
#     reading /run/secrets at boot race it). A key on a network mount
#     (RequiresMountsFor= after network-online.target) would now be an ordering
#     cycle: keep keys on local file systems.
{
  config,
  options,
  lib,
  pkgs,
  ...
}:
let
  inherit (lib)
    mkOption
    mkIf
    mkMerge
    types
    literalExpression
    literalMD
    ;
  sb = import ./lib.nix { inherit lib; };
  cfg = config.sops;
  users = config.users.users;

  hasSysusers = (options.systemd ? sysusers) && config.systemd.sysusers.enable;
  hasUserborn = (options.services ? userborn) && config.services.userborn.enable;

  allSecrets = lib.attrValues cfg.secrets; # sorted by attribute name
  regularSecrets = lib.filter (s: !s.neededForUsers && !s.needsNetwork) allSecrets;
  userSecrets = lib.filter (s: s.neededForUsers) allSecrets;
  networkSecrets = lib.filter (s: s.needsNetwork && !s.neededForUsers) allSecrets;

  secretType = types.submodule (
    { config, name, ... }:
    {
      options = {
        name = mkOption {
          type = types.str;
          default = name;
          defaultText = literalMD "the attribute name";
          description = "File name of the secret under `/run/secrets` (a `/` creates sub-directories).";
        };
        key = sb.keyOption cfg name;
        path = mkOption {
          type = types.str;
          default =
            if config.neededForUsers then
              "/run/secrets-for-users/${config.name}"
            else if config.needsNetwork then
              "/run/secrets-network/${config.name}"
            else
              "/run/secrets/${config.name}";
          defaultText = literalMD "`/run/secrets-for-users/<name>` if `neededForUsers`, `/run/secrets-network/<name>` if `needsNetwork`, else `/run/secrets/<name>`";
          description = "Where the secret is made available; any other path becomes a symlink to the default location.";
        };
        format = sb.formatOption cfg;
        mode = sb.modeOption types.str "installed file";
        owner = mkOption {
          type = types.nullOr types.str;
          default = null;
          description = "User owning the file (wins over `uid`).";
        };
        uid = mkOption {
          type = types.nullOr types.int;
          default = 0;
          description = "Numeric owner, used when `owner` is null.";
        };
        group = mkOption {
          type = types.nullOr types.str;
          default = if config.owner != null then users.${config.owner}.group or null else null;
          defaultText = literalMD "{option}`users.users.<owner>.group` if `owner` is set, else null";
          description = "Group owning the file (wins over `gid`).";
        };
        gid = mkOption {
          type = types.nullOr types.int;
          default = 0;
          description = "Numeric group, used when `group` is null.";
        };
        sopsFile = mkOption {
          type = types.path;
          defaultText = literalExpression "config.sops.defaultSopsFile";
          description = "The sops file the secret is taken from.";
        };
        sopsFileHash = mkOption {
          type = types.str;
          readOnly = true;
          description = "sha256 of `sopsFile` (empty when `sops.validateSopsFiles` is false); handy for restartTriggers.";
        };
        restartUnits = mkOption {
          type = types.listOf types.str;
          default = [ ];
          example = [ "sshd.service" ];
          description = "Units restarted when the secret's content changes.";
        };
        reloadUnits = mkOption {
          type = types.listOf types.str;
          default = [ ];
          description = "Units reloaded when the secret's content changes.";
        };
        neededForUsers = mkOption {
          type = types.bool;
          default = false;
          description = ''
            Install the secret before users are created (into `/run/secrets-for-users`),
            e.g. for `hashedPasswordFile`. Such secrets are always owned by root:
            unlike sops-nix, a non-root `owner`/`group`/`uid`/`gid` is an assertion
            failure rather than silently ignored.
          '';
        };
        needsNetwork = mkOption {
          type = types.bool;
          default = false;
          description = ''
            sealbox only: the sops file's data key needs a Vault/OpenBao server (an
            `hc_vault` key group the host's age key cannot stand in for, e.g. a
            2-of-2 group of the host key and a transit key). Such secrets are
            installed by `sops-install-secrets-network.service`, ordered after
            `network-online.target` (and retried until the server answers), into
            their own generations under `/run/secrets-network.d`, linked at
            `/run/secrets-network`; the other secrets still install early (those
            units run with `--no-network` and refuse Vault keys at once). Units
            reading them should be `after`/`wants` that service. Vault settings come
            from `sops.environment` (`VAULT_ROLE_ID`, `VAULT_SECRET_ID_FILE`,
            `SEALBOX_VAULT_FALLBACK_ADDRS`, `VAULT_CACERT`, …).
          '';
        };
        credentialName = mkOption {
          type = types.nullOr (types.strMatching "[A-Za-z0-9_@+-][A-Za-z0-9_.@+-]*");
          default = null;
          example = "db-password";
          description = ''
            sealbox only: also place the secret at `/run/credstore/<credentialName>`
            (mode 0400, root) for systemd's `LoadCredential=<credentialName>`, so a
            unit with `DynamicUser=` can read it without a file owner. Updated
            atomically with each activation and removed when unset.
          '';
        };
      };
      config = {
        sopsFile = lib.mkOptionDefault cfg.defaultSopsFile;
        sopsFileHash = if cfg.validateSopsFiles then builtins.hashFile "sha256" config.sopsFile else "";
      };
    }
  );

  templateType = types.submodule (
    { config, name, ... }:
    {
      options = sb.templateTextOptions pkgs config // {
        name = mkOption {
          type = types.singleLineStr;
          default = name;
          description = "File name under `/run/secrets/rendered`.";
        };
        path = mkOption {
          type = types.singleLineStr;
          default = "/run/secrets/rendered/${config.name}";
          defaultText = literalMD "`/run/secrets/rendered/<name>`";
          description = "Where the rendered file is made available (other paths become symlinks).";
        };
        mode = sb.modeOption types.singleLineStr "rendered file";
        owner = mkOption {
          type = types.nullOr types.singleLineStr;
          default = null;
          description = "User owning the rendered file (wins over `uid`).";
        };
        uid = mkOption {
          type = types.nullOr types.int;
          default = 0;
          description = "Numeric owner, used when `owner` is null.";
        };
        group = mkOption {
          type = types.nullOr types.singleLineStr;
          default = if config.owner != null then users.${config.owner}.group or null else null;
          defaultText = literalMD "{option}`users.users.<owner>.group` if `owner` is set, else null";
          description = "Group owning the rendered file (wins over `gid`).";
        };
        gid = mkOption {
          type = types.nullOr types.int;
          default = 0;
          description = "Numeric group, used when `group` is null.";
        };
        restartUnits = mkOption {
          type = types.listOf types.str;
          default = [ ];
          description = "Units restarted when the rendered content changes.";
        };
        reloadUnits = mkOption {
          type = types.listOf types.str;
          default = [ ];
          description = "Units reloaded when the rendered content changes.";
        };
      };
    }
  );

  secretJson = s: {
    inherit (s)
      name
      key
      path
      format
      mode
      owner
      uid
      group
      gid
      sopsFile
      sopsFileHash
      restartUnits
      reloadUnits
      neededForUsers
      ;
  }
  # Only when set, so manifests of configurations without it stay identical to sops-nix's.
  // lib.optionalAttrs (s.credentialName != null) { inherit (s) credentialName; };
  templateJson = t: {
    inherit (t)
      name
      path
      content
      file
      mode
      owner
      uid
      group
      gid
      restartUnits
      reloadUnits
      ;
  };

  manifestFor =
    suffix: secrets: templates: extra:
    let
      errors = lib.optionals cfg.validateSopsFiles (sb.sopsFileErrors secrets);
      json = {
        secrets = map secretJson secrets;
        templates = map templateJson templates;
        secretsMountPoint = "/run/secrets.d";
        symlinkPath = "/run/secrets";
        inherit (cfg) keepGenerations useTmpfs;
        gnupgHome = cfg.gnupg.home;
        sshKeyPaths = cfg.gnupg.sshKeyPaths;
        ageKeyFile = cfg.age.keyFile;
        ageSshKeyPaths = cfg.age.sshKeyPaths;
        placeholderBySecretName = sb.placeholderByName cfg;
        userMode = false;
        logging = sb.logging cfg.log;
      }
      // extra;
    in
    if errors != [ ] then
      throw ("\nFailed assertions:\n" + lib.concatMapStrings (e: "- ${e}\n") errors)
    else
      pkgs.writeTextFile {
        name = "manifest${suffix}.json";
        text = builtins.toJSON json;
        checkPhase = ''
          ${cfg.validationPackage}/bin/sealbox-install --check-mode=${sb.checkMode cfg.validateSopsFiles} "$out"
        '';
      };

  manifest = manifestFor "" regularSecrets (lib.attrValues cfg.templates) { };
  usersManifest = manifestFor "-for-users" userSecrets [ ] {
    secretsMountPoint = "/run/secrets-for-users.d";
    symlinkPath = "/run/secrets-for-users";
  };
  networkManifest = manifestFor "-network" networkSecrets [ ] {
    secretsMountPoint = "/run/secrets-network.d";
    symlinkPath = "/run/secrets-network";
  };

  scriptEnv = cfg.environment // {
    HOME = "/var/empty";
  } // lib.optionalAttrs (cfg.age.plugins != [ ]) { PATH = lib.makeBinPath cfg.age.plugins; };

  installCmd = flags: m: "${cfg.package}/bin/sealbox-install${flags} ${m}";

  dryAttrs = lib.optionalAttrs (options.system ? dryActivationScript) { supportsDryActivation = true; };
  keyDeps = lib.optional cfg.age.generateKey "generate-age-key";

  requiresMounts =
    lib.optional (cfg.gnupg.home != null) cfg.gnupg.home
    ++ map toString cfg.gnupg.sshKeyPaths
    ++ lib.optional (cfg.age.keyFile != null) cfg.age.keyFile
    ++ map toString cfg.age.sshKeyPaths;

  forUsersViaSystemd = hasSysusers || hasUserborn;

  # A unit of install-units.json as `systemd.services.<name>`, completed with what depends on
  # the configuration: key mounts, environment, plugins on PATH, the command.
  installUnits = (builtins.fromJSON (builtins.readFile ./install-units.json)).units;
  manifests = {
    regular = manifest;
    users = usersManifest;
    network = networkManifest;
  };
  installUnit =
    name:
    let
      u = installUnits.${name};
    in
    {
      inherit (u)
        description
        wantedBy
        requiredBy
        before
        after
        ;
      wants = u.wants or [ ];
      unitConfig = u.unitConfig // {
        RequiresMountsFor = requiresMounts;
      };
      environment = cfg.environment // u.environment;
      path = cfg.age.plugins;
      serviceConfig =
        let
          cmd = installCmd (lib.concatMapStrings (f: " ${f}") u.flags) manifests.${u.manifest};
        in
        u.serviceConfig
        // {
          # retryEvery: retried inside one start job (see install-units.json's comment).
          ExecStart = [
            (if u ? retryEvery then "/bin/sh -c 'until ${cmd}; do sleep ${toString u.retryEvery}; done'" else cmd)
          ];
        };
    };

  sshHostKeys =
    type:
    if config.services.openssh.enable then
      map (k: k.path) (
        lib.filter (k: k.type == type && !(lib.hasPrefix "/run/secrets" k.path)) config.services.openssh.hostKeys
      )
    else
      [ ];

  placeholdersOfUserSecrets = map (s: cfg.placeholder.${s._attr}) (
    lib.filter (s: s.neededForUsers && cfg.placeholder ? ${s._attr}) (
      lib.mapAttrsToList (attr: s: s // { _attr = attr; }) cfg.secrets
    )
  );
  placeholdersOfNetworkSecrets = map (s: cfg.placeholder.${s._attr}) (
    lib.filter (s: s.needsNetwork && !s.neededForUsers && cfg.placeholder ? ${s._attr}) (
      lib.mapAttrsToList (attr: s: s // { _attr = attr; }) cfg.secrets
    )
  );

  duplicateNames =
    let
      names = map (s: s.name) regularSecrets;
    in
    lib.unique (lib.filter (n: lib.count (m: m == n) names > 1) names);

  duplicateCredentials =
    let
      names = lib.filter (n: n != null) (map (s: s.credentialName) allSecrets);
    in
    lib.unique (lib.filter (n: lib.count (m: m == n) names > 1) names);
in
{
  imports = [
    (lib.mkRenamedOptionModule [ "sops" "gnupgHome" ] [ "sops" "gnupg" "home" ])
    (lib.mkRenamedOptionModule [ "sops" "sshKeyPaths" ] [ "sops" "gnupg" "sshKeyPaths" ])
  ];

  options.sops = {
    secrets = mkOption {
      type = types.attrsOf secretType;
      default = { };
      description = "Secrets to decrypt and install at activation.";
    };
    templates = mkOption {
      type = types.attrsOf templateType;
      default = { };
      description = "Files rendered at activation, with the placeholders of secrets replaced by their values.";
    };
    placeholder = mkOption {
      type = types.attrsOf (
        types.mkOptionType {
          name = "coercibleToString";
          description = "value that can be coerced to string";
          check = lib.strings.isConvertibleWithToString;
          merge = lib.mergeEqualOption;
        }
      );
      default = { };
      visible = false;
      description = ''
        Placeholder of each secret, by attribute name, for template contents.
        In the manifest they are keyed by the secret's `name` (fixed in sealbox;
        sops-nix used the attribute name there, breaking secrets whose `name` differs).
      '';
    };
    defaultSopsFile = mkOption {
      type = types.path;
      description = "Default sops file of secrets.";
    };
    defaultSopsFormat = mkOption {
      type = types.enum sb.formats;
      default = "yaml";
      description = ''
        Default format of sops files. One of ${lib.concatStringsSep ", " sb.formats}
        (sealbox: an enum; sops-nix accepted any string, and an unknown one became yaml).
      '';
    };
    defaultSopsKey = mkOption {
      type = types.nullOr types.str;
      default = null;
      description = "Default `key` of secrets (null: the attribute name, `\"\"`: the whole file).";
    };
    validateSopsFiles = mkOption {
      type = types.bool;
      default = true;
      description = ''
        Check at evaluation that sops files exist and are in the store, and decrypt-free
        validate them at build (`--check-mode=sopsfile`). If false only the manifest is checked.
      '';
    };
    keepGenerations = mkOption {
      type = types.ints.unsigned;
      default = 1;
      description = "Number of old secret generations to keep (0: never prune).";
    };
    log = sb.mkLogOption;
    environment = mkOption {
      type = types.attrsOf (types.either types.str types.path);
      default = { };
      description = "Environment variables of sealbox-install (values are exported literally, shell-escaped).";
    };
    package = mkOption {
      type = types.package;
      default = pkgs.sealbox or (throw "sops.package: no sealbox package; use the sealbox flake's module or overlay, or set sops.package");
      defaultText = literalExpression "pkgs.sealbox (set by the sealbox flake)";
      description = "Package providing `sealbox-install` and `sealbox`.";
    };
    validationPackage = mkOption {
      type = types.package;
      default =
        if pkgs.stdenv.buildPlatform == pkgs.stdenv.hostPlatform then
          cfg.package
        else
          pkgs.pkgsBuildHost.sealbox or cfg.package;
      defaultText = literalMD "`sops.package`, or a build-platform sealbox when cross-compiling";
      description = "Package whose `sealbox-install` validates the manifest at build time.";
    };
    useTmpfs = mkOption {
      type = types.bool;
      default = false;
      description = "Use tmpfs instead of ramfs for secrets (tmpfs may be swapped out).";
    };
    useSystemdActivation = mkOption {
      type = types.bool;
      default = hasSysusers || hasUserborn;
      defaultText = literalMD "true with systemd-sysusers or userborn";
      description = "Install secrets from systemd units instead of activation scripts.";
    };

    age = {
      keyFile = mkOption {
        type = types.nullOr sb.pathNotInStore;
        default = null;
        example = "/var/lib/sops-nix/key.txt";
        description = "age identity file (a path outside the Nix store).";
      };
      plugins = mkOption {
        type = types.listOf types.package;
        default = [ ];
        description = "age plugins put on PATH of sealbox-install.";
      };
      generateKey = mkOption {
        type = types.bool;
        default = false;
        description = "Create `age.keyFile` with `sealbox keygen -o` at activation if it does not exist.";
      };
      sshKeyPaths = mkOption {
        type = types.listOf types.path;
        default = sshHostKeys "ed25519";
        defaultText = literalMD "the ed25519 host keys of {option}`services.openssh.hostKeys` when openssh is enabled";
        description = "SSH ed25519 private keys converted to age identities.";
      };
    };

    gnupg = {
      home = mkOption {
        type = types.nullOr types.str;
        default = null;
        description = "GnuPG home holding the host's secret key; sealbox-install decrypts through gpg with it and stops the gpg-agent it started before it exits.";
      };
      sshKeyPaths = mkOption {
        type = types.listOf types.path;
        default = sshHostKeys "rsa";
        defaultText = literalMD "the rsa host keys of {option}`services.openssh.hostKeys` when openssh is enabled";
        description = "SSH RSA private keys converted to OpenPGP keys (in memory, as sops-nix does; no gpg needed at boot).";
      };
      package = mkOption {
        type = types.package;
        default = pkgs.gnupg;
        defaultText = literalExpression "pkgs.gnupg";
        description = "Provides `SOPS_GPG_EXEC`.";
      };
    };
  };

  config = mkMerge [
    {
      system.build.sops-nix-manifest = manifest;
      system.build.sops-nix-users-manifest = usersManifest;
      system.build.sops-nix-network-manifest = networkManifest;
      sops.placeholder = mkIf (cfg.templates != { }) (
        lib.mapAttrs (attr: _: lib.mkDefault (sb.placeholderFor attr)) cfg.secrets
      );
    }

    (mkIf (cfg.templates != { }) {
      assertions = lib.concatLists (
        lib.mapAttrsToList (n: t: [
          {
            assertion = t.owner == null || t.uid == 0;
            message = "sops.templates.${n}: set only one of `owner` (${toString t.owner}) and `uid` (${toString t.uid}).";
          }
          {
            assertion = t.group == null || t.gid == 0;
            message = "sops.templates.${n}: set only one of `group` (${toString t.group}) and `gid` (${toString t.gid}).";
          }
          {
            assertion = lib.all (p: !(lib.hasInfix p t.content)) placeholdersOfUserSecrets;
            message = "sops.templates.${n} uses the placeholder of a neededForUsers secret; those are installed separately and cannot be rendered into templates.";
          }
          {
            assertion = lib.all (p: !(lib.hasInfix p t.content)) placeholdersOfNetworkSecrets;
            message = "sops.templates.${n} uses the placeholder of a needsNetwork secret; templates are rendered by the early install, before the network is up: read the secret from /run/secrets-network in the service instead.";
          }
        ]) cfg.templates
      );
    })

    (mkIf (cfg.secrets != { }) (mkMerge [
      {
        assertions =
          [
            {
              assertion =
                cfg.gnupg.home != null || cfg.gnupg.sshKeyPaths != [ ] || cfg.age.keyFile != null || cfg.age.sshKeyPaths != [ ];
              message = "No key source configured for sops. Either set services.openssh.enable or set sops.age.keyFile or sops.gnupg.home";
            }
            {
              assertion = !(cfg.gnupg.home != null && cfg.gnupg.sshKeyPaths != [ ]);
              message = "Exactly one of sops.gnupg.home and sops.gnupg.sshKeyPaths must be set";
            }
            {
              assertion = !cfg.age.generateKey || cfg.age.keyFile != null;
              message = "sops.age.generateKey needs sops.age.keyFile (the file to create)";
            }
            {
              assertion = duplicateNames == [ ];
              message = "sops.secrets: several secrets have the same name (${lib.concatStringsSep ", " duplicateNames}); each installs to /run/secrets/<name>";
            }
          ]
          ++ [
            {
              assertion = duplicateCredentials == [ ];
              message = "sops.secrets: several secrets have the same credentialName (${lib.concatStringsSep ", " duplicateCredentials}); each is placed at /run/credstore/<credentialName>";
            }
          ]
          ++ lib.optionals cfg.validateSopsFiles (
            lib.concatMap (s: [
              {
                assertion = !(s.uid != null && s.uid != 0 && s.owner != null);
                message = "In ${s.name} exactly one of sops.owner and sops.uid must be set";
              }
              {
                assertion = !(s.gid != null && s.gid != 0 && s.group != null);
                message = "In ${s.name} exactly one of sops.group and sops.gid must be set";
              }
            ]) allSecrets
          )
          ++ map (s: {
            assertion =
              (s.owner == null || s.owner == "root")
              && (s.group == null || s.group == "root")
              && (s.uid == null || s.uid == 0)
              && (s.gid == null || s.gid == 0);
            message = "sops.secrets.${s.name}: neededForUsers secrets are installed before users exist and are always owned by root:root; remove owner/group/uid/gid (sops-nix ignored them silently)";
          }) userSecrets
          ++ map (s: {
            assertion = !(s.needsNetwork && s.neededForUsers);
            message = "sops.secrets.${s.name}: neededForUsers and needsNetwork exclude each other (users are created before the network is up)";
          }) allSecrets
          ++ lib.optional (userSecrets != [ ] && hasSysusers) {
            assertion = config.users.mutableUsers;
            message = "systemd.sysusers.enable in combination with sops.secrets.<name>.neededForUsers can only work with config.users.mutableUsers enabled (sops-nix issue #475)";
          };

        sops.environment.SOPS_GPG_EXEC = mkIf (cfg.gnupg.home != null || cfg.gnupg.sshKeyPaths != [ ]) (
          lib.mkDefault "${cfg.gnupg.package}/bin/gpg"
        );

        system.activationScripts.generate-age-key = mkIf cfg.age.generateKey {
          deps = [ ];
          text = ''
            if [ ! -f ${lib.escapeShellArg cfg.age.keyFile} ]; then
              echo generating machine-specific age key...
              mkdir -p "$(dirname ${lib.escapeShellArg cfg.age.keyFile})"
              ${cfg.package}/bin/sealbox keygen -o ${lib.escapeShellArg cfg.age.keyFile}
            fi
          '';
        };
      }

      # Activation-script mode.
      (mkIf (!cfg.useSystemdActivation && regularSecrets != [ ]) {
        system.activationScripts.setupSecrets = {
          deps = [
            "specialfs"
            "users"
            "groups"
          ] ++ keyDeps;
          text = ''
            [ -e /run/current-system ] || echo setting up secrets...
            ${sb.withEnvironment scriptEnv (installCmd "" manifest)}
          '';
        } // dryAttrs;
      })
      (mkIf (!forUsersViaSystemd && userSecrets != [ ]) {
        system.activationScripts.setupSecretsForUsers = {
          deps = [ "specialfs" ] ++ keyDeps;
          text = ''
            [ -e /run/current-system ] || echo setting up secrets for users...
            ${sb.withEnvironment scriptEnv (installCmd " --ignore-passwd" usersManifest)}
          '';
        } // dryAttrs;
        system.activationScripts.users.deps = [ "setupSecretsForUsers" ];
      })

      # systemd mode: the units' settings live in install-units.json (read also by the
      # real-systemd test suite, which boots them).
      (mkIf (cfg.useSystemdActivation && regularSecrets != [ ]) {
        systemd.services.sops-install-secrets = installUnit "sops-install-secrets";
      })
      (mkIf (forUsersViaSystemd && userSecrets != [ ]) {
        systemd.services.sops-install-secrets-for-users = installUnit "sops-install-secrets-for-users";
      })
      # Secrets that need the network: always a unit (activation scripts run before the
      # network at boot), after network-online.target, in both activation modes.
      (mkIf (networkSecrets != [ ]) {
        systemd.services.sops-install-secrets-network = installUnit "sops-install-secrets-network";
      })
    ]))
  ];
}
