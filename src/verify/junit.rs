//! `vnetd verify --junit FILE`: the results as JUnit XML, the report CI
//! systems read. One test suite named after the topology, one test case
//! per expectation with the time its probe took, and a `<failure>` with the
//! reason for each that did not hold.

use super::Verified;
use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};
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
}
