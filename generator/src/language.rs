//! The languages templates render (HCL, YAML, Markdown), told by a file's
//! extension, and the escape each needs so that a value stays inside the
//! quoted string a template puts it in. A leaf: the catalogue uses it to
//! refuse files of unknown language, the renderer to pick the escape.

use anyhow::{bail, Result};

/// The language of a rendered file, from its extension.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Language {
    Hcl,
    Yaml,
    Markdown,
}

impl Language {
    /// The language of the file at `path`; other extensions are refused.
    pub fn of(path: &str) -> Result<Language> {
        let extension = path.rsplit_once('.').map(|(_, e)| e).unwrap_or_default();
        Ok(match extension {
            "tf" | "tfvars" => Language::Hcl,
            "yml" | "yaml" => Language::Yaml,
            "md" => Language::Markdown,
            _ => bail!(
                "{path}: templates render .tf, .tfvars, .yml, .yaml and .md files; the escape of others is unknown"
            ),
        })
    }

    /// The escape for a value inside one of this language's quoted strings
    /// (Markdown has no strings to break out of: values go in as they are).
    pub fn escape(self) -> fn(&str) -> String {
        match self {
            Language::Hcl => escape_hcl,
            Language::Yaml => escape_yaml,
            Language::Markdown => |text: &str| text.to_string(),
        }
    }
}

/// The contents of an HCL quoted string.
pub fn escape_hcl(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            // `${` and `%{` start interpolation and directives; doubling the sigil makes them literal.
            '$' | '%' if chars.peek() == Some(&'{') => {
                out.push(c);
                out.push(c);
            }
            c if c.is_control() => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out
}

/// The contents of a YAML double-quoted scalar.
pub fn escape_yaml(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_extension_names_the_language() {
        assert_eq!(Language::of("main.tf").unwrap(), Language::Hcl);
        assert_eq!(Language::of("config/test.yml").unwrap(), Language::Yaml);
        assert_eq!(Language::of("README.md").unwrap(), Language::Markdown);
        let err = Language::of("run.sh").unwrap_err().to_string();
        assert!(err.starts_with("run.sh: templates render"), "{err}");
    }

    #[test]
    fn escapes_keep_values_inside_their_strings() {
        assert_eq!(Language::Hcl.escape()("a\"${x}%{y}\n"), "a\\\"$${x}%%{y}\\n");
        assert_eq!(Language::Yaml.escape()("a\"${x}\t"), "a\\\"${x}\\t");
        assert_eq!(Language::Markdown.escape()("a\"${x}"), "a\"${x}");
    }
}
