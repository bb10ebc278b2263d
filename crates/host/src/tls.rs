//! HTTPS for a lab's servers: a certificate authority made for one lab
//! ([`LabCa`]), and the certificates its servers present, issued by it on
//! first use for the name the client asked (SNI) and kept in a bounded
//! cache ([`CertResolver`]).
//!
//! A server answers for a list of [`Identity`]s, each the subject
//! alternative names one certificate carries (a name, wildcards beside
//! it, addresses), as a public service presents one certificate for its
//! whole domain; or, in [`NamePolicy::AnyName`], for whatever name it is
//! asked (and, asked none, for the address it was reached at). A client
//! that asks a name the server does not answer for is shown the server's
//! first certificate anyway, as a real server does with its default
//! certificate: the client's verification, not the handshake, says the
//! name is wrong.
//!
//! [`TlsAcceptor`] serves TLS on an accepted stream (a `Client` of
//! [`crate::listener`], so the handshake is bounded by the request
//! deadline like the request itself). The CA's private key lives in
//! memory only; its certificate is written for the lab's clients to trust
//! ([`LabCa::write_certificate`]). Plain X.509 and TLS: nothing of what
//! the names belong to.

use anyhow::{Context, Result};
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, SanType,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls::ServerConfig;
use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::io;
use std::net::IpAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncRead, AsyncWrite};

/// How many certificates a [`CertResolver`] keeps; past it the oldest
/// issued goes (a server in [`NamePolicy::AnyName`] may be asked any
/// number of names).
pub const CACHE_CAPACITY: usize = 256;

/// How long the certificates are valid, from a day before they are made
/// (a clock a little behind still accepts them).
const VALIDITY_DAYS: i64 = 365;

/// A certificate authority that exists for one lab: its certificate,
/// which the lab's clients trust, and its key, which never leaves memory.
pub struct LabCa {
    issuer: Issuer<'static, KeyPair>,
    der: CertificateDer<'static>,
    pem: String,
}

impl fmt::Debug for LabCa {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LabCa").finish_non_exhaustive()
    }
}

fn validity(params: &mut CertificateParams) {
    let now = time::OffsetDateTime::now_utc();
    params.not_before = now - time::Duration::days(1);
    params.not_after = now + time::Duration::days(VALIDITY_DAYS);
}

impl LabCa {
    /// A new CA, with a new key, whose certificate's common name is
    /// `common_name`.
    pub fn new(common_name: &str) -> Result<LabCa> {
        let mut params = CertificateParams::default();
        params.distinguished_name = rcgen::DistinguishedName::new();
        params
            .distinguished_name
            .push(DnType::CommonName, common_name);
        params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        validity(&mut params);
        let key = KeyPair::generate().context("making the CA's key")?;
        let certificate = params
            .self_signed(&key)
            .context("signing the CA's certificate")?;
        Ok(LabCa {
            der: certificate.der().clone(),
            pem: certificate.pem(),
            issuer: Issuer::new(params, key),
        })
    }

    /// The CA's certificate, PEM.
    pub fn certificate_pem(&self) -> &str {
        &self.pem
    }

    /// The CA's certificate, DER.
    pub fn certificate_der(&self) -> &CertificateDer<'static> {
        &self.der
    }

    /// Writes the CA's certificate (not its key) to `path`, readable by
    /// everyone (mode 0644), making its directory.
    pub fn write_certificate(&self, path: &Path) -> Result<()> {
        use std::os::unix::fs::PermissionsExt;
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        std::fs::write(path, &self.pem).with_context(|| format!("writing {}", path.display()))?;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o644))
            .with_context(|| format!("setting the mode of {}", path.display()))
    }

    /// A server certificate for `identity`, with a new key, signed by the
    /// CA; the chain is the leaf and the CA.
    pub fn issue(&self, identity: &Identity) -> Result<CertifiedKey> {
        let mut params = CertificateParams::default();
        params.distinguished_name = rcgen::DistinguishedName::new();
        params
            .distinguished_name
            .push(DnType::CommonName, identity.common_name());
        params.subject_alt_names = identity
            .names
            .iter()
            .map(|name| match name {
                Subject::Dns(name) => Ok(SanType::DnsName(name.as_str().try_into()?)),
                Subject::Ip(ip) => Ok(SanType::IpAddress(*ip)),
            })
            .collect::<Result<_, rcgen::Error>>()
            .with_context(|| format!("the names of {identity}"))?;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        params.use_authority_key_identifier_extension = true;
        validity(&mut params);
        let key = KeyPair::generate().context("making a server key")?;
        let leaf = params
            .signed_by(&key, &self.issuer)
            .with_context(|| format!("signing the certificate of {identity}"))?;
        let private = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
        let signing = rustls::crypto::ring::sign::any_supported_type(&private)
            .context("loading a server key")?;
        Ok(CertifiedKey::new(
            vec![leaf.der().clone(), self.der.clone()],
            signing,
        ))
    }
}

/// One subject alternative name.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Subject {
    /// A DNS name, lower case; `*.` first for a wildcard of one label.
    Dns(String),
    Ip(IpAddr),
}

impl Subject {
    /// `name` as a subject: an address, or a DNS name (lower case) when
    /// it is one (labels of letters, digits and hyphens, a wildcard first
    /// label allowed); `None` otherwise.
    pub fn parse(name: &str) -> Option<Subject> {
        if let Ok(ip) = name.parse::<IpAddr>() {
            return Some(Subject::Ip(ip));
        }
        let name = name.trim_end_matches('.').to_ascii_lowercase();
        let labels: Vec<&str> = name.split('.').collect();
        let label_ok = |l: &str| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        };
        let well_formed = name.len() <= 253
            && labels.len() >= 2
            && labels
                .iter()
                .enumerate()
                .all(|(i, l)| (i == 0 && *l == "*") || label_ok(l))
            // A name of digits and dots is an address gone wrong.
            && !labels.last().is_some_and(|l| l.bytes().all(|b| b.is_ascii_digit()));
        well_formed.then_some(Subject::Dns(name))
    }

    /// Whether this subject covers the DNS name `asked` (lower case): the
    /// same name, or a wildcard for exactly its first label.
    fn covers(&self, asked: &str) -> bool {
        match self {
            Subject::Dns(name) => match name.strip_prefix("*.") {
                Some(parent) => asked
                    .split_once('.')
                    .is_some_and(|(first, rest)| !first.is_empty() && rest == parent),
                None => name == asked,
            },
            Subject::Ip(_) => false,
        }
    }
}

impl fmt::Display for Subject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Subject::Dns(name) => f.write_str(name),
            Subject::Ip(ip) => write!(f, "{ip}"),
        }
    }
}

/// What one certificate is for: its subject alternative names, the first
/// also its common name.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Identity {
    pub names: Vec<Subject>,
}

impl Identity {
    pub fn new(names: Vec<Subject>) -> Identity {
        Identity { names }
    }

    fn common_name(&self) -> String {
        self.names
            .first()
            .map(ToString::to_string)
            .unwrap_or_default()
    }

    /// Whether a client that asked for `asked` (SNI, any case) accepts
    /// this identity's certificate.
    pub fn covers(&self, asked: &str) -> bool {
        let asked = asked.trim_end_matches('.').to_ascii_lowercase();
        self.names.iter().any(|name| name.covers(&asked))
    }
}

impl fmt::Display for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<String> = self.names.iter().map(ToString::to_string).collect();
        f.write_str(&names.join(", "))
    }
}

/// Which certificate a server presents.
#[derive(Debug, Clone)]
pub enum NamePolicy {
    /// The first identity that covers the name asked; the first of all
    /// when none does or no name was asked. Never empty.
    Listed(Vec<Identity>),
    /// A certificate for the very name asked; asked none, for the address
    /// the client reached (see [`TlsAcceptor::accept`]).
    AnyName,
}

/// Issues and keeps the certificates a server presents, by its
/// [`NamePolicy`]: the resolver rustls asks at each handshake.
pub struct CertResolver {
    ca: Arc<LabCa>,
    policy: NamePolicy,
    cache: Mutex<Cache>,
}

impl fmt::Debug for CertResolver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CertResolver")
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

/// Certificates issued, by identity, the oldest first out.
#[derive(Default)]
struct Cache {
    issued: HashMap<Identity, Arc<CertifiedKey>>,
    order: VecDeque<Identity>,
}

impl CertResolver {
    /// A resolver issuing from `ca`; refused for a listed policy without
    /// an identity.
    pub fn new(ca: Arc<LabCa>, policy: NamePolicy) -> Result<CertResolver> {
        if let NamePolicy::Listed(identities) = &policy {
            anyhow::ensure!(
                !identities.is_empty(),
                "a server with no name to answer for"
            );
        }
        Ok(CertResolver {
            ca,
            policy,
            cache: Mutex::new(Cache::default()),
        })
    }

    /// The identity presented to a client that asked for `asked` (SNI),
    /// having reached `local`; `None` when there is none to present (any
    /// name, none asked, no address known).
    pub fn identity_for(&self, asked: Option<&str>, local: Option<IpAddr>) -> Option<Identity> {
        match (&self.policy, asked) {
            (NamePolicy::Listed(identities), _) => asked
                .and_then(|asked| identities.iter().find(|i| i.covers(asked)))
                .or_else(|| identities.first())
                .cloned(),
            (NamePolicy::AnyName, Some(asked)) => {
                Subject::parse(asked).map(|name| Identity::new(vec![name]))
            }
            (NamePolicy::AnyName, None) => local.map(|ip| Identity::new(vec![Subject::Ip(ip)])),
        }
    }

    /// The certificate of `identity`: the one issued before, or a new one
    /// (kept, the oldest dropped past [`CACHE_CAPACITY`]).
    pub fn certificate(&self, identity: &Identity) -> Option<Arc<CertifiedKey>> {
        if let Some(issued) = self.lock().issued.get(identity) {
            return Some(issued.clone());
        }
        // Issued without the lock held: signing takes a while, and two
        // clients asking the same new name at once get one each.
        let issued = match self.ca.issue(identity) {
            Ok(certified) => Arc::new(certified),
            Err(error) => {
                tracing::warn!("no certificate for {identity}: {error:#}");
                return None;
            }
        };
        let mut cache = self.lock();
        if cache
            .issued
            .insert(identity.clone(), issued.clone())
            .is_none()
        {
            cache.order.push_back(identity.clone());
        }
        while cache.order.len() > CACHE_CAPACITY {
            if let Some(oldest) = cache.order.pop_front() {
                cache.issued.remove(&oldest);
            }
        }
        Some(issued)
    }

    /// How many certificates are kept.
    pub fn cached(&self) -> usize {
        self.lock().issued.len()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Cache> {
        self.cache.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl ResolvesServerCert for CertResolver {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let identity = self.identity_for(hello.server_name(), None)?;
        self.certificate(&identity)
    }
}

/// A fixed certificate: the one chosen for a connection without a name.
#[derive(Debug)]
struct Fixed(Arc<CertifiedKey>);

impl ResolvesServerCert for Fixed {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.0.clone())
    }
}

fn server_config(resolver: Arc<dyn ResolvesServerCert>) -> Result<Arc<ServerConfig>> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .context("TLS versions")?
        .with_no_client_auth()
        .with_cert_resolver(resolver);
    Ok(Arc::new(config))
}

/// Serves TLS on accepted streams with the certificates of a
/// [`CertResolver`].
#[derive(Clone)]
pub struct TlsAcceptor {
    resolver: Arc<CertResolver>,
    config: Arc<ServerConfig>,
}

impl fmt::Debug for TlsAcceptor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsAcceptor")
            .field("resolver", &self.resolver)
            .finish_non_exhaustive()
    }
}

impl TlsAcceptor {
    /// An acceptor presenting certificates of `ca` by `policy`.
    pub fn new(ca: Arc<LabCa>, policy: NamePolicy) -> Result<TlsAcceptor> {
        let resolver = Arc::new(CertResolver::new(ca, policy)?);
        Ok(TlsAcceptor {
            config: server_config(resolver.clone())?,
            resolver,
        })
    }

    /// The resolver, whose cache it shares.
    pub fn resolver(&self) -> &Arc<CertResolver> {
        &self.resolver
    }

    /// The TLS handshake on `stream`, a connection that reached the
    /// address `local`: the certificate is chosen by the name the client
    /// asked, or, asked none, by `local` ([`NamePolicy::AnyName`]).
    /// Fails with the stream's error (a deadline passed) or the
    /// handshake's.
    pub async fn accept<S>(
        &self,
        stream: S,
        local: IpAddr,
    ) -> io::Result<tokio_rustls::server::TlsStream<S>>
    where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        let acceptor =
            tokio_rustls::LazyConfigAcceptor::new(rustls::server::Acceptor::default(), stream);
        let start = acceptor.await?;
        let config = match (&self.resolver.policy, start.client_hello().server_name()) {
            (NamePolicy::AnyName, None) => {
                let identity = Identity::new(vec![Subject::Ip(local)]);
                let certified = self
                    .resolver
                    .certificate(&identity)
                    .ok_or_else(|| io::Error::other("no certificate for the address"))?;
                server_config(Arc::new(Fixed(certified))).map_err(io::Error::other)?
            }
            _ => self.config.clone(),
        };
        start.into_stream(config).await
    }
}

#[cfg(test)]
mod tests;
