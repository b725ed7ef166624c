//! The provider's release files, named and shaped as HashiCorp's releases
//! are, which is what the registry protocol, HCP Terraform's private
//! registry and `terraform providers mirror` expect:
//!
//! - `terraform-provider-bokbasen_VERSION_OS_ARCH.zip`, holding one
//!   executable, `terraform-provider-bokbasen_vVERSION`;
//! - `terraform-provider-bokbasen_VERSION_manifest.json`, declaring the
//!   plugin protocol versions;
//! - `terraform-provider-bokbasen_VERSION_SHA256SUMS`, a line
//!   `<sha256>  <file>` for each of those.
//!
//! Zips are reproducible (fixed timestamps, sorted inputs), so the same
//! binary always gives the same `zh:` hash in users' lock files.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use zip::write::SimpleFileOptions;

use crate::{check_version, parse_sums, sha256_hex, sums_text, Platform, Result, PROTOCOL_VERSIONS, PROVIDER_TYPE};

/// What [`write`] made in the dist directory.
#[derive(Debug)]
pub struct ProviderPackages {
    pub version: String,
    /// One zip per platform with its SHA-256, ordered by platform.
    pub zips: Vec<Zip>,
    pub manifest: PathBuf,
    pub sums: PathBuf,
}

#[derive(Debug)]
pub struct Zip {
    pub platform: Platform,
    pub path: PathBuf,
    pub sha256: String,
}

impl Zip {
    pub fn file_name(&self) -> &str {
        file_name(&self.path)
    }
}

impl ProviderPackages {
    /// The detached signature's path, beside the sums ([`crate::sign`] writes it).
    pub fn signature(&self) -> PathBuf {
        let mut name = self.sums.as_os_str().to_owned();
        name.push(".sig");
        PathBuf::from(name)
    }
}

/// `terraform-provider-bokbasen_VERSION`, the prefix of every release file.
pub fn release_prefix(version: &str) -> String {
    format!("terraform-provider-{PROVIDER_TYPE}_{version}")
}

/// Writes the zips of `binaries` (a platform and its built provider), the
/// manifest and the sums into `dist`, replacing files of the same names.
/// The sums also cover zips of the same version already in `dist` for other
/// platforms (built on their own machines), so one signature serves all.
pub fn write(dist: &Path, version: &str, binaries: &[(Platform, &Path)]) -> Result<ProviderPackages> {
    check_version(version)?;
    if binaries.is_empty() {
        return Err("no provider binary to package".into());
    }
    let mut binaries = binaries.to_vec();
    binaries.sort_by_key(|(platform, _)| *platform);
    if let Some(pair) = binaries.windows(2).find(|pair| pair[0].0 == pair[1].0) {
        return Err(format!("two binaries for {}", pair[0].0));
    }
    std::fs::create_dir_all(dist).map_err(|e| format!("create {}: {e}", dist.display()))?;
    let prefix = release_prefix(version);

    let mut zips = Vec::new();
    for (platform, binary) in binaries {
        let executable = std::fs::read(binary).map_err(|e| format!("read the provider {}: {e}", binary.display()))?;
        let bytes = zip_executable(&format!("terraform-provider-{PROVIDER_TYPE}_v{version}"), &executable)?;
        let path = dist.join(format!("{prefix}_{platform}.zip"));
        write_file(&path, &bytes)?;
        zips.push(Zip { platform, path, sha256: sha256_hex(&bytes) });
    }
    // Zips of this version for other platforms, built on other machines and
    // copied here, belong to the same release: the sums cover them too.
    for platform in Platform::ALL {
        let path = dist.join(format!("{prefix}_{platform}.zip"));
        if zips.iter().all(|z| z.platform != platform) && path.is_file() {
            let bytes = std::fs::read(&path).map_err(|e| format!("read {}: {e}", path.display()))?;
            zips.push(Zip { platform, path, sha256: sha256_hex(&bytes) });
        }
    }
    zips.sort_by_key(|z| z.platform);

    let manifest = dist.join(format!("{prefix}_manifest.json"));
    let manifest_json = serde_json::json!({ "version": 1, "metadata": { "protocol_versions": PROTOCOL_VERSIONS } });
    let manifest_bytes = format!("{manifest_json:#}\n");
    write_file(&manifest, manifest_bytes.as_bytes())?;

    let mut entries: Vec<(String, String)> =
        zips.iter().map(|z| (z.file_name().to_owned(), z.sha256.clone())).collect();
    entries.push((file_name(&manifest).to_owned(), sha256_hex(manifest_bytes.as_bytes())));
    let sums = dist.join(format!("{prefix}_SHA256SUMS"));
    write_file(&sums, sums_text(entries).as_bytes())?;

    Ok(ProviderPackages { version: version.to_owned(), zips, manifest, sums })
}

/// The packages of `version` that [`write`] left in `dist`, each zip checked
/// against its line in the sums, so what is published is what was signed.
pub fn read(dist: &Path, version: &str) -> Result<ProviderPackages> {
    check_version(version)?;
    let prefix = release_prefix(version);
    let sums = dist.join(format!("{prefix}_SHA256SUMS"));
    let listed = std::fs::read_to_string(&sums)
        .map_err(|e| format!("read {}: {e}; run `cargo xtask release {version}` first", sums.display()))?;
    let mut zips = Vec::new();
    for (name, sha256) in parse_sums(&listed).map_err(|e| format!("{}: {e}", sums.display()))? {
        let Some(platform) = name.strip_prefix(&format!("{prefix}_")).and_then(|p| p.strip_suffix(".zip")) else {
            continue;
        };
        let platform = Platform::named(platform)
            .ok_or_else(|| format!("{}: {name} is for a platform bokbasen does not build", sums.display()))?;
        let path = dist.join(&name);
        let bytes = std::fs::read(&path).map_err(|e| format!("read {}: {e}", path.display()))?;
        if sha256_hex(&bytes) != sha256 {
            return Err(format!("{} does not match its line in {}: release again", path.display(), sums.display()));
        }
        zips.push(Zip { platform, path, sha256 });
    }
    if zips.is_empty() {
        return Err(format!("{} lists no provider zip", sums.display()));
    }
    let manifest = dist.join(format!("{prefix}_manifest.json"));
    Ok(ProviderPackages { version: version.to_owned(), zips, manifest, sums })
}

/// A zip of one executable named `name`: mode 0755 (Terraform keeps the
/// mode when it unpacks), DOS epoch timestamp, deflated.
fn zip_executable(name: &str, executable: &[u8]) -> Result<Vec<u8>> {
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .unix_permissions(0o755)
        .last_modified_time(zip::DateTime::default())
        .large_file(executable.len() >= u32::MAX as usize);
    let fail = |e: &dyn std::fmt::Display| format!("zip {name}: {e}");
    zip.start_file(name, options).map_err(|e| fail(&e))?;
    zip.write_all(executable).map_err(|e| fail(&e))?;
    Ok(zip.finish().map_err(|e| fail(&e))?.into_inner())
}

fn write_file(path: &Path, bytes: &[u8]) -> Result {
    std::fs::write(path, bytes).map_err(|e| format!("write {}: {e}", path.display()))
}

pub(crate) fn file_name(path: &Path) -> &str {
    path.file_name().and_then(|n| n.to_str()).unwrap_or_default()
}

/// A release of `version` in `dir/dist` for linux_amd64, of a stand-in
/// binary under `dir`: what the registry's and mirrors' tests start from.
#[cfg(test)]
pub(crate) fn stand_in_release(dir: &Path, version: &str) -> ProviderPackages {
    std::fs::create_dir_all(dir).unwrap();
    let binary = dir.join("provider");
    std::fs::write(&binary, format!("provider {version}")).unwrap();
    write(&dir.join("dist"), version, &[(Platform::LINUX_AMD64, &binary)]).unwrap()
}

#[cfg(test)]
mod tests {
    use std::io::Read as _;
    use std::os::unix::fs::PermissionsExt as _;

    use super::*;

    fn binary(dir: &Path, name: &str, contents: &[u8]) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, contents).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        path
    }

    #[test]
    fn zips_hold_the_executable_terraform_looks_for_and_the_sums_cover_every_file() {
        let dir = tempfile::tempdir().unwrap();
        let amd = binary(dir.path(), "amd", b"\x7fELF amd64 provider");
        let arm = binary(dir.path(), "arm", b"\x7fELF arm64 provider");
        let dist = dir.path().join("dist");
        let packages = write(&dist, "1.2.3", &[(Platform::LINUX_ARM64, &arm), (Platform::LINUX_AMD64, &amd)]).unwrap();

        let names: Vec<&str> = packages.zips.iter().map(Zip::file_name).collect();
        assert_eq!(
            names,
            ["terraform-provider-bokbasen_1.2.3_linux_amd64.zip", "terraform-provider-bokbasen_1.2.3_linux_arm64.zip"]
        );
        let mut archive = zip::ZipArchive::new(std::fs::File::open(&packages.zips[0].path).unwrap()).unwrap();
        assert_eq!(archive.len(), 1);
        let mut entry = archive.by_index(0).unwrap();
        assert_eq!(entry.name(), "terraform-provider-bokbasen_v1.2.3");
        assert_eq!(entry.unix_mode().map(|m| m & 0o777), Some(0o755));
        let mut unpacked = Vec::new();
        entry.read_to_end(&mut unpacked).unwrap();
        assert_eq!(unpacked, b"\x7fELF amd64 provider");

        let manifest: serde_json::Value = serde_json::from_slice(&std::fs::read(&packages.manifest).unwrap()).unwrap();
        assert_eq!(manifest, serde_json::json!({"version": 1, "metadata": {"protocol_versions": ["5.0"]}}));

        let sums = std::fs::read_to_string(&packages.sums).unwrap();
        let listed: Vec<(&str, &str)> = sums.lines().map(|l| l.split_once("  ").unwrap()).collect();
        assert_eq!(listed.len(), 3, "{sums}");
        for (sha, name) in listed {
            assert_eq!(sha, sha256_hex(&std::fs::read(dist.join(name)).unwrap()), "{name}");
        }
        assert!(packages.signature().ends_with("terraform-provider-bokbasen_1.2.3_SHA256SUMS.sig"));
    }

    #[test]
    fn what_was_written_is_read_back_and_a_changed_zip_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let amd = binary(dir.path(), "amd", b"provider");
        let dist = dir.path().join("dist");
        let written = write(&dist, "1.0.0", &[(Platform::LINUX_AMD64, &amd)]).unwrap();
        let read_back = read(&dist, "1.0.0").unwrap();
        assert_eq!(read_back.zips.len(), 1);
        assert_eq!(
            (read_back.zips[0].platform, &read_back.zips[0].sha256),
            (Platform::LINUX_AMD64, &written.zips[0].sha256)
        );
        std::fs::write(&written.zips[0].path, b"changed").unwrap();
        let err = read(&dist, "1.0.0").unwrap_err();
        assert!(err.contains("does not match its line"), "{err}");
        let err = read(&dist, "2.0.0").unwrap_err();
        assert!(err.contains("cargo xtask release 2.0.0"), "{err}");
    }

    #[test]
    fn a_platform_built_elsewhere_joins_the_release_and_its_sums() {
        let dir = tempfile::tempdir().unwrap();
        let dist = dir.path().join("dist");
        let arm = binary(dir.path(), "arm", b"arm64 provider");
        write(&dist, "1.0.0", &[(Platform::LINUX_ARM64, &arm)]).unwrap();
        let amd = binary(dir.path(), "amd", b"amd64 provider");
        let packages = write(&dist, "1.0.0", &[(Platform::LINUX_AMD64, &amd)]).unwrap();
        let platforms: Vec<Platform> = packages.zips.iter().map(|z| z.platform).collect();
        assert_eq!(platforms, [Platform::LINUX_AMD64, Platform::LINUX_ARM64]);
        let sums = std::fs::read_to_string(&packages.sums).unwrap();
        assert!(sums.contains("_linux_arm64.zip") && sums.contains("_linux_amd64.zip"), "{sums}");
        assert_eq!(read(&dist, "1.0.0").unwrap().zips.len(), 2);
    }

    #[test]
    fn the_same_binary_gives_the_same_zip() {
        let dir = tempfile::tempdir().unwrap();
        let amd = binary(dir.path(), "amd", b"provider");
        let first = write(&dir.path().join("a"), "0.1.0", &[(Platform::LINUX_AMD64, &amd)]).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(1100));
        let second = write(&dir.path().join("b"), "0.1.0", &[(Platform::LINUX_AMD64, &amd)]).unwrap();
        assert_eq!(first.zips[0].sha256, second.zips[0].sha256);
    }

    #[test]
    fn bad_input_is_refused_before_anything_is_written() {
        let dir = tempfile::tempdir().unwrap();
        let amd = binary(dir.path(), "amd", b"provider");
        let dist = dir.path().join("dist");
        let err = write(&dist, "v1.0.0", &[(Platform::LINUX_AMD64, &amd)]).unwrap_err();
        assert!(err.contains("no leading `v`"), "{err}");
        let err = write(&dist, "1.0.0", &[(Platform::LINUX_AMD64, &amd), (Platform::LINUX_AMD64, &amd)]).unwrap_err();
        assert_eq!(err, "two binaries for linux_amd64");
        assert!(!dist.exists());
        let err = write(&dist, "1.0.0", &[(Platform::LINUX_AMD64, &dir.path().join("missing"))]).unwrap_err();
        assert!(err.starts_with("read the provider"), "{err}");
    }
}
