//! The run's timeline as a small hand-written SVG: per database host a lane for its server
//! (writable / read-only / down), a lane for the writer VIP and its agent's epoch changes; per
//! monitor a lane marking when it leads (with the term); a lane of faults; the acknowledged
//! inserts coloured by the server that took them; and a red mark at every violation.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use anyhow::Result;

use crate::expect::Judged;
use crate::history::{History, Micros, Obs, Phase, Workload};

const WIDTH: f64 = 1600.0;
const LEFT: f64 = 150.0;
const RIGHT: f64 = 20.0;
const LANE: f64 = 18.0;
const GAP: f64 = 6.0;
/// Colours per host index (writes and VIP bars).
const HOST_COLOURS: &[&str] = &["#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b"];

struct Canvas {
    s: String,
    end: Micros,
    y: f64,
}

impl Canvas {
    fn x(&self, t: Micros) -> f64 {
        LEFT + (WIDTH - LEFT - RIGHT) * (t as f64) / (self.end.max(1) as f64)
    }

    fn label(&mut self, text: &str) {
        let _ = writeln!(
            self.s,
            r#"<text x="{:.1}" y="{:.1}" font-size="12" text-anchor="end">{}</text>"#,
            LEFT - 6.0,
            self.y + LANE - 5.0,
            escape(text)
        );
    }

    fn bar(&mut self, from: Micros, to: Micros, colour: &str, title: &str) {
        let (x0, x1) = (self.x(from), self.x(to));
        let _ = writeln!(
            self.s,
            r#"<rect x="{x0:.1}" y="{:.1}" width="{:.1}" height="{LANE:.1}" fill="{colour}"><title>{}</title></rect>"#,
            self.y,
            (x1 - x0).max(0.8),
            escape(title)
        );
    }

    fn text(&mut self, t: Micros, text: &str, colour: &str) {
        let _ = writeln!(
            self.s,
            r#"<text x="{:.1}" y="{:.1}" font-size="10" fill="{colour}">{}</text>"#,
            self.x(t) + 1.0,
            self.y + LANE - 5.0,
            escape(text)
        );
    }

    fn next(&mut self) {
        self.y += LANE + GAP;
    }
}

/// Renders the timeline.
pub fn render(h: &History, judged: &[Judged]) -> Result<String> {
    let meta = h.meta()?;
    let mut c = Canvas {
        s: String::new(),
        end: h.end(),
        y: 30.0,
    };
    let colour_of: BTreeMap<&str, &str> = meta
        .hosts
        .iter()
        .enumerate()
        .map(|(i, host)| (host.name.as_str(), HOST_COLOURS[i % HOST_COLOURS.len()]))
        .collect();
    faults_lane(&mut c, h);
    for host in &meta.hosts {
        server_lane(&mut c, h, &host.name);
        vip_lane(
            &mut c,
            h,
            &host.name,
            &meta.writer_vip,
            colour_of[host.name.as_str()],
        );
    }
    for m in &meta.monitors {
        monitor_lane(&mut c, h, m);
    }
    writes_lane(&mut c, h, meta, &colour_of);
    let top = 30.0;
    let bottom = c.y;
    violations(&mut c, judged, top, bottom);
    axis(&mut c, bottom);
    let height = c.y + 30.0;
    let legend = "green: read_only=0 · grey: read_only=1 · black: mysqld no answer · coloured: writer VIP held (epoch changes marked e…) · purple: leader (term) · red lines: violations · acked writes: inserts above, direct probes below, coloured by server";
    Ok(format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{WIDTH}\" height=\"{height:.0}\" font-family=\"sans-serif\">\n\
         <rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n\
         <text x=\"{LEFT}\" y=\"18\" font-size=\"12\">{}</text>\n{}</svg>\n",
        escape(legend),
        c.s
    ))
}

/// Runs of equal values over time from (start, end, value) samples: (from, to, value).
fn runs<T: PartialEq + Clone>(points: &[(Micros, Micros, T)]) -> Vec<(Micros, Micros, T)> {
    let mut out: Vec<(Micros, Micros, T)> = Vec::new();
    for (s, e, v) in points {
        match out.last_mut() {
            Some((_, to, last)) if last == v => *to = *e,
            _ => out.push((*s, *e, v.clone())),
        }
    }
    out
}

fn faults_lane(c: &mut Canvas, h: &History) {
    c.label("faults");
    let mut open: BTreeMap<usize, (Micros, &str)> = BTreeMap::new();
    for f in &h.faults {
        match f.phase {
            Phase::Start => {
                open.insert(f.step, (f.at, f.nemesis.as_str()));
            }
            Phase::Heal => {
                if let Some((from, name)) = open.remove(&f.step) {
                    c.bar(from, f.at, "#d62728", &format!("{name}: {}", f.detail));
                    c.text(from, name, "#000");
                }
            }
        }
    }
    let end = c.end;
    for (_, (from, name)) in open {
        c.bar(from, end, "#d62728", name);
    }
    c.next();
}

fn server_lane(c: &mut Canvas, h: &History, host: &str) {
    c.label(&format!("{host} server"));
    let points: Vec<(Micros, Micros, &str)> = h
        .samples
        .iter()
        .filter(|s| s.host == host)
        .filter_map(|s| match &s.obs {
            Obs::Server {
                read_only: false, ..
            } => Some((s.start, s.end, "#2ca02c")),
            Obs::Server {
                read_only: true, ..
            } => Some((s.start, s.end, "#cccccc")),
            Obs::Down { what, .. } if what == "server" => Some((s.start, s.end, "#222222")),
            _ => None,
        })
        .collect();
    for (from, to, colour) in runs(&points) {
        c.bar(from, to, colour, &format!("{host} {colour}"));
    }
    c.next();
}

fn vip_lane(c: &mut Canvas, h: &History, host: &str, writer_vip: &str, colour: &str) {
    c.label(&format!("{host} writer VIP"));
    let points: Vec<(Micros, Micros, bool)> = h
        .samples
        .iter()
        .filter(|s| s.host == host)
        .filter_map(|s| match &s.obs {
            Obs::Vips { ips } => Some((s.start, s.end, ips.iter().any(|i| i == writer_vip))),
            _ => None,
        })
        .collect();
    for (from, to, held) in runs(&points) {
        if held {
            c.bar(from, to, colour, &format!("{host} holds {writer_vip}"));
        }
    }
    let epochs: Vec<(Micros, Micros, u64)> = h
        .samples
        .iter()
        .filter(|s| s.host == host)
        .filter_map(|s| match s.obs {
            Obs::Agent { epoch, .. } => Some((s.start, s.end, epoch)),
            _ => None,
        })
        .collect();
    for (from, _, epoch) in runs(&epochs) {
        c.text(from, &format!("e{epoch}"), "#000");
    }
    c.next();
}

fn monitor_lane(c: &mut Canvas, h: &History, name: &str) {
    c.label(&format!("{name} leads"));
    let points: Vec<(Micros, Micros, Option<u64>)> = h
        .samples
        .iter()
        .filter(|s| s.host == name)
        .filter_map(|s| match s.obs {
            Obs::Monitor {
                this_id,
                leader_id,
                term,
                ..
            } => Some((s.start, s.end, (this_id == leader_id).then_some(term))),
            Obs::Down { .. } => Some((s.start, s.end, None)),
            _ => None,
        })
        .collect();
    for (from, to, term) in runs(&points) {
        if let Some(term) = term {
            c.bar(
                from,
                to,
                "#9467bd",
                &format!("{name} leader in term {term}"),
            );
            c.text(from, &format!("t{term}"), "#fff");
        }
    }
    c.next();
}

fn writes_lane(
    c: &mut Canvas,
    h: &History,
    meta: &crate::history::Meta,
    colour_of: &BTreeMap<&str, &str>,
) {
    c.label("acked writes");
    // One mark per pixel column, host and half (inserts above, direct probes below), so a long
    // run stays a small file.
    let mut marks: std::collections::BTreeSet<(i64, &str, bool)> =
        std::collections::BTreeSet::new();
    for op in h
        .ops
        .iter()
        .filter(|o| o.acked_write() && o.workload != Workload::Register)
    {
        let host = op.server_id.and_then(|id| meta.host_of(id)).unwrap_or("?");
        marks.insert((
            c.x(op.end).round() as i64,
            host,
            op.workload == Workload::Probe,
        ));
    }
    for (x, host, probe) in marks {
        let colour = colour_of.get(host).copied().unwrap_or("#000");
        let dy = if probe { LANE / 2.0 } else { 0.0 };
        let _ = writeln!(
            c.s,
            r#"<line x1="{x}" x2="{x}" y1="{:.1}" y2="{:.1}" stroke="{colour}" stroke-width="1"/>"#,
            c.y + dy,
            c.y + dy + LANE / 2.0
        );
    }
    c.next();
}

fn violations(c: &mut Canvas, judged: &[Judged], top: f64, bottom: f64) {
    for j in judged {
        for v in &j.verdict.violations {
            let x = c.x(v.at);
            let _ = writeln!(
                c.s,
                r#"<line x1="{x:.1}" x2="{x:.1}" y1="{top:.1}" y2="{bottom:.1}" stroke="red" stroke-width="1.5" stroke-dasharray="4,2"><title>{}: {}</title></line>"#,
                j.verdict.checker,
                escape(&v.summary)
            );
        }
    }
}

fn axis(c: &mut Canvas, y: f64) {
    let secs = c.end / 1_000_000;
    let step = (secs / 20).max(1);
    for s in (0..=secs).step_by(usize::try_from(step).unwrap_or(1)) {
        let x = c.x(s * 1_000_000);
        let _ = writeln!(
            c.s,
            r##"<line x1="{x:.1}" x2="{x:.1}" y1="{y:.1}" y2="{:.1}" stroke="#000"/><text x="{x:.1}" y="{:.1}" font-size="10" text-anchor="middle">{s}s</text>"##,
            y + 4.0,
            y + 15.0
        );
    }
    c.y = y + 20.0;
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}
