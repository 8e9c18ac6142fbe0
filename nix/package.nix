# sealbox: the `sealbox` CLI and the `sealbox-install` activation binary.
{
  lib,
  rustPlatform,
  stdenv,
}:
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

  # Shell completions and manual pages, written by the binaries themselves from their
  # argument definitions (skipped when cross-compiling: the build machine cannot run them).
  postInstall = lib.optionalString (stdenv.buildPlatform.canExecute stdenv.hostPlatform) ''
    mkdir -p $out/share/bash-completion/completions $out/share/zsh/site-functions \
      $out/share/fish/vendor_completions.d $out/share/man/man8
    $out/bin/sealbox completions bash > $out/share/bash-completion/completions/sealbox
    $out/bin/sealbox completions zsh > $out/share/zsh/site-functions/_sealbox
    $out/bin/sealbox completions fish > $out/share/fish/vendor_completions.d/sealbox.fish
    $out/bin/sealbox man -o $out/share/man/man1
    $out/bin/sealbox-install --man > $out/share/man/man8/sealbox-install.8
  '';

  meta = {
    description = "sops-compatible secrets CLI and sops-nix compatible activation binary";
    license = lib.licenses.mit;
    mainProgram = "sealbox";
    platforms = lib.platforms.linux;
  };
}
