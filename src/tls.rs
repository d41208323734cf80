//! The network's certificate authority and the nodes' certificates.
//!
//! The academic team runs `maillage ca init` once; each node creates its key
//! and a certificate request at `init`; the CA signs it (`maillage ca sign`) and
//! the node installs the certificate (`maillage cert install`). Nodes then talk
//! to each other over mutual TLS only: a peer without a certificate of this CA
//! never reaches the federation service. A node's certificate names its site
//! (common name and DNS name), which the session checks against the site the
//! peer claims in its Hello.

use std::path::Path;

use anyhow::{bail, Context};
use rcgen::{
    BasicConstraints, CertificateParams, CertificateSigningRequestParams, DistinguishedName,
    DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose, SanType,
};
use time::{Duration, OffsetDateTime};

/// Files of a CA directory.
pub const CA_KEY: &str = "ca.key";
pub const CA_CERT: &str = "ca.pem";
/// Files of a node directory.
pub const NODE_KEY: &str = "node.key";
pub const NODE_CSR: &str = "node.csr";
pub const NODE_CERT: &str = "node.pem";
/// The DNS name every node certificate carries, and that dialers verify.
pub const NODE_NAME: &str = "maillage-node";
/// Validity of a node certificate.
pub const NODE_CERT_DAYS: i64 = 825;
/// Validity of the network's CA.
pub const CA_DAYS: i64 = 3650;

fn write_private(path: &Path, text: &str) -> anyhow::Result<()> {
    use std::io::Write;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts
        .open(path)
        .with_context(|| format!("écriture de {}", path.display()))?;
    f.write_all(text.as_bytes())?;
    f.sync_all()?;
    Ok(())
}

fn read(path: &Path) -> anyhow::Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("lecture de {}", path.display()))
}

/// Creates the network's CA in `dir`; refuses a directory that has one.
pub fn ca_init(dir: &Path) -> anyhow::Result<()> {
    if dir.join(CA_KEY).exists() || dir.join(CA_CERT).exists() {
        bail!(
            "{} contient déjà une autorité : rien n'a été modifié",
            dir.display()
        );
    }
    std::fs::create_dir_all(dir)?;
    let key = KeyPair::generate()?;
    let mut params = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    // Short: every node certificate repeats it as its issuer, and both
    // certificates cross the wire at each full TLS handshake.
    dn.push(DnType::CommonName, "Autorité maillage");
    params.distinguished_name = dn;
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let now = OffsetDateTime::now_utc();
    params.not_before = now - Duration::days(1);
    params.not_after = now + Duration::days(CA_DAYS);
    let cert = params.self_signed(&key)?;
    write_private(&dir.join(CA_KEY), &key.serialize_pem())?;
    std::fs::write(dir.join(CA_CERT), cert.pem())?;
    Ok(())
}

/// Prefix of the URI names that bind a node certificate to the site's Ed25519
/// key and role: `urn:maillage:key:<hex>`, `urn:maillage:role:<site|academy>`.
pub const KEY_URI: &str = "urn:maillage:key:";
pub const ROLE_URI: &str = "urn:maillage:role:";

/// Creates the node's key and its certificate request for `site`. The request
/// also names the site's role and its Ed25519 public key, which the CA binds
/// into the certificate: that binding is what lets every node check, from the
/// CA alone, the signature of a change relayed from any site.
pub fn node_request(dir: &Path, site: &str, role: &str, public_key: &str) -> anyhow::Result<()> {
    let key = KeyPair::generate()?;
    let mut params = CertificateParams::new(vec![site.to_string(), NODE_NAME.to_string()])?;
    params.subject_alt_names.push(SanType::URI(
        format!("{KEY_URI}{public_key}").as_str().try_into()?,
    ));
    params.subject_alt_names.push(SanType::URI(
        format!("{ROLE_URI}{role}").as_str().try_into()?,
    ));
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, site);
    params.distinguished_name = dn;
    let csr = params.serialize_request(&key)?;
    write_private(&dir.join(NODE_KEY), &key.serialize_pem())?;
    std::fs::write(dir.join(NODE_CSR), csr.pem()?)?;
    Ok(())
}

/// A certificate issued by [`ca_sign`], and what it certifies.
#[derive(Debug, Clone)]
pub struct Issued {
    pub pem: String,
    pub site: String,
    pub role: String,
    pub public_key: String,
}

/// Signs a node's certificate request with the CA of `ca_dir`. Only the
/// request's key, site, role and site key are taken from it; everything else is
/// the CA's choice. A request for the academy role is signed only when
/// `academy` says the CA's operator means it.
pub fn ca_sign(ca_dir: &Path, csr_pem: &str, academy: bool) -> anyhow::Result<Issued> {
    let now = OffsetDateTime::now_utc();
    ca_sign_for(
        ca_dir,
        csr_pem,
        academy,
        now - Duration::days(1),
        now + Duration::days(NODE_CERT_DAYS),
    )
}

/// [`ca_sign`] with a chosen validity period (tests sign expired ones).
pub(crate) fn ca_sign_for(
    ca_dir: &Path,
    csr_pem: &str,
    academy: bool,
    not_before: OffsetDateTime,
    not_after: OffsetDateTime,
) -> anyhow::Result<Issued> {
    let key = KeyPair::from_pem(&read(&ca_dir.join(CA_KEY))?)?;
    let issuer = Issuer::from_ca_cert_pem(&read(&ca_dir.join(CA_CERT))?, key)?;
    let mut csr = CertificateSigningRequestParams::from_pem(csr_pem)
        .map_err(|e| anyhow::anyhow!("demande de certificat illisible ou mal signée : {e}"))?;
    let site = match csr.params.distinguished_name.get(&DnType::CommonName) {
        Some(v) => dn_text(v),
        None => bail!("la demande ne nomme pas de site (CN absent)"),
    };
    if !crate::base::is_slug(&site) {
        bail!("la demande nomme un site invalide : « {site} »");
    }
    let mut public_key = None;
    let mut role = None;
    for san in &csr.params.subject_alt_names {
        if let SanType::URI(uri) = san {
            let uri = uri.as_str();
            if let Some(k) = uri.strip_prefix(KEY_URI) {
                public_key = Some(crate::base::check_key(k)?);
            } else if let Some(r) = uri.strip_prefix(ROLE_URI) {
                role = Some(r.to_string());
            }
        }
    }
    let Some(public_key) = public_key else {
        bail!("la demande ne porte pas la clé du site (créée par maillage init)");
    };
    let role = match role.as_deref() {
        Some("site") | None => "site",
        Some("academy") if academy => "academy",
        Some("academy") => bail!(
            "la demande de « {site} » réclame le rôle académique : relancez avec --role academy si c'est bien un nœud de l'équipe académique"
        ),
        Some(other) => bail!("la demande réclame un rôle inconnu : « {other} »"),
    };
    let params = node_params(&site, role, &public_key, not_before, not_after)?;
    csr.params = params;
    Ok(Issued {
        pem: csr.signed_by(&issuer)?.pem(),
        site,
        role: role.to_string(),
        public_key,
    })
}

/// What the CA puts in a node certificate for `site`: its names, its site
/// key and role as URIs, end-entity usages, the validity given.
fn node_params(
    site: &str,
    role: &str,
    public_key: &str,
    not_before: OffsetDateTime,
    not_after: OffsetDateTime,
) -> anyhow::Result<CertificateParams> {
    let mut params = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, site);
    params.distinguished_name = dn;
    params.subject_alt_names = vec![
        SanType::DnsName(site.try_into()?),
        SanType::DnsName(NODE_NAME.try_into()?),
        SanType::URI(format!("{KEY_URI}{public_key}").as_str().try_into()?),
        SanType::URI(format!("{ROLE_URI}{role}").as_str().try_into()?),
    ];
    // No basic constraints extension (nor the key identifier rcgen writes
    // with it): an end-entity certificate without it is not a CA.
    params.is_ca = IsCa::NoCa;
    params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    params.extended_key_usages = vec![
        ExtendedKeyUsagePurpose::ServerAuth,
        ExtendedKeyUsagePurpose::ClientAuth,
    ];
    params.not_before = not_before;
    params.not_after = not_after;
    // No key identifiers: the network has one CA, and every byte of the
    // certificate crosses the wire at each full TLS handshake.
    params.use_authority_key_identifier_extension = false;
    Ok(params)
}

/// An Ed25519 key pair from a 32-byte seed, as rcgen takes it (PKCS#8 v1).
fn ed25519_key_pair(seed: &[u8; 32]) -> anyhow::Result<KeyPair> {
    let mut der = vec![
        0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04,
        0x20,
    ];
    der.extend_from_slice(seed);
    Ok(KeyPair::try_from(der)?)
}

/// A network's CA and the certificates of its sites, every byte a function
/// of `seed`: Ed25519 keys from the seed, signatures deterministic, validity
/// fixed (2026 to 2046). For the simulator, whose every run must replay
/// exactly; never for a real network (anyone knowing the seed is the CA).
/// `sites`: (site, role, site key in hex). Returns the CA's DER and each
/// site's certificate PEM, in order.
pub fn fixed_network(
    seed: &[u8; 32],
    sites: &[(String, String, String)],
) -> anyhow::Result<(Vec<u8>, Vec<String>)> {
    let date = |y| {
        time::Date::from_calendar_date(y, time::Month::January, 1)
            .map(|d| d.midnight().assume_utc())
    };
    let (not_before, not_after) = (date(2026)?, date(2046)?);
    let ca_key = ed25519_key_pair(seed)?;
    let mut params = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, "Autorité maillage (simulation)");
    params.distinguished_name = dn;
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    params.not_before = not_before;
    params.not_after = not_after;
    let ca = params.self_signed(&ca_key)?;
    let ca_der = ca.der().to_vec();
    let issuer = Issuer::new(params, ca_key);
    let mut pems = Vec::with_capacity(sites.len());
    for (i, (site, role, public_key)) in sites.iter().enumerate() {
        let mut node_seed = *seed;
        node_seed[..8].copy_from_slice(&(i as u64 + 1).to_be_bytes());
        let key = ed25519_key_pair(&node_seed)?;
        let cert =
            node_params(site, role, public_key, not_before, not_after)?.signed_by(&key, &issuer)?;
        pems.push(cert.pem());
    }
    Ok((ca_der, pems))
}

/// What a CA-issued node certificate says of its site.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Certified {
    pub site: String,
    pub academy: bool,
    /// The site's Ed25519 public key.
    pub key: [u8; 32],
    /// Validity period, in seconds since the epoch: checked at each use
    /// ([`Certified::valid_now`]), since time moves on.
    pub not_before: i64,
    pub not_after: i64,
}

impl Certified {
    /// Why the certificate is not valid now, if it is not.
    pub fn valid_now(&self) -> Result<(), String> {
        let now = chrono::Utc::now().timestamp();
        if now < self.not_before || now > self.not_after {
            let day = |t: i64| {
                chrono::DateTime::from_timestamp(t, 0)
                    .map(|d| d.format("%d/%m/%Y").to_string())
                    .unwrap_or_default()
            };
            return Err(format!(
                "certificat hors de sa période de validité (du {} au {})",
                day(self.not_before),
                day(self.not_after)
            ));
        }
        Ok(())
    }
}

/// Checks that `cert_pem` was issued by the CA whose certificate is `ca_der`,
/// and reads the site, role and site key it binds.
pub fn certified(ca_der: &[u8], cert_pem: &str) -> anyhow::Result<Certified> {
    let der = first_der(cert_pem)?;
    let (_, cert) = x509_parser::parse_x509_certificate(&der)
        .map_err(|e| anyhow::anyhow!("certificat illisible : {e}"))?;
    let (_, ca) = x509_parser::parse_x509_certificate(ca_der)
        .map_err(|e| anyhow::anyhow!("certificat de l'autorité illisible : {e}"))?;
    cert.verify_signature(Some(ca.public_key()))
        .map_err(|_| anyhow::anyhow!("certificat non signé par l'autorité du réseau"))?;
    check_node_certificate(&cert)?;
    let id = identity_of(&cert).ok_or_else(|| anyhow::anyhow!("certificat sans nom de site"))?;
    let key = id
        .key
        .ok_or_else(|| anyhow::anyhow!("certificat sans clé de site"))?;
    let validity = cert.validity();
    Ok(Certified {
        site: id.site,
        academy: id.academy,
        key,
        not_before: validity.not_before.timestamp(),
        not_after: validity.not_after.timestamp(),
    })
}

/// What a node certificate must be, beyond the CA's signature: not a CA,
/// for signatures, and for both ends of a TLS session. (Its validity period
/// is checked at each use: [`Certified::valid_now`].)
fn check_node_certificate(
    cert: &x509_parser::certificate::X509Certificate<'_>,
) -> anyhow::Result<()> {
    if let Ok(Some(bc)) = cert.basic_constraints() {
        if bc.value.ca {
            bail!("un certificat d'autorité n'est pas un certificat de nœud");
        }
    }
    match cert.key_usage() {
        Ok(Some(ku)) if ku.value.digital_signature() => {}
        _ => bail!("certificat sans l'usage « signature numérique »"),
    }
    match cert.extended_key_usage() {
        Ok(Some(eku)) if eku.value.client_auth && eku.value.server_auth => {}
        _ => bail!("certificat sans les usages client et serveur TLS"),
    }
    Ok(())
}

/// What the certificate a peer presented in the TLS handshake says: its
/// site, role and site key. The handshake already checked it against the CA.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerIdentity {
    pub site: String,
    pub academy: bool,
    pub key: Option<[u8; 32]>,
}

/// The identity a DER certificate names.
pub fn peer_identity(der: &[u8]) -> Option<PeerIdentity> {
    let (_, cert) = x509_parser::parse_x509_certificate(der).ok()?;
    identity_of(&cert)
}

/// The site (common name), role and site key a node certificate binds.
fn identity_of(cert: &x509_parser::certificate::X509Certificate<'_>) -> Option<PeerIdentity> {
    let site = cert
        .subject()
        .iter_common_name()
        .next()?
        .as_str()
        .ok()?
        .to_string();
    let mut key = None;
    let mut academy = false;
    if let Ok(Some(san)) = cert.subject_alternative_name() {
        for name in &san.value.general_names {
            if let x509_parser::extensions::GeneralName::URI(uri) = name {
                if let Some(k) = uri.strip_prefix(KEY_URI) {
                    key = hex::decode(k).ok().and_then(|b| b.try_into().ok());
                } else if let Some(r) = uri.strip_prefix(ROLE_URI) {
                    academy = r == "academy";
                }
            }
        }
    }
    Some(PeerIdentity { site, academy, key })
}

/// The DER of the first certificate in a PEM text.
pub fn pem_der(pem_text: &str) -> anyhow::Result<Vec<u8>> {
    first_der(pem_text)
}

fn dn_text(v: &rcgen::DnValue) -> String {
    match v {
        rcgen::DnValue::Utf8String(s) => s.clone(),
        rcgen::DnValue::PrintableString(s) => s.as_str().to_string(),
        other => format!("{other:?}"),
    }
}

fn first_der(pem_text: &str) -> anyhow::Result<Vec<u8>> {
    let (_, pem) = x509_parser::pem::parse_x509_pem(pem_text.as_bytes())
        .map_err(|e| anyhow::anyhow!("certificat PEM illisible : {e}"))?;
    Ok(pem.contents)
}

/// What [`install`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Installed {
    /// The certificate of the node's current keys is in place.
    Current {
        /// Whether a key rotation is still pending in `DIR/rotation`.
        rotation_pending: bool,
    },
    /// The certificate of a pending rotation's keys: the rotation is finished.
    Rotated {
        /// The site's new public key (hex).
        public_key: String,
        /// Where the replaced keys, certificate and request were moved.
        retired: std::path::PathBuf,
    },
}

/// Checks that `cert_pem` is issued by `ca_pem` for the node's keys, then
/// installs both in the node directory. A certificate for the keys of a
/// pending rotation (`DIR/rotation`, see [`rotation_start`]) finishes it: the
/// current keys, certificate and request move to `DIR/retired/<time>/`, the
/// rotation's take their place. Anything else is refused and changes nothing.
pub fn install(dir: &Path, cert_pem: &str, ca_pem: &str) -> anyhow::Result<Installed> {
    let cert_der = first_der(cert_pem)?;
    let ca_der = first_der(ca_pem)?;
    let (_, cert) = x509_parser::parse_x509_certificate(&cert_der)
        .map_err(|e| anyhow::anyhow!("certificat illisible : {e}"))?;
    let (_, ca) = x509_parser::parse_x509_certificate(&ca_der)
        .map_err(|e| anyhow::anyhow!("certificat de l'autorité illisible : {e}"))?;
    cert.verify_signature(Some(ca.public_key()))
        .map_err(|_| anyhow::anyhow!("ce certificat n'est pas signé par cette autorité"))?;
    let tls_key = cert.public_key().subject_public_key.data.as_ref();
    let rotation = dir.join(ROTATION_DIR);
    let key = KeyPair::from_pem(&read(&dir.join(NODE_KEY))?)?;
    if tls_key == key.public_key_raw() {
        check_site_key(dir, &ca_der, cert_pem)?;
        std::fs::write(dir.join(NODE_CERT), cert_pem)?;
        std::fs::write(dir.join(CA_CERT), ca_pem)?;
        return Ok(Installed::Current {
            rotation_pending: rotation.exists(),
        });
    }
    if rotation.join(NODE_KEY).exists() {
        let next = KeyPair::from_pem(&read(&rotation.join(NODE_KEY))?)?;
        if tls_key == next.public_key_raw() {
            check_site_key(&rotation, &ca_der, cert_pem)?;
            return finish_rotation(dir, cert_pem, ca_pem);
        }
        bail!(
            "ce certificat n'a été émis ni pour la clé de ce nœud ({NODE_KEY}) ni pour celle de la rotation en cours ({ROTATION_DIR}/{NODE_KEY}) : rien n'a été modifié"
        );
    }
    bail!("ce certificat n'a pas été émis pour la clé de ce nœud ({NODE_KEY})");
}

/// Checks that the certificate binds the site key of `dir`, when there is one:
/// a node signing with a key other than its certificate's sees all its
/// changes refused.
fn check_site_key(dir: &Path, ca_der: &[u8], cert_pem: &str) -> anyhow::Result<()> {
    if !dir.join(SITE_KEY).exists() {
        return Ok(());
    }
    let ours = site_public_key(dir)?;
    let bound = hex::encode(certified(ca_der, cert_pem)?.key);
    if bound != ours {
        bail!(
            "ce certificat certifie la clé de site {}…, pas celle de {} ({}…) : rien n'a été modifié",
            &bound[..16],
            dir.join(SITE_KEY).display(),
            &ours[..16]
        );
    }
    Ok(())
}

/// Subdirectory of a node directory that holds a pending key rotation: the
/// new `site.key`, `node.key` and `node.csr`.
pub const ROTATION_DIR: &str = "rotation";
/// Subdirectory where finished rotations leave the keys they replaced.
pub const RETIRED_DIR: &str = "retired";

fn private_dir(path: &Path) -> std::io::Result<()> {
    let mut b = std::fs::DirBuilder::new();
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        b.mode(0o700);
    }
    b.create(path)
}

/// Starts a rotation of the site's key in node directory `dir`: a new site
/// key, a new TLS key and a certificate request binding them, in
/// `DIR/rotation`. The current keys and certificate stay in service until
/// [`install`] receives the new certificate. Returns the new public key.
pub fn rotation_start(dir: &Path, site: &str, role: &str) -> anyhow::Result<String> {
    let rotation = dir.join(ROTATION_DIR);
    if !dir.join(SITE_KEY).exists() {
        bail!(
            "{} n'est pas le dossier d'un nœud ({SITE_KEY} absent)",
            dir.display()
        );
    }
    let pending = || {
        anyhow::anyhow!(
            "une rotation de clé est déjà en cours dans {0} : terminez-la (faites signer {0}/{NODE_CSR} par l'autorité, puis maillage cert install) ou abandonnez-la en supprimant {0}",
            rotation.display()
        )
    };
    if rotation.exists() {
        return Err(pending());
    }
    private_dir(&rotation).map_err(|e| match e.kind() {
        std::io::ErrorKind::AlreadyExists => pending(),
        _ => anyhow::anyhow!("création de {} impossible : {e}", rotation.display()),
    })?;
    let made = site_key_init(&rotation).and_then(|public_key| {
        node_request(&rotation, site, role, &public_key)?;
        Ok(public_key)
    });
    if made.is_err() {
        let _ = std::fs::remove_dir_all(&rotation);
    }
    made
}

/// Puts a rotation's keys in service with their certificate. Every file of the
/// new state is checked first; then the current ones move to
/// `DIR/retired/<time>/` and the rotation's take their place.
fn finish_rotation(dir: &Path, cert_pem: &str, ca_pem: &str) -> anyhow::Result<Installed> {
    let rotation = dir.join(ROTATION_DIR);
    for f in [SITE_KEY, NODE_KEY, NODE_CSR] {
        if !rotation.join(f).exists() {
            bail!(
                "rotation incomplète : {} absent ; abandonnez-la en supprimant {} et recommencez (maillage key rotate)",
                rotation.join(f).display(),
                rotation.display()
            );
        }
    }
    let public_key = site_public_key(&rotation)?;
    let parent = dir.join(RETIRED_DIR);
    if !parent.exists() {
        private_dir(&parent)?;
    }
    let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%SZ").to_string();
    let mut retired = parent.join(&stamp);
    let mut n = 1;
    while retired.exists() {
        retired = parent.join(format!("{stamp}-{n}"));
        n += 1;
    }
    private_dir(&retired)?;
    std::fs::write(rotation.join(NODE_CERT), cert_pem)?;
    let moved = |from: &Path, to: &Path| {
        std::fs::rename(from, to).with_context(|| {
            format!(
                "déplacement de {} vers {} impossible (rotation à reprendre à la main : anciennes clés dans {}, nouvelles dans {})",
                from.display(),
                to.display(),
                retired.display(),
                rotation.display()
            )
        })
    };
    for f in [SITE_KEY, NODE_KEY, NODE_CERT, NODE_CSR] {
        if dir.join(f).exists() {
            moved(&dir.join(f), &retired.join(f))?;
        }
    }
    for f in [SITE_KEY, NODE_KEY, NODE_CERT, NODE_CSR] {
        moved(&rotation.join(f), &dir.join(f))?;
    }
    std::fs::write(dir.join(CA_CERT), ca_pem)?;
    std::fs::remove_dir_all(&rotation)
        .with_context(|| format!("suppression de {} impossible", rotation.display()))?;
    Ok(Installed::Rotated {
        public_key,
        retired,
    })
}

/// What a node needs to speak mutual TLS.
#[derive(Clone)]
pub struct NodeTls {
    pub cert_pem: String,
    pub key_pem: String,
    pub ca_pem: String,
}

impl NodeTls {
    /// Loads the node's certificate, key and CA, with a message saying what to
    /// run when one is missing.
    pub fn load(dir: &Path) -> anyhow::Result<NodeTls> {
        if !dir.join(NODE_CERT).exists() {
            bail!(
                "certificat du nœud absent ({}) : faites signer {} par l'autorité du réseau (maillage ca sign --dir AUTORITÉ --csr {} --out node.pem) puis installez-le (maillage cert install --dir {} --cert node.pem --ca-cert ca.pem) ; ou mettez insecure = true dans la configuration pour un essai sans TLS",
                dir.join(NODE_CERT).display(),
                NODE_CSR,
                dir.join(NODE_CSR).display(),
                dir.display()
            );
        }
        Ok(NodeTls {
            cert_pem: read(&dir.join(NODE_CERT))?,
            key_pem: read(&dir.join(NODE_KEY))?,
            ca_pem: read(&dir.join(CA_CERT))?,
        })
    }

    /// The CA to trust, and the node's certificate chain and TLS key, for
    /// the federation's own TLS client ([`Dialer`]) and server ([`Acceptor`]).
    #[allow(clippy::type_complexity)]
    fn rustls_parts(
        &self,
    ) -> anyhow::Result<(
        rustls::RootCertStore,
        Vec<rustls::pki_types::CertificateDer<'static>>,
        rustls::pki_types::PrivateKeyDer<'static>,
    )> {
        use rustls::pki_types::pem::PemObject;
        use rustls::pki_types::{CertificateDer, PrivateKeyDer};
        let mut roots = rustls::RootCertStore::empty();
        for c in CertificateDer::pem_slice_iter(self.ca_pem.as_bytes()) {
            roots
                .add(c.context("certificat de l'autorité illisible")?)
                .context("certificat de l'autorité refusé")?;
        }
        let certs = CertificateDer::pem_slice_iter(self.cert_pem.as_bytes())
            .collect::<Result<Vec<_>, _>>()
            .context("certificat du nœud illisible")?;
        let key = PrivateKeyDer::from_pem_slice(self.key_pem.as_bytes())
            .context("clé TLS du nœud illisible")?;
        Ok((roots, certs, key))
    }
}

/// A connector for dialing peers over mutual TLS that keeps the certificate
/// the peer presented, so that the session checks who answered before any
/// document is exchanged. (tonic's own TLS connector does not expose it.)
#[derive(Clone)]
pub struct Dialer {
    connector: tokio_rustls::TlsConnector,
}

/// The federation's TLS server: mutual TLS with the network's CA, configured
/// for small handshakes (no CA names sent to clients, which hold the one CA
/// anyway; one resumption ticket, enough to resume after a dropped link).
#[derive(Clone)]
pub struct Acceptor {
    acceptor: tokio_rustls::TlsAcceptor,
}

impl Acceptor {
    pub fn new(tls: &NodeTls) -> anyhow::Result<Acceptor> {
        let (roots, certs, key) = tls.rustls_parts()?;
        let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
        let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
            std::sync::Arc::new(roots),
            provider.clone(),
        )
        .clear_root_hint_subjects()
        .build()
        .context("vérification des certificats clients")?;
        let mut cfg = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_client_cert_verifier(verifier)
            .with_single_cert(certs, key)?;
        cfg.alpn_protocols = vec![b"h2".to_vec()];
        cfg.send_tls13_tickets = 1;
        Ok(Acceptor {
            acceptor: tokio_rustls::TlsAcceptor::from(std::sync::Arc::new(cfg)),
        })
    }

    /// The TLS connections accepted on `listener`, each handshake run apart
    /// (bounded by `timeout`) so that a slow or silent client holds up no
    /// other; failed handshakes are dropped.
    pub fn incoming(
        self,
        listener: tokio::net::TcpListener,
        timeout: std::time::Duration,
        stop: tokio_util::sync::CancellationToken,
    ) -> tokio_stream::wrappers::ReceiverStream<
        std::io::Result<tokio_rustls::server::TlsStream<tokio::net::TcpStream>>,
    > {
        let (tx, rx) = tokio::sync::mpsc::channel(64);
        tokio::spawn(async move {
            loop {
                let accepted = tokio::select! {
                    _ = stop.cancelled() => return,
                    a = listener.accept() => a,
                };
                let (tcp, addr) = match accepted {
                    Ok(a) => a,
                    Err(e) => {
                        tracing::warn!(error = %e, "connexion entrante refusée");
                        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let _ = tcp.set_nodelay(true);
                let (acceptor, tx) = (self.acceptor.clone(), tx.clone());
                tokio::spawn(async move {
                    match tokio::time::timeout(timeout, acceptor.accept(tcp)).await {
                        Ok(Ok(stream)) => {
                            let _ = tx.send(Ok(stream)).await;
                        }
                        Ok(Err(e)) => {
                            tracing::debug!(%addr, error = %e, "poignée de main TLS refusée")
                        }
                        Err(_) => tracing::debug!(%addr, "poignée de main TLS trop lente"),
                    }
                });
            }
        });
        tokio_stream::wrappers::ReceiverStream::new(rx)
    }
}

/// Bytes that crossed the sockets of dialed sessions, TLS and HTTP/2 included.
#[derive(Debug, Default)]
pub struct SocketBytes {
    pub sent: std::sync::atomic::AtomicU64,
    pub received: std::sync::atomic::AtomicU64,
}

impl SocketBytes {
    pub fn total(&self) -> (u64, u64) {
        use std::sync::atomic::Ordering::Relaxed;
        (self.sent.load(Relaxed), self.received.load(Relaxed))
    }
}

/// A stream that counts the bytes read and written through it.
pub struct Counted<S> {
    inner: S,
    bytes: std::sync::Arc<SocketBytes>,
}

impl<S: tokio::io::AsyncRead + Unpin> tokio::io::AsyncRead for Counted<S> {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let r = std::pin::Pin::new(&mut self.inner).poll_read(cx, buf);
        let n = (buf.filled().len() - before) as u64;
        self.bytes
            .received
            .fetch_add(n, std::sync::atomic::Ordering::Relaxed);
        r
    }
}

impl<S: tokio::io::AsyncWrite + Unpin> tokio::io::AsyncWrite for Counted<S> {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        let r = std::pin::Pin::new(&mut self.inner).poll_write(cx, buf);
        if let std::task::Poll::Ready(Ok(n)) = &r {
            self.bytes
                .sent
                .fetch_add(*n as u64, std::sync::atomic::Ordering::Relaxed);
        }
        r
    }

    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// The certificate the dialed peer presented, once connected.
pub type DialedCert = std::sync::Arc<std::sync::Mutex<Option<Vec<u8>>>>;

impl Dialer {
    pub fn new(tls: &NodeTls) -> anyhow::Result<Dialer> {
        let (roots, certs, key) = tls.rustls_parts()?;
        let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
        let mut cfg = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_root_certificates(roots)
            .with_client_auth_cert(certs, key)?;
        cfg.alpn_protocols = vec![b"h2".to_vec()];
        Ok(Dialer {
            connector: tokio_rustls::TlsConnector::from(std::sync::Arc::new(cfg)),
        })
    }

    /// Connects to `host:port` of `uri`, completes the TLS handshake (the
    /// server's certificate must be of the network's CA, for the name every
    /// node carries), and records the certificate in `seen`.
    pub async fn connect(
        &self,
        uri: http::Uri,
        seen: DialedCert,
        counted: std::sync::Arc<SocketBytes>,
    ) -> Result<
        hyper_util::rt::TokioIo<tokio_rustls::client::TlsStream<Counted<tokio::net::TcpStream>>>,
        std::io::Error,
    > {
        let host = uri
            .host()
            .ok_or_else(|| std::io::Error::other("adresse sans hôte"))?
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_string();
        let port = uri.port_u16().unwrap_or(443);
        let tcp = tokio::net::TcpStream::connect((host.as_str(), port)).await?;
        tcp.set_nodelay(true)?;
        let tcp = Counted {
            inner: tcp,
            bytes: counted,
        };
        let name = rustls::pki_types::ServerName::try_from(NODE_NAME)
            .map_err(std::io::Error::other)?
            .to_owned();
        let stream = self.connector.connect(name, tcp).await?;
        let cert = stream
            .get_ref()
            .1
            .peer_certificates()
            .and_then(|c| c.first())
            .map(|c| c.to_vec());
        *seen.lock().unwrap() = cert;
        Ok(hyper_util::rt::TokioIo::new(stream))
    }
}

/// The site's Ed25519 key, registered in the network registry.
pub const SITE_KEY: &str = "site.key";

/// Creates the site's Ed25519 key; returns its public key (hex).
pub fn site_key_init(dir: &Path) -> anyhow::Result<String> {
    let key = ed25519_dalek::SigningKey::from_bytes(&rand::random::<[u8; 32]>());
    write_private(
        &dir.join(SITE_KEY),
        &format!("{}\n", hex::encode(key.to_bytes())),
    )?;
    Ok(hex::encode(key.verifying_key().to_bytes()))
}

/// The site's signing key, from its key file.
pub fn site_key(dir: &Path) -> anyhow::Result<ed25519_dalek::SigningKey> {
    let text = read(&dir.join(SITE_KEY))?;
    let seed: [u8; 32] = hex::decode(text.trim())
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| anyhow::anyhow!("clé du site illisible ({SITE_KEY})"))?;
    Ok(ed25519_dalek::SigningKey::from_bytes(&seed))
}

/// The site's public key (hex), from its key file.
pub fn site_public_key(dir: &Path) -> anyhow::Result<String> {
    Ok(hex::encode(site_key(dir)?.verifying_key().to_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ca_signs_a_node_request_and_install_checks_it() {
        let ca = tempfile::tempdir().unwrap();
        let other_ca = tempfile::tempdir().unwrap();
        let node = tempfile::tempdir().unwrap();
        ca_init(ca.path()).unwrap();
        assert!(ca_init(ca.path()).is_err(), "never overwrites a CA");
        ca_init(other_ca.path()).unwrap();
        let site_key = hex::encode(
            ed25519_dalek::SigningKey::from_bytes(&[7; 32])
                .verifying_key()
                .to_bytes(),
        );
        node_request(node.path(), "metz-borny", "site", &site_key).unwrap();
        let csr = std::fs::read_to_string(node.path().join(NODE_CSR)).unwrap();
        let issued = ca_sign(ca.path(), &csr, false).unwrap();
        assert_eq!(
            (issued.site.as_str(), issued.role.as_str()),
            ("metz-borny", "site")
        );
        let cert = issued.pem;
        let ca_pem = std::fs::read_to_string(ca.path().join(CA_CERT)).unwrap();
        let other_pem = std::fs::read_to_string(other_ca.path().join(CA_CERT)).unwrap();
        assert!(install(node.path(), &cert, &other_pem).is_err(), "wrong CA");
        install(node.path(), &cert, &ca_pem).unwrap();
        assert_eq!(
            peer_identity(&first_der(&cert).unwrap())
                .map(|id| id.site)
                .as_deref(),
            Some("metz-borny")
        );
        // A certificate issued for another key is refused.
        let elsewhere = tempfile::tempdir().unwrap();
        node_request(elsewhere.path(), "thionville", "academy", &site_key).unwrap();
        let csr = std::fs::read_to_string(elsewhere.path().join(NODE_CSR)).unwrap();
        let refused = ca_sign(ca.path(), &csr, false).unwrap_err().to_string();
        assert!(refused.contains("--role academy"), "{refused}");
        let theirs = ca_sign(ca.path(), &csr, true).unwrap().pem;
        assert!(install(node.path(), &theirs, &ca_pem).is_err());
        assert!(ca_sign(ca.path(), "garbage", false).is_err());
        // What the certificates bind, checked against the right CA only.
        let ca_der = pem_der(&ca_pem).unwrap();
        let mine = certified(&ca_der, &cert).unwrap();
        assert_eq!(mine.site, "metz-borny");
        assert!(!mine.academy);
        assert_eq!(hex::encode(mine.key), site_key);
        assert!(certified(&ca_der, &theirs).unwrap().academy);
        assert!(certified(&pem_der(&other_pem).unwrap(), &cert).is_err());
        // Out of its validity period: refused, whichever side.
        let now = OffsetDateTime::now_utc();
        let expired = ca_sign_for(
            ca.path(),
            &csr,
            true,
            now - Duration::days(900),
            now - Duration::days(1),
        )
        .unwrap()
        .pem;
        let e = certified(&ca_der, &expired)
            .unwrap()
            .valid_now()
            .unwrap_err();
        assert!(e.contains("validité"), "{e}");
        assert!(certified(&ca_der, &cert).unwrap().valid_now().is_ok());
        let early = ca_sign_for(
            ca.path(),
            &csr,
            true,
            now + Duration::days(2),
            now + Duration::days(10),
        )
        .unwrap()
        .pem;
        assert!(certified(&ca_der, &early).unwrap().valid_now().is_err());
        // The CA's own certificate is no node certificate.
        assert!(certified(&ca_der, &ca_pem).is_err());
    }

    fn files(dir: &Path) -> Vec<(String, Vec<u8>)> {
        let mut out = Vec::new();
        for e in walk(dir) {
            out.push((
                e.strip_prefix(dir).unwrap().display().to_string(),
                std::fs::read(&e).unwrap(),
            ));
        }
        out.sort();
        out
    }

    fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
        let mut out = Vec::new();
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                out.extend(walk(&p));
            } else {
                out.push(p);
            }
        }
        out
    }

    #[test]
    fn a_rotation_is_finished_by_the_certificate_of_its_keys() {
        let ca = tempfile::tempdir().unwrap();
        ca_init(ca.path()).unwrap();
        let ca_pem = std::fs::read_to_string(ca.path().join(CA_CERT)).unwrap();
        let sign = |dir: &Path| {
            let csr = std::fs::read_to_string(dir.join(NODE_CSR)).unwrap();
            ca_sign(ca.path(), &csr, false).unwrap().pem
        };
        let node = tempfile::tempdir().unwrap();
        let dir = node.path();
        let old_key = site_key_init(dir).unwrap();
        node_request(dir, "metz", "site", &old_key).unwrap();
        install(dir, &sign(dir), &ca_pem).unwrap();
        let before = files(dir);

        let new_key = rotation_start(dir, "metz", "site").unwrap();
        assert_ne!(new_key, old_key);
        let rotation = dir.join(ROTATION_DIR);
        assert_eq!(site_public_key(&rotation).unwrap(), new_key);
        assert_eq!(site_public_key(dir).unwrap(), old_key, "current key kept");
        let again = rotation_start(dir, "metz", "site").unwrap_err().to_string();
        assert!(again.contains("déjà en cours"), "{again}");
        let pending = files(dir);

        // A certificate of unrelated keys changes nothing.
        let elsewhere = tempfile::tempdir().unwrap();
        let k = site_key_init(elsewhere.path()).unwrap();
        node_request(elsewhere.path(), "metz", "site", &k).unwrap();
        let err = install(dir, &sign(elsewhere.path()), &ca_pem).unwrap_err();
        assert!(err.to_string().contains("rotation"), "{err}");
        assert_eq!(files(dir), pending);
        // The current keys' certificate is installed again, the rotation waits.
        let current = std::fs::read_to_string(dir.join(NODE_CERT)).unwrap();
        assert_eq!(
            install(dir, &current, &ca_pem).unwrap(),
            Installed::Current {
                rotation_pending: true
            }
        );
        assert_eq!(files(dir), pending);

        let cert = sign(&rotation);
        let Installed::Rotated {
            public_key,
            retired,
        } = install(dir, &cert, &ca_pem).unwrap()
        else {
            panic!("rotation not finished");
        };
        assert_eq!(public_key, new_key);
        assert!(!rotation.exists());
        assert_eq!(site_public_key(dir).unwrap(), new_key);
        assert_eq!(std::fs::read_to_string(dir.join(NODE_CERT)).unwrap(), cert);
        let ca_der = pem_der(&ca_pem).unwrap();
        assert_eq!(hex::encode(certified(&ca_der, &cert).unwrap().key), new_key);
        assert_eq!(site_public_key(&retired).unwrap(), old_key);
        // Everything the node had before is in the retired directory.
        let kept: Vec<_> = files(&retired);
        for (name, bytes) in before.iter().filter(|(n, _)| n != CA_CERT) {
            assert!(kept.contains(&(name.clone(), bytes.clone())), "{name}");
        }
        // A new rotation can start.
        rotation_start(dir, "metz", "site").unwrap();
    }
}
