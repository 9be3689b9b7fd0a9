//! Reading back what Criterion measured, for the ratio tables the benches print.

/// Mean time of benchmark `id` of `group` in seconds, from the estimates Criterion saved
/// under `$CARGO_TARGET_DIR/criterion` (or the workspace's `target/criterion`); `None` when it
/// did not run.
pub fn criterion_mean_seconds(group: &str, id: &str) -> Option<f64> {
    // Cargo runs a bench in its package's directory; the workspace's target is two up.
    let workspace = concat!(env!("CARGO_MANIFEST_DIR"), "/../../target");
    let dir = std::env::var("CARGO_TARGET_DIR").unwrap_or_else(|_| workspace.into());
    let path = format!("{dir}/criterion/{group}/{id}/new/estimates.json");
    let text = std::fs::read_to_string(path).ok()?;
    let json: serde_json::Value = serde_json::from_str(&text).ok()?;
    Some(json["mean"]["point_estimate"].as_f64()? * 1e-9)
}
