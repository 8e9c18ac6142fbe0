# Declarations of the home-manager options the sealbox home-manager module uses.
{ lib, ... }:
let
  inherit (lib) mkOption types;
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
    home.username = mkOption {
      type = types.str;
      default = "alice";
    };
    home.homeDirectory = mkOption {
      type = types.str;
      default = "/home/alice";
    };
    home.sessionVariables = mkOption {
      type = types.attrsOf types.anything;
      default = { };
    };
    home.activation = mkOption {
      type = types.attrsOf types.unspecified;
      default = { };
    };
    xdg.configHome = mkOption {
      type = types.str;
      default = "/home/alice/.config";
    };
    systemd.user.systemctlPath = mkOption {
      type = types.str;
      default = "/usr/bin/systemctl";
    };
    systemd.user.services = mkOption {
      type = types.attrsOf (types.attrsOf types.anything);
      default = { };
    };
    launchd.agents = mkOption {
      type = types.attrsOf (types.attrsOf types.anything);
      default = { };
    };
  };
}
