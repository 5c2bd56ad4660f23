//! Lists as lazy streams: TalkJS pages its lists with `limit` and `startingAfter` (the id of the
//! last item of the previous page); [`Paged`] asks for the next page only when the items it holds
//! have been read, so at most one page is in memory and a reader that stops early costs nothing
//! more.

use std::collections::VecDeque;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_util::Stream;
use futures_util::future::BoxFuture;
use serde::Deserialize;
use serde::de::DeserializeOwned;

use super::client::Client;
use super::request::Request;
use crate::{Error, Result};

/// The largest page size (the emulator's cap; TalkJS caps `limit` without documenting the
/// number).
pub const MAX_PAGE_SIZE: usize = 100;
/// The page size unless one is given: the largest, for the fewest round trips.
pub const DEFAULT_PAGE_SIZE: usize = MAX_PAGE_SIZE;

/// Page size and starting point of a list.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ListQuery {
    /// Items per request, 1 to [`MAX_PAGE_SIZE`] (default [`DEFAULT_PAGE_SIZE`]).
    pub limit: usize,
    /// Start after the item with this id (from a page seen before); `None` starts at the top.
    pub starting_after: Option<String>,
}

impl Default for ListQuery {
    fn default() -> ListQuery {
        ListQuery {
            limit: DEFAULT_PAGE_SIZE,
            starting_after: None,
        }
    }
}

impl ListQuery {
    /// From the top, in pages of [`DEFAULT_PAGE_SIZE`].
    pub fn new() -> ListQuery {
        ListQuery::default()
    }

    /// Pages of `limit` items (1 to [`MAX_PAGE_SIZE`]).
    pub fn limit(mut self, limit: usize) -> ListQuery {
        self.limit = limit;
        self
    }

    /// Starts after the item `id` (from a page seen before).
    pub fn starting_after(mut self, id: impl Into<String>) -> ListQuery {
        self.starting_after = Some(id.into());
        self
    }
}

#[derive(Deserialize)]
struct Page<T> {
    data: Vec<T>,
}

/// A REST list read page by page as it is consumed: a `Stream` of `Result<T>`.
///
/// Items come in the server's order. The stream ends after the last page (one shorter than the
/// page size, or empty). An error (a refusal, or a bad argument caught before sending) is the
/// last item. Use `futures::StreamExt` / `TryStreamExt` (`next`, `take`, `try_collect`) to
/// read it.
#[must_use = "a Paged list does nothing until it is read"]
pub struct Paged<T> {
    client: Client,
    template: std::result::Result<Request, Option<Error>>,
    limit: usize,
    cursor: Option<String>,
    buffer: VecDeque<T>,
    done: bool,
    pending: Option<BoxFuture<'static, Result<Page<T>>>>,
    id_of: fn(&T) -> &str,
}

// No item is ever pinned: the buffer and the boxed page future move freely.
impl<T> Unpin for Paged<T> {}

impl<T> std::fmt::Debug for Paged<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Paged")
            .field("limit", &self.limit)
            .field("cursor", &self.cursor)
            .field("buffered", &self.buffer.len())
            .field("done", &self.done)
            .finish_non_exhaustive()
    }
}

impl<T: DeserializeOwned + Send + 'static> Paged<T> {
    /// Pages of `request` (a GET without paging parameters), `id_of` naming an item's cursor.
    pub(crate) fn new(
        client: Client,
        request: Result<Request>,
        list: ListQuery,
        id_of: fn(&T) -> &str,
    ) -> Paged<T> {
        let template = request.and_then(|r| {
            if (1..=MAX_PAGE_SIZE).contains(&list.limit) {
                Ok(r)
            } else {
                Err(Error::invalid(
                    r.operation,
                    format!(
                        "the page size must be 1 to {MAX_PAGE_SIZE}, not {}",
                        list.limit
                    ),
                ))
            }
        });
        let template = template.map_err(Some);
        if let Ok(r) = &template
            && list.starting_after.as_deref() == Some("")
        {
            let e = Error::invalid(r.operation.clone(), "startingAfter is empty");
            return Paged::failed(client, e, id_of);
        }
        Paged {
            client,
            template,
            limit: list.limit,
            cursor: list.starting_after,
            buffer: VecDeque::new(),
            done: false,
            pending: None,
            id_of,
        }
    }

    fn failed(client: Client, e: Error, id_of: fn(&T) -> &str) -> Paged<T> {
        Paged {
            client,
            template: Err(Some(e)),
            limit: 0,
            cursor: None,
            buffer: VecDeque::new(),
            done: false,
            pending: None,
            id_of,
        }
    }

    /// The cursor of the next page: the id of the last item fetched so far (`None` before the
    /// first page, unless the list started after an item). Keep it to resume later with
    /// `starting_after`.
    pub fn cursor(&self) -> Option<&str> {
        self.cursor.as_deref()
    }
}

impl<T: DeserializeOwned + Send + 'static> Stream for Paged<T> {
    type Item = Result<T>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<T>>> {
        let this = self.get_mut();
        loop {
            if let Some(item) = this.buffer.pop_front() {
                return Poll::Ready(Some(Ok(item)));
            }
            if this.done {
                return Poll::Ready(None);
            }
            if this.pending.is_none() {
                let template = match &mut this.template {
                    Ok(t) => t,
                    Err(e) => {
                        this.done = true;
                        return Poll::Ready(e.take().map(Err));
                    }
                };
                let mut request = template.clone().query("limit", this.limit);
                if let Some(c) = &this.cursor {
                    request = request.query("startingAfter", c);
                }
                let client = this.client.clone();
                this.pending = Some(Box::pin(async move { client.call(request).await }));
            }
            let Some(pending) = this.pending.as_mut() else {
                continue;
            };
            let page = match pending.as_mut().poll(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(page) => page,
            };
            this.pending = None;
            match page {
                Ok(page) => {
                    // A short page is the last: no request for an empty one after it.
                    this.done = page.data.len() < this.limit;
                    match page.data.last() {
                        Some(last) => this.cursor = Some((this.id_of)(last).to_owned()),
                        None => this.done = true,
                    }
                    this.buffer.extend(page.data);
                }
                Err(e) => {
                    this.done = true;
                    return Poll::Ready(Some(Err(e)));
                }
            }
        }
    }
}
