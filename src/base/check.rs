//! Checks of what people type for a site: its public key and its node's URL.
//! The configuration, the registry and the CA all apply them.

/// An input a check refused; the message says what to fix, for people.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Invalid(pub String);

/// Checks a public key given as 64 hex characters; returns it trimmed, in
/// lower case.
pub fn check_key(key: &str) -> Result<String, Invalid> {
    let k = key.trim().to_lowercase();
    let bytes: [u8; 32] = hex::decode(&k)
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| {
            Invalid("clé publique invalide : 64 caractères hexadécimaux attendus (affichés par maillage init)".into())
        })?;
    ed25519_dalek::VerifyingKey::from_bytes(&bytes)
        .map_err(|_| Invalid("clé publique invalide : ce n'est pas une clé Ed25519".into()))?;
    Ok(k)
}

/// Checks the URL of a peer's federation endpoint (`http://HOST:PORT` or
/// `https://HOST:PORT`).
pub fn validate_peer_url(p: &str) -> Result<(), Invalid> {
    let ok = (p.starts_with("http://") || p.starts_with("https://"))
        && p.parse::<tonic::transport::Uri>().is_ok();
    if !ok {
        return Err(Invalid(format!(
            "adresse de pair « {p} » invalide (attendu http://HÔTE:PORT)"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys() {
        // Not every 32 bytes are an Ed25519 point; the signing key's public half is.
        let good = hex::encode(
            ed25519_dalek::SigningKey::from_bytes(&[7; 32])
                .verifying_key()
                .to_bytes(),
        );
        assert_eq!(check_key(&format!(" {} ", good.to_uppercase())), Ok(good));
        assert!(check_key("abc").unwrap_err().0.contains("64 caractères"));
    }

    #[test]
    fn peer_urls() {
        assert!(validate_peer_url("https://metz.example:7400").is_ok());
        assert!(validate_peer_url("http://127.0.0.1:7400").is_ok());
        for bad in ["", "metz.example:7400", "ftp://metz.example"] {
            assert!(validate_peer_url(bad).is_err(), "{bad}");
        }
    }
}
