//! Whether a Linux binary runs on a machine with no Rust toolchain: static,
//! or dynamically linked against nothing but the C library's own parts,
//! which every glibc system (HCP Terraform's agents, CI runners) has.

use std::path::Path;
use std::process::Command;

use crate::Result;

/// The shared objects of glibc and the compiler runtime it ships with.
const BASE_SYSTEM: &[&str] = &[
    "linux-vdso.so.1",
    "libc.so.6",
    "libm.so.6",
    "libgcc_s.so.1",
    "libpthread.so.0",
    "libdl.so.2",
    "librt.so.1",
    "ld-linux-x86-64.so.2",
    "ld-linux-aarch64.so.1",
];

/// The shared objects `binary` needs, by name (empty: static).
pub fn shared_libraries(binary: &Path) -> Result<Vec<String>> {
    let output = Command::new("ldd").arg(binary).output().map_err(|e| format!("run ldd: {e}"))?;
    let text = String::from_utf8_lossy(&output.stdout);
    if text.contains("not a dynamic executable")
        || String::from_utf8_lossy(&output.stderr).contains("not a dynamic executable")
    {
        return Ok(Vec::new());
    }
    if !output.status.success() {
        return Err(format!("ldd {}: {}", binary.display(), String::from_utf8_lossy(&output.stderr).trim()));
    }
    Ok(libraries_in(&text))
}

/// The names in ldd's listing; the loader is listed by its path.
fn libraries_in(ldd_output: &str) -> Vec<String> {
    let names = ldd_output.lines().filter_map(|line| line.split_whitespace().next());
    names.map(|name| name.rsplit('/').next().unwrap_or(name).to_owned()).collect()
}

/// Refuses a binary that needs a library beyond [`BASE_SYSTEM`], naming it.
pub fn check_portable(binary: &Path) -> Result<Vec<String>> {
    refuse_beyond_base(binary, shared_libraries(binary)?)
}

fn refuse_beyond_base(binary: &Path, libraries: Vec<String>) -> Result<Vec<String>> {
    let extra: Vec<&String> = libraries.iter().filter(|l| !BASE_SYSTEM.contains(&l.as_str())).collect();
    if extra.is_empty() {
        Ok(libraries)
    } else {
        Err(format!(
            "{} needs {} beyond the base system's C library: a machine without them could not run it; link them statically",
            binary.display(),
            extra.iter().map(|l| l.as_str()).collect::<Vec<_>>().join(", ")
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_c_library_and_its_parts_pass() {
        // The test binary is linked as the provider is.
        let this = std::env::current_exe().unwrap();
        let libraries = check_portable(&this).unwrap();
        assert!(libraries.iter().any(|l| l == "libc.so.6"), "{libraries:?}");

        let listing = "\tlinux-vdso.so.1 (0x00007ffd)\n\tlibssl.so.3 => /lib/x86_64-linux-gnu/libssl.so.3 (0x00007f)\n\tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f)\n\t/lib64/ld-linux-x86-64.so.2 (0x00007f)\n";
        assert_eq!(libraries_in(listing), ["linux-vdso.so.1", "libssl.so.3", "libc.so.6", "ld-linux-x86-64.so.2"]);
        let err = refuse_beyond_base(Path::new("provider"), libraries_in(listing)).unwrap_err();
        assert!(err.starts_with("provider needs libssl.so.3 beyond the base system's C library"), "{err}");
    }
}
