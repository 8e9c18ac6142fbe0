# Helpers shared by the sealbox NixOS and home-manager modules.
{ lib }:
let
  inherit (lib) mkOption types;
in
rec {
  # A file the activation binary reads at runtime: an absolute path given as a
  # string that does not point into the Nix store (a key copied there would be
  # world-readable). A Nix path value is rejected because it would be copied.
  pathNotInStore = lib.mkOptionType {
    name = "pathNotInStore";
    description = "absolute path not in the Nix store";
    descriptionClass = "noun";
    check =
      x:
      builtins.isString x
      && lib.hasPrefix "/" x
      && builtins.match "${lib.escapeRegex builtins.storeDir}/[0-9a-df-np-sv-z]{32}-.*" x == null;
    merge = lib.mergeEqualOption;
  };

  formats = [
    "yaml"
    "json"
    "binary"
    "dotenv"
    "ini"
  ];

  logKinds = [
    "keyImport"
    "secretChanges"
  ];

  # The placeholder that stands for a secret in template contents. The hash
  # input is the attribute name, as in sops-nix, so rendered placeholders are
  # identical to the ones sops-nix users already have.
  placeholderFor = attrName: "<SOPS:${builtins.hashString "sha256" attrName}:PLACEHOLDER>";

  # Always single-quoted (as sops-nix renders it), with embedded quotes escaped.
  quote = v: "'" + lib.replaceStrings [ "'" ] [ "'\\''" ] v + "'";

  # `export` lines for the activation snippets. Unlike sops-nix the values are
  # shell-escaped: a value is taken literally, never evaluated by the shell.
  withEnvironment =
    env: command:
    if env == { } then
      command
    else
      lib.concatStringsSep "\n" (
        [ "(" ]
        ++ lib.mapAttrsToList (n: v: "  export ${n}=${quote (toString v)}") env
        ++ [
          "  ${command}"
          ")"
        ]
      );

  # Option declarations the NixOS and home-manager modules share.
  keyOption =
    cfg: name:
    mkOption {
      type = types.str;
      default = if cfg.defaultSopsKey != null then cfg.defaultSopsKey else name;
      defaultText = lib.literalMD "{option}`sops.defaultSopsKey`, else the attribute name";
      description = ''
        Key of the value in the sops file, `/`-separated for nested yaml/json
        (`""` = the whole decrypted file). Ignored for binary, dotenv and ini.
      '';
    };
  formatOption =
    cfg:
    mkOption {
      type = types.enum formats;
      default = cfg.defaultSopsFormat;
      defaultText = lib.literalExpression "config.sops.defaultSopsFormat";
      description = "Format of the sops file.";
    };
  modeOption =
    type: what:
    mkOption {
      inherit type;
      default = "0400";
      description = "Octal permissions of the ${what}.";
    };
  # A template's text: `content`, or `file` when `content` is empty.
  templateTextOptions = pkgs: config: {
    content = mkOption {
      type = types.lines;
      default = "";
      description = "Template text; `config.sops.placeholder.<secret>` stands for a secret's value.";
    };
    file = mkOption {
      type = types.path;
      default = pkgs.writeText config.name config.content;
      defaultText = lib.literalMD "a store file with `content`";
      description = "Template file, used only when `content` is empty.";
    };
  };

  # The manifest's `placeholderBySecretName`: keyed by the secret's `name`, which
  # is what sealbox-install (like sops-install-secrets) looks up; sops-nix keys
  # it by attribute name, which breaks templates when the two differ.
  placeholderByName =
    cfg:
    lib.listToAttrs (
      lib.mapAttrsToList (attr: s: lib.nameValuePair s.name cfg.placeholder.${attr}) (
        lib.filterAttrs (attr: _: cfg.placeholder ? ${attr}) cfg.secrets
      )
    );

  # The manifest's `logging` object.
  logging = log: {
    keyImport = lib.elem "keyImport" log;
    secretChanges = lib.elem "secretChanges" log;
  };

  # The `--check-mode` the manifest build runs the validation binary with.
  checkMode = validate: if validate then "sopsfile" else "manifest";

  mkLogOption = mkOption {
    type = types.listOf (types.enum logKinds);
    default = logKinds;
    description = "What sealbox-install logs: imported keys and/or added, changed and removed secrets.";
  };

  # Errors found while building the manifest (sops-nix's `manifestFor` checks):
  # a list of messages, empty when every sops file exists and is in the store.
  sopsFileErrors =
    secrets:
    lib.concatMap (
      s:
      let
        f = s.sopsFile;
        inStore = builtins.isPath f || (builtins.isString f && lib.hasPrefix builtins.storeDir f);
      in
      if !(builtins.pathExists f) then
        [ "Cannot find path '${toString f}' set in sops.secrets.${lib.strings.escapeNixIdentifier s.name}.sopsFile" ]
      else if !inStore then
        [
          "'${toString f}' is not in the Nix store. Either add it to the Nix store or set sops.validateSopsFiles to false"
        ]
      else
        [ ]
    ) secrets;
}
