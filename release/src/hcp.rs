//! Publishing a release to an HCP Terraform (or Terraform Enterprise)
//! private registry, in the sequence HashiCorp's "Publishing private
//! providers" documents:
//!
//! 1. the provider, `POST /api/v2/organizations/ORG/registry-providers`, unless it exists;
//! 2. the GPG public key, `POST /api/registry/private/v2/gpg-keys`, unless the
//!    organisation has it already (its `key-id` is the signing key's ID);
//! 3. the version, `POST …/registry-providers/private/ORG/bokbasen/versions`, whose
//!    answer links the uploads of SHA256SUMS and its signature (`PUT`);
//! 4. per zip, the platform, `POST …/versions/VERSION/platforms`, whose answer
//!    links the zip's upload (`PUT`).
//!
//! The API token is sent only in the `Authorization` header, never put in
//! a message or an error.

use std::time::Duration;

use serde_json::{json, Value};

use crate::package::ProviderPackages;
use crate::sign::PublicKey;
use crate::{Result, PROTOCOL_VERSIONS, PROVIDER_TYPE};

const JSON_API: &str = "application/vnd.api+json";

/// Where and as whom to publish.
pub struct Registry {
    /// `https://app.terraform.io`, or a Terraform Enterprise's address.
    address: String,
    organization: String,
    token: String,
    agent: ureq::Agent,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry").field("address", &self.address).field("organization", &self.organization).finish()
    }
}

/// What [`Registry::publish`] did, in order.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Published {
    pub steps: Vec<String>,
}

impl Registry {
    /// `hostname` is TFE_HOSTNAME's form (`app.terraform.io`); an address
    /// with a scheme is taken as it is.
    pub fn new(hostname: &str, organization: &str, token: &str) -> Result<Registry> {
        let address = if hostname.contains("://") { hostname.to_owned() } else { format!("https://{hostname}") };
        if !address.starts_with("https://") {
            return Err(format!("{hostname}: HCP Terraform is reached over HTTPS only"));
        }
        let org_ok = !organization.is_empty()
            && organization.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !org_ok {
            return Err(format!(
                "organization {organization:?} must be an HCP Terraform organization name (letters, digits, `-`, `_`)"
            ));
        }
        if token.trim().is_empty() {
            return Err(
                "the API token is empty: set TFE_TOKEN to a team or user token that may manage the private registry"
                    .into(),
            );
        }
        let agent = ureq::AgentBuilder::new().timeout(Duration::from_secs(300)).build();
        Ok(Registry {
            address: address.trim_end_matches('/').to_owned(),
            organization: organization.to_owned(),
            token: token.to_owned(),
            agent,
        })
    }

    fn providers(&self) -> String {
        format!("{}/api/v2/organizations/{}/registry-providers", self.address, self.organization)
    }

    fn provider(&self) -> String {
        format!("{}/private/{}/{PROVIDER_TYPE}", self.providers(), self.organization)
    }

    /// Publishes `packages` (signed: the `.sig` beside the sums) with `key`,
    /// the signing key's public half.
    pub fn publish(&self, packages: &ProviderPackages, key: &PublicKey) -> Result<Published> {
        let signature = packages.signature();
        let read = |path: &std::path::Path| std::fs::read(path).map_err(|e| format!("read {}: {e}", path.display()));
        let (sums, signature) = (read(&packages.sums)?, read(&signature)?);
        let mut published = Published::default();

        if self.get(&self.provider())?.is_none() {
            let body = json!({ "data": { "type": "registry-providers", "attributes": {
                "name": PROVIDER_TYPE, "namespace": self.organization, "registry-name": "private" } } });
            self.post(&self.providers(), &body)?;
            published.steps.push(format!("created provider {}/{PROVIDER_TYPE}", self.organization));
        }

        let keys_url = format!("{}/api/registry/private/v2/gpg-keys", self.address);
        let listed =
            self.get(&format!("{keys_url}?filter%5Bnamespace%5D={}", self.organization))?.unwrap_or(Value::Null);
        let known =
            listed["data"].as_array().into_iter().flatten().any(|k| k["attributes"]["key-id"] == json!(key.key_id));
        if !known {
            let body = json!({ "data": { "type": "gpg-keys", "attributes": {
                "namespace": self.organization, "ascii-armor": key.ascii_armor } } });
            let answer = self.post(&keys_url, &body)?;
            let key_id = &answer["data"]["attributes"]["key-id"];
            if key_id != &json!(key.key_id) {
                return Err(format!(
                    "the registry gave the GPG key the ID {key_id}, not {}: is it the key that signed the release?",
                    key.key_id
                ));
            }
            published.steps.push(format!("added GPG key {}", key.key_id));
        }

        let versions = format!("{}/versions", self.provider());
        let body = json!({ "data": { "type": "registry-provider-versions", "attributes": {
            "version": packages.version, "key-id": key.key_id, "protocols": PROTOCOL_VERSIONS } } });
        let version = self.post(&versions, &body).map_err(|e| {
            format!("{e}\n(a version that exists is not replaced: release a new version, or delete {} in the registry first)", packages.version)
        })?;
        published.steps.push(format!("created version {}", packages.version));
        self.upload(link(&version, "shasums-upload")?, sums, "SHA256SUMS")?;
        self.upload(link(&version, "shasums-sig-upload")?, signature, "SHA256SUMS.sig")?;
        published.steps.push("uploaded SHA256SUMS and SHA256SUMS.sig".into());

        for zip in &packages.zips {
            let body = json!({ "data": { "type": "registry-provider-version-platforms", "attributes": {
                "os": zip.platform.os, "arch": zip.platform.arch, "shasum": zip.sha256, "filename": zip.file_name() } } });
            let platform = self.post(&format!("{versions}/{}/platforms", packages.version), &body)?;
            self.upload(link(&platform, "provider-binary-upload")?, read(&zip.path)?, zip.file_name())?;
            published.steps.push(format!("uploaded {}", zip.file_name()));
        }
        Ok(published)
    }

    /// A JSON:API document, or `None` when the registry has no such thing.
    fn get(&self, url: &str) -> Result<Option<Value>> {
        match self.agent.get(url).set("Authorization", &format!("Bearer {}", self.token)).call() {
            Ok(response) => Ok(Some(response.into_json().map_err(|e| format!("GET {url}: {e}"))?)),
            Err(ureq::Error::Status(404, _)) => Ok(None),
            Err(e) => Err(failure("GET", url, e)),
        }
    }

    fn post(&self, url: &str, body: &Value) -> Result<Value> {
        let response = self
            .agent
            .post(url)
            .set("Authorization", &format!("Bearer {}", self.token))
            .set("Content-Type", JSON_API)
            .send_string(&body.to_string())
            .map_err(|e| failure("POST", url, e))?;
        response.into_json().map_err(|e| format!("POST {url}: {e}"))
    }

    /// Uploads go to the URL the registry linked, without the token. That
    /// URL is itself a short-lived credential, so errors name the file instead.
    fn upload(&self, url: &str, bytes: Vec<u8>, file: &str) -> Result {
        let redacted = format!("(the upload URL of {file})");
        self.agent.put(url).send_bytes(&bytes).map(|_| ()).map_err(|e| match e {
            ureq::Error::Transport(transport) => format!("PUT {redacted}: {}", transport.kind()),
            status => failure("PUT", &redacted, status),
        })
    }
}

fn link<'a>(document: &'a Value, name: &str) -> Result<&'a str> {
    document["data"]["links"][name].as_str().ok_or_else(|| format!("the registry's answer has no `{name}` link"))
}

/// A failed request as a sentence: the status and the API's own errors.
fn failure(method: &str, url: &str, error: ureq::Error) -> String {
    match error {
        ureq::Error::Status(status, response) => {
            let body: Value = response.into_json().unwrap_or(Value::Null);
            let details: Vec<String> = body["errors"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|e| e["detail"].as_str().or(e["title"].as_str()).unwrap_or_default().to_owned())
                .filter(|d| !d.is_empty())
                .collect();
            let hint = match status {
                401 => " (TFE_TOKEN is not accepted)",
                403 | 404 => " (the token's team needs Manage Private Registry, or the organization is wrong)",
                _ => "",
            };
            format!(
                "{method} {url}: HTTP {status}{hint}{}",
                details.iter().map(|d| format!(": {d}")).collect::<String>()
            )
        }
        other => format!("{method} {url}: {other}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_settings_are_refused_by_name_and_the_token_never_shows() {
        let token = "atlasv1.s3cr3t-token";
        let registry = Registry::new("app.terraform.io", "bokbasen", token).unwrap();
        assert_eq!(
            registry.provider(),
            "https://app.terraform.io/api/v2/organizations/bokbasen/registry-providers/private/bokbasen/bokbasen"
        );
        assert!(!format!("{registry:?}").contains(token));
        let err = Registry::new("http://tfe.example.com", "bokbasen", token).unwrap_err();
        assert!(err.contains("HTTPS only") && !err.contains(token), "{err}");
        let err = Registry::new("app.terraform.io", "my org", token).unwrap_err();
        assert!(err.contains("organization \"my org\""), "{err}");
        let err = Registry::new("app.terraform.io", "bokbasen", " ").unwrap_err();
        assert!(err.contains("TFE_TOKEN"), "{err}");
    }
}
