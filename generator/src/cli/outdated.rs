//! `bokbasen outdated`: services whose template is behind the catalogue.

use anyhow::Result;
use bokbasen_generator::service;
use serde::Serialize;

use super::args::Global;
use super::output::{Report, Text};
use super::terminal;

/// The services behind; the JSON is their list.
#[derive(Serialize)]
#[serde(transparent)]
pub struct Outdated {
    behind: Vec<Behind>,
    /// How many services were looked at.
    #[serde(skip)]
    checked: usize,
}

/// One service behind the catalogue. Fields in alphabetical order: the JSON
/// has always listed them so.
#[derive(Serialize)]
struct Behind {
    /// The catalogue's version, `None` when the template is not in it.
    latest: Option<String>,
    service: String,
    template: String,
    version: String,
}

pub fn run(global: &Global) -> Result<Outdated> {
    let catalogue = super::catalogue(global)?;
    let folders = service::list(&global.out)?;
    let bar = terminal::progress(folders.len());
    let mut behind = Vec::new();
    for folder in &folders {
        let answers = service::read_answers(folder)?;
        bar.set_message(answers.service.clone());
        let latest = catalogue.templates.get(&answers.template).map(|t| t.manifest.version.clone());
        if latest.as_ref() != Some(&answers.version) {
            behind.push(Behind {
                latest: latest.map(|v| v.to_string()),
                service: answers.service,
                template: answers.template,
                version: answers.version.to_string(),
            });
        }
        bar.inc(1);
    }
    bar.finish_and_clear();
    Ok(Outdated { behind, checked: folders.len() })
}

impl Report for Outdated {
    fn text(&self) -> Text {
        let mut text = Text::default();
        if self.behind.is_empty() {
            text.line(format_args!("All {} services are at their template's catalogue version.", self.checked));
            return text;
        }
        text.line(format_args!("{:<30} {:<18} {:<9} LATEST", "SERVICE", "TEMPLATE", "VERSION"));
        for row in &self.behind {
            text.line(format_args!(
                "{:<30} {:<18} {:<9} {}",
                row.service,
                row.template,
                row.version,
                row.latest.as_deref().unwrap_or("(not in the catalogue)")
            ));
        }
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_json_is_the_list_with_sorted_keys() {
        let behind = Behind {
            latest: None,
            service: "school-portal".into(),
            template: "static-site".into(),
            version: "1.0.0".into(),
        };
        let outdated = Outdated { behind: vec![behind], checked: 3 };
        assert_eq!(
            serde_json::to_string(&outdated).unwrap(),
            "[{\"latest\":null,\"service\":\"school-portal\",\"template\":\"static-site\",\"version\":\"1.0.0\"}]"
        );
        assert!(outdated.text().stdout.ends_with(" 1.0.0     (not in the catalogue)\n"), "{:?}", outdated.text());
        let none = Outdated { behind: Vec::new(), checked: 3 };
        assert_eq!(none.text().stdout, "All 3 services are at their template's catalogue version.\n");
    }
}
