//! Release packaging: the provider as Terraform installs providers, and the
//! provider registry protocol's documents as static files.
//!
//! - [`package`]: one zip per platform holding `terraform-provider-bokbasen_vVERSION`,
//!   `..._manifest.json` declaring the plugin protocol, and `..._SHA256SUMS` over both;
//! - [`sign`]: the detached GPG signature of the sums (`..._SHA256SUMS.sig`), made by
//!   `gpg` with a key of the releaser's keyring, and the public key a registry hands out;
//! - [`cli`]: the `bokbasen` command line as an archive with its completions and man page;
//! - [`hcp`]: publishing a release to an HCP Terraform private registry through its API;
//! - [`linkage`]: whether a built binary needs nothing beyond the system's C library;
//! - [`mirror`]: the zips as a packed filesystem mirror and as a network mirror;
//! - [`registry`]: service discovery, the versions list and a download document per
//!   platform, laid out so that any HTTPS host (a bucket behind a CDN) serves them.
//!
//! `cargo xtask release` drives them all; the e2e suite installs the result
//! with `terraform init` from a registry served over HTTPS.

pub mod cli;
pub mod hcp;
pub mod linkage;
pub mod mirror;
pub mod package;
pub mod registry;
pub mod sign;

use std::fmt;

/// The provider's type, the last part of its source address.
pub const PROVIDER_TYPE: &str = "bokbasen";

/// The plugin protocol versions the provider speaks (`provider/src/plugin`).
pub const PROTOCOL_VERSIONS: &[&str] = &["5.0"];

pub type Result<T = (), E = String> = std::result::Result<T, E>;

/// An operating system and architecture, in Terraform's (and Go's) names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Platform {
    pub os: &'static str,
    pub arch: &'static str,
}

impl Platform {
    pub const LINUX_AMD64: Platform = Platform { os: "linux", arch: "amd64" };
    pub const LINUX_ARM64: Platform = Platform { os: "linux", arch: "arm64" };
    pub const DARWIN_AMD64: Platform = Platform { os: "darwin", arch: "amd64" };
    pub const DARWIN_ARM64: Platform = Platform { os: "darwin", arch: "arm64" };
    pub const ALL: [Platform; 4] = [Self::LINUX_AMD64, Self::LINUX_ARM64, Self::DARWIN_AMD64, Self::DARWIN_ARM64];

    /// The platform of a name in Terraform's form (`linux_amd64`).
    pub fn named(name: &str) -> Option<Platform> {
        Platform::ALL.into_iter().find(|p| p.to_string() == name)
    }

    /// The platform this program was built for, when Terraform has one.
    pub fn host() -> Option<Platform> {
        let os = match std::env::consts::OS {
            "linux" => "linux",
            "macos" => "darwin",
            _ => return None,
        };
        let arch = match std::env::consts::ARCH {
            "x86_64" => "amd64",
            "aarch64" => "arm64",
            _ => return None,
        };
        Some(Platform { os, arch })
    }
}

/// `linux_amd64`: the form in file names and in Terraform's mirrors.
impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}_{}", self.os, self.arch)
    }
}

/// Checks that `version` is what Terraform accepts as a provider version:
/// semantic versioning without a leading `v` (`1.2.3`, `1.2.3-rc.1`).
pub fn check_version(version: &str) -> Result {
    let (core, pre) = version.split_once('-').map_or((version, None), |(core, pre)| (core, Some(pre)));
    let numbers: Vec<&str> = core.split('.').collect();
    let number =
        |n: &&str| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) && (n.len() == 1 || !n.starts_with('0'));
    let pre_ok = pre.is_none_or(|pre| {
        pre.split('.').all(|part| !part.is_empty() && part.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
    });
    if numbers.len() == 3 && numbers.iter().all(number) && pre_ok {
        Ok(())
    } else {
        Err(format!(
            "version {version:?} is not a semantic version: Terraform installs providers by versions like 1.4.0 or 1.4.0-rc.1 (no leading `v`)"
        ))
    }
}

/// The lowercase hex SHA-256 of `bytes`, as SHA256SUMS and the registry write it.
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest as _;
    sha2::Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// A SHA256SUMS file as `sha256sum` writes it: `<sha256>  <file>` per
/// line, ordered by file name; `entries` are (file, sha256).
pub(crate) fn sums_text(mut entries: Vec<(String, String)>) -> String {
    entries.sort();
    entries.iter().map(|(file, sha)| format!("{sha}  {file}\n")).collect()
}

/// The (file, sha256) entries of a SHA256SUMS file; an error names a line
/// that is not `<sha256>  <file>`.
pub(crate) fn parse_sums(text: &str) -> Result<Vec<(String, String)>> {
    text.lines()
        .map(|line| match line.split_once("  ") {
            Some((sha, file)) => Ok((file.to_owned(), sha.to_owned())),
            None => Err(format!("{line:?} is not `<sha256>  <file>`")),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_semantic_without_a_leading_v() {
        for good in ["0.1.0", "1.20.3", "1.0.0-rc.1", "2.0.0-beta-2"] {
            assert_eq!(check_version(good), Ok(()), "{good}");
        }
        for bad in ["v1.0.0", "1.0", "1.0.0.0", "01.0.0", "1.0.0-", "1.0.0-rc..1", "1.x.0", ""] {
            let err = check_version(bad).expect_err(bad);
            assert!(err.contains("semantic version"), "{err}");
        }
    }

    #[test]
    fn sums_are_written_by_file_name_and_read_back() {
        let entries = vec![("b.zip".to_owned(), "22".to_owned()), ("a.zip".to_owned(), "11".to_owned())];
        let text = sums_text(entries);
        assert_eq!(text, "11  a.zip\n22  b.zip\n");
        assert_eq!(
            parse_sums(&text).unwrap(),
            [("a.zip".to_owned(), "11".to_owned()), ("b.zip".to_owned(), "22".to_owned())]
        );
        assert_eq!(parse_sums("11 a.zip").unwrap_err(), "\"11 a.zip\" is not `<sha256>  <file>`");
        assert_eq!(Platform::named("linux_arm64"), Some(Platform::LINUX_ARM64));
        assert_eq!(Platform::named("linux-arm64"), None);
    }

    #[test]
    fn sha256_is_lowercase_hex() {
        // The digest of the empty string, from FIPS 180-4's examples.
        assert_eq!(sha256_hex(b""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    }
}
