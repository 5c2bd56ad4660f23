//! Paged fetches shared by the list kinds: follow cursors until a count is reached, or until
//! the pages reach what a list already shows (a reconnect's reconciliation).

use futures_util::future::LocalBoxFuture;
use serde::de::DeserializeOwned;
use talkjs_protocol::path::Route;
use talkjs_protocol::request::ListRequest;
use talkjs_protocol::wire::Page;

use super::Env;
use crate::error::Error;

/// Items fetched page by page, and the cursor after them (`None`: there are no more).
pub(crate) type Pages<T> = (Vec<T>, Option<String>);

/// When a paged fetch may stop.
pub(crate) enum Until<T> {
    /// Once this many items are fetched.
    Count(usize),
    /// Once the last item fetched satisfies this (it reaches what is shown).
    Past(Box<dyn Fn(&T) -> bool>),
}

/// Fetches a list page by page, starting with `first` (sent now, so it follows anything sent
/// before on the wire), until `until` is met or there are no more pages. A short page with a
/// cursor is followed at once, as the official client fills its window.
pub(crate) fn fetch_pages<T: DeserializeOwned + 'static>(
    env: &Env,
    operation: String,
    route: Route,
    first: ListRequest,
    max_page: usize,
    until: Until<T>,
) -> LocalBoxFuture<'static, Result<Pages<T>, Error>> {
    let first_page = env.call::<_, Page<T>>(operation.clone(), &route, &first);
    let env = env.clone();
    Box::pin(async move {
        let mut page = first_page.await?;
        let mut out: Vec<T> = Vec::new();
        loop {
            let got = page.data.len();
            out.extend(page.data);
            let Some(cursor) = page.cursor else {
                return Ok((out, None));
            };
            let need = match &until {
                Until::Count(want) if out.len() >= *want => 0,
                Until::Count(want) => (want - out.len()).min(max_page),
                Until::Past(reached) if out.last().is_some_and(reached) => 0,
                Until::Past(_) => max_page,
            };
            if got == 0 || need == 0 {
                return Ok((out, Some(cursor)));
            }
            let request = ListRequest::next_page(need as u32, cursor);
            page = env.call(operation.clone(), &route, &request).await?;
        }
    })
}
