{
  description = "sealbox: sops-compatible secrets files and a sops-nix compatible NixOS module";

  inputs.nixpkgs.url = "github:NixOS/nixpkgs/nixos-unstable";

  outputs =
    { self, nixpkgs }:
    let
      inherit (nixpkgs) lib;
      systems = [
        "x86_64-linux"
        "aarch64-linux"
      ];
      forAllSystems = f: lib.genAttrs systems (system: f nixpkgs.legacyPackages.${system});
    in
    {
      overlays.default = final: _prev: {
        sealbox = final.callPackage ./nix/package.nix { };
      };

      packages = forAllSystems (pkgs: rec {
        sealbox = pkgs.callPackage ./nix/package.nix { };
        default = sealbox;
      });

      # The modules default `sops.package` to this flake's sealbox, built with the
      # host's own pkgs (so cross-compilation and overlays apply).
      nixosModules = rec {
        sealbox =
          { pkgs, lib, ... }:
          {
            imports = [ ./nix/modules/nixos.nix ];
            sops.package = lib.mkDefault (pkgs.callPackage ./nix/package.nix { });
            sops.validationPackage = lib.mkIf (pkgs.stdenv.buildPlatform != pkgs.stdenv.hostPlatform) (
              lib.mkDefault (pkgs.pkgsBuildHost.callPackage ./nix/package.nix { })
            );
          };
        default = sealbox;
      };

      homeManagerModules = rec {
        sealbox =
          { pkgs, lib, ... }:
          {
            imports = [ ./nix/modules/home-manager.nix ];
            sops.package = lib.mkDefault (pkgs.callPackage ./nix/package.nix { });
          };
        default = sealbox;
      };

      checks = forAllSystems (
        pkgs:
        {
          package = self.packages.${pkgs.stdenv.hostPlatform.system}.sealbox;

          # The module evaluation tests (nix/tests/eval.nix) against this nixpkgs' lib.
          module-eval =
            let
              result = import ./nix/tests/eval.nix { inherit lib; };
            in
            pkgs.runCommand "sealbox-module-eval" { } (
              if result.failures == [ ] then
                "touch $out"
              else
                throw ("module evaluation tests failed:\n" + lib.concatStringsSep "\n" result.failures)
            );
        }
        // lib.optionalAttrs pkgs.stdenv.isLinux {
          nixos = pkgs.testers.runNixOSTest (import ./nix/tests/vm.nix { inherit self; });
        }
      );

      devShells = forAllSystems (pkgs: {
        default = pkgs.mkShell {
          inputsFrom = [ self.packages.${pkgs.stdenv.hostPlatform.system}.sealbox ];
          packages = [
            pkgs.cargo
            pkgs.rustc
            pkgs.clippy
            pkgs.rustfmt
            pkgs.sops
            pkgs.age
            pkgs.nix
          ];
        };
      });

      formatter = forAllSystems (pkgs: pkgs.nixfmt-rfc-style);
    };
}
