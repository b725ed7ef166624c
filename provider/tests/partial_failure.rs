//! The partial-failure rule (`framework/traits.rs`) for every resource, step
//! by step: the real provider, through `framework::Server` (no Terraform
//! process), against a local AWS endpoint that enforces IAM as AWS does.
//!
//! For each resource type and each operation (create, update, delete):
//! a fault-free run counts the operation's mutating AWS calls (M); then for
//! each k in 1..=M the same operation runs again from the same starting
//! point with the k-th mutating call answered by a non-retryable AWS error
//! (HTTP 400 `ValidationException`), and the rule is checked:
//!
//! - the apply reports an error;
//! - the state it returns describes exactly what exists: after a create,
//!   null when nothing carrying the resource's `bokbasen:owner` marker is
//!   left, else a state listing exactly the marked objects left; after an
//!   update, what a read finds (and again exactly the marked objects); after
//!   a delete, the prior state;
//! - nothing without the marker was changed or deleted (every other object
//!   of the kinds read, including one planted per resource, fingerprinted
//!   before and compared after every step);
//! - the recovery Terraform would run converges: refresh, then destroy what
//!   a failed create left, or apply the update again, or destroy again; after
//!   a successful apply a read returns the applied state, which fits the
//!   plan, and no object exists twice (one KMS key per store).
//!
//! Each k's step (the `service:Operation` of the k-th mutating call) is
//! found by holding the (k-1)-th mutating request of the same faulted run
//! (`LocalAws::hold`), the last one from the fault-free run's calls. The
//! steps and what the state said after each are printed (`--nocapture`).
//!
//! The provider reads its credentials from a shared-credentials profile per
//! endpoint, so the resource types run in parallel, one endpoint each.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::Credentials;
use bokbasen_e2e::local_aws::{AccessKeys, HoldRelease, ACCOUNT_ACCESS_ROLE, CALLER_USER, TOOLING_ACCOUNT};
use bokbasen_e2e::LocalAws;
use bokbasen_provider::framework::{Applied, Block, Diagnostics, Mode, Nesting, Server, Severity};
use bokbasen_provider::provider::BokbasenProvider;
use bokbasen_provider::value::{from_json, Value};
use serde_json::json;

const ENV_ACCOUNT: &str = "222222222222";
const REGION: &str = "eu-north-1";
const OWNER_TAG: &str = "bokbasen:owner";
/// A client error no SDK retries (not throttling, not transient, 400), and
/// not one of the IAM propagation errors `aws/retry.rs` waits out.
const FAULT_CODE: &str = "ValidationException";
const FAULT_MESSAGE: &str = "injected by partial_failure.rs: this request is refused";
const ARTIFACT_BUCKET: &str = "bokbasen-pipeline-artifacts";
const ARTIFACT_KEY_ARN: &str = "arn:aws:kms:eu-north-1:123456789012:key/0a1b2c3d-4e5f-6a7b-8c9d-0e1f2a3b4c5d";

// ---------------------------------------------------------------------------
// Credentials: one shared-credentials profile per endpoint.

struct Profiles {
    dir: PathBuf,
    entries: Vec<(String, AccessKeys)>,
}

static PROFILES: OnceLock<Mutex<Profiles>> = OnceLock::new();

/// Called first by every test, before anything runs: the process's AWS
/// environment is replaced by files of its own.
fn profiles() -> &'static Mutex<Profiles> {
    PROFILES.get_or_init(|| {
        for (key, _) in std::env::vars_os() {
            if key.to_string_lossy().starts_with("AWS_") {
                std::env::remove_var(&key);
            }
        }
        let dir = std::env::temp_dir().join(format!("bokbasen-partial-failure-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("a scratch folder");
        std::fs::write(dir.join("config"), "").expect("an empty AWS config file");
        std::fs::write(dir.join("credentials"), "").expect("an empty credentials file");
        std::env::set_var("AWS_CONFIG_FILE", dir.join("config"));
        std::env::set_var("AWS_SHARED_CREDENTIALS_FILE", dir.join("credentials"));
        std::env::set_var("AWS_EC2_METADATA_DISABLED", "true");
        Mutex::new(Profiles { dir, entries: Vec::new() })
    })
}

/// Adds a profile; the file is replaced whole (renamed over), so a reader
/// never sees half of it.
fn add_profile(name: &str, keys: &AccessKeys) {
    let mut profiles = profiles().lock().unwrap();
    profiles.entries.push((name.to_string(), keys.clone()));
    let mut text = String::new();
    for (name, keys) in &profiles.entries {
        let _ = writeln!(text, "[{name}]\naws_access_key_id = {}\naws_secret_access_key = {}\n", keys.id, keys.secret);
    }
    let staging = profiles.dir.join(format!("credentials.{name}"));
    std::fs::write(&staging, text).expect("write the credentials");
    std::fs::rename(&staging, profiles.dir.join("credentials")).expect("replace the credentials");
}

// ---------------------------------------------------------------------------
// Values as Terraform sends them.

fn block_of<'a>(server: &'a Server<BokbasenProvider>, type_name: &str) -> &'a Block {
    server
        .resource_schemas()
        .find(|(name, _)| *name == type_name)
        .map(|(_, schema)| schema.block())
        .unwrap_or_else(|| panic!("no resource type {type_name}"))
}

/// A configuration from JSON: attributes left out are null, absent list and
/// set blocks are empty (as Terraform sends them).
fn configuration(block: &Block, json: &serde_json::Value) -> Value {
    let value = from_json(json, &block.value_type()).unwrap_or_else(|e| panic!("configuration {json}: {e:?}"));
    fill_blocks(block, value)
}

fn fill_blocks(block: &Block, value: Value) -> Value {
    let Value::Object(mut values) = value else { return value };
    for nested in &block.blocks {
        let current = values.remove(&nested.name).unwrap_or(Value::Null);
        let filled = match (nested.nesting, current) {
            (Nesting::List, Value::Null) => Value::List(Vec::new()),
            (Nesting::Set, Value::Null) => Value::Set(Vec::new()),
            (Nesting::List, Value::List(items)) => {
                Value::List(items.into_iter().map(|i| fill_blocks(&nested.block, i)).collect())
            }
            (Nesting::Set, Value::Set(items)) => {
                Value::Set(items.into_iter().map(|i| fill_blocks(&nested.block, i)).collect())
            }
            (Nesting::Group, Value::Null) => fill_blocks(&nested.block, configuration(&nested.block, &json!({}))),
            (_, other @ Value::Object(_)) => fill_blocks(&nested.block, other),
            (_, other) => other,
        };
        values.insert(nested.name.clone(), filled);
    }
    Value::Object(values)
}

/// Terraform's proposed new state: the configuration, with computed
/// attributes it leaves null taken from the prior state (list blocks
/// matched by index).
fn proposed(block: &Block, prior: &Value, config: &Value) -> Value {
    if config.is_null() {
        return Value::Null;
    }
    let mut values = BTreeMap::new();
    for attr in &block.attributes {
        let configured = config.attribute(&attr.name).cloned().unwrap_or(Value::Null);
        let computed = matches!(attr.mode, Mode::Computed | Mode::OptionalComputed);
        let value = if configured.is_null() && computed {
            prior.attribute(&attr.name).cloned().unwrap_or(Value::Null)
        } else {
            configured
        };
        values.insert(attr.name.clone(), value);
    }
    for nested in &block.blocks {
        let configured = config.attribute(&nested.name).cloned().unwrap_or(Value::Null);
        let before = prior.attribute(&nested.name).cloned().unwrap_or(Value::Null);
        let value = match (nested.nesting, &configured) {
            (Nesting::Single | Nesting::Group, Value::Object(_)) => proposed(&nested.block, &before, &configured),
            (Nesting::List, Value::List(items)) => Value::List(
                items
                    .iter()
                    .enumerate()
                    .map(|(i, item)| {
                        let earlier = match &before {
                            Value::List(list) => list.get(i).cloned().unwrap_or(Value::Null),
                            _ => Value::Null,
                        };
                        proposed(&nested.block, &earlier, item)
                    })
                    .collect(),
            ),
            (Nesting::Set, Value::Set(items)) => {
                Value::Set(items.iter().map(|item| proposed(&nested.block, &Value::Null, item)).collect())
            }
            _ => configured,
        };
        values.insert(nested.name.clone(), value);
    }
    Value::Object(values)
}

/// Whether `actual` is what `planned` promised: equal wherever the plan knew.
fn fits(planned: &Value, actual: &Value) -> bool {
    match (planned, actual) {
        (Value::Unknown, _) => true,
        (Value::Object(p), Value::Object(a)) | (Value::Map(p), Value::Map(a)) => {
            p.len() == a.len() && p.iter().all(|(k, v)| a.get(k).is_some_and(|av| fits(v, av)))
        }
        (Value::List(p), Value::List(a)) | (Value::Tuple(p), Value::Tuple(a)) => {
            p.len() == a.len() && p.iter().zip(a).all(|(p, a)| fits(p, a))
        }
        _ => planned == actual,
    }
}

fn errors(diags: &Diagnostics) -> Vec<String> {
    diags
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .map(|d| format!("{}: {}", d.summary, d.detail.lines().next().unwrap_or_default()))
        .collect()
}

fn text<'a>(value: &'a Value, name: &str) -> Option<&'a str> {
    value.attribute(name).and_then(Value::as_str).filter(|s| !s.is_empty())
}

fn strings(value: &Value, name: &str) -> Vec<String> {
    match value.attribute(name) {
        Some(Value::Map(map)) => map.values().filter_map(Value::as_str).map(str::to_owned).collect(),
        _ => Vec::new(),
    }
}

/// The top-level attributes in which `a` and `b` differ.
fn differing(a: &Value, b: &Value) -> Vec<String> {
    match (a, b) {
        (Value::Object(a), Value::Object(b)) => {
            a.iter().filter(|(k, v)| b.get(*k) != Some(*v)).map(|(k, _)| k.clone()).collect()
        }
        _ => vec!["(whole)".to_string()],
    }
}

// ---------------------------------------------------------------------------
// What exists: read as an administrator through the SDK.

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    Role,
    Project,
    Pipeline,
    Repository,
    Bucket,
    Key,
    Parameter,
}

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Object {
    account: String,
    kind: Kind,
    name: String,
    tags: BTreeMap<String, String>,
    /// What else tells two states apart: a role's path, a key's state and
    /// aliases, a parameter's type and version.
    detail: String,
}

type Id = (String, Kind, String);

impl Object {
    fn id(&self) -> Id {
        (self.account.clone(), self.kind, self.name.clone())
    }

    fn live(&self) -> bool {
        !self.detail.starts_with("PendingDeletion")
    }

    fn owner(&self) -> Option<&str> {
        self.tags.get(OWNER_TAG).map(String::as_str)
    }
}

fn show(ids: &BTreeSet<Id>) -> String {
    if ids.is_empty() {
        return "nothing".to_string();
    }
    ids.iter().map(|(account, kind, name)| format!("{account} {kind:?} {name}")).collect::<Vec<_>>().join(", ")
}

fn tag_map<'a>(pairs: impl Iterator<Item = (&'a str, &'a str)>) -> BTreeMap<String, String> {
    pairs.map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

/// KMS keys seen pending deletion (they stay so): read once.
type Pending = Mutex<BTreeMap<String, Object>>;

async fn read_account(account: &str, config: &SdkConfig, kinds: &[Kind], pending: &Pending) -> Vec<Object> {
    let mut found = Vec::new();
    let object = |kind, name: &str, tags, detail: String| Object {
        account: account.to_string(),
        kind,
        name: name.to_string(),
        tags,
        detail,
    };
    if kinds.contains(&Kind::Role) {
        let iam = aws_sdk_iam::Client::new(config);
        let mut marker = None;
        loop {
            let page = iam.list_roles().set_marker(marker.take()).send().await.expect("list roles");
            for role in page.roles() {
                let tags = iam.list_role_tags().role_name(role.role_name()).send().await.expect("role tags");
                let tags = tag_map(tags.tags().iter().map(|t| (t.key(), t.value())));
                found.push(object(Kind::Role, role.role_name(), tags, role.path().to_string()));
            }
            if !page.is_truncated() {
                break;
            }
            marker = page.marker().map(str::to_owned);
        }
    }
    if kinds.contains(&Kind::Project) {
        let codebuild = aws_sdk_codebuild::Client::new(config);
        let names = codebuild.list_projects().send().await.expect("list projects").projects().to_vec();
        if !names.is_empty() {
            let batch = codebuild.batch_get_projects().set_names(Some(names)).send().await.expect("get projects");
            for project in batch.projects() {
                let tags = tag_map(project.tags().iter().filter_map(|t| Some((t.key()?, t.value()?))));
                found.push(object(Kind::Project, project.name().unwrap_or_default(), tags, String::new()));
            }
        }
    }
    if kinds.contains(&Kind::Pipeline) {
        let codepipeline = aws_sdk_codepipeline::Client::new(config);
        let listed = codepipeline.list_pipelines().send().await.expect("list pipelines");
        for pipeline in listed.pipelines() {
            let name = pipeline.name().unwrap_or_default();
            let arn = format!("arn:aws:codepipeline:{REGION}:{account}:{name}");
            let tags = codepipeline.list_tags_for_resource().resource_arn(arn).send().await.expect("pipeline tags");
            found.push(object(
                Kind::Pipeline,
                name,
                tag_map(tags.tags().iter().map(|t| (t.key(), t.value()))),
                String::new(),
            ));
        }
    }
    if kinds.contains(&Kind::Repository) {
        let ecr = aws_sdk_ecr::Client::new(config);
        let listed = ecr.describe_repositories().send().await.expect("list repositories");
        for repository in listed.repositories() {
            let arn = repository.repository_arn().unwrap_or_default();
            let tags = ecr.list_tags_for_resource().resource_arn(arn).send().await.expect("repository tags");
            let tags = tag_map(tags.tags().iter().map(|t| (t.key(), t.value())));
            found.push(object(Kind::Repository, repository.repository_name().unwrap_or_default(), tags, String::new()));
        }
    }
    if kinds.contains(&Kind::Bucket) {
        let s3 = aws_sdk_s3::Client::new(config);
        let listed = s3.list_buckets().send().await.expect("list buckets");
        for bucket in listed.buckets() {
            let name = bucket.name().unwrap_or_default();
            let tags = match s3.get_bucket_tagging().bucket(name).send().await {
                Ok(tagging) => tag_map(tagging.tag_set().iter().map(|t| (t.key(), t.value()))),
                Err(err) => {
                    let code = aws_sdk_s3::error::ProvideErrorMetadata::code(&err).unwrap_or_default().to_string();
                    assert_eq!(code, "NoSuchTagSet", "bucket tags of {name}: {err:?}");
                    BTreeMap::new()
                }
            };
            found.push(object(Kind::Bucket, name, tags, String::new()));
        }
    }
    if kinds.contains(&Kind::Key) {
        let kms = aws_sdk_kms::Client::new(config);
        let mut aliases: BTreeMap<String, Vec<String>> = BTreeMap::new();
        let listed = kms.list_aliases().send().await.expect("list aliases");
        for alias in listed.aliases() {
            if let (Some(name), Some(target)) = (alias.alias_name(), alias.target_key_id()) {
                aliases.entry(target.to_string()).or_default().push(name.to_string());
            }
        }
        let mut marker = None;
        loop {
            let page = kms.list_keys().set_marker(marker.take()).send().await.expect("list keys");
            for key in page.keys() {
                let id = key.key_id().unwrap_or_default();
                let cached = pending.lock().unwrap().get(&format!("{account} {id}")).cloned();
                if let Some(object) = cached {
                    found.push(object);
                    continue;
                }
                let described = kms.describe_key().key_id(id).send().await.expect("describe key");
                let meta = described.key_metadata().expect("key metadata");
                if meta.key_manager().map(|m| m.as_str()) != Some("CUSTOMER") {
                    continue;
                }
                let tags = kms.list_resource_tags().key_id(id).send().await.expect("key tags");
                let tags = tag_map(tags.tags().iter().map(|t| (t.tag_key(), t.tag_value())));
                let mut names = aliases.get(id).cloned().unwrap_or_default();
                names.sort();
                let state = meta.key_state().map(|s| s.as_str().to_string()).unwrap_or_default();
                let object = Object {
                    account: account.to_string(),
                    kind: Kind::Key,
                    name: id.to_string(),
                    tags,
                    detail: format!("{state} {}", names.join(" ")),
                };
                if !object.live() {
                    pending.lock().unwrap().insert(format!("{account} {id}"), object.clone());
                }
                found.push(object);
            }
            if !page.truncated() {
                break;
            }
            marker = page.next_marker().map(str::to_owned);
        }
    }
    if kinds.contains(&Kind::Parameter) {
        let ssm = aws_sdk_ssm::Client::new(config);
        let mut token = None;
        loop {
            let page =
                ssm.describe_parameters().set_next_token(token.take()).send().await.expect("describe parameters");
            for parameter in page.parameters() {
                let name = parameter.name().unwrap_or_default();
                let tags = ssm
                    .list_tags_for_resource()
                    .resource_type(aws_sdk_ssm::types::ResourceTypeForTagging::Parameter)
                    .resource_id(name)
                    .send()
                    .await
                    .expect("parameter tags");
                let tags = tag_map(tags.tag_list().iter().map(|t| (t.key(), t.value())));
                let kind = parameter.r#type().map(|t| t.as_str().to_string()).unwrap_or_default();
                found.push(object(Kind::Parameter, name, tags, format!("{kind} v{}", parameter.version())));
            }
            match page.next_token() {
                Some(next) => token = Some(next.to_string()),
                None => break,
            }
        }
    }
    found
}

// ---------------------------------------------------------------------------
// The launcher's rule of what is mutating (`_is_mutating` in
// tests/local-aws/moto_extensions.py), to name the steps of a run.

const MUTATING_VERBS: [&str; 41] = [
    "Create",
    "Put",
    "Update",
    "Modify",
    "Delete",
    "Attach",
    "Detach",
    "Associate",
    "Disassociate",
    "Tag",
    "Untag",
    "Set",
    "Schedule",
    "Cancel",
    "Enable",
    "Disable",
    "Add",
    "Remove",
    "Register",
    "Deregister",
    "Start",
    "Stop",
    "Upload",
    "Import",
    "Restore",
    "Revoke",
    "Rotate",
    "Reset",
    "Change",
    "Replicate",
    "Retry",
    "Rollback",
    "Override",
    "Acknowledge",
    "Initiate",
    "Complete",
    "Invalidate",
    "Label",
    "Unlabel",
    "Send",
    "Terminate",
];

fn is_mutating(name: &str) -> bool {
    let operation = name.split_once(':').map_or(name, |(_, op)| op);
    if let Some((method, _)) = operation.split_once(' ') {
        return matches!(method.to_ascii_uppercase().as_str(), "PUT" | "POST" | "DELETE" | "PATCH");
    }
    let starts = |op: &str| {
        MUTATING_VERBS.iter().any(|verb| {
            op.strip_prefix(verb)
                .is_some_and(|rest| rest.chars().next().is_none_or(|c| c.is_ascii_uppercase() || c.is_ascii_digit()))
        })
    };
    starts(operation) || operation.strip_prefix("Batch").is_some_and(starts)
}

/// The mutating calls between two snapshots of `LocalAws::calls`, by name.
fn mutating_between(before: &BTreeMap<String, u64>, after: &BTreeMap<String, u64>) -> BTreeMap<String, u64> {
    after
        .iter()
        .filter(|(name, _)| is_mutating(name))
        .map(|(name, n)| (name.clone(), n - before.get(name).copied().unwrap_or(0)))
        .filter(|(_, n)| *n > 0)
        .collect()
}

// ---------------------------------------------------------------------------
// One endpoint, the provider configured twice (tooling account, and the
// environment account through OrganizationAccountAccessRole), and the
// administrator's view.

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Side {
    Tooling,
    Environment,
}

struct Env {
    aws: Arc<LocalAws>,
    tooling: Arc<Server<BokbasenProvider>>,
    environment: Arc<Server<BokbasenProvider>>,
    admin: Vec<(String, SdkConfig)>,
    kinds: Vec<Kind>,
    pending: Pending,
}

/// Makes the administrator whose keys the inventory reads with (an IAM user:
/// no inventory lists users), then runs `plant`.
const SETUP_SCRIPT: &str = r#"
iam = client("iam")
iam.create_user(UserName="bokbasen-partial-failure-admin")
iam.put_user_policy(
    UserName="bokbasen-partial-failure-admin",
    PolicyName="all",
    PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}),
)
key = iam.create_access_key(UserName="bokbasen-partial-failure-admin")["AccessKey"]
CODEBUILD_TRUST = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "codebuild.amazonaws.com"}, "Action": "sts:AssumeRole"}]})
__PLANT__
print(json.dumps({"id": key["AccessKeyId"], "secret": key["SecretAccessKey"]}))
"#;

async fn sdk_config(endpoint: &str, credentials: Credentials) -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new(REGION))
        .endpoint_url(endpoint)
        .credentials_provider(credentials)
        .load()
        .await
}

impl Env {
    /// An endpoint with `plant` (Python, run as the administrator) done, the
    /// inventory reading `kinds`.
    async fn start(label: &str, plant: &str, kinds: &[Kind]) -> Env {
        profiles();
        let aws = Arc::new(tokio::task::block_in_place(LocalAws::start));
        let profile = format!("partial-failure-{label}-{}", aws.port);
        add_profile(&profile, &aws.caller_keys());
        let keys = tokio::task::block_in_place(|| aws.boto3(&SETUP_SCRIPT.replace("__PLANT__", plant)));
        let id = keys["id"].as_str().expect("admin key").to_string();
        let secret = keys["secret"].as_str().expect("admin secret").to_string();
        let endpoint = aws.endpoint();
        let tooling_admin = sdk_config(&endpoint, Credentials::new(id, secret, None, None, "admin")).await;
        let assumed = aws_sdk_sts::Client::new(&tooling_admin)
            .assume_role()
            .role_arn(format!("arn:aws:iam::{ENV_ACCOUNT}:role/{ACCOUNT_ACCESS_ROLE}"))
            .role_session_name("partial-failure-inventory")
            .send()
            .await
            .expect("the administrator assumes the environment account's access role");
        let c = assumed.credentials().expect("credentials");
        let env_admin = sdk_config(
            &endpoint,
            Credentials::new(
                c.access_key_id(),
                c.secret_access_key(),
                Some(c.session_token().to_string()),
                None,
                "admin-env",
            ),
        )
        .await;

        let tooling = Server::new(BokbasenProvider);
        let provider = |extra: serde_json::Value| {
            let mut config = json!({"region": REGION, "endpoint_url": endpoint, "profile": profile});
            config.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
            from_json(&config, tooling.provider_schema().value_type()).expect("provider configuration")
        };
        let diags = tooling.configure("1.11.0", &provider(json!({}))).await;
        assert!(!diags.has_errors(), "{label}: configure: {:?}", errors(&diags));
        let environment = Server::new(BokbasenProvider);
        let role = format!("arn:aws:iam::{ENV_ACCOUNT}:role/{ACCOUNT_ACCESS_ROLE}");
        let diags = environment.configure("1.11.0", &provider(json!({"assume_role": {"role_arn": role}}))).await;
        assert!(!diags.has_errors(), "{label}: configure (environment): {:?}", errors(&diags));
        Env {
            aws,
            tooling: Arc::new(tooling),
            environment: Arc::new(environment),
            admin: vec![(TOOLING_ACCOUNT.to_string(), tooling_admin), (ENV_ACCOUNT.to_string(), env_admin)],
            kinds: kinds.to_vec(),
            pending: Mutex::new(BTreeMap::new()),
        }
    }

    fn server(&self, side: Side) -> &Arc<Server<BokbasenProvider>> {
        match side {
            Side::Tooling => &self.tooling,
            Side::Environment => &self.environment,
        }
    }

    async fn inventory(&self) -> Vec<Object> {
        let mut all = Vec::new();
        for (account, config) in &self.admin {
            all.extend(read_account(account, config, &self.kinds, &self.pending).await);
        }
        all.sort();
        all
    }

    /// Plans the change from `prior` to `config` (null: destroy) as Terraform
    /// does, with no errors and no replacement.
    async fn plan(&self, side: Side, type_name: &str, prior: &Value, config: &Value) -> Value {
        let server = self.server(side);
        let block = block_of(server, type_name);
        if !config.is_null() {
            let diags = server.validate_resource_config(type_name, config, true).await;
            assert!(!diags.has_errors(), "{type_name}: validate: {:?}", errors(&diags));
        }
        let (change, diags) =
            server.plan_resource_change(type_name, prior, &proposed(block, prior, config), config).await;
        assert!(!diags.has_errors(), "{type_name}: plan: {:?}", errors(&diags));
        assert!(change.requires_replace.is_empty(), "{type_name}: plan replaces: {:?}", change.requires_replace);
        change.planned
    }

    async fn apply(
        &self,
        side: Side,
        type_name: &'static str,
        prior: &Value,
        planned: &Value,
        config: &Value,
    ) -> Applied {
        self.server(side).apply_resource_change(type_name, prior, planned, config).await
    }

    async fn read(&self, side: Side, type_name: &str, state: &Value) -> Value {
        let (read, diags) = self.server(side).read_resource(type_name, state).await;
        assert!(!diags.has_errors(), "{type_name}: read: {:?}", errors(&diags));
        read
    }

    /// Plans and applies `config` over `prior` without faults: the applied
    /// state fits the plan and a read returns it (no drift).
    async fn converge(&self, side: Side, type_name: &'static str, prior: &Value, config: &Value) -> Value {
        let planned = self.plan(side, type_name, prior, config).await;
        if !prior.is_null() && &planned == prior {
            return planned;
        }
        let applied = self.apply(side, type_name, prior, &planned, config).await;
        assert!(!applied.diagnostics.has_errors(), "{type_name}: apply: {:?}", errors(&applied.diagnostics));
        assert!(
            fits(&planned, &applied.new_state),
            "{type_name}: applied state does not fit the plan:\nplanned {planned:?}\napplied {:?}",
            applied.new_state
        );
        let read = self.read(side, type_name, &applied.new_state).await;
        assert_eq!(
            read,
            applied.new_state,
            "{type_name}: a read after the apply differs from the applied state: drift in {:?}",
            differing(&read, &applied.new_state)
        );
        applied.new_state
    }

    /// Refreshes `state` and destroys what the refresh still finds, without
    /// faults.
    async fn destroy(&self, side: Side, type_name: &'static str, state: &Value) {
        let refreshed = self.read(side, type_name, state).await;
        if refreshed.is_null() {
            return;
        }
        let applied = self.apply(side, type_name, &refreshed, &Value::Null, &Value::Null).await;
        assert!(!applied.diagnostics.has_errors(), "{type_name}: destroy: {:?}", errors(&applied.diagnostics));
        assert!(applied.new_state.is_null());
    }

    /// Applies with the k-th mutating call failing; the `service:Operation`
    /// of the (k-1)-th, held on its way (found for k > 1).
    async fn apply_faulted(
        &self,
        k: u32,
        side: Side,
        type_name: &'static str,
        prior: &Value,
        planned: &Value,
        config: &Value,
    ) -> (Applied, Option<String>) {
        self.aws.inject_fault_at("mutating", k - 1, 400, FAULT_CODE, FAULT_MESSAGE);
        if k > 1 {
            self.aws.hold(k - 1, "mutating", HoldRelease::Apply);
        }
        let server = self.server(side).clone();
        let (prior, planned, config) = (prior.clone(), planned.clone(), config.clone());
        let run = tokio::spawn(async move { server.apply_resource_change(type_name, &prior, &planned, &config).await });
        let before = if k > 1 {
            let aws = self.aws.clone();
            let held = tokio::task::spawn_blocking(move || {
                let held = aws.wait_until_held(Duration::from_secs(60));
                aws.release_hold();
                held
            })
            .await
            .expect("the hold");
            Some(held)
        } else {
            None
        };
        let applied = run.await.expect("the apply runs");
        self.aws.clear_faults();
        (applied, before)
    }
}

// ---------------------------------------------------------------------------
// A resource under test.

struct Case {
    label: &'static str,
    side: Side,
    type_name: &'static str,
    marker: String,
    before: Value,
    after: Value,
    /// The objects a state says exist.
    claims: fn(&Value) -> BTreeSet<Id>,
}

fn arn_parts(arn: &str) -> (String, String) {
    let account = arn.split(':').nth(4).unwrap_or_default().to_string();
    let resource = arn.splitn(6, ':').nth(5).unwrap_or_default();
    (account, resource.to_string())
}

fn role_id(arn: &str) -> Id {
    let (account, resource) = arn_parts(arn);
    (account, Kind::Role, resource.rsplit('/').next().unwrap_or_default().to_string())
}

fn pipeline_claims(state: &Value) -> BTreeSet<Id> {
    let mut ids: BTreeSet<Id> = strings(state, "role_arns").iter().map(|arn| role_id(arn)).collect();
    let name = text(state, "name").unwrap_or_default();
    for project in strings(state, "codebuild_projects") {
        let account = if project.starts_with(&format!("{name}-test-")) { ENV_ACCOUNT } else { TOOLING_ACCOUNT };
        ids.insert((account.to_string(), Kind::Project, project));
    }
    if let Some(arn) = text(state, "arn") {
        let (account, resource) = arn_parts(arn);
        ids.insert((account, Kind::Pipeline, resource));
    }
    if text(state, "ecr_repository_url").is_some() {
        ids.insert((TOOLING_ACCOUNT.to_string(), Kind::Repository, name.to_string()));
    }
    ids
}

fn deploy_target_claims(state: &Value) -> BTreeSet<Id> {
    ["deployer_role_arn", "devops_role_arn"].into_iter().filter_map(|a| text(state, a)).map(role_id).collect()
}

fn artifact_store_claims(state: &Value) -> BTreeSet<Id> {
    let mut ids = BTreeSet::new();
    if let Some(arn) = text(state, "bucket_arn") {
        ids.insert((TOOLING_ACCOUNT.to_string(), Kind::Bucket, arn.rsplit(':').next().unwrap_or_default().to_string()));
    }
    if let (Some(arn), Some(id)) = (text(state, "key_arn"), text(state, "key_id")) {
        ids.insert((arn_parts(arn).0, Kind::Key, id.to_string()));
    }
    ids
}

fn parameter_id(arn: &str) -> Id {
    let (account, resource) = arn_parts(arn);
    (account, Kind::Parameter, format!("/{}", resource.trim_start_matches("parameter/")))
}

fn service_config_claims(state: &Value) -> BTreeSet<Id> {
    strings(state, "parameter_arns").iter().map(|arn| parameter_id(arn)).collect()
}

fn service_secret_claims(state: &Value) -> BTreeSet<Id> {
    text(state, "arn").map(parameter_id).into_iter().collect()
}

/// What one faulted run showed.
struct Step {
    k: u32,
    operation: String,
    error: String,
    state: String,
}

struct Sweep {
    operation: &'static str,
    mutating: u32,
    calls: u64,
    steps: Vec<Step>,
    took: Duration,
}

/// The objects of the case's marker still in use, and every other object.
fn split(case: &Case, inventory: &[Object]) -> (BTreeSet<Id>, Vec<Object>) {
    let own = inventory.iter().filter(|o| o.owner() == Some(&case.marker) && o.live()).map(Object::id).collect();
    let others = inventory.iter().filter(|o| o.owner() != Some(&case.marker)).cloned().collect();
    (own, others)
}

/// Objects that exist twice: KMS keys have no name, so more than one live
/// key of the marker in an account.
fn duplicates(case: &Case, inventory: &[Object]) -> BTreeMap<String, usize> {
    let mut keys: BTreeMap<String, usize> = BTreeMap::new();
    for o in inventory.iter().filter(|o| o.kind == Kind::Key && o.live() && o.owner() == Some(&case.marker)) {
        *keys.entry(o.account.clone()).or_default() += 1;
    }
    keys.retain(|_, n| *n > 1);
    keys
}

struct Sweeper<'a> {
    env: &'a Env,
    case: &'a Case,
    /// Every object without the case's marker, as it must stay.
    others: Mutex<Vec<Object>>,
    /// Where the rule did not hold; the test fails with all of them at the end.
    violations: Mutex<Vec<String>>,
}

impl Sweeper<'_> {
    /// Records a violation of the rule unless `holds`; whether it held.
    fn check(&self, holds: bool, what: impl FnOnce() -> String) -> bool {
        if !holds {
            let what = format!("{}: {}", self.case.label, what());
            eprintln!("RULE VIOLATED: {what}");
            self.violations.lock().unwrap().push(what);
        }
        holds
    }

    async fn check_others(&self, when: &str) -> Vec<Object> {
        let denials = self.env.aws.denials();
        if !denials.is_empty() {
            self.env.aws.reset_denials();
            let listed: Vec<String> = denials.iter().map(ToString::to_string).collect();
            self.check(false, || format!("{when} (or the recovery before it): requests refused by IAM: {listed:?}"));
        }
        let inventory = self.env.inventory().await;
        let (_, others) = split(self.case, &inventory);
        let mut expected = self.others.lock().unwrap();
        if others != *expected {
            let gone: Vec<_> = expected.iter().filter(|o| !others.contains(o)).collect();
            let new: Vec<_> = others.iter().filter(|o| !expected.contains(o)).collect();
            let what = format!("{when}: objects without the marker changed:\nbefore: {gone:#?}\nafter: {new:#?}");
            self.check(false, || what);
            *expected = others;
        }
        inventory
    }

    /// After a violation left objects of the marker that no state holds:
    /// the next apply takes them over by their marker, a destroy removes them.
    async fn clean_up(&self) {
        let (env, case) = (self.env, self.case);
        if !self.own().await.is_empty() {
            let taken = env.converge(case.side, case.type_name, &Value::Null, &case.before).await;
            env.destroy(case.side, case.type_name, &taken).await;
            assert!(self.own().await.is_empty(), "{}: could not clean up after a violation", case.label);
        }
    }

    async fn own(&self) -> BTreeSet<Id> {
        split(self.case, &self.env.inventory().await).0
    }

    /// Counts a fault-free run of `run`; returns M, the mutating calls by
    /// name, and the total calls.
    async fn counted<T>(&self, run: impl std::future::Future<Output = T>) -> (T, u32, BTreeMap<String, u64>, u64) {
        let (calls, totals) = (self.env.aws.calls(), self.env.aws.call_totals());
        let out = run.await;
        let (calls_after, totals_after) = (self.env.aws.calls(), self.env.aws.call_totals());
        let mutating = (totals_after.mutating - totals.mutating) as u32;
        let named = mutating_between(&calls, &calls_after);
        assert_eq!(named.values().sum::<u64>(), mutating as u64, "the launcher's mutating rule, as read here");
        (out, mutating, named, totals_after.total - totals.total)
    }

    /// Names each step: the held (k-1)-th calls, and for the last the one
    /// left of the fault-free run's.
    fn name_steps(steps: &mut [Step], held: Vec<Option<String>>, named: &BTreeMap<String, u64>) {
        let mut left = named.clone();
        for (step, name) in steps.iter_mut().zip(held.into_iter().skip(1).map(Some).chain([None])) {
            let name = name.flatten();
            if let Some(name) = &name {
                step.operation = name.clone();
                if let Some(n) = left.get_mut(name) {
                    *n = n.saturating_sub(1);
                }
            }
        }
        let rest: Vec<String> = left.into_iter().filter(|(_, n)| *n > 0).map(|(name, _)| name).collect();
        if let Some(last) = steps.last_mut() {
            last.operation = if rest.len() == 1 { rest[0].clone() } else { format!("one of {rest:?}") };
        }
    }

    async fn create(&self) -> Sweep {
        let (env, case) = (self.env, self.case);
        let started = Instant::now();
        assert!(self.own().await.is_empty(), "{}: the create sweep starts from nothing", case.label);
        let config = case.before.clone();
        let (state, m, named, calls) =
            self.counted(env.converge(case.side, case.type_name, &Value::Null, &config)).await;
        assert_eq!((case.claims)(&state), self.own().await, "{}: the created state lists what exists", case.label);
        env.destroy(case.side, case.type_name, &state).await;
        assert!(self.own().await.is_empty(), "{}: destroy leaves nothing", case.label);

        let mut steps = Vec::new();
        let mut held = Vec::new();
        for k in 1..=m {
            let planned = env.plan(case.side, case.type_name, &Value::Null, &config).await;
            let (applied, before) =
                env.apply_faulted(k, case.side, case.type_name, &Value::Null, &planned, &config).await;
            held.push(before);
            let when = format!("create, fault at mutating call {k}/{m}");
            let errs = errors(&applied.diagnostics);
            self.check(!errs.is_empty(), || format!("{when}: no error diagnostic"));
            let inventory = self.check_others(&when).await;
            let (own, _) = split(case, &inventory);
            let state = &applied.new_state;
            let claimed = if state.is_null() { BTreeSet::new() } else { (case.claims)(state) };
            self.check(claimed == own, || {
                format!(
                    "{when}: the state ({}) does not list exactly what exists with the marker ({}); errors: {errs:?}",
                    if state.is_null() { "null".to_string() } else { show(&claimed) },
                    show(&own)
                )
            });
            let said =
                if state.is_null() { "null".to_string() } else { format!("tainted state of {}", show(&claimed)) };
            // Terraform next refreshes, then destroys a returned (tainted) state.
            if !state.is_null() {
                let refreshed = env.read(case.side, case.type_name, state).await;
                let listed = if refreshed.is_null() { BTreeSet::new() } else { (case.claims)(&refreshed) };
                self.check(listed == own, || {
                    format!("{when}: the refresh of the tainted state lists {} of {}", show(&listed), show(&own))
                });
                env.destroy(case.side, case.type_name, &refreshed).await;
            }
            let left = self.own().await;
            if !self.check(left.is_empty(), || format!("{when}: after recovery, orphans remain: {}", show(&left))) {
                self.clean_up().await;
            }
            // And the next apply creates it whole, once. When the attempt
            // left nothing and returned no state, that apply is the
            // fault-free one above, from the same start: checked once.
            if !state.is_null() || !own.is_empty() {
                let again = env.converge(case.side, case.type_name, &Value::Null, &config).await;
                let inventory = self.check_others(&format!("{when}, re-applied")).await;
                self.check(duplicates(case, &inventory).is_empty(), || {
                    format!("{when}: re-applied: duplicates {:?}", duplicates(case, &inventory))
                });
                let own = split(case, &inventory).0;
                self.check((case.claims)(&again) == own, || {
                    format!("{when}: re-applied state lists {} of {}", show(&(case.claims)(&again)), show(&own))
                });
                env.destroy(case.side, case.type_name, &again).await;
                assert!(self.own().await.is_empty(), "{}: {when}: destroyed after re-apply", case.label);
            }
            steps.push(Step { k, operation: String::new(), error: errs.join(" | "), state: said });
        }
        Self::name_steps(&mut steps, held, &named);
        Sweep { operation: "create", mutating: m, calls, steps, took: started.elapsed() }
    }

    async fn update(&self) -> Sweep {
        let (env, case) = (self.env, self.case);
        let started = Instant::now();
        let (before, after) = (case.before.clone(), case.after.clone());
        let mut state = env.converge(case.side, case.type_name, &Value::Null, &before).await;
        let (changed, m, named, calls) = self.counted(env.converge(case.side, case.type_name, &state, &after)).await;
        state = env.converge(case.side, case.type_name, &changed, &before).await;

        let mut steps = Vec::new();
        let mut held = Vec::new();
        for k in 1..=m {
            let planned = env.plan(case.side, case.type_name, &state, &after).await;
            let (applied, before_step) =
                env.apply_faulted(k, case.side, case.type_name, &state, &planned, &after).await;
            held.push(before_step);
            let when = format!("update, fault at mutating call {k}/{m}");
            let errs = errors(&applied.diagnostics);
            self.check(!errs.is_empty(), || format!("{when}: no error diagnostic"));
            let inventory = self.check_others(&when).await;
            let new_state = applied.new_state;
            assert!(!new_state.is_null(), "{}: {when}: an update's state is never null", case.label);
            let own = split(case, &inventory).0;
            self.check((case.claims)(&new_state) == own, || {
                format!("{when}: the state lists {} of {}", show(&(case.claims)(&new_state)), show(&own))
            });
            // What a refresh of the prior state finds now. (Not a read of the
            // returned state: mid-update, objects can disagree — parameters with
            // old and new tags, a key policy granting an account the bucket policy
            // does not yet — and a read shows such a mix relative to the state it
            // starts from, so that the next plan completes the change.)
            let read = env.read(case.side, case.type_name, &state).await;
            self.check(read == new_state, || {
                let attrs = differing(&read, &new_state);
                let pick = |v: &Value| {
                    attrs.iter().map(|a| format!("{a} = {:?}", v.attribute(a))).collect::<Vec<_>>().join(", ")
                };
                format!(
                    "{when}: the state is not what a read finds: state says {}; a read finds {}; errors: {errs:?}",
                    pick(&new_state),
                    pick(&read)
                )
            });
            let like_prior = differing(&new_state, &state);
            let like_planned: Vec<String> = differing(&new_state, &planned)
                .into_iter()
                .filter(|a| !planned.attribute(a).is_some_and(Value::is_unknown))
                .collect();
            let said = format!("read back: differs from prior in {like_prior:?}, from planned in {like_planned:?}");
            // Terraform next refreshes and applies the change again.
            let done = env.converge(case.side, case.type_name, &read, &after).await;
            let inventory = self.check_others(&format!("{when}, re-applied")).await;
            self.check(duplicates(case, &inventory).is_empty(), || {
                format!("{when}: re-applied: duplicates {:?}", duplicates(case, &inventory))
            });
            let own = split(case, &inventory).0;
            self.check((case.claims)(&done) == own, || {
                format!("{when}: re-applied state lists {} of {}", show(&(case.claims)(&done)), show(&own))
            });
            state = env.converge(case.side, case.type_name, &done, &before).await;
            steps.push(Step { k, operation: String::new(), error: errs.join(" | "), state: said });
        }
        Self::name_steps(&mut steps, held, &named);
        env.destroy(case.side, case.type_name, &state).await;
        assert!(self.own().await.is_empty(), "{}: update sweep: destroyed", case.label);
        Sweep { operation: "update", mutating: m, calls, steps, took: started.elapsed() }
    }

    async fn delete(&self) -> Sweep {
        let (env, case) = (self.env, self.case);
        let started = Instant::now();
        let before = case.before.clone();
        let state = env.converge(case.side, case.type_name, &Value::Null, &before).await;
        let ((), m, named, calls) = self.counted(env.destroy(case.side, case.type_name, &state)).await;
        assert!(self.own().await.is_empty(), "{}: destroy leaves nothing", case.label);
        let mut state = env.converge(case.side, case.type_name, &Value::Null, &before).await;

        let mut steps = Vec::new();
        let mut held = Vec::new();
        for k in 1..=m {
            let (applied, before_step) =
                env.apply_faulted(k, case.side, case.type_name, &state, &Value::Null, &Value::Null).await;
            held.push(before_step);
            let when = format!("delete, fault at mutating call {k}/{m}");
            let errs = errors(&applied.diagnostics);
            self.check(!errs.is_empty(), || format!("{when}: no error diagnostic"));
            self.check(applied.new_state == state, || format!("{when}: a failed delete did not keep the prior state"));
            let inventory = self.check_others(&when).await;
            let left = split(case, &inventory).0;
            // Terraform next refreshes, and destroys what the refresh finds.
            let refreshed = env.read(case.side, case.type_name, &state).await;
            if refreshed.is_null() {
                self.check(left.is_empty(), || {
                    format!(
                        "{when}: the refresh finds nothing (Terraform forgets the resource), but {} remain: orphans",
                        show(&left)
                    )
                });
            } else {
                // A KMS key scheduled for deletion still exists (it can be
                // cancelled) and the state may name it; the destroy that goes on
                // finds it already scheduled.
                let pending: BTreeSet<Id> = inventory
                    .iter()
                    .filter(|o| o.owner() == Some(&case.marker) && o.kind == Kind::Key && !o.live())
                    .map(Object::id)
                    .collect();
                let listed: BTreeSet<Id> = (case.claims)(&refreshed).difference(&pending).cloned().collect();
                self.check(listed == left, || {
                    format!("{when}: the refresh lists {} of {}", show(&listed), show(&left))
                });
            }
            let said = format!(
                "prior kept; left: {}; refresh: {}",
                show(&left),
                if refreshed.is_null() {
                    "gone".to_string()
                } else {
                    format!("lists {}", show(&(case.claims)(&refreshed)))
                }
            );
            env.destroy(case.side, case.type_name, &refreshed).await;
            self.clean_up().await;
            state = env.converge(case.side, case.type_name, &Value::Null, &before).await;
            let inventory = self.check_others(&format!("{when}, re-created")).await;
            self.check(duplicates(case, &inventory).is_empty(), || {
                format!("{when}: re-created: duplicates {:?}", duplicates(case, &inventory))
            });
            steps.push(Step { k, operation: String::new(), error: errs.join(" | "), state: said });
        }
        Self::name_steps(&mut steps, held, &named);
        env.destroy(case.side, case.type_name, &state).await;
        Sweep { operation: "delete", mutating: m, calls, steps, took: started.elapsed() }
    }
}

fn report(case: &Case, sweep: &Sweep) {
    let mut out = format!(
        "\n[{}] {} {}: M = {} mutating of {} calls, sweep took {:.1?}\n",
        case.label, case.type_name, sweep.operation, sweep.mutating, sweep.calls, sweep.took
    );
    for step in &sweep.steps {
        let error: String = step.error.chars().take(160).collect();
        let _ = writeln!(out, "  k={:>2} {:<40} -> {}\n        error: {error}", step.k, step.operation, step.state);
    }
    eprint!("{out}");
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Op {
    Create,
    Update,
    Delete,
}

const ALL: [Op; 3] = [Op::Create, Op::Update, Op::Delete];

/// The sweeps `ops` of `case`, then every object without the marker (the
/// planted one among them) is checked untouched.
async fn sweep(env: &Env, case: &Case, ops: &[Op]) {
    let started = Instant::now();
    let baseline = env.inventory().await;
    let (own, others) = split(case, &baseline);
    assert!(own.is_empty(), "{}: starts from nothing", case.label);
    let sweeper = Sweeper { env, case, others: Mutex::new(others), violations: Mutex::new(Vec::new()) };
    for op in ops {
        let sweep = match op {
            Op::Create => sweeper.create().await,
            Op::Update => sweeper.update().await,
            Op::Delete => sweeper.delete().await,
        };
        report(case, &sweep);
    }
    sweeper.check_others("at the end").await;
    eprintln!("[{}] all sweeps took {:.1?}", case.label, started.elapsed());
    let violations = sweeper.violations.into_inner().unwrap();
    assert!(violations.is_empty(), "the partial-failure rule does not hold:\n- {}", violations.join("\n- "));
}

fn planted(inventory: &[Object], account: &str, kind: Kind, name: &str) -> Object {
    inventory
        .iter()
        .find(|o| o.account == account && o.kind == kind && o.name == name)
        .cloned()
        .unwrap_or_else(|| panic!("planted {kind:?} {name} is missing"))
}

// ---------------------------------------------------------------------------
// The resources.

fn deploy_target_json(tags: serde_json::Value, kinds: &[&str], pipeline_accounts: &[&str]) -> serde_json::Value {
    json!({
        "environment": "test",
        "kinds": kinds,
        "pipeline_account_ids": pipeline_accounts,
        "provisioner_arns": [format!("arn:aws:iam::{TOOLING_ACCOUNT}:user/{CALLER_USER}")],
        "artifact_bucket": ARTIFACT_BUCKET,
        "artifact_key_arn": ARTIFACT_KEY_ARN,
        "tags": tags,
    })
}

/// The pipeline's sweeps are the longest: one test (and endpoint) each, so
/// they run side by side.
async fn service_pipeline(ops: &[Op]) {
    let plant = r#"
client("iam").create_role(
    Path="/bokbasen/", RoleName="catalogue-api-build", AssumeRolePolicyDocument=CODEBUILD_TRUST,
    Tags=[{"Key": "bokbasen:owner", "Value": "bokbasen_service_pipeline/catalogue-api"}],
)
"#;
    let env = Env::start("pipeline", plant, &[Kind::Role, Kind::Project, Kind::Pipeline, Kind::Repository]).await;
    let target_type = "bokbasen_deploy_target";
    let target_config = configuration(
        block_of(&env.environment, target_type),
        &deploy_target_json(json!({"team": "platform"}), &["lambda"], &[TOOLING_ACCOUNT]),
    );
    let target = env.converge(Side::Environment, target_type, &Value::Null, &target_config).await;
    let deployer = text(&target, "deployer_role_arn").expect("the deployer role").to_string();

    let block = block_of(&env.tooling, "bokbasen_service_pipeline");
    let pipeline = |branch: &str, tags: serde_json::Value| {
        configuration(
            block,
            &json!({
                "name": "isbn-lookup",
                "kind": "lambda",
                "artifact_bucket": ARTIFACT_BUCKET,
                "artifact_key_arn": ARTIFACT_KEY_ARN,
                "source": {
                    "connection_arn": format!("arn:aws:codestar-connections:{REGION}:{TOOLING_ACCOUNT}:connection/0a1b2c3d"),
                    "repository": "bokbasen/isbn-lookup",
                    "branch": branch,
                },
                "environment": [{
                    "name": "test",
                    "account_id": ENV_ACCOUNT,
                    "deploy_role_arn": deployer,
                    "target": {"function": "isbn-lookup-test"},
                }],
                "tags": tags,
            }),
        )
    };
    let case = Case {
        label: "pipeline",
        side: Side::Tooling,
        type_name: "bokbasen_service_pipeline",
        marker: "bokbasen_service_pipeline/isbn-lookup".into(),
        before: pipeline("main", json!({"team": "catalogue"})),
        after: pipeline("release", json!({"team": "catalogue", "cost-centre": "42"})),
        claims: pipeline_claims,
    };
    let start = env.inventory().await;
    let plant = planted(&start, TOOLING_ACCOUNT, Kind::Role, "catalogue-api-build");
    sweep(&env, &case, ops).await;
    assert_eq!(planted(&env.inventory().await, TOOLING_ACCOUNT, Kind::Role, "catalogue-api-build"), plant);
    env.destroy(Side::Environment, target_type, &target).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn service_pipeline_create() {
    service_pipeline(&[Op::Create]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn service_pipeline_update() {
    service_pipeline(&[Op::Update]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn service_pipeline_delete() {
    service_pipeline(&[Op::Delete]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deploy_target_partial_failures() {
    let plant = r#"
client("iam", assume("222222222222")).create_role(
    Path="/bokbasen/", RoleName="bokbasen-deployer-stage", AssumeRolePolicyDocument=CODEBUILD_TRUST,
    Tags=[{"Key": "bokbasen:owner", "Value": "bokbasen_deploy_target/stage"}],
)
"#;
    let env = Env::start("deploy-target", plant, &[Kind::Role]).await;
    let block = block_of(&env.environment, "bokbasen_deploy_target");
    let case = Case {
        label: "deploy-target",
        side: Side::Environment,
        type_name: "bokbasen_deploy_target",
        marker: "bokbasen_deploy_target/test".into(),
        before: configuration(block, &deploy_target_json(json!({"team": "platform"}), &["lambda"], &[TOOLING_ACCOUNT])),
        after: configuration(
            block,
            &deploy_target_json(
                json!({"team": "platform", "cost-centre": "42"}),
                &["lambda", "fargate"],
                &[TOOLING_ACCOUNT, "333333333333"],
            ),
        ),
        claims: deploy_target_claims,
    };
    let plant = planted(&env.inventory().await, ENV_ACCOUNT, Kind::Role, "bokbasen-deployer-stage");
    sweep(&env, &case, &ALL).await;
    assert_eq!(planted(&env.inventory().await, ENV_ACCOUNT, Kind::Role, "bokbasen-deployer-stage"), plant);
}

async fn artifact_store(ops: &[Op]) {
    let plant = r#"
s3 = client("s3")
s3.create_bucket(Bucket="other-team-artifacts", CreateBucketConfiguration={"LocationConstraint": REGION})
s3.put_bucket_tagging(Bucket="other-team-artifacts", Tagging={"TagSet": [{"Key": "bokbasen:owner", "Value": "bokbasen_artifact_store/other-team-artifacts"}]})
"#;
    let env = Env::start("artifact-store", plant, &[Kind::Bucket, Kind::Key]).await;
    let block = block_of(&env.tooling, "bokbasen_artifact_store");
    let store = |accounts: &[&str], tags: serde_json::Value| {
        configuration(
            block,
            &json!({"bucket": "bokbasen-partial-failure-artifacts", "environment_account_ids": accounts, "tags": tags}),
        )
    };
    let case = Case {
        label: "artifact-store",
        side: Side::Tooling,
        type_name: "bokbasen_artifact_store",
        marker: "bokbasen_artifact_store/bokbasen-partial-failure-artifacts".into(),
        before: store(&[ENV_ACCOUNT], json!({"team": "platform"})),
        after: store(&[ENV_ACCOUNT, "333333333333"], json!({"team": "platform", "cost-centre": "42"})),
        claims: artifact_store_claims,
    };
    let plant = planted(&env.inventory().await, TOOLING_ACCOUNT, Kind::Bucket, "other-team-artifacts");
    sweep(&env, &case, ops).await;
    assert_eq!(planted(&env.inventory().await, TOOLING_ACCOUNT, Kind::Bucket, "other-team-artifacts"), plant);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn artifact_store_create() {
    artifact_store(&[Op::Create]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn artifact_store_update_and_delete() {
    artifact_store(&[Op::Update, Op::Delete]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn service_config_partial_failures() {
    let plant = r#"
client("ssm").put_parameter(
    Name="/config/isbn-lookup_stage/server.port", Value="8080", Type="String",
    Tags=[{"Key": "bokbasen:owner", "Value": "bokbasen_service_config/isbn-lookup/stage"}],
)
"#;
    let env = Env::start("service-config", plant, &[Kind::Parameter]).await;
    let block = block_of(&env.tooling, "bokbasen_service_config");
    let values = |values: serde_json::Value, tags: serde_json::Value| {
        configuration(block, &json!({"service": "isbn-lookup", "environment": "test", "values": values, "tags": tags}))
    };
    let case = Case {
        label: "service-config",
        side: Side::Tooling,
        type_name: "bokbasen_service_config",
        marker: "bokbasen_service_config/isbn-lookup/test".into(),
        before: values(
            json!({"server.port": "8080", "spring.datasource.url": "jdbc:postgresql://db/isbn", "feature.cache": "on"}),
            json!({"team": "catalogue"}),
        ),
        after: values(
            json!({"server.port": "8081", "spring.datasource.url": "jdbc:postgresql://db/isbn", "logging.level.root": "INFO"}),
            json!({"team": "catalogue", "cost-centre": "42"}),
        ),
        claims: service_config_claims,
    };
    let plant =
        planted(&env.inventory().await, TOOLING_ACCOUNT, Kind::Parameter, "/config/isbn-lookup_stage/server.port");
    sweep(&env, &case, &ALL).await;
    assert_eq!(
        planted(&env.inventory().await, TOOLING_ACCOUNT, Kind::Parameter, "/config/isbn-lookup_stage/server.port"),
        plant
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn service_secret_partial_failures() {
    let plant = r#"
client("ssm").put_parameter(Name="/config/isbn-lookup_test/flyway/password", Value="by hand", Type="SecureString")
"#;
    let env = Env::start("service-secret", plant, &[Kind::Parameter]).await;
    injected_faults_are_not_retried(&env).await;
    let block = block_of(&env.tooling, "bokbasen_service_secret");
    let secret = |description: &str, version: i64, tags: serde_json::Value| {
        configuration(
            block,
            &json!({
                "service": "isbn-lookup",
                "environment": "test",
                "key": "spring.datasource.password",
                "description": description,
                "value_wo": format!("secret-{version}"),
                "value_wo_version": version,
                "tags": tags,
            }),
        )
    };
    let case = Case {
        label: "service-secret",
        side: Side::Tooling,
        type_name: "bokbasen_service_secret",
        marker: "bokbasen_service_secret/isbn-lookup/test/spring.datasource.password".into(),
        before: secret("The database password", 1, json!({"team": "catalogue"})),
        after: secret("The database password, rotated", 2, json!({"team": "catalogue", "cost-centre": "42"})),
        claims: service_secret_claims,
    };
    let name = "/config/isbn-lookup_test/flyway/password";
    let plant = planted(&env.inventory().await, TOOLING_ACCOUNT, Kind::Parameter, name);
    sweep(&env, &case, &ALL).await;
    assert_eq!(planted(&env.inventory().await, TOOLING_ACCOUNT, Kind::Parameter, name), plant);
}

/// The injected error is one the SDK's retry classifier does not retry, in
/// each protocol the provider speaks (JSON, query, REST-XML): a client with
/// the standard retries sends the faulted request once.
async fn injected_faults_are_not_retried(env: &Env) {
    let config = &env.admin[0].1;
    let aws = &env.aws;
    let once = |what: &str, before: u64, code: Option<String>| {
        assert_eq!(code.as_deref(), Some(FAULT_CODE), "{what}: the injected error");
        assert_eq!(aws.mutating_calls() - before, 1, "{what}: the faulted request was retried");
    };
    let before = aws.mutating_calls();
    aws.inject_fault_at("mutating", 0, 400, FAULT_CODE, FAULT_MESSAGE);
    let err = aws_sdk_ssm::Client::new(config).put_parameter().name("/probe").value("x").send().await.unwrap_err();
    once("ssm:PutParameter", before, aws_sdk_ssm::error::ProvideErrorMetadata::code(&err).map(str::to_owned));
    let before = aws.mutating_calls();
    aws.inject_fault_at("mutating", 0, 400, FAULT_CODE, FAULT_MESSAGE);
    let err = aws_sdk_iam::Client::new(config)
        .create_role()
        .role_name("probe")
        .assume_role_policy_document("{}")
        .send()
        .await
        .unwrap_err();
    once("iam:CreateRole", before, aws_sdk_iam::error::ProvideErrorMetadata::code(&err).map(str::to_owned));
    let before = aws.mutating_calls();
    aws.inject_fault_at("mutating", 0, 400, FAULT_CODE, FAULT_MESSAGE);
    let err = aws_sdk_s3::Client::new(config).create_bucket().bucket("probe-bucket").send().await.unwrap_err();
    once("s3 CreateBucket", before, aws_sdk_s3::error::ProvideErrorMetadata::code(&err).map(str::to_owned));
    aws.clear_faults();
}
