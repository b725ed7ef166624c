//! The resource: plan-time checks, create (never adopting, removing what a
//! failed attempt made), read back for drift, update in place, delete
//! (refusing a bucket with objects unless `force_destroy`), import by
//! bucket name (only a store bokbasen made).

use async_trait::async_trait;
use bokbasen_pipeline::checks::check_bucket_name;
use bokbasen_pipeline::store::DEFAULT_KEY_DELETION_WINDOW;

use super::steps::{self, Made};
use super::{check, schema, ArtifactStoreState, TYPE_NAME};
use crate::aws::AwsContext;
use crate::framework::{Attr, Diagnostics, Resource, Schema};
use crate::types::shared::cleanup_note;

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
        match steps::create(aws, &planned, &mut made).await {
            Ok(done) => Some(applied(planned, done)),
            Err(err) => {
                let bucket = planned.bucket.known().cloned().unwrap_or_default();
                if made.bucket || made.key_id.is_some() {
                    let window = planned.window();
                    let cleanup = cleanup_note(steps::remove_made(aws, &bucket, &made, window).await);
                    let key = match &made.key_id {
                        Some(key) => format!(
                            " The KMS key {key} it made is scheduled for deletion in {window} days (KMS never deletes a key at once)."
                        ),
                        None => String::new(),
                    };
                    diags.error("Creating the artifact store failed", format!("{err}\n\n{cleanup}{key}"));
                } else {
                    diags.error("Creating the artifact store failed", format!("{err}\n\nNothing was created."));
                }
                None
            }
        }
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
                match steps::observe(aws, &prior).await {
                    Ok(found) => found.state,
                    Err(_) => Some(prior),
                }
            }
        }
    }

    async fn delete(&self, aws: &AwsContext, prior: ArtifactStoreState, diags: &mut Diagnostics) {
        if let Err(err) = steps::delete(aws, &prior).await {
            diags.error("Deleting the artifact store failed", err);
        }
    }

    async fn import(&self, aws: &AwsContext, id: &str, diags: &mut Diagnostics) -> Option<ArtifactStoreState> {
        if let Err(message) = check_bucket_name(id) {
            diags.error("Invalid import ID", format!("Import an artifact store by its bucket name. {message}"));
            return None;
        }
        if let Err(err) = steps::check_ownership(aws, id).await {
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
