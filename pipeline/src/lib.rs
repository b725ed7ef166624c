//! A microservice's release spec ([`ServiceSpec`]) and the shape of the
//! pipeline it gets ([`shape`]): stages, actions, the accounts they run in,
//! and the CodeBuild projects with their buildspecs.
//!
//! Everything here is pure: no network, no Terraform, no file system. The
//! provider turns a shape into AWS requests; the generator uses it to check
//! answers and draw the pipeline. Same spec, same shape, in the same order,
//! so plans never churn.

pub mod checks;
pub mod names;
pub mod parameters;
pub mod permissions;
mod policy;
mod recover;
pub mod rehearsal;
mod shape;
mod spec;
pub mod store;
pub mod target;
mod validate;

pub use names::{check_environment_name, check_service_name, ProjectPurpose};
pub use policy::{
    build_role, environment_role, image_lifecycle, pipeline_role, repository_policy, Region, RoleDocuments,
};
pub use recover::{project_name, recover, NotOurs, Observed};
pub use shape::{
    shape, Action, ActionKind, PipelineShape, Project, Stage, Variable, VariableValue, Where, BUILD_ARTIFACT,
    SOURCE_ARTIFACT,
};
pub use spec::{Build, Cache, Environment, Flyway, Kind, Network, ServiceSpec, SmokeTest, Source};
pub use validate::{validate, FieldPath, FieldStep, SpecError};
