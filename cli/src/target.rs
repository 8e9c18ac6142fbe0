//! Where `encrypt` and `decrypt` read and write: the input (a file or stdin), the name used
//! for format detection and creation rules, the formats, and the output (stdout, `--output`
//! or `--in-place`).

use crate::files::{read_input, write_atomic, write_stdout};
use crate::IoArgs;
use sealbox_formats::store::Format;
use sealbox_formats::{Error, ErrorKind, Result};
use std::path::{Path, PathBuf};

/// Input path (`-` = stdin), the path used for format detection and rules, and the
/// input and output formats.
pub struct Target {
    /// The input (`-`: stdin).
    pub input: PathBuf,
    /// The name for formats and rules: `--filename-override`, else the input file.
    pub name: Option<PathBuf>,
    /// The format read.
    pub input_format: Format,
    /// The format written.
    pub output_format: Format,
}

impl Target {
    /// The target of `file` (None or `-`: stdin) with the I/O flags `io`.
    pub fn new(file: &Option<PathBuf>, io: &IoArgs) -> Result<Target> {
        let input = file.clone().unwrap_or_else(|| PathBuf::from("-"));
        let stdin = input == Path::new("-");
        if io.in_place && io.output.is_some() {
            return Err(Error::new(
                ErrorKind::ConflictingOptions,
                "cannot operate on both --output and --in-place",
            ));
        }
        if stdin && io.in_place {
            return Err(Error::new(
                ErrorKind::ConflictingOptions,
                "cannot use --in-place when reading from stdin",
            ));
        }
        let name = io
            .filename_override
            .clone()
            .or_else(|| (!stdin).then(|| input.clone()));
        let by_name = name.as_deref().map(Format::from_path);
        let pick = |flag: &Option<String>| {
            flag.as_deref()
                .map(Format::from_name)
                .or(by_name)
                .unwrap_or(Format::Binary)
        };
        Ok(Target {
            input_format: pick(&io.input_type),
            output_format: pick(&io.output_type),
            input,
            name,
        })
    }

    /// Reads the input; a missing file is sops' "non-existent file" (exit 100).
    pub fn read(&self) -> Result<Vec<u8>> {
        read_input(&self.input).map_err(|e| match e.kind {
            ErrorKind::NoFile => {
                let abs = std::path::absolute(&self.input).unwrap_or_else(|_| self.input.clone());
                Error::new(
                    ErrorKind::NoFile,
                    format!(
                        "Error: cannot operate on non-existent file {:?}",
                        abs.display().to_string()
                    ),
                )
            }
            _ => e,
        })
    }

    /// Writes the result: over the input (`--in-place`), to `--output`, or to stdout. A new
    /// file gets `new_mode`.
    pub fn write(&self, io: &IoArgs, data: &[u8], new_mode: u32) -> Result<()> {
        if io.in_place {
            write_atomic(&self.input, data, new_mode)
        } else if let Some(out) = &io.output {
            write_atomic(out, data, new_mode)
        } else {
            write_stdout(data)
        }
    }
}
