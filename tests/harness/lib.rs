//! The end-to-end harness: the local AWS endpoint (moto), the real
//! Terraform CLI, and the freshly built provider installed where Terraform
//! finds it. Tests and the demo use the same pieces, so a resource adds test
//! cases, never another harness.
//!
//! Tools live in `.tools/` at the workspace root, installed by
//! `cargo xtask setup` (see `tools`).

pub mod generator;
pub mod inventory;
pub mod local_aws;
pub mod local_https;
pub mod organisation;
pub mod session;
pub mod terraform;
pub mod tools;

pub use generator::{bokbasen, bokbasen_binary, CliRun};
pub use inventory::{AwsObject, Inventory, InventoryDiff, Kind};
pub use local_aws::{documented_caller_policy, AccessKeys, Denial, LocalAws, LocalAwsBuilder};
pub use local_https::LocalHttps;
pub use organisation::{deploy_targets_configuration, ENVIRONMENTS};
pub use session::{example_file, Session, StateInstance};
pub use terraform::{provider_binary, ProviderMirror, RunningTerraform, TerraformRun, WorkDir};
pub use tools::{terraform_binaries, workspace_root, TerraformBinary};
