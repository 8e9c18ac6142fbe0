# A host configuration that sets every `sops.*` option sops-nix has, evaluated
# with nothing but nixpkgs' lib (docs/nixos-module.md#evaluating-without-nixpkgs).
# The activation test `activation/tests/nix_module.rs` evaluates it, checks the manifests with
# `sealbox-install --check-mode=sopsfile` and installs them in a private mount
# namespace; with `module` pointing at sops-nix's module it yields sops-nix's
# manifests for the same configuration, so both trees can be compared.
#
#   nix-instantiate --eval --strict --json nix/tests/every-option.nix \
#     --arg lib 'import /path/to/nixpkgs/lib' --arg files '{ yaml = /abs/a.yaml; … }' \
#     --argstr keyFile /abs/key.txt --argstr root /abs/dir
#
# Arguments:
#   files: paths of sops files { yaml, json, dotenv, ini, binary } and of a
#          template file { template };
#   keyFile: the age key file; root: a directory for the custom paths;
#   module: the module to evaluate (default: sealbox's); sealboxExtras: also set
#          the options only sealbox has;
#   gnupg: when set, `{ home, sshKeyPaths }` for `sops.gnupg` and no age key
#          (the files must then be encrypted to those PGP keys).
#
# Result: { manifest, usersManifest } (JSON text of both manifests), failed
# assertions and warnings,
# checkPhase, services, scripts and `storePaths`: each store path the
# evaluation gave a file, mapped to the file it came from (the dummy store
# used by the tests never copies anything).
{
  lib,
  files,
  keyFile,
  root,
  module ? ../modules/nixos.nix,
  sealboxExtras ? true,
  gnupg ? null,
}:
let
  pkgs = import ./pkgs-stub.nix { inherit lib; };
  plain = s: builtins.unsafeDiscardStringContext (toString s);

  config =
    { config, ... }:
    {
      users.users.alice.group = "svc";
      sops = {
        package = pkgs.sealbox;
        validationPackage = pkgs.sealbox;
        defaultSopsFile = files.yaml;
        defaultSopsFormat = "yaml";
        defaultSopsKey = null;
        validateSopsFiles = true;
        keepGenerations = 3;
        useTmpfs = true;
        useSystemdActivation = false;
        log = [ "secretChanges" ];
        environment.SOPS_CONFIG = "/dev/null";
        age = {
          keyFile = if gnupg == null then keyFile else null;
          generateKey = false;
          sshKeyPaths = [ ];
          plugins = [ ];
        };
        gnupg =
          if gnupg == null then
            {
              home = null;
              sshKeyPaths = [ ];
            }
          else
            gnupg;
        secrets = {
          # yaml, nested key, owner by name (group from users.users.alice.group), reload.
          "db/password" = {
            key = "database/password";
            owner = "alice";
            mode = "0440";
            reloadUnits = [ "db.service" ];
          };
          # json, numeric owner and group, custom path (a symlink into the generation).
          api_token = {
            sopsFile = files.json;
            format = "json";
            key = "api/token";
            uid = 1300;
            gid = 1300;
            mode = "0400";
            path = "${root}/etc/app/token";
            restartUnits = [ "app.service" ];
          };
          # json, the whole file.
          json_whole = {
            sopsFile = files.json;
            format = "json";
            key = "";
          };
          # dotenv, ini and binary: the whole file, key ignored.
          env_file = {
            sopsFile = files.dotenv;
            format = "dotenv";
            group = "svc";
            mode = "0640";
          };
          ini_file = {
            sopsFile = files.ini;
            format = "ini";
          };
          blob = {
            sopsFile = files.binary;
            format = "binary";
            mode = "0444";
          };
          # before users exist: into /run/secrets-for-users.
          root_password = {
            key = "users/root";
            neededForUsers = true;
          };
        };
        templates = {
          "app.env" = {
            content = ''
              DB_PASSWORD=${config.sops.placeholder."db/password"}
              TOKEN=${config.sops.placeholder.api_token}
            '';
            owner = "alice";
            mode = "0440";
            restartUnits = [ "app.service" ];
            reloadUnits = [ "proxy.service" ];
          };
          "from-file.conf" = {
            name = "nested/from-file.conf";
            file = files.template;
            path = "${root}/etc/app/from-file.conf";
            uid = 1300;
            gid = 2345;
          };
        };
      };
    };

  # What only sealbox has or allows: a secret whose `name` differs from its
  # attribute, used by a template (sops-nix keys placeholders by attribute
  # name, so its build check fails on this), and a systemd credential.
  extras =
    { config, ... }:
    {
      sops.secrets.renamed = {
        name = "renamed-file";
        key = "database/user";
      };
      sops.templates."renamed.txt".content = "user=${config.sops.placeholder.renamed}\n";
      # A systemd credential (placed in /run/credstore by sealbox-install).
      sops.secrets.api_token.credentialName = "app-token";
    };

  ev = lib.evalModules {
    modules = [
      ./stubs.nix
      module
      { _module.args.pkgs = pkgs; }
      config
    ] ++ lib.optional sealboxExtras extras;
  };
  c = ev.config;
  text = d: builtins.unsafeDiscardStringContext d.text;
  storePaths = lib.listToAttrs (
    map (p: lib.nameValuePair (plain "${p}") (toString p)) (lib.attrValues files)
  );
in
{
  failedAssertions = map (a: a.message) (lib.filter (a: !a.assertion) c.assertions);
  inherit (c) warnings;
  manifest = text c.system.build.sops-nix-manifest;
  usersManifest = text c.system.build.sops-nix-users-manifest;
  checkPhase = plain c.system.build.sops-nix-manifest.checkPhase;
  inherit storePaths;
}
