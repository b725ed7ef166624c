//! The resource: plan-time checks, create (taking over only what carries
//! the store's marker, removing what a failed attempt made), read back for
//! drift, update in place, delete (refusing a bucket with objects unless
//! `force_destroy`), import by bucket name (not a store of another's).

use async_trait::async_trait;
use bokbasen_pipeline::checks::check_bucket_name;
use bokbasen_pipeline::store::DEFAULT_KEY_DELETION_WINDOW;

use super::steps::{self, Made, Stop};
use super::{check, schema, ArtifactStoreState, TYPE_NAME};
use crate::aws::AwsContext;
use crate::framework::{Attr, Diagnostics, Resource, Schema};

pub struct ArtifactStoreResource;

fn applied(mut state: ArtifactStoreState, applied: steps::Applied) -> ArtifactStoreState {
    state.id = state.bucket.clone();
    state.bucket_arn = Attr::Known(applied.bucket_arn);
    state.key_arn = Attr::Known(applied.key_arn);
    state.key_id = Attr::Known(applied.key_id);
    state
}

#[async_trait]
impl Resource for ArtifactStoreResource {
    type Data = AwsContext;
    type State = ArtifactStoreState;

    fn type_name(&self) -> &'static str {
        TYPE_NAME
    }

    fn schema(&self) -> Schema {
        schema()
    }

    async fn validate(&self, config: &ArtifactStoreState, diags: &mut Diagnostics) {
        check(config, diags);
    }

    async fn modify_plan(
        &self,
        _prior: Option<&ArtifactStoreState>,
        planned: &mut ArtifactStoreState,
        diags: &mut Diagnostics,
    ) {
        check(planned, diags);
        planned.id = planned.bucket.clone();
    }

    async fn create(
        &self,
        aws: &AwsContext,
        planned: ArtifactStoreState,
        diags: &mut Diagnostics,
    ) -> Option<ArtifactStoreState> {
        check(&planned, diags);
        if diags.has_errors() {
            return None;
        }
        let mut made = Made::default();
        let err = match steps::create(aws, &planned, &mut made).await {
            Ok(done) => return Some(applied(planned, done)),
            Err(Stop::Refused(err)) => {
                diags.error("The artifact store's names are taken", err);
                return None;
            }
            Err(Stop::Failed(err)) => err,
        };
        if made.is_empty() {
            diags.error("Creating the artifact store failed", format!("{err}\n\nNothing was created."));
            return None;
        }
        let bucket = planned.bucket.known().cloned().unwrap_or_default();
        let window = planned.window();
        let left = match steps::remove_made(aws, &bucket, &made, window).await {
            Ok(scheduled) => {
                let keys = match scheduled.as_slice() {
                    [] => String::new(),
                    keys => format!(
                        " The KMS key {} it made is scheduled for deletion in {window} days (KMS never deletes a key at once).",
                        keys.join(", ")
                    ),
                };
                diags.error(
                    "Creating the artifact store failed",
                    format!("{err}\n\nEverything created by this attempt was removed again; nothing else was touched.{keys}"),
                );
                return None;
            }
            Err(unremoved) => unremoved,
        };
        let (cleanup, left) = left;
        diags.error(
            "Creating the artifact store failed",
            format!(
                "{err}\n\nRemoving what this attempt created also failed ({cleanup}). Terraform keeps what is left as this resource, tainted; the next apply replaces it, a destroy removes it. What is left carries {} = {}, so an apply also takes it over.",
                crate::aws::ownership::OWNER_TAG,
                steps::marker(&bucket)
            ),
        );
        if left.bucket_arn.is_none() && left.key.is_none() {
            return None;
        }
        let mut state = planned;
        state.id = state.bucket.clone();
        state.bucket_arn = Attr::Known(left.bucket_arn.unwrap_or_default());
        let (key_id, key_arn) = left.key.unwrap_or_default();
        state.key_arn = Attr::Known(key_arn);
        state.key_id = Attr::Known(key_id);
        Some(state)
    }

    async fn read(
        &self,
        aws: &AwsContext,
        current: ArtifactStoreState,
        diags: &mut Diagnostics,
    ) -> Option<ArtifactStoreState> {
        match steps::observe(aws, &current).await {
            Ok(found) => {
                if !found.unmanaged_drift.is_empty() {
                    let bucket = current.bucket.known().cloned().unwrap_or_default();
                    diags.warning(
                        "The artifact store was changed outside Terraform",
                        format!(
                            "Artifact store {bucket}: {}. No argument shows this; the next apply that updates the store (any change of its arguments) sets it back.",
                            found.unmanaged_drift.join("; ")
                        ),
                    );
                }
                found.state
            }
            Err(err) => {
                diags.error("Reading the artifact store failed", err);
                Some(current)
            }
        }
    }

    async fn update(
        &self,
        aws: &AwsContext,
        prior: ArtifactStoreState,
        planned: ArtifactStoreState,
        diags: &mut Diagnostics,
    ) -> Option<ArtifactStoreState> {
        check(&planned, diags);
        if diags.has_errors() {
            return None;
        }
        match steps::update(aws, &prior, &planned).await {
            Ok(done) => Some(applied(planned, done)),
            Err(err) => {
                diags.error(
                    "Updating the artifact store failed",
                    format!("{err}\n\nRun the apply again to complete the change."),
                );
                // State follows AWS: the framework records what a read finds now.
                None
            }
        }
    }

    async fn delete(&self, aws: &AwsContext, prior: ArtifactStoreState, diags: &mut Diagnostics) {
        match steps::delete(aws, &prior).await {
            Ok(left_alone) if left_alone.is_empty() => {}
            Ok(left_alone) => diags.warning(
                "Objects of other owners were left alone",
                format!("The artifact store is destroyed; {}.", left_alone.join("; ")),
            ),
            Err(err) => diags.error("Deleting the artifact store failed", err),
        }
    }

    async fn import(&self, aws: &AwsContext, id: &str, diags: &mut Diagnostics) -> Option<ArtifactStoreState> {
        if let Err(message) = check_bucket_name(id) {
            diags.error("Invalid import ID", format!("Import an artifact store by its bucket name. {message}"));
            return None;
        }
        if let Err(err) = steps::check_import(aws, id).await {
            diags.error("Cannot import the artifact store", err);
            return None;
        }
        Some(ArtifactStoreState {
            bucket: Attr::Known(id.to_string()),
            force_destroy: Attr::Known(false),
            key_deletion_window_days: Attr::Known(DEFAULT_KEY_DELETION_WINDOW),
            ..ArtifactStoreState::default()
        })
    }
}
