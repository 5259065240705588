//! Counts and latency samples of a run, merged across threads and printed as one JSON object
//! (the harness's run.py reads it). Percentiles are exact: every sample is kept.

use std::collections::BTreeMap;
use std::time::Duration;

#[derive(Default)]
pub struct Recorder {
    ok: u64,
    errors: BTreeMap<String, u64>,
    status: BTreeMap<u16, u64>,
    bytes_in: u64,
    bytes_out: u64,
    /// Microseconds, whole request (from the scheduled start in rate mode).
    latency: Vec<u64>,
    /// Microseconds to the first response byte.
    ttfb: Vec<u64>,
}

impl Recorder {
    pub fn record(
        &mut self,
        status: u16,
        ok: bool,
        bytes_in: u64,
        bytes_out: u64,
        latency: Duration,
        ttfb: Duration,
    ) {
        *self.status.entry(status).or_default() += 1;
        if ok {
            self.ok += 1;
        } else {
            self.error("unexpected status or length");
        }
        self.bytes_in += bytes_in;
        self.bytes_out += bytes_out;
        self.latency.push(latency.as_micros() as u64);
        self.ttfb.push(ttfb.as_micros() as u64);
    }

    pub fn error(&mut self, why: &str) {
        *self.errors.entry(why.to_string()).or_default() += 1;
    }

    pub fn ok_count(&self) -> u64 {
        self.ok
    }

    pub fn merge(&mut self, o: Recorder) {
        self.ok += o.ok;
        for (k, v) in o.errors {
            *self.errors.entry(k).or_default() += v;
        }
        for (k, v) in o.status {
            *self.status.entry(k).or_default() += v;
        }
        self.bytes_in += o.bytes_in;
        self.bytes_out += o.bytes_out;
        self.latency.extend(o.latency);
        self.ttfb.extend(o.ttfb);
    }

    pub fn json(&mut self, secs: f64) -> String {
        let map = |m: &BTreeMap<String, u64>| {
            m.iter()
                .map(|(k, v)| format!("\"{k}\":{v}"))
                .collect::<Vec<_>>()
                .join(",")
        };
        let status = self
            .status
            .iter()
            .map(|(k, v)| format!("\"{k}\":{v}"))
            .collect::<Vec<_>>()
            .join(",");
        let n = self.latency.len() as f64;
        format!(
            "{{\"requests\":{},\"ok\":{},\"errors\":{{{}}},\"status\":{{{}}},\"secs\":{:.4},\"rps\":{:.2},\
             \"bytes_in\":{},\"bytes_out\":{},\"mib_s\":{:.2},\"latency_ms\":{},\"ttfb_ms\":{}}}",
            self.latency.len(),
            self.ok,
            map(&self.errors),
            status,
            secs,
            n / secs,
            self.bytes_in,
            self.bytes_out,
            (self.bytes_in + self.bytes_out) as f64 / secs / (1 << 20) as f64,
            percentiles(&mut self.latency),
            percentiles(&mut self.ttfb),
        )
    }
}

fn percentiles(v: &mut [u64]) -> String {
    v.sort_unstable();
    let at = |q: f64| -> f64 {
        if v.is_empty() {
            return 0.0;
        }
        let i = ((q * v.len() as f64).ceil() as usize).clamp(1, v.len()) - 1;
        v[i] as f64 / 1000.0
    };
    format!(
        "{{\"p50\":{:.3},\"p99\":{:.3},\"p999\":{:.3},\"max\":{:.3}}}",
        at(0.50),
        at(0.99),
        at(0.999),
        at(1.0)
    )
}
