//! The provider framework: typed resources and data sources over
//! serde-modelled state, schemas built in code, diagnostics with attribute
//! paths, and the generic planning rules (computed values, "requires
//! replace", "use state for unknown").
//!
//! A resource is one module implementing [`Resource`]; a data source one
//! implementing [`DataSource`]. They never see protocol types: the plugin
//! layer hands the [`Server`] decoded [`Value`](crate::value::Value)s.

mod diagnostics;
mod plan;
mod schema;
mod server;
mod traits;
mod typed;

pub use diagnostics::{Diagnostic, Diagnostics, Severity};
pub use plan::{plan_change, PlannedChange};
pub use schema::{Attribute, Block, Mode, NestedBlock, Nesting, Schema};
pub use server::{Applied, ImportedResource, Server};
pub use traits::{data_source, resource, AnyDataSource, AnyResource, DataSource, Provider, Resource};
pub use typed::{from_value, to_value, Attr};
