//! Whose an object is: the one ownership rule every resource applies before
//! it changes or deletes an object found under a name it wants.
//!
//! bokbasen tags what it creates with `bokbasen:owner = <type>/<id>`
//! ([`OWNER_TAG`], [`owner_marker`]). An object found under a wanted name is
//! the resource's when it carries the resource's own marker (made by it, or
//! left by an apply that was interrupted before Terraform recorded it) or
//! when the resource's state lists it (made before markers, or brought in
//! with `terraform import`; the next apply adds the marker). Anything else —
//! no marker, or another resource's — is someone else's: bokbasen neither
//! changes nor deletes it, and says how to hand it over.

use std::collections::BTreeMap;

pub use bokbasen_pipeline::names::{owner_marker, OWNER_TAG};

/// Who holds an object found under a wanted name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Holder {
    /// This resource: its marker, or its state lists the object.
    This,
    /// Nobody bokbasen knows: no marker, not in state.
    Unmarked,
    /// Another bokbasen resource (the marker's value).
    Other(String),
}

impl Holder {
    /// Judges an object by its `tags`, for the resource whose marker is
    /// `marker`; `claimed` when the resource's state lists the object.
    pub fn of(tags: &BTreeMap<String, String>, marker: &str, claimed: bool) -> Holder {
        match tags.get(OWNER_TAG) {
            Some(found) if found == marker => Holder::This,
            Some(_) | None if claimed => Holder::This,
            Some(other) => Holder::Other(other.clone()),
            None => Holder::Unmarked,
        }
    }
}

/// An object under a wanted name that is not the resource's to change.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Foreign {
    /// What it is and its name, e.g. `IAM role ebook-api-build`.
    pub object: String,
    pub account: String,
    /// The marker it carries, if another resource's.
    pub owner: Option<String>,
}

impl std::fmt::Display for Foreign {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} in account {}", self.object, self.account)?;
        match &self.owner {
            Some(owner) => write!(f, " belongs to {owner}"),
            None => write!(f, " has no {OWNER_TAG} tag: bokbasen did not make it"),
        }
    }
}

/// The refusal for `foreign` objects found by the resource `marker`: each
/// named, nothing changed, and the ways out (`hand_over`: how this resource
/// takes such objects over, e.g. the import command).
pub fn refusal(marker: &str, foreign: &[Foreign], hand_over: &str) -> String {
    format!(
        "Objects with the names {marker} needs already exist and are not its own:\n{}\nNothing of them was changed, and nothing was created. {hand_over}",
        listed(foreign)
    )
}

/// `foreign`, one object a line.
pub fn listed(foreign: &[Foreign]) -> String {
    foreign.iter().map(|f| format!("  - {f}")).collect::<Vec<_>>().join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tags(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn an_object_is_the_resources_by_its_marker_or_its_state() {
        let mine = "bokbasen_service_pipeline/ebook-api";
        assert_eq!(Holder::of(&tags(&[(OWNER_TAG, mine)]), mine, false), Holder::This);
        assert_eq!(Holder::of(&tags(&[("team", "books")]), mine, true), Holder::This, "listed in state");
        assert_eq!(Holder::of(&tags(&[("team", "books")]), mine, false), Holder::Unmarked);
        let other = "bokbasen_deploy_target/test";
        assert_eq!(Holder::of(&tags(&[(OWNER_TAG, other)]), mine, false), Holder::Other(other.into()));
        assert_eq!(Holder::of(&tags(&[(OWNER_TAG, other)]), mine, true), Holder::This, "state decides");
    }

    #[test]
    fn the_refusal_names_each_object_its_account_and_owner() {
        let foreign = [
            Foreign { object: "ECR repository ebook-api".into(), account: "111111111111".into(), owner: None },
            Foreign {
                object: "IAM role ebook-api-build".into(),
                account: "111111111111".into(),
                owner: Some("bokbasen_service_pipeline/other".into()),
            },
        ];
        let text = refusal("bokbasen_service_pipeline/ebook-api", &foreign, "Import it.");
        assert!(text.contains("ECR repository ebook-api in account 111111111111 has no bokbasen:owner tag"), "{text}");
        assert!(text.contains("belongs to bokbasen_service_pipeline/other"), "{text}");
        assert!(text.ends_with("Import it."), "{text}");
    }
}
