//! What exists in the organisation's four accounts, read as the
//! administrator: the objects bokbasen makes (IAM roles, CodeBuild projects,
//! CodePipeline pipelines, ECR repositories, S3 buckets, KMS keys, SSM
//! parameters) with their tags and what tells two states of one apart.
//!
//! One Python process reads every account, so a test can afford an inventory
//! after each step. The harness's own fixtures ([`HARNESS_FIXTURES`]) and
//! AWS's own keys are left out: an empty organisation has an empty
//! inventory.

use std::collections::BTreeMap;
use std::fmt;

use bokbasen_pipeline::names::OWNER_TAG;

use crate::local_aws::{LocalAws, ACCOUNT_ACCESS_ROLE, ENVIRONMENT_ACCOUNTS, TOOLING_ACCOUNT};

/// The kinds of object an inventory lists, ordered as they are listed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    IamRole,
    CodeBuildProject,
    Pipeline,
    EcrRepository,
    Bucket,
    KmsKey,
    Parameter,
}

impl Kind {
    pub const ALL: [Kind; 7] = [
        Kind::IamRole,
        Kind::CodeBuildProject,
        Kind::Pipeline,
        Kind::EcrRepository,
        Kind::Bucket,
        Kind::KmsKey,
        Kind::Parameter,
    ];

    /// The word an inventory line uses, e.g. `iam-role`.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::IamRole => "iam-role",
            Kind::CodeBuildProject => "codebuild-project",
            Kind::Pipeline => "codepipeline",
            Kind::EcrRepository => "ecr-repository",
            Kind::Bucket => "s3-bucket",
            Kind::KmsKey => "kms-key",
            Kind::Parameter => "ssm-parameter",
        }
    }

    fn parse(word: &str) -> Kind {
        Kind::ALL.into_iter().find(|k| k.as_str() == word).unwrap_or_else(|| panic!("unknown inventory kind {word}"))
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What the harness itself makes in every account, never listed: the
/// administrator role of AWS Organizations the enforcing endpoint sets up
/// (its users are IAM users, which an inventory does not list). AWS-managed
/// KMS keys (`alias/aws/ssm`, made by AWS on first use) are left out too.
pub const HARNESS_FIXTURES: [(Kind, &str); 1] = [(Kind::IamRole, ACCOUNT_ACCESS_ROLE)];

/// The key state of a KMS key scheduled for deletion: as good as gone, since
/// keys are never deleted at once.
pub const PENDING_DELETION: &str = "PendingDeletion";

/// One object in one account.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AwsObject {
    pub account: String,
    pub kind: Kind,
    /// The role, project, pipeline, repository, bucket or parameter name; a
    /// KMS key's ID (keys have no name).
    pub name: String,
    pub tags: BTreeMap<String, String>,
    /// An IAM role's path.
    pub path: Option<String>,
    /// How many images an ECR repository holds; how many object versions
    /// and delete markers a bucket holds.
    pub contents: Option<u64>,
    /// A KMS key's state: `Enabled`, `Disabled`, [`PENDING_DELETION`].
    pub key_state: Option<String>,
    /// A KMS key's aliases, sorted.
    pub aliases: Vec<String>,
    /// An SSM parameter's type: `String`, `StringList`, `SecureString`.
    pub parameter_type: Option<String>,
}

impl AwsObject {
    /// `ACCOUNT KIND NAME`, e.g. `123456789012 iam-role ebook-api-build`.
    pub fn id(&self) -> String {
        format!("{} {} {}", self.account, self.kind, self.name)
    }

    /// Anything but a KMS key scheduled for deletion.
    pub fn is_live(&self) -> bool {
        self.key_state.as_deref() != Some(PENDING_DELETION)
    }

    /// The value of the `bokbasen:owner` tag: the resource that made it.
    pub fn owner(&self) -> Option<&str> {
        self.tag(OWNER_TAG)
    }

    pub fn tag(&self, key: &str) -> Option<&str> {
        self.tags.get(key).map(String::as_str)
    }

    fn sort_key(&self) -> (&str, Kind, &str) {
        (&self.account, self.kind, &self.name)
    }
}

/// The object's id, then what else it has: `path=`, `contents=`, the key
/// state, aliases, `type=`, tags.
impl fmt::Display for AwsObject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.id())?;
        if let Some(path) = &self.path {
            write!(f, " path={path}")?;
        }
        if let Some(contents) = self.contents {
            write!(f, " contents={contents}")?;
        }
        if let Some(state) = &self.key_state {
            write!(f, " {state}")?;
        }
        for alias in &self.aliases {
            write!(f, " {alias}")?;
        }
        if let Some(kind) = &self.parameter_type {
            write!(f, " type={kind}")?;
        }
        if !self.tags.is_empty() {
            let tags: Vec<String> = self.tags.iter().map(|(k, v)| format!("{k}={v}")).collect();
            write!(f, " {{{}}}", tags.join(", "))?;
        }
        Ok(())
    }
}

/// What exists, sorted by account, kind and name. Two inventories are equal
/// when every object and everything listed of it is.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Inventory {
    objects: Vec<AwsObject>,
}

/// Reads every account: the tooling account as the administrator, each
/// environment account through its `OrganizationAccountAccessRole` (the
/// prelude's `ASSUME_ROLE`). One boto3 session and its loaded service models
/// serve every account's clients: building them per account costs more than
/// the reads. Prints a list of objects as `AwsObject` reads them.
const READ_SCRIPT: &str = r#"
import botocore.session
FIXTURES = set(tuple(f) for f in __FIXTURES__)
ACCOUNTS = __ACCOUNTS__
TOOLING = ACCOUNTS[0]
base = boto3.session.Session(botocore_session=botocore.session.get_session(), region_name=REGION)

def credentials(account):
    if account == TOOLING:
        return KEYS
    role = f"arn:aws:iam::{account}:role/{ASSUME_ROLE}"
    sts = base.client("sts", endpoint_url=ENDPOINT, **KEYS)
    c = sts.assume_role(RoleArn=role, RoleSessionName="bokbasen-e2e-inventory")["Credentials"]
    return dict(aws_access_key_id=c["AccessKeyId"], aws_secret_access_key=c["SecretAccessKey"], aws_session_token=c["SessionToken"])

def pages(client, operation, key, **args):
    for page in client.get_paginator(operation).paginate(**args):
        yield from page.get(key, [])

def tag_map(tags, key="Key", value="Value"):
    return {t[key]: t[value] for t in tags or []}

def read(account):
    creds = credentials(account)
    aws = lambda service: base.client(service, endpoint_url=ENDPOINT, **creds)
    found = []
    def add(kind, name, tags, **details):
        if (kind, name) not in FIXTURES:
            found.append(dict(account=account, kind=kind, name=name, tags=tags, **details))

    iam = aws("iam")
    for role in pages(iam, "list_roles", "Roles"):
        name = role["RoleName"]
        add("iam-role", name, tag_map(iam.list_role_tags(RoleName=name)["Tags"]), path=role["Path"])

    codebuild = aws("codebuild")
    names = list(pages(codebuild, "list_projects", "projects"))
    for start in range(0, len(names), 100):
        for project in codebuild.batch_get_projects(names=names[start:start + 100])["projects"]:
            add("codebuild-project", project["name"], tag_map(project.get("tags"), "key", "value"))

    codepipeline = aws("codepipeline")
    for pipeline in pages(codepipeline, "list_pipelines", "pipelines"):
        arn = f"arn:aws:codepipeline:{REGION}:{account}:{pipeline['name']}"
        tags = codepipeline.list_tags_for_resource(resourceArn=arn).get("tags")
        add("codepipeline", pipeline["name"], tag_map(tags, "key", "value"))

    ecr = aws("ecr")
    for repository in pages(ecr, "describe_repositories", "repositories"):
        name = repository["repositoryName"]
        images = len(list(pages(ecr, "list_images", "imageIds", repositoryName=name)))
        tags = ecr.list_tags_for_resource(resourceArn=repository["repositoryArn"]).get("tags")
        add("ecr-repository", name, tag_map(tags), contents=images)

    s3 = aws("s3")
    for bucket in s3.list_buckets().get("Buckets", []):
        name = bucket["Name"]
        contents = 0
        for page in s3.get_paginator("list_object_versions").paginate(Bucket=name):
            contents += len(page.get("Versions", [])) + len(page.get("DeleteMarkers", []))
        try:
            tags = tag_map(s3.get_bucket_tagging(Bucket=name)["TagSet"])
        except ClientError as error:
            if error.response["Error"]["Code"] != "NoSuchTagSet":
                raise
            tags = {}
        add("s3-bucket", name, tags, contents=contents)

    kms = aws("kms")
    aliases = {}
    for alias in pages(kms, "list_aliases", "Aliases"):
        if "TargetKeyId" in alias:
            aliases.setdefault(alias["TargetKeyId"], []).append(alias["AliasName"])
    for key in pages(kms, "list_keys", "Keys"):
        meta = kms.describe_key(KeyId=key["KeyId"])["KeyMetadata"]
        if meta.get("KeyManager") != "CUSTOMER":
            continue
        tags = tag_map(kms.list_resource_tags(KeyId=key["KeyId"]).get("Tags"), "TagKey", "TagValue")
        add("kms-key", key["KeyId"], tags, key_state=meta["KeyState"], aliases=sorted(aliases.get(key["KeyId"], [])))

    ssm = aws("ssm")
    for parameter in pages(ssm, "describe_parameters", "Parameters"):
        name = parameter["Name"]
        tags = tag_map(ssm.list_tags_for_resource(ResourceType="Parameter", ResourceId=name).get("TagList"))
        add("ssm-parameter", name, tags, parameter_type=parameter["Type"])
    return found

print(json.dumps([o for account in ACCOUNTS for o in read(account)]))
"#;

impl Inventory {
    /// Everything in the tooling account and the environment accounts now.
    pub fn read(aws: &LocalAws) -> Inventory {
        let fixtures: Vec<(&str, &str)> = HARNESS_FIXTURES.iter().map(|(kind, name)| (kind.as_str(), *name)).collect();
        let mut accounts = vec![TOOLING_ACCOUNT];
        accounts.extend(ENVIRONMENT_ACCOUNTS);
        // JSON lists of strings are Python literals.
        let script = READ_SCRIPT
            .replace("__FIXTURES__", &serde_json::json!(fixtures).to_string())
            .replace("__ACCOUNTS__", &serde_json::json!(accounts).to_string());
        let listed = aws.boto3(&script);
        let objects = listed.as_array().expect("the inventory is a list").iter().map(parse_object).collect();
        Inventory::from_objects(objects)
    }

    fn from_objects(mut objects: Vec<AwsObject>) -> Inventory {
        objects.sort_by(|a, b| a.sort_key().cmp(&b.sort_key()));
        Inventory { objects }
    }

    pub fn objects(&self) -> &[AwsObject] {
        &self.objects
    }

    pub fn len(&self) -> usize {
        self.objects.len()
    }

    pub fn is_empty(&self) -> bool {
        self.objects.is_empty()
    }

    /// Every object as `ACCOUNT KIND NAME`, sorted: compare these to tell
    /// what exists, whatever its tags, contents or key state.
    pub fn list(&self) -> Vec<String> {
        self.objects.iter().map(AwsObject::id).collect()
    }

    /// The names of `account`'s objects of `kind`, sorted.
    pub fn names(&self, account: &str, kind: Kind) -> Vec<&str> {
        self.objects.iter().filter(|o| o.account == account && o.kind == kind).map(|o| o.name.as_str()).collect()
    }

    /// How many objects of `kind` `account` holds.
    pub fn count(&self, account: &str, kind: Kind) -> usize {
        self.names(account, kind).len()
    }

    pub fn get(&self, account: &str, kind: Kind, name: &str) -> Option<&AwsObject> {
        self.objects.iter().find(|o| o.account == account && o.kind == kind && o.name == name)
    }

    /// The objects `keep` accepts.
    pub fn select(&self, keep: impl Fn(&AwsObject) -> bool) -> Inventory {
        Inventory { objects: self.objects.iter().filter(|o| keep(o)).cloned().collect() }
    }

    /// The objects of `kind` in any account.
    pub fn of_kind(&self, kind: Kind) -> Inventory {
        self.select(|o| o.kind == kind)
    }

    /// The objects whose `bokbasen:owner` tag is `owner`, e.g.
    /// `bokbasen_service_pipeline/ebook-api` (`bokbasen_pipeline::names::owner_marker`).
    pub fn owned_by(&self, owner: &str) -> Inventory {
        self.select(|o| o.owner() == Some(owner))
    }

    /// Without the KMS keys scheduled for deletion: what is still in use.
    pub fn live(&self) -> Inventory {
        self.select(AwsObject::is_live)
    }

    /// Objects that a rerun could have made twice although AWS names them
    /// once: KMS keys have no name, so more than one live key in an account
    /// carrying the same alias or the same `bokbasen:owner` tag is a key made
    /// again instead of found.
    /// (Every other kind listed has a name unique in its account, so a second
    /// one cannot exist.) One line per group; empty when there is none.
    pub fn duplicates(&self) -> Vec<String> {
        let mut groups: BTreeMap<(String, String), Vec<&str>> = BTreeMap::new();
        for key in self.objects.iter().filter(|o| o.kind == Kind::KmsKey && o.is_live()) {
            let marks =
                key.aliases.iter().cloned().chain(key.tag(OWNER_TAG).map(|value| format!("{OWNER_TAG}={value}")));
            for mark in marks {
                groups.entry((key.account.clone(), mark)).or_default().push(&key.name);
            }
        }
        groups
            .into_iter()
            .filter(|(_, keys)| keys.len() > 1)
            .map(|((account, mark), keys)| {
                format!("{account} {}: {} live keys carry {mark}: {}", Kind::KmsKey, keys.len(), keys.join(", "))
            })
            .collect()
    }

    /// What changed from `self` to `after`.
    pub fn diff(&self, after: &Inventory) -> InventoryDiff {
        let mut diff = InventoryDiff::default();
        for before in &self.objects {
            match after.objects.iter().find(|o| o.sort_key() == before.sort_key()) {
                None => diff.removed.push(before.clone()),
                Some(now) if now != before => diff.changed.push((before.clone(), now.clone())),
                Some(_) => {}
            }
        }
        for now in &after.objects {
            if !self.objects.iter().any(|o| o.sort_key() == now.sort_key()) {
                diff.added.push(now.clone());
            }
        }
        diff
    }

    /// Panics with the difference unless `after` equals this inventory.
    pub fn assert_unchanged(&self, after: &Inventory, what: &str) {
        let diff = self.diff(after);
        assert!(diff.is_empty(), "{what}: the inventory changed:\n{diff}");
    }
}

/// One object a line, with everything listed of it.
impl fmt::Display for Inventory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.objects.is_empty() {
            return writeln!(f, "(nothing)");
        }
        for object in &self.objects {
            writeln!(f, "{object}")?;
        }
        Ok(())
    }
}

/// [`Inventory::diff`]: objects gone, made, and changed (before, after).
#[derive(Clone, Debug, Default)]
pub struct InventoryDiff {
    pub removed: Vec<AwsObject>,
    pub added: Vec<AwsObject>,
    pub changed: Vec<(AwsObject, AwsObject)>,
}

impl InventoryDiff {
    pub fn is_empty(&self) -> bool {
        self.removed.is_empty() && self.added.is_empty() && self.changed.is_empty()
    }
}

/// `- ` removed, `+ ` added, `~ ` changed (the object before, then `-> `
/// after).
impl fmt::Display for InventoryDiff {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_empty() {
            return writeln!(f, "(no change)");
        }
        for object in &self.removed {
            writeln!(f, "- {object}")?;
        }
        for object in &self.added {
            writeln!(f, "+ {object}")?;
        }
        for (before, after) in &self.changed {
            writeln!(f, "~ {before}\n  -> {after}")?;
        }
        Ok(())
    }
}

fn parse_object(object: &serde_json::Value) -> AwsObject {
    let text = |field: &str| object[field].as_str().map(str::to_owned);
    AwsObject {
        account: text("account").expect("an object's account"),
        kind: Kind::parse(object["kind"].as_str().expect("an object's kind")),
        name: text("name").expect("an object's name"),
        tags: object["tags"]
            .as_object()
            .map(|tags| tags.iter().map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned())).collect())
            .unwrap_or_default(),
        path: text("path"),
        contents: object["contents"].as_u64(),
        key_state: text("key_state"),
        aliases: object["aliases"]
            .as_array()
            .map(|aliases| aliases.iter().filter_map(|a| a.as_str().map(str::to_owned)).collect())
            .unwrap_or_default(),
        parameter_type: text("parameter_type"),
    }
}
