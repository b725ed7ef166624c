//! Attribute paths: where in a value a diagnostic or a replacement applies.

use std::fmt;

#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PathStep {
    Attribute(String),
    /// A map key.
    Key(String),
    /// A list or tuple index (set elements have no stable address).
    Index(i64),
}

/// A path from the root object to one of its parts, e.g. `assume_role.role_arn`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AttributePath(pub Vec<PathStep>);

impl AttributePath {
    pub fn root() -> Self {
        AttributePath(Vec::new())
    }

    /// The path of one top-level attribute.
    pub fn attr(name: &str) -> Self {
        AttributePath(vec![PathStep::Attribute(name.to_string())])
    }

    pub fn attribute(&self, name: &str) -> Self {
        self.with(PathStep::Attribute(name.to_string()))
    }

    pub fn key(&self, key: &str) -> Self {
        self.with(PathStep::Key(key.to_string()))
    }

    pub fn index(&self, index: usize) -> Self {
        self.with(PathStep::Index(i64::try_from(index).unwrap_or(i64::MAX)))
    }

    fn with(&self, step: PathStep) -> Self {
        let mut steps = self.0.clone();
        steps.push(step);
        AttributePath(steps)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn steps(&self) -> &[PathStep] {
        &self.0
    }
}

impl fmt::Display for AttributePath {
    /// Terraform's own notation: `endpoints.sts`, `tags["team"]`, `rule[0]`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, step) in self.0.iter().enumerate() {
            match step {
                PathStep::Attribute(name) if i == 0 => write!(f, "{name}")?,
                PathStep::Attribute(name) => write!(f, ".{name}")?,
                PathStep::Key(key) => write!(f, "[{key:?}]")?,
                PathStep::Index(index) => write!(f, "[{index}]")?,
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn displays_like_terraform() {
        let path = AttributePath::attr("default_tags").attribute("tags").key("team");
        assert_eq!(path.to_string(), r#"default_tags.tags["team"]"#);
        assert_eq!(AttributePath::attr("rule").index(2).attribute("x").to_string(), "rule[2].x");
    }
}
