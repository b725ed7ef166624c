//! The framework's `Server` driving a typed resource through Terraform's
//! lifecycle, at the level of values: validate, configure, plan, apply,
//! read, import, and the failure paths (unconfigured provider, partial
//! create, a vanished object, Stop).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use bokbasen_provider::framework::{
    resource, AnyDataSource, AnyResource, Attr, Attribute, Block, Diagnostics, Provider, Resource, Schema, Server,
    Severity,
};
use bokbasen_provider::value::{object, AttributePath, Type, Value};
use serde::{Deserialize, Serialize};
use tokio::sync::Notify;

const THING: &str = "fake_thing";
/// Creating a thing with this name never finishes.
const HANGS: &str = "hangs";
/// Creating a thing whose name starts with this creates it, then fails.
const FAILS_HALFWAY: &str = "half-";
/// Updating a thing to this description fails without changing anything.
const REJECTED: &str = "rejected";
/// A description the fake cloud stores, then fails the update after (as a
/// second call of an update would), without saying what it changed.
const STORED_THEN_FAILS: &str = "stored, then the update fails";
/// An upper bound for things that should take milliseconds.
const GENEROUS: Duration = Duration::from_secs(20);

/// The fake cloud: what exists, by id.
#[derive(Default)]
struct Cloud {
    things: Mutex<BTreeMap<String, Thing>>,
    next_id: AtomicU64,
    create_started: Notify,
}

#[derive(Clone, Debug, PartialEq)]
struct Thing {
    name: String,
    description: Option<String>,
    /// Set through the write-only `secret_wo`.
    secret: Option<String>,
    revision: i64,
}

impl Cloud {
    fn get(&self, id: &str) -> Option<Thing> {
        self.things.lock().unwrap().get(id).cloned()
    }

    fn ids(&self) -> Vec<String> {
        self.things.lock().unwrap().keys().cloned().collect()
    }
}

struct FakeProvider {
    cloud: Arc<Cloud>,
}

#[derive(Deserialize)]
struct FakeConfig {
    region: Attr<String>,
}

#[async_trait]
impl Provider for FakeProvider {
    type Config = FakeConfig;
    type Data = Arc<Cloud>;

    fn schema(&self) -> Schema {
        Schema::new(Block::new("A fake provider.").attribute(Attribute::optional("region", Type::String)))
    }

    fn validate(&self, config: &FakeConfig, diags: &mut Diagnostics) {
        if config.region.known().is_some_and(|r| r.is_empty()) {
            diags.attribute_error(AttributePath::attr("region"), "Invalid region", "The region must not be empty.");
        }
    }

    async fn configure(&self, _version: &str, config: FakeConfig, diags: &mut Diagnostics) -> Option<Arc<Cloud>> {
        if config.region.known().map(String::as_str) == Some("nowhere") {
            diags.error("Cannot reach the cloud", "There is no region called nowhere.");
            return None;
        }
        Some(self.cloud.clone())
    }

    fn resources(&self) -> Vec<Arc<dyn AnyResource<Arc<Cloud>>>> {
        vec![resource(ThingResource)]
    }

    fn data_sources(&self) -> Vec<Arc<dyn AnyDataSource<Arc<Cloud>>>> {
        Vec::new()
    }
}

#[derive(Serialize, Deserialize, Debug)]
struct ThingState {
    name: Attr<String>,
    description: Attr<String>,
    id: Attr<String>,
    revision: Attr<i64>,
    secret_wo: Attr<String>,
}

impl ThingState {
    fn of(id: &str, thing: &Thing) -> ThingState {
        ThingState {
            name: Attr::Known(thing.name.clone()),
            description: thing.description.clone().into(),
            id: Attr::Known(id.to_string()),
            revision: Attr::Known(thing.revision),
            // Deliberately echoed: the framework must drop it from state.
            secret_wo: thing.secret.clone().into(),
        }
    }
}

struct ThingResource;

#[async_trait]
impl Resource for ThingResource {
    type Data = Arc<Cloud>;
    type State = ThingState;

    fn type_name(&self) -> &'static str {
        THING
    }

    fn schema(&self) -> Schema {
        Schema::new(
            Block::new("A thing in the fake cloud.")
                .attribute(Attribute::required("name", Type::String).requires_replace())
                .attribute(Attribute::optional("description", Type::String))
                .attribute(Attribute::computed("id", Type::String).use_state_for_unknown())
                .attribute(Attribute::computed("revision", Type::Number))
                .attribute(Attribute::optional("secret_wo", Type::String).write_only("pipe it to `fake secret set`")),
        )
    }

    async fn modify_plan(&self, _prior: Option<&ThingState>, planned: &mut ThingState, diags: &mut Diagnostics) {
        if planned.secret_wo.known().is_some_and(|s| s.len() > 8) {
            diags.attribute_error(AttributePath::attr("secret_wo"), "Secret too long", "At most 8 characters.");
        }
    }

    async fn validate(&self, config: &ThingState, diags: &mut Diagnostics) {
        if config.name.known().is_some_and(|name| name.contains(' ')) {
            diags.attribute_error(AttributePath::attr("name"), "Invalid name", "Names cannot contain spaces.");
        }
    }

    async fn create(&self, cloud: &Arc<Cloud>, planned: ThingState, diags: &mut Diagnostics) -> Option<ThingState> {
        let Some(name) = planned.name.into_known() else {
            diags.error("Name unknown at apply", "");
            return None;
        };
        if name == HANGS {
            cloud.create_started.notify_one();
            std::future::pending::<()>().await;
        }
        let id = format!("thing-{}", cloud.next_id.fetch_add(1, Ordering::SeqCst) + 1);
        let thing = Thing {
            name,
            description: planned.description.into_known(),
            secret: planned.secret_wo.into_known(),
            revision: 1,
        };
        cloud.things.lock().unwrap().insert(id.clone(), thing.clone());
        if thing.name.starts_with(FAILS_HALFWAY) {
            diags.error("Tagging failed", format!("{id} was created but could not be tagged."));
        }
        Some(ThingState::of(&id, &thing))
    }

    async fn read(&self, cloud: &Arc<Cloud>, current: ThingState, _diags: &mut Diagnostics) -> Option<ThingState> {
        let id = current.id.into_known()?;
        cloud.get(&id).map(|thing| ThingState::of(&id, &thing))
    }

    async fn update(
        &self,
        cloud: &Arc<Cloud>,
        prior: ThingState,
        planned: ThingState,
        diags: &mut Diagnostics,
    ) -> Option<ThingState> {
        let id = prior.id.into_known()?;
        let mut things = cloud.things.lock().unwrap();
        let Some(thing) = things.get_mut(&id) else {
            diags.error("Thing vanished", format!("{id} no longer exists."));
            return None;
        };
        if planned.description.known().map(String::as_str) == Some(REJECTED) {
            diags.error("Description rejected", "The fake cloud refuses this description; nothing was changed.");
            return None;
        }
        thing.description = planned.description.into_known();
        thing.revision += 1;
        if thing.description.as_deref() == Some(STORED_THEN_FAILS) {
            diags.error("Second step failed", "The description was stored; the rest failed.");
            return None;
        }
        Some(ThingState::of(&id, thing))
    }

    async fn delete(&self, cloud: &Arc<Cloud>, prior: ThingState, _diags: &mut Diagnostics) {
        if let Some(id) = prior.id.known() {
            cloud.things.lock().unwrap().remove(id);
        }
    }

    async fn import(&self, cloud: &Arc<Cloud>, id: &str, _diags: &mut Diagnostics) -> Option<ThingState> {
        cloud.get(id).map(|thing| ThingState::of(id, &thing))
    }
}

// ---------------------------------------------------------------------------
// Values as Terraform sends them.

fn opt(text: Option<&str>) -> Value {
    text.map_or(Value::Null, Value::from)
}

/// The configuration: computed attributes are null.
fn config(name: &str, description: Option<&str>) -> Value {
    object([
        ("name", name.into()),
        ("description", opt(description)),
        ("id", Value::Null),
        ("revision", Value::Null),
        ("secret_wo", Value::Null),
    ])
}

/// Terraform's proposed new state: the configuration, with computed
/// attributes the configuration leaves null carried over from `prior`.
fn proposed(prior: &Value, config: &Value) -> Value {
    let mut proposed = config.clone();
    for computed in ["id", "revision"] {
        *proposed.attribute_mut(computed).unwrap() = prior.attribute(computed).cloned().unwrap_or(Value::Null);
    }
    proposed
}

fn errors(diags: &Diagnostics) -> Vec<String> {
    diags.iter().filter(|d| d.severity == Severity::Error).map(|d| d.summary.clone()).collect()
}

fn assert_no_errors(diags: &Diagnostics) {
    assert!(!diags.has_errors(), "unexpected errors: {diags:?}");
}

fn unconfigured() -> (Server<FakeProvider>, Arc<Cloud>) {
    let cloud = Arc::new(Cloud::default());
    (Server::new(FakeProvider { cloud: cloud.clone() }), cloud)
}

async fn configured() -> (Server<FakeProvider>, Arc<Cloud>) {
    let (server, cloud) = unconfigured();
    let diags = server.configure("1.9.0", &object([("region", "eu-north-1".into())])).await;
    assert_no_errors(&diags);
    (server, cloud)
}

/// Plans and applies the creation of a thing; returns its state.
async fn create(server: &Server<FakeProvider>, name: &str, description: Option<&str>) -> Value {
    let config = config(name, description);
    let (change, diags) =
        server.plan_resource_change(THING, &Value::Null, &proposed(&Value::Null, &config), &config).await;
    assert_no_errors(&diags);
    let applied = server.apply_resource_change(THING, &Value::Null, &change.planned, &Value::Null).await;
    assert_no_errors(&applied.diagnostics);
    applied.new_state
}

// ---------------------------------------------------------------------------

#[tokio::test]
async fn validation_reports_errors_at_their_attribute() {
    let (server, _) = unconfigured();

    assert_no_errors(&server.validate_provider_config(&object([("region", "eu-north-1".into())])));
    assert_no_errors(&server.validate_provider_config(&object([("region", Value::Unknown)])));
    let diags = server.validate_provider_config(&object([("region", "".into())]));
    let invalid: Vec<_> = diags.iter().collect();
    assert_eq!(invalid.len(), 1, "{diags:?}");
    assert_eq!(invalid[0].summary, "Invalid region");
    assert_eq!(invalid[0].path, Some(AttributePath::attr("region")));

    assert_no_errors(&server.validate_resource_config(THING, &config("ok", None), true).await);
    // Unknown names are checked once known.
    let unknown_name = object([
        ("name", Value::Unknown),
        ("description", Value::Null),
        ("id", Value::Null),
        ("revision", Value::Null),
    ]);
    assert_no_errors(&server.validate_resource_config(THING, &unknown_name, true).await);
    let diags = server.validate_resource_config(THING, &config("has space", None), true).await;
    assert_eq!(errors(&diags), ["Invalid name"]);
    assert_eq!(diags.iter().next().unwrap().path, Some(AttributePath::attr("name")));

    let diags = server.validate_resource_config("fake_nothing", &config("ok", None), true).await;
    assert_eq!(errors(&diags), ["Unknown resource type"]);
}

#[tokio::test]
async fn configure_failures_leave_the_provider_unconfigured() {
    let (server, cloud) = unconfigured();

    let diags = server.configure("1.9.0", &object([("region", "".into())])).await;
    assert_eq!(errors(&diags), ["Invalid region"], "configure validates first");
    let diags = server.configure("1.9.0", &object([("region", "nowhere".into())])).await;
    assert_eq!(errors(&diags), ["Cannot reach the cloud"]);

    let config = config("x", None);
    let planned = proposed(&Value::Null, &config);
    let applied = server.apply_resource_change(THING, &Value::Null, &planned, &Value::Null).await;
    assert_eq!(errors(&applied.diagnostics), ["Provider not configured"]);
    assert!(cloud.ids().is_empty());
}

#[tokio::test]
async fn apply_before_configure_is_an_error_not_a_panic() {
    let (server, cloud) = unconfigured();
    let config = config("early", None);
    let (change, diags) =
        server.plan_resource_change(THING, &Value::Null, &proposed(&Value::Null, &config), &config).await;
    assert_no_errors(&diags);

    let applied = server.apply_resource_change(THING, &Value::Null, &change.planned, &Value::Null).await;
    assert_eq!(errors(&applied.diagnostics), ["Provider not configured"]);
    assert_eq!(applied.new_state, Value::Null, "nothing was created");
    assert!(cloud.ids().is_empty());

    let (state, diags) = server.read_resource(THING, &change.planned).await;
    assert_eq!(errors(&diags), ["Provider not configured"]);
    assert_eq!(state, change.planned, "a failed read keeps the state");
    let (imported, diags) = server.import_resource_state(THING, "thing-1").await;
    assert_eq!(errors(&diags), ["Provider not configured"]);
    assert!(imported.is_empty());
}

#[tokio::test]
async fn create_plans_computed_attributes_unknown_and_applies_them_known() {
    let (server, cloud) = configured().await;
    let config = config("books", Some("the books service"));

    let (change, diags) =
        server.plan_resource_change(THING, &Value::Null, &proposed(&Value::Null, &config), &config).await;
    assert_no_errors(&diags);
    assert!(change.requires_replace.is_empty());
    assert_eq!(
        change.planned,
        object([
            ("name", "books".into()),
            ("description", "the books service".into()),
            ("id", Value::Unknown),
            ("revision", Value::Unknown),
            ("secret_wo", Value::Null),
        ])
    );

    let applied = server.apply_resource_change(THING, &Value::Null, &change.planned, &Value::Null).await;
    assert_no_errors(&applied.diagnostics);
    assert!(applied.new_state.is_wholly_known(), "{:?}", applied.new_state);
    let id = applied.new_state.attribute("id").and_then(Value::as_str).expect("a string id").to_string();
    assert_eq!(
        applied.new_state,
        object([
            ("name", "books".into()),
            ("description", "the books service".into()),
            ("id", id.as_str().into()),
            ("revision", 1.into()),
            ("secret_wo", Value::Null),
        ])
    );
    assert_eq!(
        cloud.get(&id),
        Some(Thing { name: "books".into(), description: Some("the books service".into()), secret: None, revision: 1 })
    );
}

#[tokio::test]
async fn read_refreshes_from_the_cloud() {
    let (server, cloud) = configured().await;
    let state = create(&server, "books", None).await;
    let id = state.attribute("id").and_then(Value::as_str).unwrap().to_string();

    let (read, diags) = server.read_resource(THING, &state).await;
    assert_no_errors(&diags);
    assert_eq!(read, state);

    // Changed outside Terraform: the read shows it.
    cloud.things.lock().unwrap().get_mut(&id).unwrap().description = Some("edited by hand".into());
    let (read, diags) = server.read_resource(THING, &state).await;
    assert_no_errors(&diags);
    assert_eq!(read.attribute("description"), Some(&Value::from("edited by hand")));
}

#[tokio::test]
async fn read_of_a_vanished_object_is_null() {
    let (server, cloud) = configured().await;
    let state = create(&server, "books", None).await;
    cloud.things.lock().unwrap().clear();

    let (read, diags) = server.read_resource(THING, &state).await;
    assert!(diags.is_empty(), "{diags:?}");
    assert_eq!(read, Value::Null);
}

#[tokio::test]
async fn an_unchanged_configuration_plans_the_prior_state() {
    let (server, _) = configured().await;
    let prior = create(&server, "books", Some("d")).await;
    let config = config("books", Some("d"));

    let (change, diags) = server.plan_resource_change(THING, &prior, &proposed(&prior, &config), &config).await;
    assert_no_errors(&diags);
    assert_eq!(change.planned, prior);
    assert!(change.requires_replace.is_empty(), "{:?}", change.requires_replace);
}

#[tokio::test]
async fn update_keeps_the_id_and_recomputes_the_revision() {
    let (server, cloud) = configured().await;
    let prior = create(&server, "books", Some("old")).await;
    let id = prior.attribute("id").cloned().unwrap();
    let config = config("books", Some("new"));

    let (change, diags) = server.plan_resource_change(THING, &prior, &proposed(&prior, &config), &config).await;
    assert_no_errors(&diags);
    assert!(change.requires_replace.is_empty(), "{:?}", change.requires_replace);
    assert_eq!(
        change.planned,
        object([
            ("name", "books".into()),
            ("description", "new".into()),
            ("id", id.clone()),
            ("revision", Value::Unknown),
            ("secret_wo", Value::Null),
        ])
    );

    let applied = server.apply_resource_change(THING, &prior, &change.planned, &Value::Null).await;
    assert_no_errors(&applied.diagnostics);
    assert_eq!(
        applied.new_state,
        object([
            ("name", "books".into()),
            ("description", "new".into()),
            ("id", id.clone()),
            ("revision", 2.into()),
            ("secret_wo", Value::Null)
        ])
    );
    assert_eq!(cloud.get(id.as_str().unwrap()).unwrap().description.as_deref(), Some("new"));
}

#[tokio::test]
async fn a_failed_update_keeps_the_prior_state() {
    let (server, cloud) = configured().await;
    let prior = create(&server, "books", Some("old")).await;
    let config = config("books", Some(REJECTED));
    let (change, diags) = server.plan_resource_change(THING, &prior, &proposed(&prior, &config), &config).await;
    assert_no_errors(&diags);

    let applied = server.apply_resource_change(THING, &prior, &change.planned, &Value::Null).await;
    assert_eq!(errors(&applied.diagnostics), ["Description rejected"]);
    assert_eq!(applied.new_state, prior, "the object still exists as it was");
    let id = prior.attribute("id").unwrap().as_str().unwrap();
    assert_eq!(cloud.get(id).unwrap().description.as_deref(), Some("old"));
}

#[tokio::test]
async fn an_update_failing_half_way_records_what_a_read_finds() {
    let (server, cloud) = configured().await;
    let prior = create(&server, "books", Some("old")).await;
    let config = config("books", Some(STORED_THEN_FAILS));
    let (change, diags) = server.plan_resource_change(THING, &prior, &proposed(&prior, &config), &config).await;
    assert_no_errors(&diags);

    let applied = server.apply_resource_change(THING, &prior, &change.planned, &Value::Null).await;
    assert_eq!(errors(&applied.diagnostics), ["Second step failed"]);
    let id = prior.attribute("id").unwrap().as_str().unwrap();
    assert_eq!(cloud.get(id).unwrap().revision, 2);
    assert_eq!(
        applied.new_state.attribute("description"),
        Some(&Value::String(STORED_THEN_FAILS.into())),
        "what was stored"
    );
    assert_eq!(applied.new_state.attribute("revision"), Some(&Value::Number(2.into())), "{:?}", applied.new_state);
}

#[tokio::test]
async fn renaming_requires_replacement() {
    let (server, _) = configured().await;
    let prior = create(&server, "books", Some("d")).await;
    let config = config("bookshelf", Some("d"));

    let (change, diags) = server.plan_resource_change(THING, &prior, &proposed(&prior, &config), &config).await;
    assert_no_errors(&diags);
    assert_eq!(change.requires_replace, [AttributePath::attr("name")]);
    assert_eq!(change.planned.attribute("name"), Some(&Value::from("bookshelf")));

    // A description change alone does not.
    let config = config_with_description(&prior, "other");
    let (change, _) = server.plan_resource_change(THING, &prior, &proposed(&prior, &config), &config).await;
    assert!(change.requires_replace.is_empty(), "{:?}", change.requires_replace);
}

fn config_with_description(prior: &Value, description: &str) -> Value {
    config(prior.attribute("name").and_then(Value::as_str).unwrap(), Some(description))
}

#[tokio::test]
async fn destroy_plans_and_applies_null_and_removes_the_object() {
    let (server, cloud) = configured().await;
    let prior = create(&server, "books", None).await;
    assert_eq!(cloud.ids().len(), 1);

    let (change, diags) = server.plan_resource_change(THING, &prior, &Value::Null, &Value::Null).await;
    assert_no_errors(&diags);
    assert_eq!(change.planned, Value::Null);

    let applied = server.apply_resource_change(THING, &prior, &Value::Null, &Value::Null).await;
    assert!(applied.diagnostics.is_empty(), "{:?}", applied.diagnostics);
    assert_eq!(applied.new_state, Value::Null);
    assert!(cloud.ids().is_empty(), "the object is gone");
}

#[tokio::test]
async fn import_by_id() {
    let (server, _) = configured().await;
    let created = create(&server, "books", Some("d")).await;
    let id = created.attribute("id").and_then(Value::as_str).unwrap().to_string();

    let (imported, diags) = server.import_resource_state(THING, &id).await;
    assert_no_errors(&diags);
    assert_eq!(imported.len(), 1);
    assert_eq!(imported[0].type_name, THING);
    assert_eq!(imported[0].state, created);

    let (imported, diags) = server.import_resource_state(THING, "thing-404").await;
    assert!(imported.is_empty());
    assert_eq!(errors(&diags), ["Cannot import non-existent remote object"]);
}

#[tokio::test]
async fn a_create_that_fails_halfway_keeps_what_it_created() {
    let (server, cloud) = configured().await;
    let name = format!("{FAILS_HALFWAY}books");
    let config = config(&name, None);
    let (change, _) = server.plan_resource_change(THING, &Value::Null, &proposed(&Value::Null, &config), &config).await;

    let applied = server.apply_resource_change(THING, &Value::Null, &change.planned, &Value::Null).await;
    assert_eq!(errors(&applied.diagnostics), ["Tagging failed"]);
    let ids = cloud.ids();
    assert_eq!(ids.len(), 1, "the object was created");
    assert_eq!(
        applied.new_state,
        object([
            ("name", name.as_str().into()),
            ("description", Value::Null),
            ("id", ids[0].as_str().into()),
            ("revision", 1.into()),
            ("secret_wo", Value::Null),
        ]),
        "the state of what was created is returned, so Terraform records (and taints) it"
    );
}

#[tokio::test]
async fn stop_interrupts_an_operation_in_flight() {
    let (server, cloud) = configured().await;
    let hanging = config(HANGS, None);
    let (change, _) =
        server.plan_resource_change(THING, &Value::Null, &proposed(&Value::Null, &hanging), &hanging).await;

    let interrupted = async {
        let (applied, ()) =
            tokio::join!(server.apply_resource_change(THING, &Value::Null, &change.planned, &hanging), async {
                cloud.create_started.notified().await;
                server.stop();
            });
        applied
    };
    let applied = tokio::time::timeout(GENEROUS, interrupted).await.expect("Stop interrupted the create");
    assert_eq!(errors(&applied.diagnostics), ["Operation cancelled"]);
    assert_eq!(applied.new_state, Value::Null);
    assert!(cloud.ids().is_empty());

    // And refuses what comes after.
    let created = config("after", None);
    let applied =
        server.apply_resource_change(THING, &Value::Null, &proposed(&Value::Null, &created), &Value::Null).await;
    assert_eq!(errors(&applied.diagnostics), ["Operation cancelled"]);
    assert!(cloud.ids().is_empty());
}

#[tokio::test]
async fn write_only_values_reach_apply_but_never_plan_or_state() {
    let (server, cloud) = configured().await;
    let mut config = config("keeper", None);
    *config.attribute_mut("secret_wo").unwrap() = "hunter2".into();

    // A Terraform without write-only support would store it: refused, with the alternative.
    let diags = server.validate_resource_config(THING, &config, false).await;
    let refused: Vec<_> = diags.iter().collect();
    assert_eq!(refused.len(), 1, "{diags:?}");
    assert_eq!(refused[0].path, Some(AttributePath::attr("secret_wo")));
    assert!(refused[0].detail.contains("fake secret set") && !refused[0].detail.contains("hunter2"));
    assert_no_errors(&server.validate_resource_config(THING, &config, true).await);
    assert_no_errors(&server.validate_resource_config(THING, &self::config("keeper", None), false).await);

    let (change, diags) =
        server.plan_resource_change(THING, &Value::Null, &proposed(&Value::Null, &config), &config).await;
    assert_no_errors(&diags);
    assert_eq!(change.planned.attribute("secret_wo"), Some(&Value::Null));

    let applied = server.apply_resource_change(THING, &Value::Null, &change.planned, &config).await;
    assert_no_errors(&applied.diagnostics);
    assert_eq!(applied.new_state.attribute("secret_wo"), Some(&Value::Null));
    let id = cloud.ids().pop().unwrap();
    assert_eq!(cloud.get(&id).unwrap().secret.as_deref(), Some("hunter2"));
    let (read, _) = server.read_resource(THING, &applied.new_state).await;
    assert_eq!(read.attribute("secret_wo"), Some(&Value::Null));

    // Plan-time checks of the resource see the value.
    *config.attribute_mut("secret_wo").unwrap() = "much-too-long".into();
    let (_, diags) = server.plan_resource_change(THING, &Value::Null, &proposed(&Value::Null, &config), &config).await;
    assert_eq!(errors(&diags), ["Secret too long"]);
}
