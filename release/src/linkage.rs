//! Whether a Linux binary runs on a machine with no Rust toolchain: static,
//! or dynamically linked against nothing but the C library's own parts,
//! which every glibc system (HCP Terraform's agents, CI runners) has, and
//! which glibc it needs at least.
//!
//! Read with `readelf` (binutils) rather than `ldd`, which runs the binary's
//! loader and so says nothing about a binary built for another architecture.

use std::path::Path;
use std::process::Command;

use crate::Result;

/// The shared objects of glibc and the compiler runtime it ships with.
const BASE_SYSTEM: &[&str] = &[
    "libc.so.6",
    "libm.so.6",
    "libgcc_s.so.1",
    "libpthread.so.0",
    "libdl.so.2",
    "librt.so.1",
    "ld-linux-x86-64.so.2",
    "ld-linux-aarch64.so.1",
];

/// What a binary needs from the system that runs it.
#[derive(Debug, PartialEq, Eq)]
pub struct Linkage {
    /// The shared objects it names (`DT_NEEDED`); none when static.
    pub needed: Vec<String>,
    /// The newest glibc symbol version it uses: the oldest glibc it runs on.
    pub glibc: Option<(u32, u32)>,
}

impl std::fmt::Display for Linkage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.needed.is_empty() {
            return write!(f, "static");
        }
        write!(f, "{}", self.needed.join(", "))?;
        if let Some((major, minor)) = self.glibc {
            write!(f, "; glibc {major}.{minor} or later")?;
        }
        Ok(())
    }
}

/// The linkage of `binary`.
pub fn read(binary: &Path) -> Result<Linkage> {
    let output = Command::new("readelf")
        .args(["--dynamic", "--version-info", "--wide"])
        .arg(binary)
        .output()
        .map_err(|e| format!("run readelf (binutils) on {}: {e}", binary.display()))?;
    if !output.status.success() {
        return Err(format!("readelf {}: {}", binary.display(), String::from_utf8_lossy(&output.stderr).trim()));
    }
    Ok(parse(&String::from_utf8_lossy(&output.stdout)))
}

/// The `NEEDED` entries and the newest `GLIBC_x.y` version of readelf's listing.
fn parse(listing: &str) -> Linkage {
    let needed = listing
        .lines()
        .filter(|l| l.contains("(NEEDED)"))
        .filter_map(|l| l.split_once('[').and_then(|(_, rest)| rest.split_once(']')).map(|(name, _)| name.to_owned()))
        .collect();
    let glibc = listing
        .split_whitespace()
        .filter_map(|word| word.strip_prefix("GLIBC_"))
        .filter_map(|version| {
            let mut parts = version.split('.').map(str::parse::<u32>);
            Some((parts.next()?.ok()?, parts.next().unwrap_or(Ok(0)).ok()?))
        })
        .max();
    Linkage { needed, glibc }
}

/// Refuses a binary that needs a library beyond [`BASE_SYSTEM`], or a glibc
/// newer than `oldest_glibc` (when one is given), naming what and the fix.
pub fn check_portable(binary: &Path, oldest_glibc: Option<(u32, u32)>) -> Result<Linkage> {
    refuse_unportable(binary, read(binary)?, oldest_glibc)
}

fn refuse_unportable(binary: &Path, linkage: Linkage, oldest_glibc: Option<(u32, u32)>) -> Result<Linkage> {
    let extra: Vec<&str> = linkage.needed.iter().map(String::as_str).filter(|l| !BASE_SYSTEM.contains(l)).collect();
    if !extra.is_empty() {
        return Err(format!(
            "{} needs {} beyond the base system's C library: a machine without them could not run it; link them statically",
            binary.display(),
            extra.join(", ")
        ));
    }
    let Some(oldest_glibc) = oldest_glibc else { return Ok(linkage) };
    if let Some((major, minor)) = linkage.glibc.filter(|glibc| *glibc > oldest_glibc) {
        return Err(format!(
            "{} needs glibc {major}.{minor}, newer than the {}.{} it is to run on: build it against the older glibc (cargo zigbuild --target TRIPLE.{}.{})",
            binary.display(),
            oldest_glibc.0,
            oldest_glibc.1,
            oldest_glibc.0,
            oldest_glibc.1
        ));
    }
    Ok(linkage)
}

#[cfg(test)]
mod tests {
    use super::*;

    const LISTING: &str = "
Dynamic section at offset 0x18d0 contains 30 entries:
  Tag        Type                         Name/Value
 0x0000000000000001 (NEEDED)             Shared library: [libssl.so.3]
 0x0000000000000001 (NEEDED)             Shared library: [libc.so.6]
Version needs section '.gnu.version_r' contains 1 entry:
  000000: Version: 1  File: libc.so.6  Cnt: 3
  0x0010:   Name: GLIBC_2.2.5  Flags: none  Version: 3
  0x0020:   Name: GLIBC_2.34  Flags: none  Version: 2
  0x0030:   Name: GLIBC_2.17  Flags: none  Version: 4
";

    #[test]
    fn the_listing_gives_the_libraries_and_the_newest_glibc() {
        let linkage = parse(LISTING);
        assert_eq!(linkage.needed, ["libssl.so.3", "libc.so.6"]);
        assert_eq!(linkage.glibc, Some((2, 34)));
        assert_eq!(linkage.to_string(), "libssl.so.3, libc.so.6; glibc 2.34 or later");
        assert_eq!(parse("There is no dynamic section in this file.").to_string(), "static");
    }

    #[test]
    fn a_library_beyond_the_c_library_or_a_newer_glibc_is_refused_by_name() {
        let err = refuse_unportable(Path::new("provider"), parse(LISTING), Some((2, 40))).unwrap_err();
        assert!(err.starts_with("provider needs libssl.so.3 beyond the base system's C library"), "{err}");
        let only_libc = LISTING.replace("[libssl.so.3]", "[libm.so.6]");
        let err = refuse_unportable(Path::new("provider"), parse(&only_libc), Some((2, 28))).unwrap_err();
        assert!(err.contains("needs glibc 2.34, newer than the 2.28"), "{err}");
        assert!(refuse_unportable(Path::new("provider"), parse(&only_libc), Some((2, 34))).is_ok());
        assert!(refuse_unportable(Path::new("provider"), parse(&only_libc), None).is_ok());
    }

    #[test]
    fn this_test_binary_is_read_like_the_provider() {
        let linkage = read(&std::env::current_exe().unwrap()).unwrap();
        assert!(linkage.needed.iter().any(|l| l == "libc.so.6"), "{linkage:?}");
        assert!(linkage.glibc.is_some_and(|glibc| glibc >= (2, 2)), "{linkage:?}");
    }
}
