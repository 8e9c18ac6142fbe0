# A NixOS host using sealbox's `sops.*` module (drop-in for sops-nix).
#
# In a flake:
#   nixosConfigurations.demo = nixpkgs.lib.nixosSystem {
#     system = "x86_64-linux";
#     modules = [ sealbox.nixosModules.default ./configuration.nix ];
#   };
#
# The secrets file is ../secrets.enc.yaml, encrypted to the public demo key
# ../keys/demo-age-key.txt. Copy that key to /var/lib/sealbox/key.txt (mode
# 0600) on the host – or set `sops.age.generateKey = true` and re-encrypt the
# file to the new key's recipient (`sealbox keygen -y /var/lib/sealbox/key.txt`).
{ config, pkgs, ... }:
{
  networking.hostName = "demo";
  boot.loader.grub.device = "/dev/vda";
  fileSystems."/" = {
    device = "/dev/vda1";
    fsType = "ext4";
  };
  system.stateVersion = "25.05";

  users.groups.demo-app = { };
  users.users.demo-app = {
    isSystemUser = true;
    group = "demo-app";
  };

  sops = {
    defaultSopsFile = ../secrets.enc.yaml;
    age.keyFile = "/var/lib/sealbox/key.txt";

    # /run/secrets/api_token, root-only; restarts demo-app when it changes.
    secrets.api_token.restartUnits = [ "demo-app.service" ];

    # A nested key, readable by the service's user (group defaults to demo-app).
    secrets."db-password" = {
      key = "database/password";
      owner = "demo-app";
      mode = "0440";
      restartUnits = [ "demo-app.service" ];
    };

    # A config file rendered with both values: /run/secrets/rendered/demo-app.env
    templates."demo-app.env" = {
      owner = "demo-app";
      content = ''
        DB_USER=app
        DB_PASSWORD=${config.sops.placeholder."db-password"}
        API_TOKEN=${config.sops.placeholder.api_token}
      '';
      restartUnits = [ "demo-app.service" ];
    };
  };

  systemd.services.demo-app = {
    description = "Demo service reading sealbox secrets";
    wantedBy = [ "multi-user.target" ];
    serviceConfig = {
      User = "demo-app";
      EnvironmentFile = config.sops.templates."demo-app.env".path;
      ExecStart = "${pkgs.coreutils}/bin/sleep infinity";
    };
  };
}
