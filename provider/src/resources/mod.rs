//! Managed resources, one module each (none yet: they arrive with the
//! pipeline, configuration and access issues).

use std::sync::Arc;

use crate::aws::AwsContext;
use crate::framework::AnyResource;

/// Every resource type the provider offers.
pub fn all() -> Vec<Arc<dyn AnyResource<AwsContext>>> {
    Vec::new()
}

pub mod service_pipeline;
