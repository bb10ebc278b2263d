//! `vnetd verify --junit FILE`: the results as JUnit XML, the report CI
//! systems read. One test suite named after the topology, one test case
//! per expectation with the time its probe took, and a `<failure>` with the
//! reason for each that did not hold.
//!
//! A `vnetd ci` run that has no results (the file or the machine stopped
//! it, its time ran out, it was interrupted, or it was killed) still
//! leaves a report: one suite whose single case is an `<error>` saying
//! why ([`errored_xml`]), so that a pipeline's test publisher always
//! finds one. Reports are written whole ([`write_whole`]): a reader finds
//! the old one or the new one, never a part.

use super::Verified;
use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};
use std::io::Write;
use std::path::Path;
use std::time::Duration;

/// The JUnit XML of one run over the topology named `source`.
pub fn junit_xml(source: &str, verified: &[Verified]) -> Result<String, String> {
    let mut suite = TestSuite::new(format!("vnetd verify {source}"));
    let mut total = Duration::ZERO;
    for v in verified {
        let r = &v.result;
        let status = if let Some(why) = &r.skipped {
            let mut status = TestCaseStatus::skipped();
            status.set_message(why.clone());
            status
        } else if r.passed {
            TestCaseStatus::success()
        } else {
            let mut status = TestCaseStatus::non_success(NonSuccessKind::Failure);
            status
                .set_message(r.message.clone())
                .set_type("expectation")
                .set_description(format!(
                    "{} -> {} {}{}: {}",
                    r.from,
                    r.to,
                    r.protocol,
                    r.port.map(|p| format!(" {p}")).unwrap_or_default(),
                    r.message
                ));
            status
        };
        let mut case = TestCase::new(r.name.clone(), status);
        case.set_classname(format!("vnetd.verify.{source}"))
            .set_time(v.time);
        suite.add_test_case(case);
        total += v.time;
    }
    suite.set_time(total);
    let mut report = Report::new("vnetd verify");
    report.set_time(total).add_test_suite(suite);
    report
        .to_string()
        .map_err(|e| format!("cannot write the JUnit report: {e}"))
}

/// The name of the single case of a run that has no results.
pub const RUN_CASE: &str = "vnetd ci";

/// The JUnit XML of a `vnetd ci` run over `source` that ended without
/// results: one suite whose single case, [`RUN_CASE`], is an `<error>` of
/// `kind` (`incomplete`, `environment`, `interrupted`) with `message`, and
/// `description` as its text.
pub fn errored_xml(
    source: &str,
    kind: &str,
    message: &str,
    description: &str,
) -> Result<String, String> {
    let mut status = TestCaseStatus::non_success(NonSuccessKind::Error);
    status
        .set_message(message)
        .set_type(kind)
        .set_description(description);
    let mut case = TestCase::new(RUN_CASE, status);
    case.set_classname(format!("vnetd.ci.{source}"));
    let mut suite = TestSuite::new(format!("vnetd ci {source}"));
    suite.add_test_case(case);
    let mut report = Report::new("vnetd ci");
    report.add_test_suite(suite);
    report
        .to_string()
        .map_err(|e| format!("cannot write the JUnit report: {e}"))
}

/// Writes `text` to `path` whole: into a new file beside it, flushed to
/// disk, then renamed over it, so that a reader (or a run killed in the
/// middle) finds the old report or the new one, never a part of either.
pub fn write_whole(path: &Path, text: &str) -> std::io::Result<()> {
    let name = path
        .file_name()
        .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::InvalidInput, "not a file name"))?;
    let mut temporary = name.to_os_string();
    temporary.push(format!(".{}.tmp", std::process::id()));
    let temporary = path.with_file_name(temporary);
    let written = std::fs::File::create(&temporary).and_then(|mut file| {
        file.write_all(text.as_bytes())?;
        file.sync_all()
    });
    match written.and_then(|()| std::fs::rename(&temporary, path)) {
        Ok(()) => Ok(()),
        Err(e) => {
            let _ = std::fs::remove_file(&temporary);
            Err(e)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnostics::expectations::{ExpectationResult, Outcome};

    fn verified(name: &str, passed: bool) -> Verified {
        let outcome = |result: &str| Outcome {
            result: result.into(),
            ..Outcome::default()
        };
        Verified {
            result: ExpectationResult {
                name: name.into(),
                from: "vm1".into(),
                to: "vm2".into(),
                protocol: "Tcp".into(),
                port: Some(80),
                expected: outcome("Allow"),
                observed: outcome(if passed { "Allow" } else { "Deny" }),
                passed,
                message: if passed {
                    String::new()
                } else {
                    "expected Allow, found Deny".into()
                },
                skipped: None,
                live_only: None,
            },
            time: Duration::from_millis(1500),
        }
    }

    #[test]
    fn one_case_per_expectation_and_a_failure_for_each_that_failed() {
        let xml = junit_xml(
            "lab.yaml",
            &[verified("web", true), verified("db <&>", false)],
        )
        .unwrap();
        assert!(
            xml.contains(r#"<testsuites name="vnetd verify" tests="2""#),
            "{xml}"
        );
        assert!(xml.contains(r#"failures="1""#), "{xml}");
        assert!(
            xml.contains(
                r#"<testcase name="web" classname="vnetd.verify.lab.yaml" time="1.500"/>"#
            ),
            "{xml}"
        );
        assert!(
            xml.contains(r#"<testcase name="db &lt;&amp;&gt;""#),
            "{xml}"
        );
        assert!(
            xml.contains(r#"<failure message="expected Allow, found Deny" type="expectation">"#),
            "{xml}"
        );
    }

    #[test]
    fn an_expectation_tested_on_another_host_is_a_skipped_case() {
        let mut elsewhere = verified("from-vm2", true);
        elsewhere.result.skipped = Some("vm2 runs on host h3".into());
        let xml = junit_xml("lab.yaml", &[verified("web", true), elsewhere]).unwrap();
        assert!(xml.contains(r#"skipped="1""#), "{xml}");
        assert!(
            xml.contains(r#"<skipped message="vm2 runs on host h3"/>"#),
            "{xml}"
        );
        assert!(xml.contains(r#"failures="0""#), "{xml}");
    }

    #[test]
    fn a_run_without_results_is_one_errored_case_with_its_reason() {
        let xml = errored_xml(
            "lab.yaml",
            "environment",
            "lab.yaml:3: unknown key <x>",
            "the file stopped the run",
        )
        .unwrap();
        assert!(
            xml.contains(
                r#"<testsuites name="vnetd ci" tests="1" skipped="0" failures="0" errors="1">"#
            ),
            "{xml}"
        );
        assert!(
            xml.contains(r#"<testcase name="vnetd ci" classname="vnetd.ci.lab.yaml">"#),
            "{xml}"
        );
        assert!(
            xml.contains(
                r#"<error message="lab.yaml:3: unknown key &lt;x&gt;" type="environment">"#
            ),
            "{xml}"
        );
        assert!(xml.contains("the file stopped the run</error>"), "{xml}");
    }

    #[test]
    fn a_report_is_replaced_whole_and_leaves_no_temporary_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("junit.xml");
        write_whole(&path, "first").unwrap();
        write_whole(&path, "second").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "second");
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["junit.xml"]);
        // A folder that does not exist: an error, and nothing written.
        assert!(write_whole(&dir.path().join("no/such.xml"), "x").is_err());
    }
}
