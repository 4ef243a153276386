//! What the self-check said of each adapter, remembered natively in the user's cache directory
//! (`~/.cache/cnnscope/checks.tsv` on Linux), so that `--device auto` checks an adapter once, not at
//! every run: one line per adapter identity — its name, vendor and device ids, driver and driver
//! version, backend, and cnnscope's version (a new cnnscope checks again) — with the verdict.

use std::path::{Path, PathBuf};

use super::Report;

/// What is remembered of one check.
#[derive(Clone, Debug, PartialEq)]
pub struct Verdict {
    pub passed: bool,
    /// The report's verdict: "checked on this GPU: N cases agree…", or how many differ.
    pub summary: String,
}

impl Verdict {
    pub fn of(report: &Report) -> Verdict {
        Verdict { passed: report.passed(), summary: report.verdict() }
    }
}

/// An adapter as the check knows it: everything that can make its kernels behave differently.
pub fn identity(info: &wgpu::AdapterInfo) -> String {
    let id = format!(
        "{} · vendor {:#06x} device {:#06x} · {} {} · {:?} · cnnscope {}",
        info.name,
        info.vendor,
        info.device,
        info.driver,
        info.driver_info,
        info.backend,
        env!("CARGO_PKG_VERSION")
    );
    id.replace(['\t', '\n'], " ")
}

/// Where the verdicts are kept: `checks.tsv` in cnnscope's cache directory, if the system has one.
pub fn file() -> Option<PathBuf> {
    Some(dirs::cache_dir()?.join("cnnscope").join("checks.tsv"))
}

/// The verdict remembered for `identity` in `file`, if any.
pub fn lookup(file: &Path, identity: &str) -> Option<Verdict> {
    let text = std::fs::read_to_string(file).ok()?;
    let line = text.lines().rev().find(|l| l.split('\t').next() == Some(identity))?;
    let mut fields = line.split('\t').skip(1);
    let passed = match fields.next()? {
        "passed" => true,
        "failed" => false,
        _ => return None,
    };
    Some(Verdict { passed, summary: fields.next().unwrap_or_default().to_string() })
}

/// Remembers `verdict` for `identity` in `file` (the directory made if needed). A cache that cannot
/// be written costs a check at the next run, nothing else.
pub fn store(file: &Path, identity: &str, verdict: &Verdict) -> std::io::Result<()> {
    use std::io::Write;
    if let Some(dir) = file.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let state = if verdict.passed { "passed" } else { "failed" };
    let mut out = std::fs::OpenOptions::new().create(true).append(true).open(file)?;
    writeln!(out, "{identity}\t{state}\t{}", verdict.summary.replace(['\t', '\n'], " "))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// A verdict comes back for its adapter and no other; the newest line wins; a damaged line is
    /// no verdict (the adapter is checked again).
    #[test]
    fn a_verdict_is_remembered_per_adapter() {
        let dir = std::env::temp_dir().join(format!("cnnscope-checks-{}", std::process::id()));
        let file = dir.join("nested").join("checks.tsv");
        let failed = Verdict { passed: false, summary: "3 of 428 cases differ from the CPU engine: …".into() };
        let passed = Verdict { passed: true, summary: "checked on this GPU: 428 cases agree with the CPU engine".into() };
        assert_eq!(lookup(&file, "gpu a"), None, "nothing remembered yet");
        store(&file, "gpu a", &failed).unwrap();
        store(&file, "gpu b", &passed).unwrap();
        assert_eq!(lookup(&file, "gpu a"), Some(failed));
        assert_eq!(lookup(&file, "gpu b"), Some(passed.clone()));
        store(&file, "gpu a", &passed).unwrap();
        assert_eq!(lookup(&file, "gpu a"), Some(passed), "the newest verdict");
        std::fs::write(&file, "gpu c\tmaybe\t?\n").unwrap();
        assert_eq!(lookup(&file, "gpu c"), None);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
