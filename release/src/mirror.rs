//! The same zips as the two mirrors Terraform's `provider_installation`
//! reads, for teams that install without reaching a registry (air-gapped
//! runners, a pinned internal copy):
//!
//! - a packed `filesystem_mirror`: `HOSTNAME/NAMESPACE/bokbasen/<zip>`;
//! - a `network_mirror` (served over HTTPS): `HOSTNAME/NAMESPACE/bokbasen/index.json`
//!   listing the versions, and `VERSION.json` giving each platform's zip (a URL
//!   relative to that document) with its `zh:` hash, the hash users' lock files hold.
//!
//! `source_host` is the host of the address configurations use
//! (`registry.example.com` in `registry.example.com/platform/bokbasen`).

use std::path::{Path, PathBuf};

use serde_json::{json, Map, Value};

use crate::package::ProviderPackages;
use crate::registry::write_json;
use crate::{Result, PROVIDER_TYPE};

/// Copies the zips into a packed filesystem mirror under `root`.
pub fn write_packed(root: &Path, source_host: &str, namespace: &str, packages: &ProviderPackages) -> Result<PathBuf> {
    let dir = provider_dir(root, source_host, namespace)?;
    for zip in &packages.zips {
        copy(&zip.path, &dir.join(zip.file_name()))?;
    }
    Ok(dir)
}

/// Writes a network mirror's documents and zips under `root`, adding this
/// version to an `index.json` an earlier release wrote.
pub fn write_network(root: &Path, source_host: &str, namespace: &str, packages: &ProviderPackages) -> Result<PathBuf> {
    let dir = provider_dir(root, source_host, namespace)?;
    let mut archives = Map::new();
    for zip in &packages.zips {
        copy(&zip.path, &dir.join(zip.file_name()))?;
        archives.insert(
            zip.platform.to_string(),
            json!({ "url": zip.file_name(), "hashes": [format!("zh:{}", zip.sha256)] }),
        );
    }
    write_json(&dir.join(format!("{}.json", packages.version)), &json!({ "archives": archives }))?;

    let index_path = dir.join("index.json");
    let mut versions = match std::fs::read_to_string(&index_path) {
        Ok(text) => match serde_json::from_str::<Value>(&text).ok().and_then(|v| v.get("versions").cloned()) {
            Some(Value::Object(versions)) => versions,
            _ => {
                return Err(format!("{} is not a network mirror's index (no `versions` object)", index_path.display()))
            }
        },
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Map::new(),
        Err(e) => return Err(format!("read {}: {e}", index_path.display())),
    };
    versions.insert(packages.version.clone(), json!({}));
    write_json(&index_path, &json!({ "versions": versions }))?;
    Ok(dir)
}

/// `root/HOST/NAMESPACE/bokbasen`, created, after checking the two names.
fn provider_dir(root: &Path, source_host: &str, namespace: &str) -> Result<PathBuf> {
    let host_ok = !source_host.is_empty()
        && source_host.split(':').next().is_some_and(|h| h.split('.').all(|l| !l.is_empty()))
        && source_host.bytes().all(|b| b.is_ascii_alphanumeric() || b"-.:".contains(&b));
    if !host_ok {
        return Err(format!(
            "source host {source_host:?} must be a host name (with an optional :port), e.g. registry.example.com: the first part of HOST/NAMESPACE/bokbasen"
        ));
    }
    crate::registry::check_namespace(namespace)?;
    let dir = root.join(source_host.to_ascii_lowercase()).join(namespace).join(PROVIDER_TYPE);
    std::fs::create_dir_all(&dir).map_err(|e| format!("create {}: {e}", dir.display()))?;
    Ok(dir)
}

fn copy(from: &Path, to: &Path) -> Result {
    std::fs::copy(from, to).map(|_| ()).map_err(|e| format!("copy {} to {}: {e}", from.display(), to.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::package::stand_in_release as released;

    #[test]
    fn a_network_mirror_lists_every_version_and_hashes_each_zip() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("mirror");
        for version in ["1.0.0", "1.1.0"] {
            write_network(&root, "Registry.Example.com", "platform", &released(&dir.path().join(version), version))
                .unwrap();
        }
        let provider = root.join("registry.example.com/platform/bokbasen");
        let index: Value = serde_json::from_slice(&std::fs::read(provider.join("index.json")).unwrap()).unwrap();
        assert_eq!(index, json!({"versions": {"1.0.0": {}, "1.1.0": {}}}));
        let doc: Value = serde_json::from_slice(&std::fs::read(provider.join("1.1.0.json")).unwrap()).unwrap();
        let archive = &doc["archives"]["linux_amd64"];
        let zip = archive["url"].as_str().unwrap();
        let bytes = std::fs::read(provider.join(zip)).unwrap();
        assert_eq!(archive["hashes"], json!([format!("zh:{}", crate::sha256_hex(&bytes))]));
    }

    #[test]
    fn a_packed_mirror_holds_the_zips_under_the_address() {
        let dir = tempfile::tempdir().unwrap();
        let packages = released(dir.path(), "2.0.0");
        let at = write_packed(&dir.path().join("m"), "registry.example.com", "platform", &packages).unwrap();
        assert!(at.join("terraform-provider-bokbasen_2.0.0_linux_amd64.zip").is_file());
        let err =
            write_packed(&dir.path().join("m"), "https://registry.example.com", "platform", &packages).unwrap_err();
        assert!(err.contains("must be a host name"), "{err}");
    }
}
