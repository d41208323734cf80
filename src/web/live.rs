//! Live pages (issue 11, item 5): a page open on a director's screen shows
//! a change made at another site without a reload.
//!
//! The node tells each open page, over server-sent events on `/direct`,
//! that a shared document changed (its id, nothing of its content); the
//! page's script (`direct.js`) fetches the page again and replaces its
//! regions marked `data-live`, except one the person is editing. Without
//! JavaScript, pages work as they are and show the change at the next load.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::State;
use axum::http::{header, HeaderMap};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use tokio::sync::broadcast::error::RecvError;
use tokio_stream::Stream;

use super::{signed_in, Web};
use crate::auth::Need;

/// Changes that arrive within this time after a first one are told as one
/// event (a catch-up brings thousands of changes at once).
const GATHER: Duration = Duration::from_millis(150);

/// The script of live pages.
pub const SCRIPT: &str = include_str!("direct.js");

/// `GET /direct`: one `change` event per burst of document changes, as long
/// as the session lives and the node runs.
pub async fn events(State(web): State<Web>, headers: HeaderMap) -> Response {
    let s = match signed_in(&web, &headers, Need::Read) {
        Ok((s, _)) => s,
        Err(r) => return *r,
    };
    let stream = changes(web, s.id);
    Sse::new(stream)
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(20)))
        .into_response()
}

struct Watch {
    web: Web,
    session: String,
    rx: tokio::sync::broadcast::Receiver<String>,
}

fn changes(web: Web, session: String) -> impl Stream<Item = Result<Event, Infallible>> {
    let rx = web.ctx.docs.subscribe();
    let w = Watch { web, session, rx };
    futures_util::stream::unfold(w, |mut w| async move {
        let stop = w.web.stop.clone();
        let first = tokio::select! {
            _ = stop.cancelled() => return None,
            r = w.rx.recv() => r,
        };
        let mut docs = match first {
            Ok(doc) => vec![doc],
            Err(RecvError::Lagged(_)) => vec![],
            Err(RecvError::Closed) => return None,
        };
        let until = tokio::time::Instant::now() + GATHER;
        loop {
            tokio::select! {
                _ = tokio::time::sleep_until(until) => break,
                r = w.rx.recv() => match r {
                    Ok(doc) => if !docs.contains(&doc) && docs.len() < 16 { docs.push(doc) },
                    Err(RecvError::Lagged(_)) => {}
                    Err(RecvError::Closed) => return None,
                },
            }
        }
        // A session that ended (logout, account disabled) hears no more.
        w.web.sessions.get(&w.session, Utc::now())?;
        let event = Event::default().event("change").data(docs.join(" "));
        Some((Ok(event), w))
    })
}

/// `GET /static/direct.js`.
pub async fn script() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        SCRIPT,
    )
        .into_response()
}
