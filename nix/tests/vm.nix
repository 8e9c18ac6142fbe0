# NixOS VM test (flake check `nixos`): a host with two secrets, a template and
# a service restarted when a secret changes. Needs nixpkgs (runNixOSTest) and KVM.
{ self }:
{
  name = "sealbox";

  nodes.machine =
    { config, pkgs, ... }:
    {
      imports = [ self.nixosModules.default ];

      # The demo key, copied outside the store before secrets are set up.
      system.activationScripts.sealboxTestKey = {
        deps = [ "specialfs" ];
        text = ''
          install -D -m 0600 ${../../examples/keys/demo-age-key.txt} /run/sealbox-test/key.txt
        '';
      };
      system.activationScripts.setupSecrets.deps = [ "sealboxTestKey" ];

      users.groups.demo = { };
      users.users.demo = {
        isSystemUser = true;
        group = "demo";
      };

      sops = {
        defaultSopsFile = ../../examples/secrets.enc.yaml;
        age.keyFile = "/run/sealbox-test/key.txt";
        secrets.api_token = {
          restartUnits = [ "demo.service" ];
        };
        secrets.db-password = {
          key = "database/password";
          owner = "demo";
          mode = "0440";
          path = "/etc/demo/db-password";
        };
        templates."demo.env" = {
          owner = "demo";
          content = ''
            TOKEN=${config.sops.placeholder.api_token}
            PASSWORD=${config.sops.placeholder.db-password}
          '';
        };
      };

      systemd.services.demo = {
        wantedBy = [ "multi-user.target" ];
        serviceConfig = {
          User = "demo";
          EnvironmentFile = config.sops.templates."demo.env".path;
          ExecStart = "${pkgs.coreutils}/bin/sleep infinity";
        };
      };
    };

  testScript = ''
    machine.wait_for_unit("multi-user.target")
    machine.succeed("test \"$(cat /run/secrets/api_token)\" = tok_live_0123456789abcdef")
    machine.succeed("test \"$(stat -c %a:%U /run/secrets/api_token)\" = 400:root")
    machine.succeed("test \"$(cat /etc/demo/db-password)\" = 'correct horse battery staple'")
    machine.succeed("test \"$(stat -L -c %a:%U:%G /etc/demo/db-password)\" = 440:demo:demo")
    machine.succeed("grep -qx 'TOKEN=tok_live_0123456789abcdef' /run/secrets/rendered/demo.env")
    machine.succeed("grep -qx 'PASSWORD=correct horse battery staple' /run/secrets/rendered/demo.env")
    machine.succeed("test \"$(stat -c %U /run/secrets/rendered/demo.env)\" = demo")
    machine.wait_for_unit("demo.service")
    # Re-activation keeps the secrets (a new generation, the old one pruned).
    machine.succeed("/run/current-system/bin/switch-to-configuration test")
    machine.succeed("test -e /run/secrets/api_token")
    machine.succeed("readlink /run/secrets | grep -q '/2$'")
  '';
}
