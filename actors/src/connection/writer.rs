//! [`LeanSinkWrite`]: the socket's write half, driven on the connection's context, with a queue
//! that holds memory only while frames wait in it.
//!
//! It does what actix's `SinkWrite` does (queue items, feed them to the sink in order as it is
//! ready, flush, close on request, report errors to the actor's `WriteHandler`), except that
//! `SinkWrite`'s queue keeps the room of its busiest moment for the socket's whole life: the
//! first frames of a socket (the renew, the `SUBSCRIBE`s) grow it, and an idle socket then held
//! that room for nothing. The same reasoning as [`LeanFramed`](super::frames)'s buffers.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context as TaskContext, Poll, Waker};

use actix::io::WriteHandler;
use actix::prelude::*;
use futures_util::Sink;

/// Queues items for a sink and writes them in order on the actor's context. See the module docs.
pub(super) struct LeanSinkWrite<I, S: Sink<I> + Unpin> {
    inner: Rc<RefCell<Inner<I, S>>>,
}

struct Inner<I, S> {
    sink: S,
    /// Items not yet handed to the sink; unallocated while empty.
    queue: VecDeque<I>,
    /// The writing future, to wake when there is work.
    task: Option<Waker>,
    /// `close` was called: the sink is closed once the queue is written.
    closing: bool,
}

impl<I: 'static, S: Sink<I> + Unpin + 'static> LeanSinkWrite<I, S> {
    /// Starts writing to `sink` on `ctx`.
    pub(super) fn new<A>(sink: S, ctx: &mut Context<A>) -> Self
    where
        A: Actor<Context = Context<A>> + WriteHandler<S::Error>,
    {
        let inner = Rc::new(RefCell::new(Inner {
            sink,
            queue: VecDeque::new(),
            task: None,
            closing: false,
        }));
        ctx.spawn(Writing {
            inner: inner.clone(),
        });
        LeanSinkWrite { inner }
    }

    /// Queues an item; gives it back once the sink is closing (or closed).
    pub(super) fn write(&mut self, item: I) -> Result<(), I> {
        let mut inner = self.inner.borrow_mut();
        if inner.closing {
            return Err(item);
        }
        inner.queue.push_back(item);
        if let Some(task) = &inner.task {
            task.wake_by_ref();
        }
        Ok(())
    }

    /// Closes the sink once what is queued is written.
    pub(super) fn close(&mut self) {
        let mut inner = self.inner.borrow_mut();
        inner.closing = true;
        if let Some(task) = &inner.task {
            task.wake_by_ref();
        }
    }
}

/// The future that feeds the queue to the sink.
struct Writing<I, S> {
    inner: Rc<RefCell<Inner<I, S>>>,
}

impl<I: 'static, S, A> ActorFuture<A> for Writing<I, S>
where
    S: Sink<I> + Unpin + 'static,
    A: Actor<Context = Context<A>> + WriteHandler<S::Error>,
{
    type Output = ();

    fn poll(
        self: Pin<&mut Self>,
        act: &mut A,
        ctx: &mut Context<A>,
        cx: &mut TaskContext<'_>,
    ) -> Poll<()> {
        let mut inner = self.inner.borrow_mut();
        let inner = &mut *inner;
        // Everything queued goes to the sink while it is ready.
        while !inner.queue.is_empty() {
            match Pin::new(&mut inner.sink).poll_ready(cx) {
                Poll::Ready(Ok(())) => {
                    if let Some(item) = inner.queue.pop_front() {
                        // An error here shows again in the flush or close below.
                        let _ = Pin::new(&mut inner.sink).start_send(item);
                    }
                }
                Poll::Ready(Err(_)) | Poll::Pending => break,
            }
        }
        if inner.queue.is_empty() && inner.queue.capacity() > 0 {
            // Drained: give the room back (an idle socket writes nothing for a long time).
            inner.queue = VecDeque::new();
        }
        let done = if inner.closing {
            Pin::new(&mut inner.sink).poll_close(cx)
        } else {
            Pin::new(&mut inner.sink).poll_flush(cx)
        };
        match done {
            Poll::Ready(Err(e)) => {
                if act.error(e, ctx) == Running::Stop {
                    act.finished(ctx);
                    return Poll::Ready(());
                }
            }
            Poll::Ready(Ok(())) if inner.closing && inner.queue.is_empty() => {
                act.finished(ctx);
                return Poll::Ready(());
            }
            Poll::Ready(Ok(())) | Poll::Pending => {}
        }
        inner.task = Some(cx.waker().clone());
        Poll::Pending
    }
}
