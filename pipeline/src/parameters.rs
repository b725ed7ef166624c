//! Where a service's configuration lives in SSM Parameter Store, and the
//! limits AWS puts on it.
//!
//! The layout is the one Spring reads without extra settings:
//! `{prefix}/{service}{separator}{environment}/{key}`, with prefix `/config`
//! and separator `_` (Spring Cloud Config Server's `awsparamstore` backend
//! with `profile-separator: _`; Spring Cloud AWS imports one such path).
//! Configuration and secrets share the path: secrets are `SecureString`s.
//!
//! The limits are checked here, before anything is written, because AWS
//! refuses a bad parameter half way through a batch and the local endpoint
//! does not refuse at all.

use std::fmt;

use crate::names::{check_environment_name, check_service_name, config_path};

/// Spring's default prefix of configuration in Parameter Store.
pub const DEFAULT_PREFIX: &str = "/config";
/// Between service and environment (Spring's `profile-separator`).
pub const DEFAULT_SEPARATOR: &str = "_";

/// AWS counts a parameter name against this limit together with its ARN
/// prefix (`arn:aws:ssm:<region>:<account>:parameter`).
pub const MAX_NAME_WITH_ARN: usize = 1011;
/// Levels of a hierarchical name (`/a/b/c` has three).
pub const MAX_DEPTH: usize = 15;
pub const MAX_DESCRIPTION: usize = 1024;

/// The default KMS key of SecureString parameters.
pub const DEFAULT_KMS_KEY: &str = "alias/aws/ssm";

/// Parameter Store's storage tiers; they differ in the largest value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tier {
    Standard,
    Advanced,
}

impl Tier {
    pub const ALL: [Tier; 2] = [Tier::Standard, Tier::Advanced];

    pub fn name(self) -> &'static str {
        match self {
            Tier::Standard => "Standard",
            Tier::Advanced => "Advanced",
        }
    }

    pub fn from_name(name: &str) -> Option<Tier> {
        Tier::ALL.into_iter().find(|t| t.name() == name)
    }

    /// A tier by name, or the sentence that says which names there are.
    pub fn parse(name: &str) -> Result<Tier, String> {
        Tier::from_name(name).ok_or_else(|| format!("{name:?} is not a parameter tier; use `Standard` or `Advanced`."))
    }

    /// The largest value in bytes: 4 KB standard, 8 KB advanced.
    pub fn max_value_bytes(self) -> usize {
        match self {
            Tier::Standard => 4096,
            Tier::Advanced => 8192,
        }
    }
}

/// Where one service's configuration for one environment lives.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigLocation {
    pub prefix: String,
    pub separator: String,
    pub service: String,
    pub environment: String,
}

impl ConfigLocation {
    /// The default layout, as Spring reads it.
    pub fn new(service: &str, environment: &str) -> Self {
        ConfigLocation {
            prefix: DEFAULT_PREFIX.to_string(),
            separator: DEFAULT_SEPARATOR.to_string(),
            service: service.to_string(),
            environment: environment.to_string(),
        }
    }

    /// `/config/ebook-api_test`.
    pub fn path(&self) -> String {
        config_path(&self.prefix, &self.service, &self.separator, &self.environment)
    }

    /// `/config/ebook-api_test/spring.datasource.url`.
    pub fn parameter_name(&self, key: &str) -> String {
        format!("{}/{key}", self.path())
    }

    /// The key of a parameter under this path (`None` for names elsewhere).
    pub fn key_of<'a>(&self, name: &'a str) -> Option<&'a str> {
        let path = self.path();
        name.strip_prefix(path.as_str())?.strip_prefix('/').filter(|key| !key.is_empty())
    }

    /// The line a Spring Boot application (Spring Cloud AWS 3) puts in its
    /// configuration to load every key under the path as a property.
    pub fn spring_config_import(&self) -> String {
        format!("spring.config.import=aws-parameterstore:{}/", self.path())
    }

    /// Every problem with the location itself, by argument name.
    pub fn problems(&self) -> Vec<(&'static str, String)> {
        let mut problems = Vec::new();
        if let Err(message) = check_prefix(&self.prefix) {
            problems.push(("prefix", message));
        }
        if let Err(message) = check_service_name(&self.service) {
            problems.push(("service", message));
        }
        if let Err(message) = check_environment_name(&self.environment) {
            problems.push(("environment", message));
        }
        if self.separator.is_empty() || !self.separator.chars().all(is_name_char) || self.separator.contains('/') {
            problems.push((
                "separator",
                format!("{:?} cannot separate service and environment: use one or more of `_`, `-` or `.` (Spring's `profile-separator`, `_` by default).", self.separator),
            ));
        }
        problems
    }
}

/// True for the characters SSM allows in a name: `a-zA-Z0-9_.-` and `/`.
fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-' | '/')
}

fn check_prefix(prefix: &str) -> Result<(), String> {
    let bad = || {
        format!("{prefix:?} is not a parameter path: it starts with `/`, has no empty level, and uses only `a-zA-Z0-9_.-/`, e.g. `/config`.")
    };
    if !prefix.starts_with('/') || prefix.len() < 2 || prefix.ends_with('/') || prefix.contains("//") {
        return Err(bad());
    }
    if !prefix.chars().all(is_name_char) {
        return Err(bad());
    }
    check_reserved(prefix)
}

/// AWS reserves names whose first level starts with `aws` or `ssm`.
fn check_reserved(name: &str) -> Result<(), String> {
    let first = name.trim_start_matches('/').to_ascii_lowercase();
    if first.starts_with("aws") || first.starts_with("ssm") {
        return Err(format!("{name:?} starts with `aws` or `ssm`, which AWS reserves for its own parameters."));
    }
    Ok(())
}

/// Checks a configuration key: SSM's name characters, no empty level; dots
/// are kept as they are (Spring reads `spring.datasource.url` literally),
/// `/` adds a level (Spring Cloud AWS turns it into a dot).
pub fn check_key(key: &str) -> Result<(), String> {
    if key.is_empty() {
        return Err("A key cannot be empty.".into());
    }
    if let Some(c) = key.chars().find(|c| !is_name_char(*c)) {
        return Err(format!(
            "Key {key:?} has the character {c:?}; SSM parameter names use only `a-zA-Z0-9_.-` (and `/` for levels), e.g. `spring.datasource.url`."
        ));
    }
    if key.starts_with('/') || key.ends_with('/') || key.contains("//") {
        return Err(format!(
            "Key {key:?} has an empty level; write levels as `a/b`, without a leading or trailing `/`."
        ));
    }
    Ok(())
}

/// Checks a whole parameter name: characters, depth and reserved prefixes.
/// The length limit includes the ARN prefix; see [`check_arn_length`].
pub fn check_name(name: &str) -> Result<(), String> {
    if let Some(c) = name.chars().find(|c| !is_name_char(*c)) {
        return Err(format!("{name:?} has the character {c:?}, which SSM does not allow in a parameter name."));
    }
    let depth = name.trim_start_matches('/').split('/').count();
    if depth > MAX_DEPTH {
        return Err(format!(
            "{name:?} is {depth} levels deep; SSM allows at most {MAX_DEPTH}. Use a shorter prefix or fewer `/` in the key."
        ));
    }
    if name.len() >= MAX_NAME_WITH_ARN {
        return Err(format!(
            "{name:?} is {} characters long; with its ARN SSM allows at most {MAX_NAME_WITH_ARN}.",
            name.len()
        ));
    }
    check_reserved(name)
}

/// The length limit counted as AWS counts it: with the ARN prefix, which is
/// known only once region and account are.
pub fn check_arn_length(arn: &str) -> Result<(), String> {
    if arn.len() > MAX_NAME_WITH_ARN {
        return Err(format!(
            "The parameter's ARN {arn:?} is {} characters long; SSM allows at most {MAX_NAME_WITH_ARN} for the name with its ARN. Shorten the prefix, service or key.",
            arn.len()
        ));
    }
    Ok(())
}

/// Values are UTF-8, non-empty, and at most the tier's size.
pub fn check_value(value: &str, tier: Tier) -> Result<(), ValueProblem> {
    if value.is_empty() {
        return Err(ValueProblem::Empty);
    }
    if value.len() > tier.max_value_bytes() {
        return Err(ValueProblem::TooLarge { bytes: value.len(), tier });
    }
    Ok(())
}

/// What is wrong with a value; displayed without the value, which may be secret.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ValueProblem {
    Empty,
    TooLarge { bytes: usize, tier: Tier },
}

impl fmt::Display for ValueProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ValueProblem::Empty => write!(f, "The value is empty; SSM stores values of at least one character."),
            ValueProblem::TooLarge { bytes, tier: Tier::Standard } => write!(
                f,
                "The value is {bytes} bytes; the Standard tier holds at most 4096. Set `tier = \"Advanced\"` (up to 8192 bytes, charged per parameter) or split the value."
            ),
            ValueProblem::TooLarge { bytes, tier: Tier::Advanced } => {
                write!(f, "The value is {bytes} bytes; the Advanced tier holds at most 8192. Split the value.")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_is_what_spring_reads() {
        let location = ConfigLocation::new("ebook-api", "test");
        assert_eq!(location.path(), "/config/ebook-api_test");
        assert_eq!(location.parameter_name("spring.datasource.url"), "/config/ebook-api_test/spring.datasource.url");
        assert_eq!(location.spring_config_import(), "spring.config.import=aws-parameterstore:/config/ebook-api_test/");
        assert_eq!(location.key_of("/config/ebook-api_test/a/b"), Some("a/b"));
        assert_eq!(location.key_of("/config/ebook-api_testing/a"), None);
        assert_eq!(location.key_of("/config/ebook-api_test/"), None);
        let custom = ConfigLocation { prefix: "/apps/".into(), separator: "-".into(), ..location };
        assert_eq!(custom.path(), "/apps/ebook-api-test");
    }

    #[test]
    fn location_problems_name_the_argument() {
        let mut location = ConfigLocation::new("Ebook_API", "te st");
        location.prefix = "config".into();
        location.separator = "/".into();
        let fields: Vec<&str> = location.problems().iter().map(|(f, _)| *f).collect();
        assert_eq!(fields, ["prefix", "service", "environment", "separator"]);
        assert!(ConfigLocation::new("ebook-api", "production").problems().is_empty());
        let reserved = ConfigLocation { prefix: "/aws-config".into(), ..ConfigLocation::new("a", "b") };
        assert!(reserved.problems()[0].1.contains("reserves"));
    }

    #[test]
    fn keys_follow_ssm_names() {
        assert!(check_key("spring.datasource.url").is_ok());
        assert!(check_key("feature/flags-v2").is_ok());
        for bad in ["", "with space", "ærlig", "/lead", "trail/", "a//b", "a:b"] {
            assert!(check_key(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn names_are_limited_in_depth_and_length() {
        let fifteen = format!("/{}", vec!["l"; 15].join("/"));
        assert!(check_name(&fifteen).is_ok());
        let sixteen = format!("{fifteen}/x");
        assert!(check_name(&sixteen).unwrap_err().contains("16 levels"));
        let long = format!("/config/{}", "a".repeat(1010));
        assert!(check_name(&long).unwrap_err().contains("characters long"));
        assert!(check_name("/SSM/x").unwrap_err().contains("reserves"));
        let arn = format!("arn:aws:ssm:eu-north-1:123456789012:parameter/config/{}", "a".repeat(960));
        assert!(check_arn_length(&arn).is_err());
        assert!(check_arn_length("arn:aws:ssm:eu-north-1:123456789012:parameter/config/a").is_ok());
    }

    #[test]
    fn values_fit_their_tier_and_are_not_quoted() {
        assert!(check_value(&"x".repeat(4096), Tier::Standard).is_ok());
        let big = "s3cr3t".repeat(700);
        let problem = check_value(&big, Tier::Standard).unwrap_err();
        assert_eq!(problem, ValueProblem::TooLarge { bytes: 4200, tier: Tier::Standard });
        assert!(!problem.to_string().contains("s3cr3t"));
        assert!(problem.to_string().contains("Advanced"));
        assert!(check_value(&big, Tier::Advanced).is_ok());
        assert!(check_value(&"x".repeat(8193), Tier::Advanced).is_err());
        // Bytes, not characters: 2000 two-byte letters are 4000 bytes.
        assert!(check_value(&"ø".repeat(2049), Tier::Standard).is_err());
        assert_eq!(check_value("", Tier::Standard), Err(ValueProblem::Empty));
    }
}
