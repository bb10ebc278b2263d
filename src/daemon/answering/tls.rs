//! The lab's certificate authority and the certificates its responders
//! present, as Azure's services present theirs: a PaaS resource's
//! certificate names its public name and the wildcards of its service's
//! domain and `privatelink` zone (`*.blob.core.windows.net`,
//! `*.privatelink.blob.core.windows.net`), so a client that reaches the
//! account by either name, through a Private Endpoint or its public face,
//! verifies it, and one that asks another name does not.
//!
//! One CA is made when a lab starts, never reused: its key stays in
//! memory, its certificate is written to `/run/vnetd-tls/<namespace>/ca.pem`
//! (the lab's first namespace, so that `vnetd down` removes what a killed
//! run left with that namespace's other run directories) and removed with
//! the lab. Every VM's namespace trusts it through one store beside it,
//! `/run/vnetd-tls/<namespace>/ssl` (the system's bundle and the CA), which
//! each VM's `/etc/netns/<vm>/ssl` links to (see
//! [`crate::host::netns::link_trust_store`]).

use crate::host::tls::{Identity, LabCa, NamePolicy, Subject, TlsAcceptor};
use crate::plan::Plan;
use anyhow::Result;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The CA's certificate's name in its run directory.
const CA_FILE: &str = "ca.pem";

/// The directory of the VMs' certificate store in the run directory.
const STORE_DIR: &str = "ssl";

/// A lab's CA and where its certificate is written.
#[derive(Debug)]
pub struct LabTls {
    ca: Arc<LabCa>,
    pem: Arc<str>,
    path: PathBuf,
    store: Arc<Path>,
}

impl LabTls {
    /// A new CA for the lab of `plan`, its certificate written in the run
    /// directory of the lab's first namespace on this machine.
    pub fn make(plan: &Plan) -> Result<LabTls> {
        let anchor = (plan.ports.iter_enumerated())
            .find(|(p, _)| plan.is_local(*p))
            .map_or_else(
                || format!("lab-{}", std::process::id()),
                |(_, port)| port.netns.clone(),
            );
        let ca = Arc::new(LabCa::new(&format!("vnetd lab CA ({anchor})"))?);
        let path = Path::new(crate::daemon::options::TLS_RUN_DIR)
            .join(&anchor)
            .join(CA_FILE);
        ca.write_certificate(&path)?;
        let pem: Arc<str> = Arc::from(ca.certificate_pem());
        let store: Arc<Path> = Arc::from(path.with_file_name(STORE_DIR));
        crate::host::netns::write_shared_trust_store(&store, &pem)?;
        Ok(LabTls {
            pem,
            ca,
            path,
            store,
        })
    }

    /// The certificate store the VMs trust: the system's bundle and the
    /// CA, which each VM's namespace links to.
    pub fn store(&self) -> &Arc<Path> {
        &self.store
    }

    /// Where the CA's certificate is.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The CA's certificate, PEM: what the VMs' namespaces trust.
    pub fn pem(&self) -> &Arc<str> {
        &self.pem
    }

    /// The CA itself, to issue from.
    pub fn ca(&self) -> &Arc<LabCa> {
        &self.ca
    }

    /// Removes the CA's certificate, the VMs' store and their directory.
    pub fn remove(&self) {
        let _ = std::fs::remove_dir_all(&self.store);
        let _ = std::fs::remove_file(&self.path);
        if let Some(dir) = self.path.parent() {
            let _ = std::fs::remove_dir(dir);
        }
    }

    /// What a PaaS resource named `public_name`
    /// (`acct.blob.core.windows.net`) presents, at its Private Endpoints
    /// and its public face alike.
    pub fn paas_acceptor(&self, public_name: &str) -> Result<TlsAcceptor> {
        TlsAcceptor::new(
            self.ca.clone(),
            NamePolicy::Listed(vec![paas_identity(public_name)]),
        )
    }

    /// What an Internet server named `name` at `address` presents: its
    /// name when it is a DNS name, and its address.
    pub fn server_acceptor(&self, name: &str, address: IpAddr) -> Result<TlsAcceptor> {
        let mut names: Vec<Subject> = Subject::parse(name)
            .filter(|s| matches!(s, Subject::Dns(n) if !n.starts_with("*.")))
            .into_iter()
            .collect();
        names.push(Subject::Ip(address));
        TlsAcceptor::new(
            self.ca.clone(),
            NamePolicy::Listed(vec![Identity::new(names)]),
        )
    }

    /// What a server that answers for every name presents: a certificate
    /// for the name the client asked, or, asked none (a client of an
    /// address), for the address it reached, as
    /// [`TlsAcceptor::accept`] is told. For the Internet's answers on
    /// every public address.
    pub fn any_name_acceptor(&self) -> Result<TlsAcceptor> {
        TlsAcceptor::new(self.ca.clone(), NamePolicy::AnyName)
    }
}

impl Drop for LabTls {
    fn drop(&mut self) {
        self.remove();
    }
}

/// The names on a PaaS resource's certificate: its public name, the
/// wildcard of its service's public domain and of the domain's
/// `privatelink` zone, as Azure's certificates carry them.
fn paas_identity(public_name: &str) -> Identity {
    let mut names: Vec<Subject> = Subject::parse(public_name).into_iter().collect();
    let domain = public_name.split_once('.').map_or("", |(_, d)| d);
    let zone = crate::topology::SUB_RESOURCES
        .iter()
        .find(|s| s.public_suffix.eq_ignore_ascii_case(domain))
        .map(|s| s.privatelink_zone);
    for wildcard in [Some(domain), zone].into_iter().flatten() {
        if let Some(subject) = Subject::parse(&format!("*.{wildcard}")) {
            if !names.contains(&subject) {
                names.push(subject);
            }
        }
    }
    Identity::new(names)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_paas_certificate_names_the_account_and_its_zones_wildcards() {
        let names = |n: &str| -> Vec<String> {
            paas_identity(n)
                .names
                .iter()
                .map(ToString::to_string)
                .collect()
        };
        assert_eq!(
            names("acct.blob.core.windows.net"),
            [
                "acct.blob.core.windows.net",
                "*.blob.core.windows.net",
                "*.privatelink.blob.core.windows.net"
            ]
        );
        assert_eq!(
            names("kv1.vault.azure.net"),
            [
                "kv1.vault.azure.net",
                "*.vault.azure.net",
                "*.privatelink.vaultcore.azure.net"
            ]
        );
        let identity = paas_identity("acct.blob.core.windows.net");
        assert!(identity.covers("acct.privatelink.blob.core.windows.net"));
        assert!(!identity.covers("acct.file.core.windows.net"));
    }
}
