//! The `bokbasen` generator: a microservice's Terraform module from a
//! template in the catalogue, with its configuration, secrets, upgrades and
//! pipeline picture. One job per module:
//!
//! - `language`: a file's language (HCL, YAML, Markdown) and its escape;
//! - `catalogue`: templates and their manifests (built in, or `--templates`);
//! - `inputs`: typed inputs, checked values, and how they are given;
//! - `render`: strict handlebars with escaping per file language;
//! - `service`: a service's folder, its answers and pristine render, atomic writes;
//! - `update`: re-render and three-way merge;
//! - `config`: configuration files, `config publish` to Spring Cloud Config;
//! - `secret`: `secret set | list` in SSM;
//! - `graph`: the pipeline picture, from `bokbasen_pipeline::shape`.
//!
//! Modules only look down: `language` imports no other module, `catalogue`
//! uses `language` (and `inputs`), `render` uses both. The command line
//! (`src/main.rs` and `src/cli/`) belongs to the binary, not to this library.

pub mod catalogue;
pub mod config;
pub mod graph;
pub mod inputs;
pub mod language;
pub mod modules;
pub mod render;
pub mod secret;
pub mod service;
pub mod update;
