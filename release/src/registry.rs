//! The provider registry protocol as static files: what `terraform init`
//! asks a registry at `HOST/NAMESPACE/bokbasen`, answered by files any
//! HTTPS host can serve (a bucket behind a CDN, a web server's directory).
//!
//! - `.well-known/terraform.json` (service discovery): where the providers
//!   API is. It must be served at the host's root, as `application/json`.
//! - `v1/providers/NAMESPACE/bokbasen/versions`: every version with its
//!   protocols and platforms. Releasing into a tree that already holds
//!   this file adds to it, so one tree serves every release.
//! - `v1/providers/NAMESPACE/bokbasen/VERSION/download/OS/ARCH`: the
//!   package's name, URL and SHA-256, the SHA256SUMS and signature URLs,
//!   and the public key that signed them.
//! - the release files themselves, under `v1/providers/NAMESPACE/bokbasen/VERSION/`.
//!
//! Every URL is absolute, from the base URL the tree will be served at:
//! Terraform 1.0 resolves none of them relative to the document.

use std::path::{Path, PathBuf};

use serde_json::{json, Value};

use crate::package::{file_name, ProviderPackages};
use crate::sign::PublicKey;
use crate::{Result, PROTOCOL_VERSIONS, PROVIDER_TYPE};

/// The protocol's versions: the major versions of the plugin protocol.
fn protocol_majors() -> Vec<&'static str> {
    PROTOCOL_VERSIONS.iter().map(|v| v.split('.').next().unwrap_or(v)).collect()
}

/// Writes (or adds to) the static registry under `root`, to be served at
/// `base_url` (`https://registry.example.com`, or with a path under which
/// the tree is served); `namespace` is the source address's middle part.
pub fn write_static(
    root: &Path,
    base_url: &str,
    namespace: &str,
    packages: &ProviderPackages,
    key: &PublicKey,
) -> Result<PathBuf> {
    let base = check_base_url(base_url)?;
    check_namespace(namespace)?;
    let provider_dir = format!("v1/providers/{namespace}/{PROVIDER_TYPE}");
    let version = &packages.version;
    let version_dir = format!("{provider_dir}/{version}");

    let signature = packages.signature();
    if !signature.exists() {
        return Err(format!("{} is missing: sign the release before writing the registry", signature.display()));
    }
    write_json(&root.join(".well-known/terraform.json"), &json!({ "providers.v1": format!("{base}/v1/providers/") }))?;

    let zips = packages.zips.iter().map(|z| z.path.as_path());
    for file in zips.chain([packages.sums.as_path(), packages.manifest.as_path(), signature.as_path()]) {
        let to = root.join(&version_dir).join(file_name(file));
        std::fs::create_dir_all(to.parent().expect("a file in a folder"))
            .map_err(|e| format!("create {}: {e}", to.display()))?;
        std::fs::copy(file, &to).map_err(|e| format!("copy {} to {}: {e}", file.display(), to.display()))?;
    }

    let url = |file: &Path| format!("{base}/{version_dir}/{}", file_name(file));
    for zip in &packages.zips {
        let download = json!({
            "protocols": PROTOCOL_VERSIONS,
            "os": zip.platform.os,
            "arch": zip.platform.arch,
            "filename": zip.file_name(),
            "download_url": url(&zip.path),
            "shasums_url": url(&packages.sums),
            "shasums_signature_url": url(&signature),
            "shasum": zip.sha256,
            "signing_keys": { "gpg_public_keys": [{ "key_id": key.key_id, "ascii_armor": key.ascii_armor }] },
        });
        let path = root.join(&version_dir).join("download").join(zip.platform.os).join(zip.platform.arch);
        write_json(&path, &download)?;
    }

    let versions_path = root.join(&provider_dir).join("versions");
    let mut versions = read_versions(&versions_path)?;
    versions.retain(|v| v["version"] != json!(version));
    let platforms: Vec<Value> =
        packages.zips.iter().map(|z| json!({ "os": z.platform.os, "arch": z.platform.arch })).collect();
    versions.push(json!({ "version": version, "protocols": protocol_majors(), "platforms": platforms }));
    write_json(&versions_path, &json!({ "versions": versions }))?;
    Ok(root.to_owned())
}

/// The versions an earlier release wrote, or none.
fn read_versions(path: &Path) -> Result<Vec<Value>> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(format!("read {}: {e}", path.display())),
    };
    let document: Value = serde_json::from_str(&text).map_err(|e| format!("{} is not JSON: {e}", path.display()))?;
    match document.get("versions") {
        Some(Value::Array(versions)) => Ok(versions.clone()),
        _ => Err(format!("{} has no `versions` list: is it a provider registry's versions document?", path.display())),
    }
}

/// `https://host[:port][/path]`, without a trailing slash.
fn check_base_url(base_url: &str) -> Result<&str> {
    let base = base_url.trim_end_matches('/');
    let host = base.strip_prefix("https://").unwrap_or_default();
    if host.is_empty() || host.starts_with('/') || base.contains(['?', '#', ' ']) {
        return Err(format!(
            "registry URL {base_url:?} must be https://HOST with an optional path, where the tree will be served: Terraform talks to registries only over HTTPS"
        ));
    }
    Ok(base)
}

/// A namespace as registries accept it: letters, digits, `-` and `_`.
pub(crate) fn check_namespace(namespace: &str) -> Result {
    let ok = !namespace.is_empty()
        && namespace.len() <= 64
        && namespace.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(format!("namespace {namespace:?} must be 1–64 letters, digits, `-` or `_` (the ORG of HOST/ORG/bokbasen)"))
    }
}

/// `value` as pretty JSON at `path`, its folder made as needed.
pub(crate) fn write_json(path: &Path, value: &Value) -> Result {
    std::fs::create_dir_all(path.parent().expect("a file in a folder"))
        .map_err(|e| format!("create {}: {e}", path.display()))?;
    std::fs::write(path, format!("{value:#}\n")).map_err(|e| format!("write {}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::package;

    /// A release with a stand-in signature.
    fn released(dir: &Path, version: &str) -> ProviderPackages {
        let packages = package::stand_in_release(dir, version);
        std::fs::write(packages.signature(), b"signature").unwrap();
        packages
    }

    fn key() -> PublicKey {
        PublicKey { key_id: "0123456789ABCDEF".into(), ascii_armor: "-----BEGIN PGP PUBLIC KEY BLOCK-----\n…".into() }
    }

    fn read(path: PathBuf) -> Value {
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display())))
            .unwrap()
    }

    #[test]
    fn the_tree_answers_discovery_versions_and_download_with_absolute_urls() {
        let dir = tempfile::tempdir().unwrap();
        let packages = released(dir.path(), "1.2.3");
        let root = dir.path().join("registry");
        write_static(&root, "https://registry.example.com/tf/", "platform", &packages, &key()).unwrap();

        assert_eq!(
            read(root.join(".well-known/terraform.json")),
            json!({"providers.v1": "https://registry.example.com/tf/v1/providers/"})
        );
        let versions = read(root.join("v1/providers/platform/bokbasen/versions"));
        assert_eq!(
            versions,
            json!({"versions": [{"version": "1.2.3", "protocols": ["5"], "platforms": [{"os": "linux", "arch": "amd64"}]}]})
        );
        let download = read(root.join("v1/providers/platform/bokbasen/1.2.3/download/linux/amd64"));
        let base = "https://registry.example.com/tf/v1/providers/platform/bokbasen/1.2.3";
        assert_eq!(
            download["download_url"],
            json!(format!("{base}/terraform-provider-bokbasen_1.2.3_linux_amd64.zip"))
        );
        assert_eq!(download["shasums_url"], json!(format!("{base}/terraform-provider-bokbasen_1.2.3_SHA256SUMS")));
        assert_eq!(
            download["shasums_signature_url"],
            json!(format!("{base}/terraform-provider-bokbasen_1.2.3_SHA256SUMS.sig"))
        );
        assert_eq!(download["shasum"], json!(packages.zips[0].sha256));
        assert_eq!(download["protocols"], json!(["5.0"]));
        assert_eq!(download["signing_keys"]["gpg_public_keys"][0]["key_id"], json!("0123456789ABCDEF"));
        for url in ["download_url", "shasums_url", "shasums_signature_url"] {
            let file = download[url].as_str().unwrap().strip_prefix("https://registry.example.com/tf/").unwrap();
            assert!(root.join(file).is_file(), "{url}: {file} is not in the tree");
        }
    }

    #[test]
    fn a_second_release_adds_to_the_versions_and_a_rerelease_replaces_its_entry() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("registry");
        for version in ["1.0.0", "1.1.0", "1.0.0"] {
            let packages = released(&dir.path().join(version), version);
            write_static(&root, "https://r.example.com", "platform", &packages, &key()).unwrap();
        }
        let versions = read(root.join("v1/providers/platform/bokbasen/versions"));
        let listed: Vec<&str> =
            versions["versions"].as_array().unwrap().iter().map(|v| v["version"].as_str().unwrap()).collect();
        assert_eq!(listed, ["1.1.0", "1.0.0"]);
    }

    #[test]
    fn bad_input_names_the_fix() {
        let dir = tempfile::tempdir().unwrap();
        let packages = released(dir.path(), "1.0.0");
        let root = dir.path().join("registry");
        let err = write_static(&root, "http://r.example.com", "platform", &packages, &key()).unwrap_err();
        assert!(err.contains("only over HTTPS"), "{err}");
        let err = write_static(&root, "https://r.example.com", "my org", &packages, &key()).unwrap_err();
        assert!(err.contains("namespace \"my org\""), "{err}");
        std::fs::remove_file(packages.signature()).unwrap();
        let err = write_static(&root, "https://r.example.com", "platform", &packages, &key()).unwrap_err();
        assert!(err.contains("sign the release"), "{err}");
        assert!(!root.exists(), "nothing is written before the input is checked");
    }
}
