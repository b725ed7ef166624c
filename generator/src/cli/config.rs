//! `bokbasen config publish SERVICE`: the service's configuration committed
//! to a Spring Cloud Config repository.

use std::path::PathBuf;

use anyhow::Result;
use bokbasen_generator::config;
use serde::Serialize;

use super::args::{Global, PublishArgs};
use super::output::{Report, Text};

/// What was committed (or would be); the JSON is `config::Published`.
#[derive(Serialize)]
#[serde(transparent)]
pub struct Publication {
    published: config::Published,
    #[serde(skip)]
    repository: PathBuf,
    #[serde(skip)]
    dry_run: bool,
}

pub fn publish(global: &Global, args: &PublishArgs) -> Result<Publication> {
    let folder = super::existing_service(global, &args.service)?;
    let request = config::PublishRequest {
        environment: args.environment.as_deref(),
        repository: &args.config_repo,
        subfolder: args.path.as_deref(),
        author: args.author.as_deref(),
        dry_run: args.dry_run,
    };
    let published = config::publish(&folder, &request)?;
    Ok(Publication { published, repository: args.config_repo.clone(), dry_run: args.dry_run })
}

impl Report for Publication {
    fn text(&self) -> Text {
        let published = &self.published;
        let files = published.files.join(", ");
        let repository = self.repository.display();
        Text::stdout(match &published.commit {
            Some(commit) => format!("Committed {files} to {repository}: {commit}\n"),
            None if self.dry_run => format!("Would write {files} and commit:\n\n{}\n", published.message),
            None => format!("{repository} already holds this configuration; nothing to commit.\n"),
        })
    }
}
