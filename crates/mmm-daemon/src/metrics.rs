//! Building blocks for the `/metrics` endpoints: each daemon builds a fresh Prometheus
//! registry per scrape from a snapshot it already holds, so no metric state is shared with
//! its driver loop and a scrape shows one moment.

use std::sync::atomic::AtomicU64;

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::{Registry, Unit};

/// Label pairs of one series, in the order they are printed.
pub type Labels = Vec<(&'static str, String)>;

/// A labelled gauge family, filled before it is registered.
pub type GaugeFamily = Family<Labels, Gauge>;

/// Registers the integer gauge `name` holding `value`.
pub fn gauge(registry: &mut Registry, name: &str, help: &str, value: i64) {
    let g = Gauge::<i64>::default();
    g.set(value);
    registry.register(name, help, g);
}

/// Registers the gauge `name` (in seconds, so suffixed `_seconds`) holding `value`.
pub fn seconds(registry: &mut Registry, name: &str, help: &str, value: f64) {
    let g = Gauge::<f64, AtomicU64>::default();
    g.set(value);
    registry.register_with_unit(name, help, Unit::Seconds, g);
}

/// The registry in the Prometheus text format.
pub fn text(registry: &Registry) -> Result<String, std::fmt::Error> {
    let mut out = String::new();
    encode(&mut out, registry)?;
    Ok(out)
}
