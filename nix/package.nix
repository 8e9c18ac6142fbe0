# sealbox: the `sealbox` CLI and the `sealbox-install` activation binary.
{ lib, rustPlatform }:
let
  root = ../.;
in
rustPlatform.buildRustPackage {
  pname = "sealbox";
  version = (lib.importTOML ../Cargo.toml).workspace.package.version;

  # Only the Cargo workspace (not nix/, examples/, …), so editing the Nix files
  # does not rebuild the package.
  src = lib.cleanSourceWith {
    name = "sealbox-source";
    src = root;
    filter =
      path: type:
      let
        rel = lib.removePrefix (toString root + "/") (toString path);
        top = builtins.head (lib.splitString "/" rel);
      in
      lib.elem top [
        "Cargo.toml"
        "Cargo.lock"
        "formats"
        "cli"
        "activation"
        "tests"
      ]
      && lib.cleanSourceFilter path type
      && !(lib.hasSuffix ".swp" rel);
  };

  cargoLock.lockFile = ../Cargo.lock;

  cargoBuildFlags = [
    "-p"
    "sealbox-cli"
    "-p"
    "sealbox-activation"
  ];
  # Unit tests of the pure crates only: the activation and interop suites need
  # root, mount namespaces and the real sops/age, which the sandbox lacks.
  cargoTestFlags = [
    "-p"
    "sealbox-formats"
  ];

  meta = {
    description = "sops-compatible secrets CLI and sops-nix compatible activation binary";
    license = lib.licenses.mit;
    mainProgram = "sealbox";
    platforms = lib.platforms.linux;
  };
}
