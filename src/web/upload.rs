//! Multipart forms (`multipart/form-data`, the forms that send a file): read
//! whole by the CSRF guard, which finds the `_csrf` part in them and leaves
//! the parts in the request's extensions for the handler.

use axum::body::Bytes;
use axum::http::{header, HeaderMap};

/// Largest multipart body accepted: an inventory file
/// ([`crate::app::import::MAX_BYTES`]) and the form's other fields, with room
/// to spare so that a file a little too big gets the import's own message.
pub const MAX_UPLOAD: usize = 5 * 1024 * 1024;

/// One part of a multipart form.
#[derive(Debug, Clone)]
pub struct Part {
    pub name: String,
    /// The file's name on the sender's computer, for a file part.
    pub file_name: Option<String>,
    pub data: Bytes,
}

/// The parts of a multipart form, in order.
#[derive(Debug, Clone, Default)]
pub struct Upload {
    pub parts: Vec<Part>,
}

impl Upload {
    /// The first part named `name`.
    pub fn part(&self, name: &str) -> Option<&Part> {
        self.parts.iter().find(|p| p.name == name)
    }

    /// The text of the first part named `name`.
    pub fn text(&self, name: &str) -> Option<String> {
        self.part(name)
            .map(|p| String::from_utf8_lossy(&p.data).into_owned())
    }
}

/// The boundary of a `multipart/form-data` request; None for any other body.
pub fn boundary(headers: &HeaderMap) -> Option<String> {
    let ct = headers.get(header::CONTENT_TYPE)?.to_str().ok()?;
    if !ct
        .trim_start()
        .to_ascii_lowercase()
        .starts_with("multipart/form-data")
    {
        return None;
    }
    multer::parse_boundary(ct).ok()
}

/// Every part of a multipart body already read whole.
pub async fn parse(body: Bytes, boundary: String) -> multer::Result<Upload> {
    let stream = tokio_stream::once(Ok::<_, std::convert::Infallible>(body));
    let mut form = multer::Multipart::new(stream, boundary);
    let mut parts = Vec::new();
    while let Some(field) = form.next_field().await? {
        let name = field.name().unwrap_or_default().to_string();
        let file_name = field.file_name().map(str::to_string);
        let data = field.bytes().await?;
        parts.push(Part {
            name,
            file_name,
            data,
        });
    }
    Ok(Upload { parts })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_parts_of_a_form_with_a_file() {
        let body = "--XyZ\r\n\
             Content-Disposition: form-data; name=\"_csrf\"\r\n\r\n\
             jeton\r\n\
             --XyZ\r\n\
             Content-Disposition: form-data; name=\"fichier\"; filename=\"inventaire.csv\"\r\n\
             Content-Type: text/csv\r\n\r\n\
             Nom;Catégorie\r\nA;b\r\n\r\n\
             --XyZ--\r\n";
        let mut h = HeaderMap::new();
        h.insert(
            header::CONTENT_TYPE,
            "multipart/form-data; boundary=XyZ".parse().unwrap(),
        );
        let b = boundary(&h).unwrap();
        let u = parse(Bytes::from(body), b).await.unwrap();
        assert_eq!(u.text("_csrf").as_deref(), Some("jeton"));
        let f = u.part("fichier").unwrap();
        assert_eq!(f.file_name.as_deref(), Some("inventaire.csv"));
        assert_eq!(&f.data[..], "Nom;Catégorie\r\nA;b\r\n".as_bytes());
        h.insert(
            header::CONTENT_TYPE,
            "application/x-www-form-urlencoded".parse().unwrap(),
        );
        assert!(boundary(&h).is_none());
    }
}
