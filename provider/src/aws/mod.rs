//! AWS access shared by every resource: one SDK configuration built from the
//! provider block (region, profile, endpoint overrides, assumed role,
//! retries), and a client per service on demand.
//!
//! One module per AWS service holds its calls (`roles` for IAM,
//! `parameters` for SSM, `codebuild`, `codepipeline`, `ecr`, `s3`, `kms`), and `tags`
//! the tag rules they share. Nothing here knows Terraform's types.
//!
//! Credentials come from the standard AWS chain (environment, shared config
//! and credentials files, SSO, web identity as HCP Terraform's dynamic
//! credentials use, container and instance metadata); `assume_role` then
//! exchanges them via STS for the target account's role.

pub mod codebuild;
pub mod codepipeline;
pub mod ecr;
pub mod kms;
pub mod ownership;
pub mod parameters;
pub mod retry;
pub mod reuse;
pub mod roles;
pub mod s3;
pub mod tags;

use std::collections::{BTreeMap, HashMap};
use std::fmt::Display;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::sts::AssumeRoleProvider;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::provider::SharedCredentialsProvider;
use aws_sdk_sts::config::retry::{RetryPartition, TokenBucket};
use tokio::sync::OnceCell;

/// Retries of a failed call after the first attempt when `max_retries` is not
/// set: 25, as terraform-provider-aws. The SDK's own 2 give up on a call that
/// meets three throttling errors, 5xx or reset connections in a row; an
/// apply makes hundreds of calls, so a busy account fails some resource of
/// it. Backoff (exponential, jittered, at most 20 s a wait) and the SDK's
/// retry quota (which stops retrying when most calls fail) stay the SDK's.
pub const DEFAULT_MAX_RETRIES: u32 = 25;

/// The provider block's AWS settings, with every value known and validated.
#[derive(Clone, Debug, Default)]
pub struct AwsSettings {
    pub region: Option<String>,
    pub profile: Option<String>,
    /// One endpoint for every service (emulators, VPC endpoints).
    pub endpoint_url: Option<String>,
    /// Per-service endpoints, by service key (`sts`, `ssm`, …); win over `endpoint_url`.
    pub endpoints: BTreeMap<String, String>,
    pub assume_role: Option<AssumeRole>,
    /// Retries after the first attempt; `None`: [`DEFAULT_MAX_RETRIES`].
    pub max_retries: Option<u32>,
    /// Tags every taggable resource gets, under its own tags.
    pub default_tags: BTreeMap<String, String>,
}

#[derive(Clone)]
pub struct AssumeRole {
    pub role_arn: String,
    pub session_name: String,
    /// Sensitive: never logged (see `Debug`).
    pub external_id: Option<String>,
    pub duration: Option<Duration>,
}

/// A configuration problem found while loading, tied to the provider
/// attribute that causes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SettingsError {
    pub attribute: &'static str,
    pub message: String,
}

/// Where every client's retries are accounted: with no retry quota. The
/// SDK's standard mode stops retrying a service once a process-wide token
/// bucket (500, 5 or 14 a retry) runs dry, and a client shared by
/// concurrent calls (as ours are, built once per identity) hands the
/// bucket's permits between them, so a burst of throttling over hundreds of
/// calls fails resources that `max_retries` and backoff would have carried.
/// terraform-provider-aws runs without the quota too (aws-sdk-go-v2's
/// `ratelimit.None`; hashicorp/aws-sdk-go-base#915).
fn retries_unrationed() -> RetryPartition {
    RetryPartition::custom("bokbasen").token_bucket(TokenBucket::unlimited()).build()
}

/// The configured AWS access, shared by all resources of one provider.
#[derive(Clone, Debug)]
pub struct AwsContext {
    sdk: SdkConfig,
    endpoints: BTreeMap<String, String>,
    pub default_tags: BTreeMap<String, String>,
    external_ids: ExternalIds,
    /// The session name the roles of [`AwsContext::assume`] are assumed with.
    session_name: String,
    /// This identity's clients and answers, shared by the clones of a
    /// context; each assumed role has its own.
    identity: Arc<Identity>,
    /// The roles assumed from this identity, once per role (and external ID)
    /// and process: every resource and data source of the provider shares
    /// the credentials, which the SDK refreshes before they expire. A role
    /// that cannot be assumed stays an error for the process, so each
    /// resource that needs it fails at once, naming it.
    assumed: Arc<Mutex<HashMap<AssumedKey, Arc<Assumption>>>>,
    /// Calls of this process that may change AWS, over every identity.
    writes: reuse::Writes,
}

/// A role assumed, by its ARN and the external ID presented. Sensitive: its
/// `Debug` (part of every context's) names the role only.
#[derive(Clone, PartialEq, Eq, Hash)]
struct AssumedKey {
    role_arn: String,
    external_id: Option<String>,
}

impl std::fmt::Debug for AssumedKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AssumedKey")
            .field("role_arn", &self.role_arn)
            .field("external_id", &self.external_id.as_ref().map(|_| "(sensitive)"))
            .finish()
    }
}

/// One role's assumption: the context acting as it, or why it could not be assumed.
type Assumption = OnceCell<Result<AwsContext, String>>;

/// What one identity has built and asked, built once.
#[derive(Debug)]
struct Identity {
    /// [`AwsContext::whereabouts`].
    whereabouts: OnceCell<(String, bokbasen_pipeline::Region)>,
    /// SDK clients by service, built on first use: building one sets up its
    /// runtime (endpoint resolver, signer, retry), which cost more CPU than a
    /// call when every resource built its own.
    clients: Clients,
    /// The roles under bokbasen's path in this account, by name: see `roles::listed_role_arn`.
    roles: reuse::UntilWrite<Arc<BTreeMap<String, String>>>,
    /// CodeBuild projects asked for by name: see `codebuild::find_projects`.
    known_projects: Arc<codebuild::Known>,
}

impl Identity {
    fn new() -> Arc<Identity> {
        Arc::new(Identity {
            whereabouts: OnceCell::new(),
            clients: Clients::default(),
            roles: reuse::UntilWrite::default(),
            known_projects: Arc::default(),
        })
    }
}

#[derive(Debug, Default)]
struct Clients {
    sts: OnceLock<aws_sdk_sts::Client>,
    iam: OnceLock<aws_sdk_iam::Client>,
    ecr: OnceLock<aws_sdk_ecr::Client>,
    codebuild: OnceLock<aws_sdk_codebuild::Client>,
    codepipeline: OnceLock<aws_sdk_codepipeline::Client>,
    ssm: OnceLock<aws_sdk_ssm::Client>,
    s3: OnceLock<aws_sdk_s3::Client>,
    kms: OnceLock<aws_sdk_kms::Client>,
}

/// The client of one service: built once per identity, with this context's
/// endpoint for it, and [`reuse::Writes`] counting its writes.
macro_rules! client {
    ($service:ident, $krate:ident) => {
        pub fn $service(&self) -> $krate::Client {
            self.identity
                .clients
                .$service
                .get_or_init(|| {
                    let config = $krate::config::Builder::from(&self.service_config(stringify!($service)))
                        .retry_partition(retries_unrationed())
                        .interceptor(self.writes.clone())
                        .build();
                    $krate::Client::from_conf(config)
                })
                .clone()
        }
    };
}

/// Role ARN → the external ID [`AwsContext::assume`] presents for it.
/// Sensitive: its `Debug` names the roles only.
#[derive(Clone, Default)]
pub struct ExternalIds(BTreeMap<String, String>);

impl std::fmt::Debug for ExternalIds {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set().entries(self.0.keys()).finish()
    }
}

/// The session name when `assume_role.session_name` is not set.
pub const DEFAULT_SESSION_NAME: &str = "bokbasen-terraform";

impl AwsContext {
    /// Loads the SDK configuration. Network calls happen lazily, on first use
    /// of a client (the role is assumed then, and refreshed before expiry).
    pub async fn load(settings: AwsSettings) -> Result<AwsContext, SettingsError> {
        let mut loader = aws_config::defaults(BehaviorVersion::latest());
        if let Some(region) = &settings.region {
            loader = loader.region(Region::new(region.clone()));
        }
        if let Some(profile) = &settings.profile {
            loader = loader.profile_name(profile);
        }
        if let Some(url) = &settings.endpoint_url {
            loader = loader.endpoint_url(url);
        }
        // The SDK's standard mode (exponential backoff with jitter, a retry
        // quota), with more attempts than its 3: see `DEFAULT_MAX_RETRIES`.
        let retries = settings.max_retries.unwrap_or(DEFAULT_MAX_RETRIES);
        let retries = RetryConfig::standard().with_max_attempts(retries.saturating_add(1));
        let base = loader.retry_config(retries).load().await;
        if base.region().is_none() {
            return Err(SettingsError {
                attribute: "region",
                message: "No AWS region is configured. Set `region` in the provider block, or AWS_REGION, or a region in the AWS profile.".into(),
            });
        }
        let sdk = match &settings.assume_role {
            None => base,
            Some(role) => {
                // AssumeRole goes to the STS endpoint the user configured.
                let sts_config = match settings.endpoints.get("sts") {
                    Some(url) => base.to_builder().endpoint_url(url).build(),
                    None => base.clone(),
                };
                let mut builder = AssumeRoleProvider::builder(&role.role_arn).session_name(&role.session_name);
                if let Some(external_id) = &role.external_id {
                    builder = builder.external_id(external_id);
                }
                if let Some(duration) = role.duration {
                    builder = builder.session_length(duration);
                }
                let provider = builder.configure(&sts_config).build().await;
                base.to_builder().credentials_provider(SharedCredentialsProvider::new(provider)).build()
            }
        };
        let session_name = match &settings.assume_role {
            Some(role) => role.session_name.clone(),
            None => DEFAULT_SESSION_NAME.to_string(),
        };
        Ok(AwsContext {
            sdk,
            endpoints: settings.endpoints,
            default_tags: settings.default_tags,
            external_ids: ExternalIds::default(),
            session_name,
            identity: Identity::new(),
            assumed: Arc::default(),
            writes: reuse::Writes::default(),
        })
    }

    /// The SDK configuration for `service`, with its endpoint override applied.
    fn service_config(&self, service: &str) -> SdkConfig {
        match self.endpoints.get(service) {
            Some(url) => self.sdk.to_builder().endpoint_url(url).build(),
            None => self.sdk.clone(),
        }
    }

    client!(sts, aws_sdk_sts);
    client!(iam, aws_sdk_iam);
    client!(ecr, aws_sdk_ecr);
    client!(codebuild, aws_sdk_codebuild);
    client!(codepipeline, aws_sdk_codepipeline);
    client!(ssm, aws_sdk_ssm);
    client!(s3, aws_sdk_s3);
    client!(kms, aws_sdk_kms);

    /// The roles under bokbasen's path in this account, listed by `ask`
    /// once until this process writes ([`reuse::UntilWrite`]).
    pub async fn listed_roles<F>(&self, ask: F) -> Step<Arc<BTreeMap<String, String>>>
    where
        F: std::future::Future<Output = Step<Arc<BTreeMap<String, String>>>>,
    {
        self.identity.roles.get(&self.writes, ask).await
    }

    /// What this process knows of this account's CodeBuild projects.
    pub fn known_projects(&self) -> Arc<codebuild::Known> {
        Arc::clone(&self.identity.known_projects)
    }

    /// The calls of this process that may have changed AWS.
    pub fn writes(&self) -> &reuse::Writes {
        &self.writes
    }

    /// Where calls land: the account of the credentials in use (after any
    /// assumed role), with partition and region, for forming ARNs. Asked of
    /// STS once: an identity's account does not change while the provider
    /// runs, and every resource of a plan asks.
    pub async fn whereabouts(&self) -> Step<(String, bokbasen_pipeline::Region)> {
        let found = self
            .identity
            .whereabouts
            .get_or_try_init(|| async {
                let identity =
                    self.sts().get_caller_identity().send().await.map_err(failed("reading the AWS account"))?;
                let arn = identity.arn.as_deref();
                let partition = arn.and_then(|arn| arn.split(':').nth(1)).unwrap_or("aws").to_string();
                let region = self.region().unwrap_or_default().to_string();
                Ok::<_, String>((identity.account.unwrap_or_default(), bokbasen_pipeline::Region { partition, region }))
            })
            .await?;
        Ok(found.clone())
    }

    /// The region every client uses.
    pub fn region(&self) -> Option<&str> {
        self.sdk.region().map(|r| r.as_ref())
    }

    /// This context, presenting `external_ids` (role ARN → ID) when it
    /// assumes those roles.
    pub fn with_external_ids(&self, external_ids: BTreeMap<String, String>) -> AwsContext {
        AwsContext { external_ids: ExternalIds(external_ids), ..self.clone() }
    }

    /// The same settings acting as `role_arn` (e.g. an environment's deploy
    /// role in another account), with this context's credentials as the
    /// source, and the role's external ID if one was given
    /// ([`AwsContext::with_external_ids`]). Assumed once per process (and
    /// external ID), at first need, waiting while a trust just written
    /// propagates; every later caller gets the same context, whose
    /// credentials the SDK refreshes before they expire.
    pub async fn assume(&self, role_arn: &str) -> Result<AwsContext, String> {
        let external_id = self.external_ids.0.get(role_arn).cloned();
        let once = {
            let mut assumed = self.assumed.lock().unwrap_or_else(PoisonError::into_inner);
            let key = AssumedKey { role_arn: role_arn.to_string(), external_id: external_id.clone() };
            assumed.entry(key).or_default().clone()
        };
        once.get_or_init(|| self.assume_now(role_arn, external_id)).await.clone()
    }

    async fn assume_now(&self, role_arn: &str, external_id: Option<String>) -> Result<AwsContext, String> {
        let source =
            self.sdk.credentials_provider().ok_or("no AWS credentials are configured to assume the role with")?;
        let mut builder = AssumeRoleProvider::builder(role_arn).session_name(&self.session_name);
        if let Some(external_id) = external_id {
            builder = builder.external_id(external_id);
        }
        let provider = builder.configure(&self.service_config("sts")).build_from_provider(source).await;
        // Not lazily on a client's first call, as the SDK would: its identity
        // cache gives up after 5 s, too soon for IAM (see `retry::credentials_now`).
        let provider = retry::credentials_now(&format!("sts:AssumeRole {role_arn}"), retry::Patience::IAM, provider)
            .await
            .map_err(|err| format!("assuming the role {role_arn}: {}", error_detail(&err)))?;
        Ok(AwsContext {
            sdk: self.sdk.to_builder().credentials_provider(provider).build(),
            endpoints: self.endpoints.clone(),
            default_tags: self.default_tags.clone(),
            external_ids: ExternalIds::default(),
            session_name: self.session_name.clone(),
            identity: Identity::new(),
            assumed: Arc::default(),
            writes: self.writes.clone(),
        })
    }
}

impl std::fmt::Debug for AssumeRole {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AssumeRole")
            .field("role_arn", &self.role_arn)
            .field("session_name", &self.session_name)
            .field("external_id", &self.external_id.as_ref().map(|_| "(sensitive)"))
            .field("duration", &self.duration)
            .finish()
    }
}

/// The result of one step against AWS; the error is a sentence for a diagnostic.
pub type Step<T = ()> = Result<T, String>;

/// Maps an SDK error to "{what}: {cause}".
pub fn failed<E: std::error::Error + 'static>(what: impl Display) -> impl FnOnce(E) -> String {
    move |err| format!("{what}: {}", error_detail(&err))
}

/// Maps a request-building error (a missing required field: a provider bug).
pub fn invalid<E: Display>(what: &'static str) -> impl FnOnce(E) -> String {
    move |err| format!("could not build the {what} request: {err}")
}

/// An SDK error as a sentence for a diagnostic, with the service's error code
/// and message and the chain of causes (credentials, connection, …).
/// Each cause once, by its Display (the SDK's own context display ends with
/// a Debug dump of the raw response, which helps nobody reading a plan).
pub fn error_detail(err: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut next = Some(err);
    while let Some(err) = next {
        let text = err.to_string();
        if !text.is_empty() && !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        next = err.source();
    }
    parts.join(": ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn external_ids_show_their_roles_never_their_values() {
        let ids = ExternalIds(BTreeMap::from([(
            "arn:aws:iam::222222222222:role/bokbasen/bokbasen-deployer-test".to_string(),
            "s3cr3t-external-id".to_string(),
        )]));
        let shown = format!("{ids:?}");
        assert!(shown.contains("bokbasen-deployer-test") && !shown.contains("s3cr3t"), "{shown}");
    }

    #[test]
    fn an_assumed_role_shows_its_role_never_its_external_id() {
        let key = AssumedKey {
            role_arn: "arn:aws:iam::222222222222:role/bokbasen/bokbasen-deployer-test".into(),
            external_id: Some("s3cr3t-external-id".into()),
        };
        let shown = format!("{key:?}");
        assert!(shown.contains("bokbasen-deployer-test") && !shown.contains("s3cr3t"), "{shown}");
    }

    #[test]
    fn external_id_is_not_debug_printed() {
        let role = AssumeRole {
            role_arn: "arn:aws:iam::222222222222:role/deploy".into(),
            session_name: "s".into(),
            external_id: Some("very-secret-external-id".into()),
            duration: None,
        };
        let shown = format!("{role:?}");
        assert!(!shown.contains("very-secret-external-id"), "{shown}");
        assert!(shown.contains("222222222222"));
    }

    #[tokio::test]
    async fn missing_region_names_the_attribute() {
        // With no region from any source the loader must refuse.
        std::env::remove_var("AWS_REGION");
        std::env::remove_var("AWS_DEFAULT_REGION");
        std::env::set_var("AWS_CONFIG_FILE", "/nonexistent/bokbasen-test-config");
        std::env::set_var("AWS_EC2_METADATA_DISABLED", "true");
        let err = AwsContext::load(AwsSettings::default()).await.unwrap_err();
        assert_eq!(err.attribute, "region");
    }
}
