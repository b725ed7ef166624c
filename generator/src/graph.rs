//! `bokbasen graph`: a service's pipeline as a picture, drawn from the same
//! pure shape function the provider applies (`bokbasen_pipeline::shape`), fed
//! with the service's own `service.yml`. Stages left to right, actions in
//! their run order, the account each acts in, approval gates marked.

use std::fmt::Write as _;

use anyhow::{anyhow, Result};
use bokbasen_pipeline::{ActionKind, PipelineShape, ServiceSpec, Where};

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Mermaid,
    Dot,
    Svg,
}

/// A `service.yml` as the provider's spec; errors name the field and line.
pub fn parse_spec(text: &str) -> Result<ServiceSpec> {
    serde_yaml_ng::from_str(text).map_err(|e| anyhow!("not a service spec: {e}"))
}

/// One action as drawn.
struct Node {
    id: String,
    title: String,
    detail: String,
    account: String,
    gate: bool,
}

struct Column {
    title: String,
    nodes: Vec<Node>,
}

fn columns(spec: &ServiceSpec, shape: &PipelineShape) -> Vec<Column> {
    let account = |runs_in: &Where| match runs_in {
        Where::Pipeline => "pipeline account".to_string(),
        Where::Environment(env) => spec
            .environments
            .iter()
            .find(|e| &e.name == env)
            .map(|e| format!("{env} account {}", e.account_id))
            .unwrap_or_else(|| format!("{env} account")),
    };
    shape
        .stages
        .iter()
        .enumerate()
        .map(|(s, stage)| Column {
            title: stage.name.clone(),
            nodes: stage
                .actions
                .iter()
                .enumerate()
                .map(|(a, action)| Node {
                    id: format!("s{s}a{a}"),
                    title: action.name.clone(),
                    detail: match action.kind {
                        ActionKind::ManualApproval => "manual approval".to_string(),
                        kind => format!("{} {}", kind.category(), kind.provider()),
                    },
                    account: account(&action.runs_in),
                    gate: action.kind == ActionKind::ManualApproval,
                })
                .collect(),
        })
        .collect()
}

/// Each action followed by the next, across stages: a pipeline runs them in this order.
fn edges(columns: &[Column]) -> Vec<(&str, &str)> {
    let order: Vec<&str> = columns.iter().flat_map(|c| c.nodes.iter().map(|n| n.id.as_str())).collect();
    order.windows(2).map(|pair| (pair[0], pair[1])).collect()
}

/// The picture of `spec`'s pipeline in `format`.
pub fn draw(spec: &ServiceSpec, format: Format) -> String {
    let shape = bokbasen_pipeline::shape(spec);
    let columns = columns(spec, &shape);
    let title = format!("{} ({})", spec.name, spec.kind.name());
    match format {
        Format::Mermaid => mermaid(&title, &columns),
        Format::Dot => dot(&title, &columns),
        Format::Svg => svg(&title, &columns),
    }
}

fn mermaid(title: &str, columns: &[Column]) -> String {
    let quote = |s: &str| s.replace('"', "#quot;");
    let mut out = format!("---\ntitle: {}\n---\nflowchart LR\n", quote(title));
    for (i, column) in columns.iter().enumerate() {
        let _ = writeln!(out, "  subgraph stage{i}[\"{}\"]\n    direction TB", quote(&column.title));
        for node in &column.nodes {
            let label = format!(
                "{}<br/><small>{}<br/>{}</small>",
                quote(&node.title),
                quote(&node.detail),
                quote(&node.account)
            );
            // Approval gates are hexagons; everything else a rounded box.
            let (open, close) = if node.gate { ("{{\"", "\"}}") } else { ("(\"", "\")") };
            let _ = writeln!(out, "    {}{open}{label}{close}", node.id);
        }
        out.push_str("  end\n");
    }
    for (from, to) in edges(columns) {
        let _ = writeln!(out, "  {from} --> {to}");
    }
    out
}

fn dot(title: &str, columns: &[Column]) -> String {
    let quote = |s: &str| s.replace('\\', "\\\\").replace('"', "\\\"");
    let mut out = format!(
        "digraph \"{}\" {{\n  label=\"{}\";\n  labelloc=t;\n  rankdir=LR;\n  node [shape=box, style=rounded, fontname=\"Helvetica\"];\n",
        quote(title),
        quote(title)
    );
    for (i, column) in columns.iter().enumerate() {
        let _ = writeln!(out, "  subgraph cluster_{i} {{\n    label=\"{}\";", quote(&column.title));
        for node in &column.nodes {
            let shape = if node.gate { ", shape=hexagon, style=filled, fillcolor=\"#fde2b8\"" } else { "" };
            let _ = writeln!(
                out,
                "    {} [label=\"{}\\n{}\\n{}\"{shape}];",
                node.id,
                quote(&node.title),
                quote(&node.detail),
                quote(&node.account)
            );
        }
        out.push_str("  }\n");
    }
    for (from, to) in edges(columns) {
        let _ = writeln!(out, "  {from} -> {to};");
    }
    out.push_str("}\n");
    out
}

const BOX_WIDTH: usize = 210;
const BOX_HEIGHT: usize = 64;
const GAP: usize = 36;
const MARGIN: usize = 20;
const HEADER: usize = 70;

fn svg(title: &str, columns: &[Column]) -> String {
    let xml = |s: &str| s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;");
    let rows = columns.iter().map(|c| c.nodes.len()).max().unwrap_or(1);
    let width = MARGIN * 2 + columns.len() * (BOX_WIDTH + GAP) - GAP;
    let height = HEADER + rows * (BOX_HEIGHT + GAP) + MARGIN;
    let position = |col: usize, row: usize| (MARGIN + col * (BOX_WIDTH + GAP), HEADER + row * (BOX_HEIGHT + GAP));
    let mut out = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" viewBox=\"0 0 {width} {height}\" font-family=\"Helvetica, Arial, sans-serif\" font-size=\"12\">\n\
         <title>{}</title>\n\
         <defs><marker id=\"arrow\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" markerWidth=\"7\" markerHeight=\"7\" orient=\"auto\"><path d=\"M0,0 L10,5 L0,10 z\" fill=\"#555\"/></marker></defs>\n\
         <rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n\
         <text x=\"{MARGIN}\" y=\"24\" font-size=\"16\" font-weight=\"bold\">{}</text>\n",
        xml(title),
        xml(title)
    );
    let mut centres = std::collections::BTreeMap::new();
    for (c, column) in columns.iter().enumerate() {
        let (x, _) = position(c, 0);
        let _ =
            writeln!(out, "<text x=\"{x}\" y=\"{}\" font-weight=\"bold\">{}</text>", HEADER - 12, xml(&column.title));
        for (r, node) in column.nodes.iter().enumerate() {
            let (x, y) = position(c, r);
            let (fill, dash) = if node.gate { ("#fde2b8", " stroke-dasharray=\"5,3\"") } else { ("#e8f0fb", "") };
            let _ = writeln!(
                out,
                "<g id=\"{}\"><rect x=\"{x}\" y=\"{y}\" width=\"{BOX_WIDTH}\" height=\"{BOX_HEIGHT}\" rx=\"8\" fill=\"{fill}\" stroke=\"#555\"{dash}/>\
                 <text x=\"{}\" y=\"{}\" font-weight=\"bold\">{}</text>\
                 <text x=\"{}\" y=\"{}\">{}</text>\
                 <text x=\"{}\" y=\"{}\" fill=\"#555\">{}</text></g>",
                node.id,
                x + 10,
                y + 20,
                xml(&node.title),
                x + 10,
                y + 38,
                xml(&node.detail),
                x + 10,
                y + 55,
                xml(&node.account)
            );
            centres.insert(node.id.as_str(), (c, r));
        }
    }
    for (from, to) in edges(columns) {
        let ((fc, fr), (tc, tr)) = (centres[from], centres[to]);
        let (fx, fy) = position(fc, fr);
        let (tx, ty) = position(tc, tr);
        let (x1, y1, x2, y2) = if fc == tc {
            (fx + BOX_WIDTH / 2, fy + BOX_HEIGHT, tx + BOX_WIDTH / 2, ty)
        } else {
            (fx + BOX_WIDTH, fy + BOX_HEIGHT / 2, tx, ty + BOX_HEIGHT / 2)
        };
        let _ = writeln!(
            out,
            "<line x1=\"{x1}\" y1=\"{y1}\" x2=\"{x2}\" y2=\"{y2}\" stroke=\"#555\" marker-end=\"url(#arrow)\"/>"
        );
    }
    out.push_str("</svg>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const SPEC: &str = include_str!("../tests/data/service.yml");

    #[test]
    fn every_stage_action_account_and_gate_is_drawn() {
        let spec = parse_spec(SPEC).unwrap();
        let shape = bokbasen_pipeline::shape(&spec);
        for format in [Format::Mermaid, Format::Dot, Format::Svg] {
            let picture = draw(&spec, format);
            for stage in &shape.stages {
                assert!(picture.contains(&stage.name), "{format:?} lacks stage {}", stage.name);
            }
            for env in &spec.environments {
                assert!(picture.contains(&env.account_id), "{format:?} lacks account {}", env.account_id);
            }
            let actions: usize = shape.stages.iter().map(|s| s.actions.len()).sum();
            let approvals = spec.environments.iter().filter(|e| e.approval).count();
            let (arrow, gate) = match format {
                Format::Mermaid => (" --> ", "{{\""),
                Format::Dot => (" -> ", "shape=hexagon"),
                Format::Svg => ("<line ", "stroke-dasharray"),
            };
            assert_eq!(picture.matches(arrow).count(), actions - 1, "{format:?}: one arrow between actions in order");
            assert_eq!(picture.matches(gate).count(), approvals, "{format:?}: one gate per approval");
        }
    }

    #[test]
    fn svg_is_well_formed() {
        let spec = parse_spec(SPEC).unwrap();
        let svg = draw(&spec, Format::Svg);
        let mut reader = quick_xml::Reader::from_str(&svg);
        let mut depth = 0i32;
        loop {
            match reader.read_event().expect("well-formed XML") {
                quick_xml::events::Event::Start(_) => depth += 1,
                quick_xml::events::Event::End(_) => depth -= 1,
                quick_xml::events::Event::Eof => break,
                _ => {}
            }
        }
        assert_eq!(depth, 0);
    }

    #[test]
    fn a_spec_with_a_missing_field_names_it() {
        let err = parse_spec("name: x\nkind: fargate\n").unwrap_err().to_string();
        assert!(err.contains("missing field"), "{err}");
    }
}
