//! The `bokbasen` command line as a release archive,
//! `bokbasen_VERSION_OS_ARCH.tar.gz`, holding one folder of the same name:
//!
//! - `bokbasen`, the binary;
//! - `completions/bokbasen.bash`, `completions/_bokbasen` (zsh), `completions/bokbasen.fish`;
//! - `man/man1/bokbasen.1`;
//!
//! the completions and the page written by the CLI itself (`bokbasen
//! completions SHELL`, `bokbasen man`, run from a build of the same source
//! for this machine), so they match its arguments. Its
//! checksum goes into `bokbasen_VERSION_SHA256SUMS`, apart from the
//! provider's sums, which Terraform and registries read.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::{check_version, parse_sums, sha256_hex, sums_text, Platform, Result};

/// The files of the archive beside the binary: path in the folder, and the
/// `bokbasen` arguments that print it.
const GENERATED: &[(&str, &[&str])] = &[
    ("completions/bokbasen.bash", &["completions", "bash"]),
    ("completions/_bokbasen", &["completions", "zsh"]),
    ("completions/bokbasen.fish", &["completions", "fish"]),
    ("man/man1/bokbasen.1", &["man"]),
];

/// Writes the archive of `binary` (built for `platform`) into `dist`, and
/// `bokbasen_VERSION_SHA256SUMS` listing it; the archive's path. The
/// completions and man page are the same on every platform: `runnable` is
/// a build of the same CLI this machine can run (`binary` itself when it
/// is for this machine).
pub fn write_archive(
    dist: &Path,
    version: &str,
    platform: Platform,
    binary: &Path,
    runnable: &Path,
) -> Result<PathBuf> {
    check_version(version)?;
    let folder = format!("bokbasen_{version}_{platform}");
    let mut files: Vec<(String, Vec<u8>, u32)> = Vec::new();
    let executable = std::fs::read(binary).map_err(|e| format!("read the CLI {}: {e}", binary.display()))?;
    files.push(("bokbasen".into(), executable, 0o755));
    for (path, args) in GENERATED {
        let output =
            Command::new(runnable).args(*args).output().map_err(|e| format!("run {}: {e}", runnable.display()))?;
        if !output.status.success() || output.stdout.is_empty() {
            return Err(format!(
                "`bokbasen {}` failed: {}",
                args.join(" "),
                String::from_utf8_lossy(&output.stderr).trim()
            ));
        }
        files.push(((*path).into(), output.stdout, 0o644));
    }

    let mut tar = tar::Builder::new(flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default()));
    for (path, bytes, mode) in &files {
        let mut header = tar::Header::new_gnu();
        header.set_size(bytes.len() as u64);
        header.set_mode(*mode);
        header.set_mtime(0);
        header.set_uid(0);
        header.set_gid(0);
        header.set_entry_type(tar::EntryType::Regular);
        let name = format!("{folder}/{path}");
        tar.append_data(&mut header, &name, bytes.as_slice()).map_err(|e| format!("archive {name}: {e}"))?;
    }
    let gz = tar.into_inner().and_then(|gz| gz.finish()).map_err(|e| format!("archive {folder}: {e}"))?;
    std::fs::create_dir_all(dist).map_err(|e| format!("create {}: {e}", dist.display()))?;
    let archive = dist.join(format!("{folder}.tar.gz"));
    std::fs::write(&archive, &gz).map_err(|e| format!("write {}: {e}", archive.display()))?;

    let sums = dist.join(format!("bokbasen_{version}_SHA256SUMS"));
    // Other platforms' archives of the same version keep their lines.
    let listed = std::fs::read_to_string(&sums).unwrap_or_default();
    let mut entries = parse_sums(&listed).map_err(|e| format!("{}: {e}", sums.display()))?;
    let file = format!("{folder}.tar.gz");
    entries.retain(|(listed, _)| *listed != file);
    entries.push((file, sha256_hex(&gz)));
    std::fs::write(&sums, sums_text(entries)).map_err(|e| format!("write {}: {e}", sums.display()))?;
    Ok(archive)
}
