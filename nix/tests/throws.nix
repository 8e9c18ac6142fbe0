# Configurations that must fail to evaluate, one per `case`, each with the
# message the user should see (checked by tests/tests/nix_eval.rs on stderr).
#
#   nix-instantiate --eval --strict nix/tests/throws.nix \
#     --arg lib 'import /path/to/nixpkgs/lib' --argstr case missing-sops-file
{ lib, case }:
let
  pkgs = import ./pkgs-stub.nix { inherit lib; };
  sopsFile = ../../examples/secrets.enc.yaml;
  base.sops.age.keyFile = "/var/lib/sealbox/key.txt";
  withFile = lib.mapAttrs (_: c: lib.recursiveUpdate { sops.defaultSopsFile = sopsFile; } c);
  cases = withFile {
    missing-sops-file.sops.secrets.a.sopsFile = "/nonexistent/secrets.yaml";
    sops-file-not-in-store.sops.secrets.a.sopsFile = "/etc/hostname";
    unknown-format.sops.secrets.a.format = "toml";
    unknown-default-format = {
      sops.defaultSopsFormat = "toml";
      sops.secrets.a = { };
    };
    key-file-in-store = {
      sops.age.keyFile = lib.mkForce "${builtins.storeDir}/00000000000000000000000000000000-key.txt";
      sops.secrets.a = { };
    };
  } // {
    no-default-sops-file.sops.secrets.a = { };
  };
  ev = lib.evalModules {
    modules = [
      ./stubs.nix
      ../modules/nixos.nix
      { _module.args.pkgs = pkgs; }
      base
      cases.${case}
    ];
  };
in
builtins.unsafeDiscardStringContext ev.config.system.build.sops-nix-manifest.text
