//! The target of every benchmark, in one place: printed beside its figures
//! (« cible … ») and carried by its JSON object under `"target"`, so that a
//! script reading `bench --json` never has to know the targets itself.

use serde_json::{Map, Value};

/// Every benchmark `maillage bench` runs, in the order it runs them.
pub const BENCHMARKS: &[&str] = &[
    "propagation",
    "catchup",
    "reconnect",
    "outage",
    "start",
    "writes",
    "report",
    "web",
];

/// Which way a bound goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Way {
    AtMost,
    AtLeast,
}

/// One bound of a target: the field `figure` of the benchmark's JSON (at its
/// top, or in each of its rows for `start` and `outage`) must stay at most,
/// or at least, `value`.
#[derive(Debug, Clone, Copy)]
pub struct Bound {
    pub figure: &'static str,
    pub way: Way,
    pub value: f64,
    /// The unit people read after the value.
    pub unit: &'static str,
    /// What people read before the sign, if the line holds several figures.
    pub label: &'static str,
}

impl Bound {
    const fn at_most(figure: &'static str, value: f64, unit: &'static str) -> Bound {
        Bound {
            figure,
            way: Way::AtMost,
            value,
            unit,
            label: "",
        }
    }

    const fn at_least(figure: &'static str, value: f64, unit: &'static str) -> Bound {
        Bound {
            figure,
            way: Way::AtLeast,
            value,
            unit,
            label: "",
        }
    }

    const fn labelled(self, label: &'static str) -> Bound {
        Bound { label, ..self }
    }

    /// The key in the JSON `"target"` object: `p50_ms_max`, `sequential_per_s_min`.
    pub fn key(&self) -> String {
        match self.way {
            Way::AtMost => format!("{}_max", self.figure),
            Way::AtLeast => format!("{}_min", self.figure),
        }
    }

    /// For people: « p50 ≤ 20 ms », « ≥ 500/s ».
    pub fn shown(&self) -> String {
        let sign = match self.way {
            Way::AtMost => "≤",
            Way::AtLeast => "≥",
        };
        let label = if self.label.is_empty() {
            String::new()
        } else {
            format!("{} ", self.label)
        };
        let sep = if self.unit.is_empty() || self.unit.starts_with('/') {
            ""
        } else {
            " "
        };
        format!("{label}{sign} {}{sep}{}", number(self.value), self.unit)
    }

    /// Whether `measured` meets the bound.
    pub fn met(&self, measured: f64) -> bool {
        match self.way {
            Way::AtMost => measured <= self.value,
            Way::AtLeast => measured >= self.value,
        }
    }
}

/// A number as people read it here: no decimals when it has none, thousands
/// separated by a space (239 000).
fn number(v: f64) -> String {
    if v.fract() != 0.0 {
        return format!("{v}").replace('.', ",");
    }
    let digits = format!("{}", v.abs() as u64);
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(' ');
        }
        out.push(c);
    }
    if v < 0.0 {
        out.insert(0, '-');
    }
    out
}

pub const PROPAGATION_P50: Bound = Bound::at_most("p50_ms", 20.0, "ms").labelled("p50");
pub const PROPAGATION_P99: Bound = Bound::at_most("p99_ms", 100.0, "ms").labelled("p99");
pub const CATCHUP_RATIO: Bound = Bound::at_most("ratio", 2.0, "");
/// automerge-repo's bytes on the same workload.
pub const CATCHUP_SOCKET: Bound = Bound::at_most("socket_bytes", 239_000.0, "octets");
pub const RECONNECT_PER_DOC: Bound =
    Bound::at_most("socket_bytes_per_document", 48.0, "octets par document");
pub const OUTAGE_CONVERGED: Bound = Bound::at_most("converged_after_s", 2.0, "s");
pub const START_FIRST: Bound = Bound::at_most("first_ms", 1000.0, "ms").labelled("premier");
pub const START_RESTART: Bound = Bound::at_most("restart_ms", 1000.0, "ms").labelled("redémarrage");
pub const WRITES_SEQUENTIAL: Bound =
    Bound::at_least("sequential_per_s", 500.0, "/s").labelled("une à une");
pub const WRITES_PIPELINED: Bound =
    Bound::at_least("pipelined_16_per_s", 500.0, "/s").labelled("16 en vol");
/// The slowest median of the full report's breakdowns.
pub const REPORT_WORST: Bound = Bound::at_most("worst_median_ms", 200.0, "ms");
/// The slowest median of the web pages.
pub const WEB_WORST: Bound = Bound::at_most("worst_median_ms", 100.0, "ms");

/// The bounds of benchmark `bench` (none for an unknown name).
pub fn bounds(bench: &str) -> &'static [Bound] {
    match bench {
        "propagation" => &[PROPAGATION_P50, PROPAGATION_P99],
        "catchup" => &[CATCHUP_RATIO, CATCHUP_SOCKET],
        "reconnect" => &[RECONNECT_PER_DOC],
        "outage" => &[OUTAGE_CONVERGED],
        "start" => &[START_FIRST, START_RESTART],
        "writes" => &[WRITES_SEQUENTIAL, WRITES_PIPELINED],
        "report" => &[REPORT_WORST],
        "web" => &[WEB_WORST],
        _ => &[],
    }
}

/// The JSON `"target"` object of `bounds`: `{"p50_ms_max": 20.0, …}`.
pub fn target(bounds: &[Bound]) -> Value {
    let mut m = Map::new();
    for b in bounds {
        m.insert(b.key(), b.value.into());
    }
    Value::Object(m)
}

/// For people, beside the figures: « cible p50 ≤ 20 ms, p99 ≤ 100 ms ».
pub fn cible(bounds: &[Bound]) -> String {
    let shown: Vec<String> = bounds.iter().map(Bound::shown).collect();
    format!("cible {}", shown.join(", "))
}

/// [`cible`] followed by whether `measured` (one figure per bound) meets it.
pub fn cible_verdict(bounds: &[Bound], measured: &[f64]) -> String {
    let met = bounds.iter().zip(measured).all(|(b, &m)| b.met(m));
    format!(
        "{} : {}",
        cible(bounds),
        if met { "atteinte" } else { "non atteinte" }
    )
}

/// `result` with its benchmark's target added under `"target"` (a field of
/// that name already there is kept: it is the benchmark's own, finer).
pub fn with_target(bench: &str, mut result: Value) -> Value {
    if let Value::Object(m) = &mut result {
        m.entry("target").or_insert_with(|| target(bounds(bench)));
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn every_benchmark_result_carries_its_target() {
        for bench in BENCHMARKS {
            let v = with_target(bench, json!({"figure": 1.0}));
            let target = v["target"]
                .as_object()
                .unwrap_or_else(|| panic!("{bench} : pas d'objet target"));
            assert!(!target.is_empty(), "{bench} : cible vide");
            for b in bounds(bench) {
                assert_eq!(target[&b.key()].as_f64(), Some(b.value), "{bench}");
                assert!(b.key().ends_with("_max") || b.key().ends_with("_min"));
            }
            // The figures measured stay as they were.
            assert_eq!(v["figure"], 1.0);
            assert!(cible(bounds(bench)).starts_with("cible "));
        }
    }

    #[test]
    fn targets_read_as_people_write_them() {
        assert_eq!(
            cible(bounds("propagation")),
            "cible p50 ≤ 20 ms, p99 ≤ 100 ms"
        );
        assert_eq!(CATCHUP_SOCKET.shown(), "≤ 239 000 octets");
        assert_eq!(CATCHUP_RATIO.shown(), "≤ 2");
        assert_eq!(WRITES_SEQUENTIAL.shown(), "une à une ≥ 500/s");
        assert_eq!(
            cible_verdict(bounds("propagation"), &[3.0, 120.0]),
            "cible p50 ≤ 20 ms, p99 ≤ 100 ms : non atteinte"
        );
        assert_eq!(
            cible_verdict(bounds("propagation"), &[3.0, 10.0]),
            "cible p50 ≤ 20 ms, p99 ≤ 100 ms : atteinte"
        );
    }

    #[test]
    fn a_benchmark_s_own_target_is_kept() {
        let v = with_target("propagation", json!({"target": {"x_max": 1.0}}));
        assert_eq!(v["target"], json!({"x_max": 1.0}));
    }
}
