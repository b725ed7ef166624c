//! The `bokbasen` CLI archive as a user unpacks it, and the binaries a
//! release ships, checked to run on a machine with no Rust toolchain.

use std::path::Path;
use std::process::Command;

use bokbasen_e2e::{bokbasen_binary, provider_binary};
use bokbasen_release::{cli, linkage, sha256_hex, Platform};

const VERSION: &str = env!("CARGO_PKG_VERSION");

#[test]
fn the_cli_archive_unpacks_to_a_binary_with_its_completions_and_man_page() {
    let dir = tempfile::tempdir().unwrap();
    let dist = dir.path().join("dist");
    let archive = cli::write_archive(&dist, VERSION, Platform::LINUX_AMD64, bokbasen_binary(), bokbasen_binary())
        .expect("the archive");
    let name = format!("bokbasen_{VERSION}_linux_amd64");
    assert_eq!(archive, dist.join(format!("{name}.tar.gz")));
    let sums = std::fs::read_to_string(dist.join(format!("bokbasen_{VERSION}_SHA256SUMS"))).unwrap();
    assert_eq!(sums, format!("{}  {name}.tar.gz\n", sha256_hex(&std::fs::read(&archive).unwrap())));

    let unpacked = dir.path().join("unpacked");
    std::fs::create_dir_all(&unpacked).unwrap();
    let tar = Command::new("tar").arg("-xzf").arg(&archive).arg("-C").arg(&unpacked).output().unwrap();
    assert!(tar.status.success(), "{}", String::from_utf8_lossy(&tar.stderr));
    let folder = unpacked.join(&name);
    let mut files: Vec<String> = Vec::new();
    list(&folder, &folder, &mut files);
    files.sort();
    assert_eq!(
        files,
        [
            "bokbasen",
            "completions/_bokbasen",
            "completions/bokbasen.bash",
            "completions/bokbasen.fish",
            "man/man1/bokbasen.1"
        ]
    );

    // Run as a user would: no cargo, no toolchain on PATH, an empty HOME.
    let run = |args: &[&str]| {
        let output = Command::new(folder.join("bokbasen"))
            .args(args)
            .env_clear()
            .env("PATH", "/usr/bin:/bin")
            .env("HOME", dir.path())
            .output()
            .unwrap();
        assert!(output.status.success(), "{args:?}: {}", String::from_utf8_lossy(&output.stderr));
        String::from_utf8_lossy(&output.stdout).into_owned()
    };
    assert_eq!(run(&["--version"]).trim(), format!("bokbasen {VERSION}"));
    assert_eq!(
        std::fs::read_to_string(folder.join("completions/bokbasen.bash")).unwrap(),
        run(&["completions", "bash"])
    );
    let page = std::fs::read_to_string(folder.join("man/man1/bokbasen.1")).unwrap();
    assert!(page.contains(".TH bokbasen 1"), "{}", &page[..page.len().min(300)]);
}

#[test]
fn the_shipped_binaries_need_only_the_system_c_library() {
    for binary in [provider_binary(), bokbasen_binary().to_owned()] {
        // Built here, for this machine's glibc; releases are built against an older one.
        let linkage = linkage::check_portable(&binary, None).unwrap_or_else(|e| panic!("{e}"));
        assert!(linkage.needed.iter().any(|l| l == "libc.so.6"), "{}: {linkage}", binary.display());
    }
}

fn list(root: &Path, dir: &Path, files: &mut Vec<String>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            list(root, &path, files);
        } else {
            files.push(path.strip_prefix(root).unwrap().display().to_string());
        }
    }
}
