# Declarations of the NixOS host options the sealbox module reads or writes
# (docs/nixos-module.md#host-options), so it can be evaluated with nixpkgs' lib alone.
{ lib, ... }:
let
  inherit (lib) mkOption types;
  anyAttrs = types.attrsOf types.anything;
  script = types.either types.str (
    types.submodule {
      options = {
        deps = mkOption {
          type = types.listOf types.str;
          default = [ ];
        };
        text = mkOption {
          type = types.lines;
          default = "";
        };
        supportsDryActivation = mkOption {
          type = types.bool;
          default = false;
        };
      };
    }
  );
in
{
  options = {
    assertions = mkOption {
      type = types.listOf types.unspecified;
      default = [ ];
    };
    warnings = mkOption {
      type = types.listOf types.str;
      default = [ ];
    };
    system.activationScripts = mkOption {
      type = types.attrsOf script;
      default = { };
    };
    system.dryActivationScript = mkOption {
      type = types.str;
      default = "";
    };
    system.build = mkOption {
      type = types.lazyAttrsOf types.unspecified;
      default = { };
    };
    systemd.services = mkOption {
      type = types.attrsOf (types.submodule { freeformType = anyAttrs; });
      default = { };
    };
    systemd.sysusers.enable = mkOption {
      type = types.bool;
      default = false;
    };
    services.userborn.enable = mkOption {
      type = types.bool;
      default = false;
    };
    services.openssh.enable = mkOption {
      type = types.bool;
      default = false;
    };
    services.openssh.hostKeys = mkOption {
      type = types.listOf anyAttrs;
      default = [
        {
          type = "rsa";
          bits = 4096;
          path = "/etc/ssh/ssh_host_rsa_key";
        }
        {
          type = "ed25519";
          path = "/etc/ssh/ssh_host_ed25519_key";
        }
      ];
    };
    users.mutableUsers = mkOption {
      type = types.bool;
      default = true;
    };
    users.users = mkOption {
      default = { };
      type = types.attrsOf (
        types.submodule (
          { name, ... }:
          {
            freeformType = anyAttrs;
            options.name = mkOption {
              type = types.str;
              default = name;
            };
            options.group = mkOption {
              type = types.str;
              default = "";
            };
          }
        )
      );
    };
    users.groups = mkOption {
      type = types.attrsOf (types.submodule { freeformType = anyAttrs; });
      default = { };
    };
    environment = mkOption {
      type = anyAttrs;
      default = { };
    };
  };
}
