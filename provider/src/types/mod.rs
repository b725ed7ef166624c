//! Managed resources, one module each.

use std::sync::Arc;

use crate::aws::AwsContext;
use crate::framework::{resource, AnyResource};

use crate::aws::Step;

/// What a failed create says about removing what it made: the rule is that
/// a failed create leaves no orphans, or says plainly that it may have.
pub fn cleanup_note(cleanup: Step) -> String {
    match cleanup {
        Ok(()) => "Everything created by this attempt was removed again.".to_string(),
        Err(err) => format!(
            "Removing what was created also failed ({err}); parts may remain. Run the apply again to complete it, or remove them by hand."
        ),
    }
}

/// Every resource type the provider offers.
pub fn all() -> Vec<Arc<dyn AnyResource<AwsContext>>> {
    vec![
        resource(service_pipeline::ServicePipeline),
        resource(service_config::ServiceConfig),
        resource(service_secret::ServiceSecret),
        resource(deploy_target::DeployTargetResource),
    ]
}

pub mod deploy_target;
pub mod layout;
pub mod service_config;
pub mod service_pipeline;
pub mod service_secret;
