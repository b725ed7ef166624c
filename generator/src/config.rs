//! A service's configuration files and `bokbasen config publish`.
//!
//! `config/<env>.yml` holds one environment's keys, `config/shared.yml` the
//! keys every environment shares, flat with dotted names
//! (`spring.datasource.url: …`), which both Spring and SSM read as they are.
//! `config/secrets.yml` lists the secret keys (names only; values go to SSM
//! with `bokbasen secret set`). The generated Terraform module writes the
//! same keys to SSM (`bokbasen_service_config`); publishing writes them to a
//! Spring Cloud Config git repository as `{service}-{env}.yml` and
//! `{service}.yml`, Spring Cloud Config's own file naming.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{anyhow, bail, Context as _, Result};
use bokbasen_pipeline::parameters::{check_key, check_value, Tier};
use serde::Serialize;

use crate::service::{self, SECRETS, SHARED_CONFIG};

/// Key → value, as text (YAML `8080` and `true` mean their text to Spring and SSM).
pub type ConfigMap = BTreeMap<String, String>;

/// A service's configuration, checked.
#[derive(Debug)]
pub struct ServiceConfig {
    pub service: String,
    pub shared: ConfigMap,
    /// In the service's promotion order.
    pub environments: Vec<(String, ConfigMap)>,
    pub secrets: Vec<String>,
}

/// Reads and checks the configuration of the service in `folder`, for the
/// environments its `service.yml` names.
pub fn read(folder: &Path) -> Result<ServiceConfig> {
    let spec_path = folder.join(service::SERVICE_SPEC);
    let spec_text = std::fs::read_to_string(&spec_path).with_context(|| format!("reading {}", spec_path.display()))?;
    let spec = crate::graph::parse_spec(&spec_text).with_context(|| spec_path.display().to_string())?;
    let secrets = read_secrets(&folder.join(SECRETS))?;
    let shared = read_map(&folder.join(SHARED_CONFIG), &secrets)?;
    let mut environments = Vec::new();
    for env in &spec.environments {
        let path = folder.join(service::CONFIG_DIR).join(format!("{}.yml", env.name));
        environments.push((env.name.clone(), read_map(&path, &secrets)?));
    }
    Ok(ServiceConfig { service: spec.name, shared, environments, secrets })
}

fn read_secrets(path: &Path) -> Result<Vec<String>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let keys: Option<Vec<String>> = serde_yaml_ng::from_str(&text)
        .map_err(|e| anyhow!("{}: expected a list of secret key names: {e}", path.display()))?;
    let keys = keys.unwrap_or_default();
    for key in &keys {
        check_key(key).map_err(|e| anyhow!("{}: {e}", path.display()))?;
    }
    Ok(keys)
}

fn read_map(path: &Path, secrets: &[String]) -> Result<ConfigMap> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let raw: Option<BTreeMap<String, serde_yaml_ng::Value>> = serde_yaml_ng::from_str(&text)
        .map_err(|e| anyhow!("{}: expected a map of keys to values: {e}", path.display()))?;
    let mut map = ConfigMap::new();
    for (key, value) in raw.unwrap_or_default() {
        let at = || format!("{}: `{key}`", path.display());
        check_key(&key).map_err(|e| anyhow!("{}: {e}", at()))?;
        if secrets.contains(&key) {
            bail!(
                "{} is a secret (listed in {SECRETS}): set its value with `bokbasen secret set`, never in a file",
                at()
            );
        }
        let text = match value {
            serde_yaml_ng::Value::String(s) => s,
            serde_yaml_ng::Value::Number(n) => n.to_string(),
            serde_yaml_ng::Value::Bool(b) => b.to_string(),
            serde_yaml_ng::Value::Null => bail!("{} has no value; remove the key or give it one", at()),
            _ => bail!(
                "{} is not a single value; write nested keys flat with dots (`spring.datasource.url: …`), as SSM and Spring both read them",
                at()
            ),
        };
        check_value(&text, Tier::Standard).map_err(|e| anyhow!("{}: {e}", at()))?;
        map.insert(key, text);
    }
    Ok(map)
}

/// What `config publish` did.
#[derive(Debug, Serialize)]
pub struct Published {
    /// Files written, relative to the repository.
    pub files: Vec<String>,
    /// The new commit, or `None` when the repository already had this configuration.
    pub commit: Option<String>,
    pub message: String,
}

/// Publish options.
pub struct PublishRequest<'a> {
    pub environment: Option<&'a str>,
    pub repository: &'a Path,
    /// A folder inside the repository (a Spring Cloud Config `search-paths` entry).
    pub subfolder: Option<&'a Path>,
    /// `Name <email>`, else git's configured identity.
    pub author: Option<&'a str>,
    pub dry_run: bool,
}

/// Writes the service's configuration into a Spring Cloud Config repository
/// and commits exactly those files.
pub fn publish(folder: &Path, request: &PublishRequest) -> Result<Published> {
    let answers = service::read_answers(folder)?;
    let config = read(folder)?;
    let environments: Vec<&(String, ConfigMap)> = match request.environment {
        None => config.environments.iter().collect(),
        Some(wanted) => {
            let found: Vec<_> = config.environments.iter().filter(|(name, _)| name == wanted).collect();
            if found.is_empty() {
                let names: Vec<&str> = config.environments.iter().map(|(n, _)| n.as_str()).collect();
                bail!("--env {wanted}: {} has the environments {}", config.service, names.join(", "));
            }
            found
        }
    };
    let repo = request.repository;
    git(repo, &["rev-parse", "--is-inside-work-tree"])
        .map_err(|e| anyhow!("--config-repo {}: not a git repository ({e})", repo.display()))?;
    let dir = request.subfolder.map(|s| repo.join(s)).unwrap_or_else(|| repo.to_path_buf());
    let header = format!(
        "# {} configuration, published by `bokbasen config publish` from services/{}/config ({} {}).\n# Edit it there and publish again; changes made here are overwritten.\n",
        config.service, config.service, answers.template, answers.version
    );
    let mut files: Vec<(PathBuf, String)> =
        vec![(dir.join(format!("{}.yml", config.service)), yaml(&header, &config.shared)?)];
    for (env, map) in &environments {
        files.push((dir.join(format!("{}-{env}.yml", config.service)), yaml(&header, map)?));
    }
    let relative: Vec<String> =
        files.iter().map(|(p, _)| p.strip_prefix(repo).unwrap_or(p).to_string_lossy().into_owned()).collect();
    let env_names: Vec<&str> = environments.iter().map(|(n, _)| n.as_str()).collect();
    let author = match request.author {
        Some(author) => author.to_string(),
        None => identity(repo)?,
    };
    let message = format!(
        "Publish {} configuration for {}\n\nService:  {}\nTemplate: {} {}\nAuthor:   {author}\nFiles:    {}\n\nPublished with `bokbasen config publish`.\n",
        config.service,
        env_names.join(", "),
        config.service,
        answers.template,
        answers.version,
        relative.join(", ")
    );
    if request.dry_run {
        return Ok(Published { files: relative, commit: None, message });
    }
    for (path, text) in &files {
        service::write_file(path, text)?;
    }
    let mut add = vec!["add", "--"];
    add.extend(relative.iter().map(String::as_str));
    git(repo, &add)?;
    let mut staged = vec!["diff", "--cached", "--quiet", "--"];
    staged.extend(relative.iter().map(String::as_str));
    if git(repo, &staged).is_ok() {
        return Ok(Published { files: relative, commit: None, message });
    }
    let mut commit = vec!["commit", "--quiet", "-m", &message];
    let author_arg = format!("--author={author}");
    if request.author.is_some() {
        commit.push(&author_arg);
    }
    commit.push("--");
    commit.extend(relative.iter().map(String::as_str));
    git(repo, &commit)?;
    let head = git(repo, &["rev-parse", "HEAD"])?;
    Ok(Published { files: relative, commit: Some(head.trim().to_string()), message })
}

fn yaml(header: &str, map: &ConfigMap) -> Result<String> {
    let body = if map.is_empty() { "{}\n".to_string() } else { serde_yaml_ng::to_string(map)? };
    Ok(format!("{header}{body}"))
}

/// `Name <email>` of whoever git would record.
fn identity(repo: &Path) -> Result<String> {
    let ident = git(repo, &["var", "GIT_AUTHOR_IDENT"])
        .map_err(|e| anyhow!("git has no author identity ({e}); set user.name and user.email, or pass --author"))?;
    // "Name <email> 1700000000 +0100": drop the timestamp.
    Ok(ident.rsplitn(3, ' ').nth(2).unwrap_or(ident.trim()).to_string())
}

/// Runs git in `repo`; its stdout, or its stderr as the error. The git on
/// PATH is the one that knows the user's identity, hooks and signing.
fn git(repo: &Path, args: &[&str]) -> Result<String> {
    let output = Command::new("git")
        .arg("-C")
        .arg(repo)
        .args(args)
        .output()
        .map_err(|e| anyhow!("cannot run git: {e}; config publish needs git on PATH"))?;
    if output.status.success() {
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    } else {
        bail!("git {}: {}", args.first().unwrap_or(&""), String::from_utf8_lossy(&output.stderr).trim())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(text: &str, secrets: &[&str]) -> Result<ConfigMap> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("test.yml");
        std::fs::write(&path, text).unwrap();
        read_map(&path, &secrets.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn flat_scalars_are_read_as_text() {
        let m = map("server.port: 8080\nfeature.enabled: true\nspring.datasource.url: jdbc:x\n", &[]).unwrap();
        assert_eq!(m["server.port"], "8080");
        assert_eq!(m["feature.enabled"], "true");
        assert!(map("", &[]).unwrap().is_empty());
    }

    #[test]
    fn nested_maps_secrets_and_bad_keys_are_refused_by_name() {
        let err = map("spring:\n  datasource:\n    url: x\n", &[]).unwrap_err().to_string();
        assert!(err.contains("`spring`") && err.contains("flat with dots"), "{err}");
        let err = map("db.password: hunter2\n", &["db.password"]).unwrap_err().to_string();
        assert!(err.contains("`db.password` is a secret") && !err.contains("hunter2"), "{err}");
        let err = map("\"bad key!\": x\n", &[]).unwrap_err().to_string();
        assert!(err.contains("`bad key!`"), "{err}");
        let big = format!("big: {}\n", "x".repeat(5000));
        assert!(map(&big, &[]).unwrap_err().to_string().contains("`big`"));
    }
}
