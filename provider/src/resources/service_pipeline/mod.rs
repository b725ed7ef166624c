//! `bokbasen_service_pipeline`: one microservice's release stack.
//!
//! Work in progress (issue 3): the schema and the mapping from configuration
//! to a [`ServiceSpec`](bokbasen_pipeline::ServiceSpec) exist and are tested;
//! the AWS side (roles, ECR, CodeBuild, CodePipeline) follows, and only then
//! is the resource registered in `resources::all()`.

mod config;
mod schema;

pub use config::{plan_stages, to_spec, EnvironmentBlock, ServicePipelineState, StageState};
pub use schema::{schema, TYPE_NAME};
