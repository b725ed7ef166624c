//! `bokbasen_artifact_store`: the tooling account's artifact bucket and the
//! customer-managed KMS key its objects are encrypted with, shared with the
//! environment accounts so that cross-account pipeline actions can read
//! artifacts. The documents are `bokbasen_pipeline::store`'s; this module
//! puts them into Terraform's terms.

mod resource;
mod steps;

use std::collections::BTreeMap;

use bokbasen_pipeline::checks::{check_account_id, check_bucket_name};
use bokbasen_pipeline::store::{
    check_deletion_window, ArtifactStore, DEFAULT_KEY_DELETION_WINDOW, KEY_DELETION_WINDOW,
};
pub use resource::ArtifactStoreResource;
use serde::{Deserialize, Serialize};

use super::shared::{check_owner_tag_free, check_tags, known_set, state_set};
use crate::framework::{Attr, Attribute, Block, Diagnostics, Schema};
use crate::value::{AttributePath, Type};

pub const TYPE_NAME: &str = "bokbasen_artifact_store";

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct ArtifactStoreState {
    pub bucket: Attr<String>,
    pub environment_account_ids: Attr<Vec<Attr<String>>>,
    pub tags: Attr<BTreeMap<String, Attr<String>>>,
    pub force_destroy: Attr<bool>,
    pub key_deletion_window_days: Attr<i64>,
    pub id: Attr<String>,
    pub bucket_arn: Attr<String>,
    pub key_arn: Attr<String>,
    pub key_id: Attr<String>,
}

impl ArtifactStoreState {
    /// The waiting period before the key is deleted (the default while unset).
    fn window(&self) -> i64 {
        self.key_deletion_window_days.known().copied().unwrap_or(DEFAULT_KEY_DELETION_WINDOW)
    }
}

fn schema() -> Schema {
    let (first, last) = (KEY_DELETION_WINDOW.start(), KEY_DELETION_WINDOW.end());
    Schema::new(
        Block::new("The artifact store of the tooling account (where the pipelines run): an S3 bucket (versioning on, public access blocked, default encryption SSE-KMS with an S3 Bucket Key) and its own customer-managed KMS key (rotation on, alias `alias/bokbasen/<bucket>`). Pipelines with environments in other accounts need it: AWS's default `aws/s3` key cannot be shared, so the pipeline and its CodeBuild projects encrypt artifacts with this key (`artifact_key_arn` of `bokbasen_service_pipeline`). The bucket policy refuses requests without TLS and lets the bokbasen roles (`role/bokbasen/*`) of each environment account read artifacts; the key policy leaves the key to the tooling account's IAM (AWS's default key policy) and lets the same roles decrypt.\n\nbokbasen tags the bucket and key it makes `bokbasen:owner = bokbasen_artifact_store/<bucket>`. A bucket of the name that is not this store's (without that tag) is never changed or deleted: the create is refused, naming it, with the import command that hands it over. A bucket and key carrying the tag (left by an apply that was interrupted) are taken over, so a rerun never makes a second key. Import takes a bucket encrypted with a KMS key, unless either is tagged as another resource's; the next apply tags both. Destroying a bucket that still holds objects needs `force_destroy`; the key is scheduled for deletion after `key_deletion_window_days`.\n\nImport with the bucket name.")
            .attribute(Attribute::required("bucket", Type::String).requires_replace().description("Name of the bucket (3–63 lowercase letters, digits, `.` and `-`; S3 names are global). Changing it makes a new store."))
            .attribute(Attribute::optional("environment_account_ids", Type::set(Type::String)).description("The environment accounts (Test, Stage, Production) whose bokbasen roles read artifacts and decrypt them with the key. Changes rewrite the bucket and key policies in place."))
            .attribute(Attribute::optional("tags", Type::map(Type::String)).description("Tags of the bucket and the key, over the provider's `default_tags`. At most 49 (bokbasen adds `bokbasen:owner`, the mark of the resource that made them, which is never shown here and cannot be set); keys may not start with `aws:`."))
            .attribute(Attribute::optional("force_destroy", Type::Bool).default(false).description("Let destroy delete every object version in the bucket. Defaults to `false`: destroy refuses a bucket that holds objects. Apply it before the destroy that needs it."))
            .attribute(Attribute::optional("key_deletion_window_days", Type::Number).default(DEFAULT_KEY_DELETION_WINDOW).description(format!("Days KMS waits before it deletes the key once the store is destroyed ({first}–{last}). Defaults to `{DEFAULT_KEY_DELETION_WINDOW}`.")))
            .attribute(Attribute::computed("id", Type::String).use_state_for_unknown().description("The bucket name."))
            .attribute(Attribute::computed("bucket_arn", Type::String).use_state_for_unknown().description("ARN of the bucket."))
            .attribute(Attribute::computed("key_arn", Type::String).use_state_for_unknown().description("ARN of the KMS key: the `artifact_key_arn` of `bokbasen_service_pipeline`."))
            .attribute(Attribute::computed("key_id", Type::String).use_state_for_unknown().description("ID of the KMS key.")),
    )
}

fn check(state: &ArtifactStoreState, diags: &mut Diagnostics) {
    if let Some(Err(message)) = state.bucket.known().map(|bucket| check_bucket_name(bucket)) {
        diags.attribute_error(AttributePath::attr("bucket"), "Invalid bucket", message);
    }
    if let Attr::Known(accounts) = &state.environment_account_ids {
        for account in accounts.iter().filter_map(Attr::known) {
            if let Err(message) = check_account_id(account) {
                diags.attribute_error(
                    AttributePath::attr("environment_account_ids"),
                    "Invalid environment_account_ids",
                    message,
                );
            }
        }
    }
    if let Some(Err(message)) = state.key_deletion_window_days.known().map(|days| check_deletion_window(*days)) {
        diags.attribute_error(
            AttributePath::attr("key_deletion_window_days"),
            "Invalid key_deletion_window_days",
            message,
        );
    }
    check_tags(&state.tags, &AttributePath::attr("tags"), diags);
    check_owner_tag_free(&state.tags, &AttributePath::attr("tags"), diags);
}

/// The store as the pure documents take it, once all is known.
fn store(state: &ArtifactStoreState, tooling_account: &str) -> Option<ArtifactStore> {
    Some(ArtifactStore {
        bucket: state.bucket.known()?.clone(),
        tooling_account: tooling_account.to_string(),
        environment_accounts: known_set(&state.environment_account_ids)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(items: &[&str]) -> Attr<Vec<Attr<String>>> {
        Attr::Known(items.iter().map(|i| Attr::Known(i.to_string())).collect())
    }

    fn state() -> ArtifactStoreState {
        ArtifactStoreState {
            bucket: Attr::Known("bokbasen-pipeline-artifacts".into()),
            environment_account_ids: list(&["222222222222", "333333333333"]),
            force_destroy: Attr::Known(false),
            key_deletion_window_days: Attr::Known(30),
            ..ArtifactStoreState::default()
        }
    }

    fn problems(state: &ArtifactStoreState) -> Vec<(String, String)> {
        let mut diags = Diagnostics::new();
        check(state, &mut diags);
        diags.iter().map(|d| (d.summary.clone(), format!("{:?}", d.path))).collect()
    }

    #[test]
    fn arguments_are_checked_at_their_attribute() {
        assert!(problems(&state()).is_empty());
        let mut bad = state();
        bad.bucket = Attr::Known("Not_A_Bucket".into());
        bad.environment_account_ids = list(&["222222222222", "12345"]);
        bad.key_deletion_window_days = Attr::Known(5);
        bad.tags = Attr::Known([("aws:x".to_string(), Attr::Known("y".to_string()))].into());
        let summaries: Vec<String> = problems(&bad).into_iter().map(|(s, _)| s).collect();
        assert_eq!(
            summaries,
            ["Invalid bucket", "Invalid environment_account_ids", "Invalid key_deletion_window_days", "Invalid tags"]
        );
        // Unknown values are checked once known.
        let mut unknown = state();
        unknown.bucket = Attr::Unknown;
        unknown.environment_account_ids = Attr::Unknown;
        unknown.key_deletion_window_days = Attr::Unknown;
        assert!(problems(&unknown).is_empty());
    }

    #[test]
    fn the_owner_tag_is_bokbasen_s() {
        let mut owner = state();
        owner.tags = Attr::Known([("bokbasen:owner".to_string(), Attr::Known("x".to_string()))].into());
        let summaries: Vec<String> = problems(&owner).into_iter().map(|(s, _)| s).collect();
        assert_eq!(summaries, ["Reserved tag"]);
        let mut fifty = state();
        fifty.tags = Attr::Known((0..50).map(|i| (format!("t{i}"), Attr::Known("x".to_string()))).collect());
        assert_eq!(problems(&fifty).len(), 1, "room for the marker");
    }

    #[test]
    fn the_store_needs_known_accounts() {
        let store = store(&state(), "123456789012").unwrap();
        assert_eq!(store.environment_accounts.len(), 2);
        assert_eq!(store.tooling_account, "123456789012");
        let mut unknown = state();
        unknown.environment_account_ids = Attr::Unknown;
        assert!(super::store(&unknown, "123456789012").is_none());
        let mut none = state();
        none.environment_account_ids = Attr::Null;
        assert!(super::store(&none, "123456789012").unwrap().environment_accounts.is_empty());
        assert_eq!(none.window(), 30);
    }
}
