//! `bokbasen secret set | list`: secret values straight into SSM as
//! `SecureString`, under the layout the service's configuration uses
//! (`/config/<service>_<env>/<key>`), never through a file, an argument, a
//! log or Terraform. AWS access is the standard chain: `AWS_PROFILE`,
//! `AWS_REGION`, `AWS_ENDPOINT_URL`, SSO, web identity, instance roles.
//!
//! A secret `set` creates carries the marker `bokbasen:owner =
//! bokbasen_service_secret/<service>/<env>/<key>`, the one the
//! `bokbasen_service_secret` resource of that secret writes, so the
//! resource takes the value over. An existing parameter with another
//! resource's marker is refused; one without a marker (set before markers
//! existed) gets the new value but no marker: whose it is stays Terraform's
//! state's to say.

use anyhow::{anyhow, bail, Result};
use aws_sdk_ssm::types::{ParameterStringFilter, ParameterType, ResourceTypeForTagging, Tag};
use bokbasen_pipeline::names::{owner_marker, OWNER_TAG};
use bokbasen_pipeline::parameters::{check_key, check_name, check_value, ConfigLocation, Tier};
use serde::Serialize;

/// The KMS key SSM uses when none is named.
pub const DEFAULT_KMS_KEY: &str = bokbasen_pipeline::parameters::DEFAULT_KMS_KEY;

/// Where a secret goes.
#[derive(Debug)]
pub struct SecretTarget {
    pub location: ConfigLocation,
    pub key: String,
}

impl SecretTarget {
    /// Checks service, environment and key as the provider does.
    pub fn new(service: &str, environment: &str, key: &str, prefix: Option<&str>) -> Result<SecretTarget> {
        bokbasen_pipeline::check_service_name(service).map_err(|e| anyhow!("SERVICE: {e}"))?;
        bokbasen_pipeline::check_environment_name(environment).map_err(|e| anyhow!("ENV: {e}"))?;
        let mut location = ConfigLocation::new(service, environment);
        if let Some(prefix) = prefix {
            location.prefix = prefix.to_string();
        }
        if let Some((argument, problem)) = location.problems().into_iter().next() {
            bail!("--{argument}: {problem}");
        }
        if !key.is_empty() {
            check_key(key).map_err(|e| anyhow!("KEY: {e}"))?;
            check_name(&location.parameter_name(key)).map_err(|e| anyhow!("KEY: {e}"))?;
        }
        Ok(SecretTarget { location, key: key.to_string() })
    }

    pub fn name(&self) -> String {
        self.location.parameter_name(&self.key)
    }

    /// The resource ID of this secret's `bokbasen_service_secret` (and its
    /// import ID): `service/environment/key`.
    pub fn resource_id(&self) -> String {
        format!("{}/{}/{}", self.location.service, self.location.environment, self.key)
    }

    /// The owner marker that resource writes, and `set` with it.
    pub fn marker(&self) -> String {
        owner_marker(SECRET_TYPE, &self.resource_id())
    }
}

/// The Terraform resource type whose value `set` writes.
pub const SECRET_TYPE: &str = "bokbasen_service_secret";

/// The value from stdin, without the one line end that `echo` and here-strings add.
pub fn value_from_reader(mut reader: impl std::io::Read) -> Result<String> {
    let mut value = String::new();
    reader.read_to_string(&mut value).map_err(|e| anyhow!("reading the secret from stdin: {e}"))?;
    let value = value.strip_suffix('\n').map(|v| v.strip_suffix('\r').unwrap_or(v)).unwrap_or(&value).to_string();
    if value.is_empty() {
        bail!("stdin was empty: pipe the value in, e.g. `printf %s \"$VALUE\" | bokbasen secret set SERVICE ENV KEY`");
    }
    Ok(value)
}

async fn client() -> aws_sdk_ssm::Client {
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest()).load().await;
    aws_sdk_ssm::Client::new(&config)
}

#[derive(Debug, Serialize)]
pub struct SetOutcome {
    pub name: String,
    pub version: i64,
    pub kms_key: String,
    /// The owner marker the parameter carries; `None` for a parameter that
    /// existed without one (its value replaced, no marker added).
    pub marker: Option<String>,
    /// The import ID of its `bokbasen_service_secret`.
    pub resource_id: String,
}

/// What `set` does with an existing parameter, by its `bokbasen:owner` tag.
#[derive(Debug, PartialEq, Eq)]
enum Existing {
    /// This secret's marker: overwrite.
    Ours,
    /// No marker: overwrite the value, add no marker.
    Unmarked,
    /// Another resource's: refuse.
    Other(String),
}

fn judge(owner: Option<&str>, marker: &str) -> Existing {
    match owner {
        Some(found) if found == marker => Existing::Ours,
        Some(other) => Existing::Other(other.to_string()),
        None => Existing::Unmarked,
    }
}

fn refusal(target: &SecretTarget, owner: &str) -> anyhow::Error {
    anyhow!(
        "{} belongs to {owner} (its {OWNER_TAG} tag), not to the secret {}: nothing was stored.\n\
         Fix: choose another KEY for this secret, or give that parameter up in its own configuration first.",
        target.name(),
        target.marker()
    )
}

/// A value SSM takes (Standard tier); the message never quotes it.
pub fn check(value: &str) -> Result<()> {
    check_value(value, Tier::Standard).map_err(|e| anyhow!("{e}"))
}

/// Stores `value` as a SecureString: a new parameter with this secret's
/// marker, or a new value of an existing one unless it is another
/// resource's. Errors never carry the value (the SDK does not put request
/// bodies in them).
pub async fn set(target: &SecretTarget, value: &str, kms_key: &str) -> Result<SetOutcome> {
    check(value)?;
    let name = target.name();
    let marker = target.marker();
    let client = client().await;
    type PutError = aws_sdk_ssm::error::SdkError<aws_sdk_ssm::operation::put_parameter::PutParameterError>;
    let failed = |e: PutError| anyhow!("storing {name}: {}", aws_sdk_ssm::error::DisplayErrorContext(e));
    let put = || client.put_parameter().name(&name).value(value).r#type(ParameterType::SecureString).key_id(kms_key);
    let tag = Tag::builder().key(OWNER_TAG).value(&marker).build().map_err(|e| anyhow!("{e}"))?;
    // Tags are taken only when creating (never with Overwrite): try that first.
    let (version, carried) = match put().overwrite(false).tags(tag).send().await {
        Ok(put) => (put.version(), Some(marker.clone())),
        Err(err) if err.as_service_error().is_some_and(|e| e.is_parameter_already_exists()) => {
            let tags = client
                .list_tags_for_resource()
                .resource_type(ResourceTypeForTagging::Parameter)
                .resource_id(&name)
                .send()
                .await
                .map_err(|e| anyhow!("reading the tags of {name}: {}", aws_sdk_ssm::error::DisplayErrorContext(e)))?;
            let owner = tags.tag_list().iter().find(|t| t.key() == OWNER_TAG).map(|t| t.value().to_string());
            let carried = match judge(owner.as_deref(), &marker) {
                Existing::Other(owner) => return Err(refusal(target, &owner)),
                Existing::Ours => Some(marker.clone()),
                Existing::Unmarked => None,
            };
            let put = put().overwrite(true).send().await.map_err(failed)?;
            (put.version(), carried)
        }
        Err(err) => return Err(failed(err)),
    };
    Ok(SetOutcome { name, version, kms_key: kms_key.to_string(), marker: carried, resource_id: target.resource_id() })
}

#[derive(Debug, Serialize)]
pub struct Listed {
    pub key: String,
    pub name: String,
    pub version: i64,
    pub last_modified: Option<String>,
    pub kms_key: Option<String>,
}

/// The service's secrets in one environment: names and versions, read with
/// `DescribeParameters`, which never returns values.
pub async fn list(target: &SecretTarget) -> Result<Vec<Listed>> {
    let path = target.location.path();
    let filter = ParameterStringFilter::builder()
        .key("Path")
        .option("Recursive")
        .values(&path)
        .build()
        .map_err(|e| anyhow!("{e}"))?;
    let client = client().await;
    let mut found = Vec::new();
    let mut pages = client.describe_parameters().parameter_filters(filter).into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| anyhow!("listing {path}: {}", aws_sdk_ssm::error::DisplayErrorContext(e)))?;
        for parameter in page.parameters() {
            if parameter.r#type() != Some(&ParameterType::SecureString) {
                continue;
            }
            let name = parameter.name().unwrap_or_default().to_string();
            found.push(Listed {
                key: target.location.key_of(&name).unwrap_or(&name).to_string(),
                version: parameter.version(),
                last_modified: parameter.last_modified_date().map(|d| d.to_string()),
                kms_key: parameter.key_id().map(str::to_string),
                name,
            });
        }
    }
    found.sort_by(|a, b| a.key.cmp(&b.key));
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_end_is_dropped_nothing_else() {
        assert_eq!(value_from_reader("s3cr3t\n".as_bytes()).unwrap(), "s3cr3t");
        assert_eq!(value_from_reader("s3cr3t\r\n".as_bytes()).unwrap(), "s3cr3t");
        assert_eq!(value_from_reader(" two\nlines\n\n".as_bytes()).unwrap(), " two\nlines\n");
        assert!(value_from_reader("".as_bytes()).unwrap_err().to_string().contains("stdin was empty"));
    }

    #[test]
    fn the_marker_is_the_secret_resources_and_decides_over_an_existing_parameter() {
        let target = SecretTarget::new("ebook-api", "test", "spring.datasource.password", Some("/apps")).unwrap();
        assert_eq!(target.resource_id(), "ebook-api/test/spring.datasource.password");
        assert_eq!(target.marker(), "bokbasen_service_secret/ebook-api/test/spring.datasource.password");
        let marker = target.marker();
        assert_eq!(judge(Some(&marker), &marker), Existing::Ours);
        assert_eq!(judge(None, &marker), Existing::Unmarked);
        let other = "bokbasen_service_config/ebook-api/test";
        assert_eq!(judge(Some(other), &marker), Existing::Other(other.into()));
        let refused = refusal(&target, other).to_string();
        assert!(
            refused.contains(
                "/apps/ebook-api_test/spring.datasource.password belongs to bokbasen_service_config/ebook-api/test"
            ),
            "{refused}"
        );
        assert!(refused.contains("nothing was stored") && refused.contains("Fix: choose another KEY"), "{refused}");
    }

    #[test]
    fn names_follow_the_configuration_layout_and_are_checked() {
        let target = SecretTarget::new("ebook-api", "test", "spring.datasource.password", None).unwrap();
        assert_eq!(target.name(), "/config/ebook-api_test/spring.datasource.password");
        assert!(SecretTarget::new("../etc", "test", "k", None).unwrap_err().to_string().starts_with("SERVICE:"));
        assert!(SecretTarget::new("ebook-api", "Test", "k", None).unwrap_err().to_string().starts_with("ENV:"));
        assert!(SecretTarget::new("ebook-api", "test", "a b", None).unwrap_err().to_string().starts_with("KEY:"));
    }
}
