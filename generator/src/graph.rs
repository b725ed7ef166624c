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

const BOX_HEIGHT: usize = 64;
/// The narrowest box: short labels keep the picture's rhythm.
const MIN_BOX_WIDTH: usize = 160;
/// Space between a box's edge and its text.
const PADDING: usize = 10;
const GAP: usize = 36;
const MARGIN: usize = 20;
const HEADER: usize = 70;
const FONT_SIZE: f64 = 12.0;
const TITLE_SIZE: f64 = 16.0;

/// Advance widths of the printable ASCII characters (space to `~`), in
/// 1/2048 em, of DejaVu Sans and DejaVu Sans Bold: the fonts `sans-serif`
/// falls back to on most Linux systems, and wider than Helvetica and Arial,
/// so text measured with them fits whichever of the family draws it.
const SANS: [u16; 95] = [
    651, 821, 942, 1716, 1303, 1946, 1597, 563, 799, 799, 1024, 1716, 651, 739, 651, 690, 1303, 1303, 1303, 1303, 1303,
    1303, 1303, 1303, 1303, 1303, 690, 690, 1716, 1716, 1716, 1087, 2048, 1401, 1405, 1430, 1577, 1294, 1178, 1587,
    1540, 604, 604, 1343, 1141, 1767, 1532, 1612, 1235, 1612, 1423, 1300, 1251, 1499, 1401, 2025, 1403, 1251, 1403,
    799, 690, 799, 1716, 1024, 1024, 1255, 1300, 1126, 1300, 1260, 721, 1300, 1298, 569, 569, 1186, 569, 1995, 1298,
    1253, 1300, 1300, 842, 1067, 803, 1298, 1212, 1675, 1212, 1212, 1075, 1303, 690, 1303, 1716,
];
const SANS_BOLD: [u16; 95] = [
    713, 934, 1067, 1716, 1425, 2052, 1786, 627, 936, 936, 1071, 1716, 778, 850, 778, 748, 1425, 1425, 1425, 1425,
    1425, 1425, 1425, 1425, 1425, 1425, 819, 819, 1716, 1716, 1716, 1188, 2048, 1585, 1561, 1503, 1700, 1399, 1399,
    1681, 1714, 762, 762, 1587, 1305, 2038, 1714, 1741, 1501, 1741, 1577, 1475, 1397, 1663, 1585, 2259, 1579, 1483,
    1485, 936, 748, 936, 1716, 1024, 1024, 1382, 1466, 1214, 1466, 1389, 891, 1466, 1458, 702, 702, 1362, 702, 2134,
    1458, 1407, 1466, 1466, 1010, 1219, 979, 1458, 1335, 1892, 1321, 1335, 1192, 1458, 748, 1458, 1716,
];

/// The width of `text` drawn at `size` pixels; a character outside ASCII
/// counts as the widest there is.
fn text_width(text: &str, size: f64, bold: bool) -> f64 {
    let widths = if bold { &SANS_BOLD } else { &SANS };
    let widest = f64::from(*widths.iter().max().unwrap_or(&2048));
    let units: f64 = text
        .chars()
        .map(|c| (c as usize).checked_sub(32).and_then(|i| widths.get(i)).map_or(widest, |w| f64::from(*w)))
        .sum();
    units / 2048.0 * size
}

/// A column's box width: its widest line (an action's bold name, its
/// detail, its account) or the stage's name above it, with padding.
fn column_width(column: &Column) -> usize {
    let lines = column.nodes.iter().flat_map(|node| {
        [
            text_width(&node.title, FONT_SIZE, true),
            text_width(&node.detail, FONT_SIZE, false),
            text_width(&node.account, FONT_SIZE, false),
        ]
    });
    let widest = lines.chain([text_width(&column.title, FONT_SIZE, true)]).fold(0.0, f64::max);
    (widest.ceil() as usize + 2 * PADDING).max(MIN_BOX_WIDTH)
}

fn svg(title: &str, columns: &[Column]) -> String {
    let xml = |s: &str| s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;");
    let rows = columns.iter().map(|c| c.nodes.len()).max().unwrap_or(1);
    let widths: Vec<usize> = columns.iter().map(column_width).collect();
    let lefts: Vec<usize> = widths.iter().scan(MARGIN, |x, w| Some(std::mem::replace(x, *x + w + GAP))).collect();
    let content = lefts.last().zip(widths.last()).map_or(0, |(x, w)| x + w);
    let width = (content + MARGIN).max(MARGIN * 2 + text_width(title, TITLE_SIZE, true).ceil() as usize);
    let height = HEADER + rows * (BOX_HEIGHT + GAP) + MARGIN;
    let position = |col: usize, row: usize| (lefts[col], HEADER + row * (BOX_HEIGHT + GAP));
    let mut out = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" viewBox=\"0 0 {width} {height}\" font-family=\"Helvetica, Arial, sans-serif\" font-size=\"{FONT_SIZE}\">\n\
         <title>{}</title>\n\
         <defs><marker id=\"arrow\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" markerWidth=\"7\" markerHeight=\"7\" orient=\"auto\"><path d=\"M0,0 L10,5 L0,10 z\" fill=\"#555\"/></marker></defs>\n\
         <rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n\
         <text x=\"{MARGIN}\" y=\"24\" font-size=\"{TITLE_SIZE}\" font-weight=\"bold\">{}</text>\n",
        xml(title),
        xml(title)
    );
    let mut centres = std::collections::BTreeMap::new();
    for (c, column) in columns.iter().enumerate() {
        let (x, _) = position(c, 0);
        let box_width = widths[c];
        let _ =
            writeln!(out, "<text x=\"{x}\" y=\"{}\" font-weight=\"bold\">{}</text>", HEADER - 12, xml(&column.title));
        for (r, node) in column.nodes.iter().enumerate() {
            let (x, y) = position(c, r);
            let (fill, dash) = if node.gate { ("#fde2b8", " stroke-dasharray=\"5,3\"") } else { ("#e8f0fb", "") };
            let _ = writeln!(
                out,
                "<g id=\"{}\"><rect x=\"{x}\" y=\"{y}\" width=\"{box_width}\" height=\"{BOX_HEIGHT}\" rx=\"8\" fill=\"{fill}\" stroke=\"#555\"{dash}/>\
                 <text x=\"{}\" y=\"{}\" font-weight=\"bold\">{}</text>\
                 <text x=\"{}\" y=\"{}\">{}</text>\
                 <text x=\"{}\" y=\"{}\" fill=\"#555\">{}</text></g>",
                node.id,
                x + PADDING,
                y + 20,
                xml(&node.title),
                x + PADDING,
                y + 38,
                xml(&node.detail),
                x + PADDING,
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
            (fx + widths[fc] / 2, fy + BOX_HEIGHT, tx + widths[tc] / 2, ty)
        } else {
            (fx + widths[fc], fy + BOX_HEIGHT / 2, tx, ty + BOX_HEIGHT / 2)
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

    /// DejaVu Sans (Bold), as Debian and most Linux systems install it.
    fn installed_font(bold: bool) -> Option<Vec<u8>> {
        let name = if bold { "DejaVuSans-Bold.ttf" } else { "DejaVuSans.ttf" };
        std::fs::read(format!("/usr/share/fonts/truetype/dejavu/{name}")).ok()
    }

    #[test]
    fn the_width_table_is_the_fonts() {
        for (bold, table) in [(false, &SANS), (true, &SANS_BOLD)] {
            let Some(font) = installed_font(bold) else {
                eprintln!("DejaVu Sans is not installed: the table is not compared");
                continue;
            };
            let face = ttf_parser::Face::parse(&font, 0).unwrap();
            assert_eq!(face.units_per_em(), 2048);
            for (i, width) in table.iter().enumerate() {
                let c = char::from(32 + i as u8);
                let glyph = face.glyph_index(c).unwrap();
                assert_eq!(face.glyph_hor_advance(glyph), Some(*width), "{c:?}, bold {bold}");
            }
        }
    }

    /// A text line of a box: its x, whether it is bold, its text.
    type Line = (f64, bool, String);

    /// Each `<rect>` of an action's box with the `<text>` lines after it:
    /// (rect x, rect width, lines).
    fn boxes(svg: &str) -> Vec<(f64, f64, Vec<Line>)> {
        let mut reader = quick_xml::Reader::from_str(svg);
        let attr = |e: &quick_xml::events::BytesStart, name: &str| {
            e.try_get_attribute(name).unwrap().map(|a| a.unescape_value().unwrap().into_owned())
        };
        let (mut boxes, mut in_group, mut text) = (Vec::new(), false, None);
        loop {
            match reader.read_event().unwrap() {
                quick_xml::events::Event::Start(e) if e.name().as_ref() == b"g" => in_group = true,
                quick_xml::events::Event::End(e) if e.name().as_ref() == b"g" => in_group = false,
                quick_xml::events::Event::Empty(e) if in_group && e.name().as_ref() == b"rect" => {
                    let number = |name| attr(&e, name).unwrap().parse::<f64>().unwrap();
                    boxes.push((number("x"), number("width"), Vec::new()));
                }
                quick_xml::events::Event::Start(e) if in_group && e.name().as_ref() == b"text" => {
                    let x = attr(&e, "x").unwrap().parse::<f64>().unwrap();
                    text = Some((x, attr(&e, "font-weight").as_deref() == Some("bold")));
                }
                quick_xml::events::Event::Text(t) => {
                    if let (Some((x, bold)), Some(last)) = (text.take(), boxes.last_mut()) {
                        last.2.push((x, bold, quick_xml::escape::unescape(&t.decode().unwrap()).unwrap().into_owned()));
                    }
                }
                quick_xml::events::Event::Eof => break,
                _ => {}
            }
        }
        boxes
    }

    #[test]
    fn svg_labels_stay_inside_their_boxes_and_boxes_do_not_overlap() {
        let spec = parse_spec(SPEC).unwrap();
        let svg = draw(&spec, Format::Svg);
        let boxes = boxes(&svg);
        let texts: Vec<&str> = boxes.iter().flat_map(|b| b.2.iter().map(|t| t.2.as_str())).collect();
        // The labels that overflowed 210-pixel boxes.
        for long in ["production account 444444444444", "Source CodeStarSourceConnection"] {
            assert!(texts.contains(&long), "{long} in {texts:?}");
        }
        let fonts = [installed_font(false), installed_font(true)];
        let faces: Vec<Option<ttf_parser::Face>> =
            fonts.iter().map(|f| f.as_deref().map(|f| ttf_parser::Face::parse(f, 0).unwrap())).collect();
        // Measured with the font itself where it is installed, else with the table.
        let measure = |text: &str, bold: bool| match &faces[usize::from(bold)] {
            Some(face) => {
                let units: u32 = text
                    .chars()
                    .map(|c| u32::from(face.glyph_hor_advance(face.glyph_index(c).unwrap()).unwrap()))
                    .sum();
                f64::from(units) / f64::from(face.units_per_em()) * FONT_SIZE
            }
            None => text_width(text, FONT_SIZE, bold),
        };
        for (x, width, lines) in &boxes {
            assert_eq!(lines.len(), 3);
            for (text_x, bold, text) in lines {
                let right = text_x + measure(text, *bold);
                assert!(right <= x + width - 5.0, "{text:?} ends at {right:.1}, its box at {}", x + width);
            }
        }
        let mut columns: Vec<(f64, f64)> = boxes.iter().map(|b| (b.0, b.1)).collect();
        columns.dedup();
        for pair in columns.windows(2) {
            assert!(pair[1].0 >= pair[0].0 + pair[0].1 + GAP as f64, "boxes overlap: {pair:?}");
        }
        let svg_width: f64 = svg.split("width=\"").nth(1).unwrap().split('"').next().unwrap().parse().unwrap();
        let (last_x, last_width) = columns.last().unwrap();
        assert!(last_x + last_width <= svg_width, "the picture holds every box");
    }

    #[test]
    fn a_spec_with_a_missing_field_names_it() {
        let err = parse_spec("name: x\nkind: fargate\n").unwrap_err().to_string();
        assert!(err.contains("missing field"), "{err}");
    }
}
