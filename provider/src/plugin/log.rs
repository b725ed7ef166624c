//! Logs as go-hclog JSON lines on stderr.
//!
//! go-plugin reads a plugin's stderr; a JSON line with `@level`,
//! `@message` and `@timestamp` is re-logged by Terraform at that level, so
//! `TF_LOG=debug terraform plan` shows what the provider did. The level comes
//! from `TF_LOG_PROVIDER` or `TF_LOG` (Terraform passes its environment on).
//!
//! Only this crate's events pass below WARN: dependencies such as the AWS
//! request signer log canonical requests (with session tokens) at trace
//! level, and secrets must not reach logs even at `TF_LOG=trace`.

use std::fmt::Write as _;
use std::io::Write as _;

use tracing::field::{Field, Visit};
use tracing::{Event, Level, Metadata, Subscriber};
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::Layer;

const OWN_TARGET: &str = "bokbasen_provider";

/// Installs the logger; the level is read from the environment.
pub fn init() {
    let level = level_from_env(|key| std::env::var(key).ok());
    let _ = tracing_subscriber::registry().with(HclogLayer { level }).try_init();
}

/// `TF_LOG_PROVIDER` wins over `TF_LOG`; unset or unrecognised means WARN.
pub fn level_from_env(get: impl Fn(&str) -> Option<String>) -> Level {
    let value = get("TF_LOG_PROVIDER").filter(|v| !v.is_empty()).or_else(|| get("TF_LOG"));
    match value.map(|v| v.to_ascii_lowercase()).as_deref() {
        Some("trace") | Some("json") => Level::TRACE,
        Some("debug") => Level::DEBUG,
        Some("info") => Level::INFO,
        Some("error") => Level::ERROR,
        _ => Level::WARN,
    }
}

pub struct HclogLayer {
    level: Level,
}

impl HclogLayer {
    fn allows(&self, metadata: &Metadata<'_>) -> bool {
        let own = metadata.target().starts_with(OWN_TARGET);
        let limit = if own { self.level } else { self.level.min(Level::WARN) };
        *metadata.level() <= limit
    }
}

impl<S: Subscriber> Layer<S> for HclogLayer {
    fn enabled(&self, metadata: &Metadata<'_>, _ctx: Context<'_, S>) -> bool {
        self.allows(metadata)
    }

    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let mut line = format_line(event);
        line.push('\n');
        // One write per line, so concurrent RPCs never interleave lines.
        let _ = std::io::stderr().lock().write_all(line.as_bytes());
    }
}

/// One event as an hclog JSON object.
pub fn format_line(event: &Event<'_>) -> String {
    let mut fields = JsonFields::default();
    event.record(&mut fields);
    let mut object = fields.map;
    let level = match *event.metadata().level() {
        Level::TRACE => "trace",
        Level::DEBUG => "debug",
        Level::INFO => "info",
        Level::WARN => "warn",
        Level::ERROR => "error",
    };
    object.insert("@level".into(), level.into());
    object.insert("@message".into(), fields.message.into());
    object.insert("@module".into(), "bokbasen".into());
    object.insert("@timestamp".into(), timestamp().into());
    serde_json::Value::Object(object).to_string()
}

fn timestamp() -> String {
    let format =
        time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:6]Z");
    time::OffsetDateTime::now_utc().format(&format).unwrap_or_default()
}

#[derive(Default)]
struct JsonFields {
    message: String,
    map: serde_json::Map<String, serde_json::Value>,
}

impl Visit for JsonFields {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        let mut text = String::new();
        let _ = write!(text, "{value:?}");
        self.record_value(field, text.into());
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.record_value(field, value.into());
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.record_value(field, value.into());
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.record_value(field, value.into());
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.record_value(field, value.into());
    }
}

impl JsonFields {
    fn record_value(&mut self, field: &Field, value: serde_json::Value) {
        if field.name() == "message" {
            self.message = match value {
                serde_json::Value::String(s) => s,
                other => other.to_string(),
            };
        } else {
            self.map.insert(field.name().to_string(), value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    #[test]
    fn level_follows_terraforms_variables() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |key: &str| pairs.iter().find(|(k, _)| *k == key).map(|(_, v)| v.to_string())
        };
        assert_eq!(level_from_env(env(&[])), Level::WARN);
        assert_eq!(level_from_env(env(&[("TF_LOG", "DEBUG")])), Level::DEBUG);
        assert_eq!(level_from_env(env(&[("TF_LOG", "DEBUG"), ("TF_LOG_PROVIDER", "trace")])), Level::TRACE);
    }

    #[test]
    fn dependencies_are_capped_at_warn() {
        let layer = HclogLayer { level: Level::TRACE };
        let own = tracing::Metadata::new(
            "x",
            "bokbasen_provider::plugin",
            Level::TRACE,
            None,
            None,
            None,
            tracing::field::FieldSet::new(&[], tracing::callsite::Identifier(&CALLSITE)),
            tracing::metadata::Kind::EVENT,
        );
        let dep = tracing::Metadata::new(
            "x",
            "aws_sigv4::http_request",
            Level::TRACE,
            None,
            None,
            None,
            tracing::field::FieldSet::new(&[], tracing::callsite::Identifier(&CALLSITE)),
            tracing::metadata::Kind::EVENT,
        );
        assert!(layer.allows(&own));
        assert!(!layer.allows(&dep));
    }

    struct Callsite;
    static CALLSITE: Callsite = Callsite;
    impl tracing::callsite::Callsite for Callsite {
        fn set_interest(&self, _: tracing::subscriber::Interest) {}
        fn metadata(&self) -> &tracing::Metadata<'_> {
            unimplemented!()
        }
    }

    /// A layer that keeps formatted lines, to check their shape.
    struct Capture(Arc<Mutex<Vec<String>>>);
    impl<S: Subscriber> Layer<S> for Capture {
        fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
            self.0.lock().unwrap().push(format_line(event));
        }
    }

    #[test]
    fn lines_are_hclog_json() {
        let lines = Arc::new(Mutex::new(Vec::new()));
        let subscriber = tracing_subscriber::registry().with(Capture(lines.clone()));
        tracing::subscriber::with_default(subscriber, || {
            tracing::debug!(rpc = "GetSchema", count = 3, "served schema");
        });
        let line: serde_json::Value = serde_json::from_str(&lines.lock().unwrap()[0]).unwrap();
        assert_eq!(line["@level"], "debug");
        assert_eq!(line["@message"], "served schema");
        assert_eq!(line["rpc"], "GetSchema");
        assert_eq!(line["count"], 3);
        let ts = line["@timestamp"].as_str().unwrap();
        assert!(ts.ends_with('Z') && ts.len() == "2026-01-01T00:00:00.000000Z".len(), "{ts}");
    }
}
