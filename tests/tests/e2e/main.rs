//! The end-to-end suites, one test binary: Cargo runs test binaries one
//! after another, and most of these tests wait on Terraform and the local
//! endpoint, so in one binary a long suite (the fault storm, the
//! interrupted applies) overlaps the others instead of running alone.
//! `cargo test -p bokbasen-e2e --test e2e SUITE::` runs one suite.

mod artifact_store;
mod caller_identity;
mod deploy_target;
mod enforcing;
mod fault_storm;
mod generator;
mod iam_consistency;
mod interrupted;
mod layers;
mod local_aws;
mod packaging;
mod pipeline_ownership;
mod real_organisation;
mod registry;
mod service_config;
mod service_pipeline;
mod session;
mod ssm_ownership;
mod target_ownership;
