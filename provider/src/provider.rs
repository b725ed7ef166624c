//! The `provider "bokbasen" {}` block: its schema, validation, and how it
//! becomes an [`AwsContext`].

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bokbasen_pipeline::checks::{check_region, check_role_arn, check_session_name};
use serde::Deserialize;

use crate::aws::{AssumeRole, AwsContext, AwsSettings, DEFAULT_SESSION_NAME};
use crate::framework::{
    AnyDataSource, AnyResource, Attr, Attribute, Block, Diagnostics, NestedBlock, Nesting, Provider, Schema,
};
use crate::types::shared::{check_external_id_at, check_owner_tag_free, check_tags};
use crate::value::{AttributePath, Type};

/// Services whose endpoint can be overridden in `endpoints {}`.
pub const ENDPOINT_SERVICES: &[&str] = &[
    "apigateway",
    "batch",
    "cloudfront",
    "codebuild",
    "codepipeline",
    "ecr",
    "ecs",
    "iam",
    "kms",
    "lambda",
    "logs",
    "s3",
    "ssm",
    "sts",
];

const MAX_RETRIES_LIMIT: i64 = 25;
const MIN_ROLE_DURATION: Duration = Duration::from_secs(15 * 60);
const MAX_ROLE_DURATION: Duration = Duration::from_secs(12 * 60 * 60);

#[derive(Default)]
pub struct BokbasenProvider;

/// The provider block as Terraform sends it; any value may be unknown.
#[derive(Debug, Deserialize)]
pub struct ProviderConfig {
    pub region: Attr<String>,
    pub profile: Attr<String>,
    pub endpoint_url: Attr<String>,
    pub max_retries: Attr<i64>,
    pub endpoints: Attr<BTreeMap<String, Attr<String>>>,
    pub assume_role: Attr<AssumeRoleConfig>,
    pub default_tags: Attr<DefaultTagsConfig>,
}

#[derive(Debug, Deserialize)]
pub struct AssumeRoleConfig {
    pub role_arn: Attr<String>,
    pub session_name: Attr<String>,
    pub external_id: Attr<String>,
    pub duration: Attr<String>,
}

#[derive(Debug, Deserialize)]
pub struct DefaultTagsConfig {
    pub tags: Attr<BTreeMap<String, Attr<String>>>,
}

fn provider_schema() -> Schema {
    let endpoints = ENDPOINT_SERVICES.iter().fold(
        Block::new("Per-service endpoint URLs; each wins over `endpoint_url` for its service."),
        |block, service| {
            block.attribute(
                Attribute::optional(service, Type::String)
                    .description(format!("Endpoint URL for the `{service}` API.")),
            )
        },
    );
    let assume_role = Block::new("Assume this IAM role (via STS `AssumeRole`) for every AWS call, e.g. to deploy into another account.")
        .attribute(Attribute::required("role_arn", Type::String).description("ARN of the role to assume, e.g. `arn:aws:iam::222222222222:role/deploy`."))
        .attribute(Attribute::optional("session_name", Type::String).description(format!("Session name recorded in CloudTrail, for this role and for the environments' deploy roles the provider assumes from it (`{DEFAULT_SESSION_NAME}` when there is no `assume_role`); 2–64 characters of `[A-Za-z0-9+=,.@_-]`. Defaults to `{DEFAULT_SESSION_NAME}`.")))
        .attribute(Attribute::optional("external_id", Type::String).sensitive().description("External ID the role's trust policy requires. Sensitive: never logged."))
        .attribute(Attribute::optional("duration", Type::String).description("Session length as a duration such as `1h` or `45m`, between `15m` and `12h`. Defaults to one hour."));
    let default_tags =
        Block::new("Tags applied to every taggable resource the provider creates; a resource's own tags win.")
            .attribute(Attribute::optional("tags", Type::map(Type::String)).description("Tag keys and values."));
    Schema::new(
        Block::new("The bokbasen provider creates the release stack of each microservice in AWS: build, test, approval and deploy stages across accounts. Credentials come from the standard AWS chain.")
            .attribute(Attribute::optional("region", Type::String).description("AWS region, e.g. `eu-north-1`. Defaults to `AWS_REGION` or the profile's region."))
            .attribute(Attribute::optional("profile", Type::String).description("Named profile from the shared AWS config and credentials files."))
            .attribute(Attribute::optional("endpoint_url", Type::String).description("One endpoint URL for every AWS service, for emulators and VPC endpoints."))
            .attribute(Attribute::optional("max_retries", Type::Number).description(format!("Retries of a failed AWS call after the first attempt (0–{MAX_RETRIES_LIMIT}). Defaults to 25, as terraform-provider-aws: a call is retried on throttling, 5xx errors and broken connections with exponential backoff (jittered, at most 20 s a wait) until it succeeds, the retries are spent, or the SDK's retry quota stops retries because most calls fail.")))
            .block(NestedBlock::new("endpoints", Nesting::Single, endpoints))
            .block(NestedBlock::new("assume_role", Nesting::Single, assume_role))
            .block(NestedBlock::new("default_tags", Nesting::Single, default_tags)),
    )
}

#[async_trait]
impl Provider for BokbasenProvider {
    type Config = ProviderConfig;
    type Data = AwsContext;

    fn schema(&self) -> Schema {
        provider_schema()
    }

    fn validate(&self, config: &ProviderConfig, diags: &mut Diagnostics) {
        validate(config, diags);
    }

    async fn configure(
        &self,
        _terraform_version: &str,
        config: ProviderConfig,
        diags: &mut Diagnostics,
    ) -> Option<AwsContext> {
        let settings = settings(config, diags)?;
        match AwsContext::load(settings).await {
            Ok(context) => Some(context),
            Err(err) => {
                diags.attribute_error(AttributePath::attr(err.attribute), "Invalid AWS configuration", err.message);
                None
            }
        }
    }

    fn resources(&self) -> Vec<Arc<dyn AnyResource<AwsContext>>> {
        crate::types::resources()
    }

    fn data_sources(&self) -> Vec<Arc<dyn AnyDataSource<AwsContext>>> {
        crate::types::data_sources()
    }
}

/// Checks known values; unknown ones are checked when they become known.
fn validate(config: &ProviderConfig, diags: &mut Diagnostics) {
    let root = AttributePath::root();
    if let Some(Err(message)) = config.region.known().map(|region| check_region(region)) {
        diags.attribute_error(root.attribute("region"), "Invalid region", message);
    }
    if let Some(profile) = config.profile.known() {
        if profile.trim().is_empty() {
            diags.attribute_error(
                root.attribute("profile"),
                "Invalid profile",
                "`profile` must name a profile; remove the argument to use the default.",
            );
        }
    }
    if let Some(url) = config.endpoint_url.known() {
        check_url(url, &root.attribute("endpoint_url"), diags);
    }
    if let Some(retries) = config.max_retries.known() {
        if !(0..=MAX_RETRIES_LIMIT).contains(retries) {
            diags.attribute_error(
                root.attribute("max_retries"),
                "Invalid max_retries",
                format!("`max_retries` is {retries}; it must be between 0 and {MAX_RETRIES_LIMIT}."),
            );
        }
    }
    if let Some(endpoints) = config.endpoints.known() {
        for (service, url) in endpoints {
            if let Some(url) = url.known() {
                check_url(url, &root.attribute("endpoints").attribute(service), diags);
            }
        }
    }
    if let Some(role) = config.assume_role.known() {
        let path = root.attribute("assume_role");
        if let Some(Err(message)) = role.role_arn.known().map(|arn| check_role_arn(arn)) {
            diags.attribute_error(path.attribute("role_arn"), "Invalid role ARN", message);
        }
        if let Some(Err(message)) = role.session_name.known().map(|name| check_session_name(name)) {
            diags.attribute_error(path.attribute("session_name"), "Invalid session name", message);
        }
        check_external_id_at(&role.external_id, &path.attribute("external_id"), diags);
        if let Some(duration) = role.duration.known() {
            if let Err(message) = parse_role_duration(duration) {
                diags.attribute_error(path.attribute("duration"), "Invalid duration", message);
            }
        }
    }
    if let Some(default_tags) = config.default_tags.known() {
        let path = root.attribute("default_tags").attribute("tags");
        check_tags(&default_tags.tags, &path, diags);
        check_owner_tag_free(&default_tags.tags, &path, diags);
    }
}

fn check_url(url: &str, path: &AttributePath, diags: &mut Diagnostics) {
    let problem = match url::Url::parse(url) {
        Ok(parsed) if !matches!(parsed.scheme(), "http" | "https") => {
            Some(format!("scheme {:?} is not http or https", parsed.scheme()))
        }
        Ok(parsed) if parsed.host_str().is_none_or(str::is_empty) => Some("it has no host".to_string()),
        Ok(_) => None,
        Err(e) => Some(e.to_string()),
    };
    if let Some(problem) = problem {
        diags.attribute_error(
            path.clone(),
            "Invalid endpoint URL",
            format!("{url:?} is not a usable endpoint URL ({problem}); use a URL such as `https://sts.eu-north-1.amazonaws.com` or `http://127.0.0.1:5000`."),
        );
    }
}

/// Parses a Go-style duration (`1h`, `45m`, `1h30m`, `900s`) within the
/// session lengths STS allows.
pub fn parse_role_duration(text: &str) -> Result<Duration, String> {
    let invalid = || format!("{text:?} is not a duration; write it like `1h`, `45m` or `1h30m`.");
    let mut total = 0u64;
    let mut digits = String::new();
    for c in text.trim().chars() {
        if c.is_ascii_digit() {
            digits.push(c);
            continue;
        }
        let unit = match c {
            'h' => 3600,
            'm' => 60,
            's' => 1,
            _ => return Err(invalid()),
        };
        let amount: u64 = digits.parse().map_err(|_| invalid())?;
        total = total.saturating_add(amount.saturating_mul(unit));
        digits.clear();
    }
    if !digits.is_empty() || total == 0 {
        return Err(invalid());
    }
    let duration = Duration::from_secs(total);
    if !(MIN_ROLE_DURATION..=MAX_ROLE_DURATION).contains(&duration) {
        return Err(format!("{text:?} is outside the session lengths STS allows, `15m` to `12h`."));
    }
    Ok(duration)
}

/// Turns a validated configuration into settings; every value must be known.
fn settings(config: ProviderConfig, diags: &mut Diagnostics) -> Option<AwsSettings> {
    let root = AttributePath::root();
    let mut unknown = Vec::new();
    let mut known = |value: Attr<String>, path: AttributePath| -> Option<String> {
        match value {
            Attr::Unknown => {
                unknown.push(path);
                None
            }
            other => other.into_known(),
        }
    };
    let region = known(config.region, root.attribute("region"));
    let profile = known(config.profile, root.attribute("profile"));
    let endpoint_url = known(config.endpoint_url, root.attribute("endpoint_url"));
    let mut endpoints = BTreeMap::new();
    for (service, url) in config.endpoints.into_known().unwrap_or_default() {
        if let Some(url) = known(url, root.attribute("endpoints").attribute(&service)) {
            endpoints.insert(service, url);
        }
    }
    let assume_role = match config.assume_role.into_known() {
        None => None,
        Some(role) => {
            let path = root.attribute("assume_role");
            let role_arn = known(role.role_arn, path.attribute("role_arn"));
            let session_name = known(role.session_name, path.attribute("session_name"));
            let external_id = known(role.external_id, path.attribute("external_id"));
            let duration = known(role.duration, path.attribute("duration"));
            role_arn.map(|role_arn| AssumeRole {
                role_arn,
                session_name: session_name.unwrap_or_else(|| DEFAULT_SESSION_NAME.to_string()),
                external_id,
                duration: duration.and_then(|d| parse_role_duration(&d).ok()),
            })
        }
    };
    let mut default_tags = BTreeMap::new();
    if let Some(tags) = config.default_tags.into_known().and_then(|d| d.tags.into_known()) {
        for (key, value) in tags {
            if let Some(value) = known(value, root.attribute("default_tags").attribute("tags").key(&key)) {
                default_tags.insert(key, value);
            }
        }
    }
    let max_retries = match config.max_retries {
        Attr::Unknown => {
            unknown.push(root.attribute("max_retries"));
            None
        }
        other => other.into_known().map(|n| n.clamp(0, MAX_RETRIES_LIMIT) as u32),
    };
    for path in &unknown {
        diags.attribute_error(
            path.clone(),
            "Provider argument not known yet",
            "This provider argument depends on a value that is only known after apply; the provider cannot be configured with it. Use a value known at plan time (a variable or a literal).",
        );
    }
    if !unknown.is_empty() {
        return None;
    }
    Some(AwsSettings { region, profile, endpoint_url, endpoints, assume_role, max_retries, default_tags })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::framework::from_value;
    use crate::value::{object, Value};

    fn config(pairs: Value) -> ProviderConfig {
        // Start from an all-null block, then apply the given attributes.
        let schema = provider_schema();
        let Type::Object(attrs) = schema.value_type() else { unreachable!() };
        let mut value: BTreeMap<String, Value> = attrs.keys().map(|k| (k.clone(), Value::Null)).collect();
        if let Value::Object(given) = pairs {
            value.extend(given);
        }
        from_value(&Value::Object(value), schema.value_type()).expect("config decodes")
    }

    fn errors_at(config: &ProviderConfig) -> Vec<String> {
        let mut diags = Diagnostics::new();
        validate(config, &mut diags);
        diags.iter().map(|d| d.path.as_ref().map(ToString::to_string).unwrap_or_default()).collect()
    }

    #[test]
    fn a_good_configuration_passes() {
        let good = config(object([
            ("region", "eu-north-1".into()),
            ("endpoint_url", "http://127.0.0.1:5000".into()),
            ("max_retries", 3.into()),
            ("endpoints", object([("sts", "https://sts.eu-north-1.amazonaws.com".into())])),
            (
                "assume_role",
                object([
                    ("role_arn", "arn:aws:iam::222222222222:role/deploy".into()),
                    ("session_name", "ci-run.42".into()),
                    ("external_id", "ext-123".into()),
                    ("duration", "1h30m".into()),
                ]),
            ),
            ("default_tags", object([("tags", Value::Map(BTreeMap::from([("team".into(), "books".into())])))])),
        ]));
        assert_eq!(errors_at(&good), Vec::<String>::new());
    }

    #[test]
    fn each_bad_value_is_reported_at_its_attribute() {
        let bad = config(object([
            ("region", "Europe".into()),
            ("profile", " ".into()),
            ("endpoint_url", "ftp://x".into()),
            ("max_retries", (-1).into()),
            ("endpoints", object([("ssm", "not a url".into())])),
            (
                "assume_role",
                object([
                    ("role_arn", "arn:aws:iam::12:user/x".into()),
                    ("session_name", "a".into()),
                    ("external_id", "has space".into()),
                    ("duration", "3d".into()),
                ]),
            ),
            (
                "default_tags",
                object([(
                    "tags",
                    Value::Map(BTreeMap::from([
                        ("aws:owner".into(), "x".into()),
                        ("bokbasen:owner".into(), "bokbasen_service_pipeline/ebook-api".into()),
                    ])),
                )]),
            ),
        ]));
        assert_eq!(
            errors_at(&bad),
            [
                "region",
                "profile",
                "endpoint_url",
                "max_retries",
                "endpoints.ssm",
                "assume_role.role_arn",
                "assume_role.session_name",
                "assume_role.external_id",
                "assume_role.duration",
                r#"default_tags.tags["aws:owner"]"#,
                r#"default_tags.tags["bokbasen:owner"]"#,
            ]
        );
    }

    #[test]
    fn unknown_values_are_not_validated_but_block_configure() {
        let pending = config(object([("region", Value::Unknown)]));
        assert!(errors_at(&pending).is_empty());
        let mut diags = Diagnostics::new();
        assert!(settings(pending, &mut diags).is_none());
        assert_eq!(diags.iter().next().unwrap().path.as_ref().unwrap().to_string(), "region");
    }

    #[test]
    fn external_id_never_appears_in_diagnostics() {
        let bad = config(object([(
            "assume_role",
            object([
                ("role_arn", "arn:aws:iam::222222222222:role/deploy".into()),
                ("external_id", "secret value!".into()),
            ]),
        )]));
        let mut diags = Diagnostics::new();
        validate(&bad, &mut diags);
        let text = format!("{diags:?}");
        assert!(diags.has_errors());
        assert!(!text.contains("secret value!"), "{text}");
    }

    #[test]
    fn durations() {
        assert_eq!(parse_role_duration("1h").unwrap(), Duration::from_secs(3600));
        assert_eq!(parse_role_duration("1h30m").unwrap(), Duration::from_secs(5400));
        assert_eq!(parse_role_duration("900s").unwrap(), Duration::from_secs(900));
        for bad in ["", "h", "10", "14m", "13h", "1d", "1.5h"] {
            assert!(parse_role_duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn schema_describes_every_attribute() {
        fn check(block: &Block) {
            assert!(!block.description.is_empty());
            for attr in &block.attributes {
                assert!(!attr.description.is_empty(), "{} has no description", attr.name);
            }
            for nested in &block.blocks {
                check(&nested.block);
            }
        }
        check(provider_schema().block());
        let external_id = provider_schema()
            .block()
            .find_block("assume_role")
            .unwrap()
            .block
            .find_attribute("external_id")
            .unwrap()
            .sensitive;
        assert!(external_id);
    }
}
