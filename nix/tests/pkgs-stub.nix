# A stand-in for nixpkgs' `pkgs`: just what the sealbox modules call, built
# from the bare `derivation` builtin (never realised by `--eval`).
{
  lib,
  system ? "x86_64-linux",
}:
let
  fake =
    name:
    derivation {
      inherit name system;
      builder = "/bin/sh";
      args = [
        "-c"
        "mkdir $out"
      ];
    };
  self = {
    inherit lib;
    pkgs = self;
    pkgsBuildHost = self;
    stdenv = rec {
      hostPlatform = {
        inherit system;
        isLinux = true;
        isDarwin = false;
      };
      buildPlatform = hostPlatform;
      isLinux = true;
      isDarwin = false;
    };
    writeTextFile =
      {
        name,
        text,
        checkPhase ? "",
        ...
      }:
      derivation {
        inherit
          name
          system
          text
          checkPhase
          ;
        builder = "/bin/sh";
        args = [
          "-c"
          "printf %s \"$text\" > $out"
        ];
      }
      // {
        inherit text checkPhase;
      };
    writeText = name: text: self.writeTextFile { inherit name text; };
    writeShellScript = name: text: self.writeTextFile { inherit name text; };
    age = fake "age";
    gnupg = fake "gnupg";
    coreutils = fake "coreutils";
    sealbox = fake "sealbox-0.1.0";
    callPackage =
      fn: args:
      let
        f = if builtins.isFunction fn then fn else import fn;
      in
      f (builtins.intersectAttrs (builtins.functionArgs f) self // args);
    # Enough of rustPlatform for nix/package.nix: the attributes are kept for inspection.
    rustPlatform.buildRustPackage = a: fake "${a.pname}-${a.version}" // { passthruArgs = a; };
    runCommand = name: _env: _script: fake name;
    mkShell = a: fake "shell" // { passthruArgs = a; };
    testers.runNixOSTest = t: fake "vm-test-${t.name}";
  };
in
self
