# sealbox home-manager module: a drop-in for sops-nix's home-manager `sops.*`.
#
# Secrets are decrypted by a systemd user unit `sops-nix` (same name as in
# sops-nix so `After=sops-nix.service` keeps working) running
# `sealbox-install --ignore-passwd` on a manifest with `userMode = true`; the
# secrets live in `%r/secrets.d` (%r = $XDG_RUNTIME_DIR) and are linked from
# `sops.defaultSymlinkPath`. Linux only (no launchd agent).
# Deviations from sops-nix as in the NixOS module: placeholders keyed by the
# secret's `name` in the manifest, `defaultSopsFormat` is an enum.
{
  config,
  lib,
  pkgs,
  ...
}:
let
  inherit (lib)
    mkOption
    mkIf
    types
    literalExpression
    literalMD
    ;
  sb = import ./lib.nix { inherit lib; };
  cfg = config.sops;

  secretType = types.submodule (
    { config, name, ... }:
    {
      options = {
        name = mkOption {
          type = types.str;
          default = name;
          description = "File name of the secret under the secrets directory.";
        };
        key = sb.keyOption cfg name;
        path = mkOption {
          type = types.str;
          default = "${cfg.defaultSymlinkPath}/${name}";
          defaultText = literalMD "`<sops.defaultSymlinkPath>/<attribute name>`";
          description = "Where the secret is made available (`%r` = $XDG_RUNTIME_DIR); other paths become symlinks.";
        };
        format = sb.formatOption cfg;
        mode = sb.modeOption types.str "installed file";
        sopsFile = mkOption {
          type = types.path;
          default = cfg.defaultSopsFile;
          defaultText = literalExpression "config.sops.defaultSopsFile";
          description = "The sops file the secret is taken from.";
        };
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
          description = "File name of the rendered file.";
        };
        path = mkOption {
          type = types.singleLineStr;
          default = "${hmConfig.xdg.configHome}/sops-nix/secrets/rendered/${config.name}";
          defaultText = literalMD "`<xdg.configHome>/sops-nix/secrets/rendered/<name>`";
          description = "Where the rendered file is made available.";
        };
        mode = sb.modeOption types.singleLineStr "rendered file";
      };
    }
  );

  hmConfig = config;

  manifest = pkgs.writeTextFile {
    name = "manifest.json";
    text = builtins.toJSON {
      secrets = map (s: {
        inherit (s)
          name
          key
          path
          format
          mode
          sopsFile
          ;
      }) (lib.attrValues cfg.secrets);
      templates = map (t: {
        inherit (t)
          name
          path
          content
          file
          mode
          ;
      }) (lib.attrValues cfg.templates);
      secretsMountPoint = cfg.defaultSecretsMountPoint;
      symlinkPath = cfg.defaultSymlinkPath;
      inherit (cfg) keepGenerations;
      gnupgHome = cfg.gnupg.home;
      sshKeyPaths = cfg.gnupg.sshKeyPaths;
      ageKeyFile = cfg.age.keyFile;
      ageSshKeyPaths = cfg.age.sshKeyPaths;
      placeholderBySecretName = sb.placeholderByName cfg;
      userMode = true;
      logging = sb.logging cfg.log;
    };
    checkPhase = ''
      ${cfg.package}/bin/sealbox-install --check-mode=${sb.checkMode cfg.validateSopsFiles} "$out"
    '';
  };

  script = pkgs.writeShellScript "sops-nix-user" (
    lib.optionalString cfg.age.generateKey ''
      if [ ! -f ${lib.escapeShellArg cfg.age.keyFile} ]; then
        echo generating machine-specific age key...
        ${pkgs.coreutils}/bin/mkdir -p "$(${pkgs.coreutils}/bin/dirname ${lib.escapeShellArg cfg.age.keyFile})"
        ${cfg.package}/bin/sealbox keygen -o ${lib.escapeShellArg cfg.age.keyFile}
      fi
    ''
    + ''
      ${cfg.package}/bin/sealbox-install --ignore-passwd ${manifest}
    ''
  );

  unitEnvironment = cfg.environment // {
    PATH = lib.makeBinPath cfg.age.plugins;
  };

  activationText = ''
    systemdStatus=$(${config.systemd.user.systemctlPath} --user is-system-running 2>&1 || true)
    if [ "$systemdStatus" = running ] || [ "$systemdStatus" = degraded ]; then
      ${config.systemd.user.systemctlPath} restart --user sops-nix
    else
      echo "User systemd daemon not running. Probably executed on boot where no manual start/reload is needed."
    fi
    unset systemdStatus
  '';
  dagAfter =
    after: data:
    if lib ? hm then
      lib.hm.dag.entryAfter after data
    else
      {
        inherit after data;
        before = [ ];
      };
in
{
  options.sops = {
    secrets = mkOption {
      type = types.attrsOf secretType;
      default = { };
      description = "Secrets to decrypt for this user.";
    };
    templates = mkOption {
      type = types.attrsOf templateType;
      default = { };
      description = "Files rendered with secret values.";
    };
    placeholder = mkOption {
      type = types.attrsOf types.str;
      default = { };
      visible = false;
      description = "Placeholder of each secret by attribute name (keyed by `name` in the manifest).";
    };
    manifest = mkOption {
      type = types.package;
      readOnly = true;
      internal = true;
      description = "The generated manifest (for tests and debugging).";
    };
    defaultSymlinkPath = mkOption {
      type = types.str;
      default = "${hmConfig.xdg.configHome}/sops-nix/secrets";
      defaultText = literalExpression ''"''${config.xdg.configHome}/sops-nix/secrets"'';
      description = "Symlink to the current secrets generation.";
    };
    defaultSecretsMountPoint = mkOption {
      type = types.str;
      default = "%r/secrets.d";
      description = "Directory holding the generations (`%r` = $XDG_RUNTIME_DIR).";
    };
    defaultSopsFile = mkOption {
      type = types.path;
      description = "Default sops file of secrets.";
    };
    defaultSopsFormat = mkOption {
      type = types.enum sb.formats;
      default = "yaml";
      description = "Default format of sops files (an enum in sealbox).";
    };
    defaultSopsKey = mkOption {
      type = types.nullOr types.str;
      default = null;
      description = "Default `key` of secrets.";
    };
    validateSopsFiles = mkOption {
      type = types.bool;
      default = true;
      description = "Validate sops files at build (`--check-mode=sopsfile`), else only the manifest.";
    };
    keepGenerations = mkOption {
      type = types.ints.unsigned;
      default = 1;
      description = "Number of old generations to keep (0: never prune).";
    };
    log = sb.mkLogOption;
    environment = mkOption {
      type = types.attrsOf (types.either types.str types.path);
      default = { };
      description = "Environment variables of the sops-nix user unit.";
    };
    package = mkOption {
      type = types.package;
      default = pkgs.sealbox or (throw "sops.package: no sealbox package; use the sealbox flake's module or overlay, or set sops.package");
      defaultText = literalExpression "pkgs.sealbox";
      description = "Package providing `sealbox-install` and `sealbox`.";
    };
    age = {
      keyFile = mkOption {
        type = types.nullOr sb.pathNotInStore;
        default = null;
        description = "age identity file.";
      };
      plugins = mkOption {
        type = types.listOf types.package;
        default = [ ];
        description = "age plugins put on PATH.";
      };
      generateKey = mkOption {
        type = types.bool;
        default = false;
        description = "Create `age.keyFile` with `sealbox keygen -o` if missing.";
      };
      sshKeyPaths = mkOption {
        type = types.listOf types.path;
        default = [ ];
        description = "SSH ed25519 private keys converted to age identities.";
      };
    };
    gnupg = {
      home = mkOption {
        type = types.nullOr types.str;
        default = null;
        description = "GnuPG home holding the user's secret key; sealbox-install decrypts through gpg with it.";
      };
      sshKeyPaths = mkOption {
        type = types.listOf types.path;
        default = [ ];
        description = "SSH RSA private keys converted to OpenPGP keys (in memory, as sops-nix does).";
      };
      qubes-split-gpg = {
        enable = mkOption {
          type = types.bool;
          default = false;
          description = "Use Qubes split-gpg (not supported by sealbox-install).";
        };
        domain = mkOption {
          type = types.nullOr types.str;
          default = null;
          description = "Qubes domain holding the GPG keys.";
        };
      };
    };
  };

  config = lib.mkMerge [
    {
      sops.manifest = manifest;
      sops.placeholder = mkIf (cfg.templates != { }) (
        lib.mapAttrs (attr: _: lib.mkDefault (sb.placeholderFor attr)) cfg.secrets
      );
    }
    (mkIf (cfg.secrets != { }) {
      assertions = [
        {
          assertion =
            cfg.gnupg.home != null
            || cfg.gnupg.sshKeyPaths != [ ]
            || cfg.gnupg.qubes-split-gpg.enable
            || cfg.age.keyFile != null
            || cfg.age.sshKeyPaths != [ ];
          message = "No key source configured for sops. Either set sops.age.keyFile, sops.age.sshKeyPaths or sops.gnupg.home";
        }
        {
          assertion =
            lib.count (x: x) [
              (cfg.gnupg.home != null)
              cfg.gnupg.qubes-split-gpg.enable
              (cfg.gnupg.sshKeyPaths != [ ])
            ] <= 1;
          message = "Exactly one of sops.gnupg.home, sops.gnupg.qubes-split-gpg.enable and sops.gnupg.sshKeyPaths must be set";
        }
        {
          assertion = !cfg.gnupg.qubes-split-gpg.enable || (cfg.gnupg.qubes-split-gpg.domain or "") != "";
          message = "sops.gnupg.qubes-split-gpg.domain is required when sops.gnupg.qubes-split-gpg.enable is set";
        }
        {
          assertion = !cfg.age.generateKey || cfg.age.keyFile != null;
          message = "sops.age.generateKey needs sops.age.keyFile (the file to create)";
        }
      ];
      warnings =
        lib.optional cfg.gnupg.qubes-split-gpg.enable
          "sops.gnupg.qubes-split-gpg: sealbox-install does not support Qubes split-gpg; configure sops.gnupg.home, sops.age.keyFile or sops.age.sshKeyPaths";

      sops.environment.SOPS_GPG_EXEC = mkIf (cfg.gnupg.home != null || cfg.gnupg.sshKeyPaths != [ ]) (
        lib.mkDefault "${pkgs.gnupg}/bin/gpg"
      );

      systemd.user.services.sops-nix = {
        Unit.Description = "sops-nix activation (sealbox)";
        Service = {
          Type = "oneshot";
          Environment = lib.concatStringsSep " " (
            lib.mapAttrsToList (n: v: "'${n}=${toString v}'") unitEnvironment
          );
          ExecStart = toString script;
        };
        Install.WantedBy = if cfg.gnupg.home != null then [ "graphical-session-pre.target" ] else [ "default.target" ];
      };

      home.activation.sops-nix = dagAfter [ "writeBoundary" ] activationText;
    })
  ];
}
