//! Message and conversation search against the real emulator: first pages and `load_more`
//! windows, filters, hydration, what a non-participant sees, superseded and concurrent calls,
//! and typed errors. HTTP goes through a small recording proxy (which can also slow chosen
//! requests down); the faults a real server does not produce come from mockito.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use talkjs::filter::{ConversationFilter, CustomFieldFilter, SimpleConversationFilter};
use talkjs::params::{CreateConversationParams, CreateParticipantParams, CreateUserParams};
use talkjs::protocol::endpoints::ApiUrls;
use talkjs::snapshot::{ConversationSearchState, MessageSearchState};
use talkjs::token::{JwtSigner, TokenFn, TokenRequest};
use talkjs::{
    ConversationSearch, ConversationSearchFilters, ErrorKind, MessageSearch, MessageSearchFilters,
    SearchStatus, TalkSession,
};
use talkjs_emulator::{Emulator, RunningEmulator};
use tokio::net::{TcpListener, TcpStream};

mod common;

const APP: &str = "app1";

async fn emulator() -> RunningEmulator {
    Emulator::builder()
        .app_id(APP)
        .start("127.0.0.1:0")
        .await
        .expect("emulator starts")
}

/// A TCP proxy in front of the emulator's HTTP side: it records the request line of every
/// connection (each search request opens its own) and holds back, for `delay`, the requests
/// whose line contains `slow`.
struct Proxy {
    port: u16,
    seen: Arc<Mutex<Vec<String>>>,
}

impl Proxy {
    async fn start(emu: &RunningEmulator, slow: Option<&'static str>, delay: Duration) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = seen.clone();
        let upstream = emu.host();
        actix_rt::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                let (log, upstream) = (log.clone(), upstream.clone());
                actix_rt::spawn(async move {
                    let line = request_line(&inbound).await;
                    let held = slow.is_some_and(|s| line.contains(s));
                    log.lock().unwrap().push(line);
                    if held {
                        actix_rt::time::sleep(delay).await;
                    }
                    if let Ok(mut outbound) = TcpStream::connect(&upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
            }
        });
        Proxy { port, seen }
    }

    /// The request lines of the search requests so far.
    fn searches(&self) -> Vec<String> {
        let seen = self.seen.lock().unwrap();
        seen.iter()
            .filter(|l| l.contains("/search?"))
            .cloned()
            .collect()
    }

    async fn wait_for_search(&self, containing: &str) {
        for _ in 0..200 {
            if self.searches().iter().any(|l| l.contains(containing)) {
                return;
            }
            actix_rt::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("no search request containing {containing:?} reached the proxy");
    }
}

/// The first line of the request on `s`, read without consuming it.
async fn request_line(s: &TcpStream) -> String {
    let mut buf = [0u8; 8192];
    for _ in 0..500 {
        let n = s.peek(&mut buf).await.unwrap_or(0);
        if let Some(end) = buf[..n].windows(2).position(|w| w == b"\r\n") {
            return String::from_utf8_lossy(&buf[..end]).into_owned();
        }
        if n == 0 || n == buf.len() {
            break;
        }
        actix_rt::time::sleep(Duration::from_millis(2)).await;
    }
    String::new()
}

/// A session for `user` whose REST calls (search) go through `proxy`; the user exists, named
/// `name`.
async fn session(emu: &RunningEmulator, proxy: &Proxy, user: &str, name: &str) -> TalkSession {
    let urls = ApiUrls {
        rest: format!("http://127.0.0.1:{}/public_api/v1", proxy.port),
        ..ApiUrls::for_host(&emu.host())
    };
    let s = talkjs::get_talk_session(APP, user)
        .api_urls(urls)
        .force_create_new()
        .await
        .expect("session");
    s.current_user()
        .create_if_not_exists(CreateUserParams::new(name))
        .await
        .unwrap();
    s
}

/// Creates conversation `id` as `owner` with `params` and adds `others`.
async fn conversation(
    owner: &TalkSession,
    id: &str,
    params: CreateConversationParams,
    others: &[&str],
) {
    let c = owner.conversation(id);
    c.create_if_not_exists(params).await.unwrap();
    for o in others {
        c.participant(*o)
            .create_if_not_exists(CreateParticipantParams::new())
            .await
            .unwrap();
    }
}

async fn send_all(s: &TalkSession, conversation: &str, texts: &[&str]) {
    for t in texts {
        s.conversation(conversation).send(*t).await.unwrap();
    }
}

fn texts(state: &MessageSearchState) -> Vec<&str> {
    state
        .results
        .iter()
        .map(|r| r.message.plaintext.as_str())
        .collect()
}

fn ids(state: &ConversationSearchState) -> Vec<&str> {
    state.results.iter().map(|c| c.id.as_str()).collect()
}

fn custom_is(key: &str, value: &str) -> ConversationFilter {
    SimpleConversationFilter::new()
        .custom(key, CustomFieldFilter::eq(value))
        .into()
}

fn assert_cheap_handle<T: Clone + Send + Sync + std::fmt::Debug>() {}

#[actix_rt::test]
async fn set_query_loads_the_three_newest_and_load_more_pages_until_loaded_all() {
    assert_cheap_handle::<MessageSearch>();
    assert_cheap_handle::<ConversationSearch>();
    let emu = emulator().await;
    let proxy = Proxy::start(&emu, None, Duration::ZERO).await;
    let alice = session(&emu, &proxy, "alice", "Alice").await;
    let bob = session(&emu, &proxy, "bob", "Bob").await;
    conversation(&alice, "c1", CreateConversationParams::new(), &["bob"]).await;
    send_all(
        &bob,
        "c1",
        &[
            "apple 1", "apple 2", "banana", "apple 3", "apple 4", "apple 5", "apple 6", "apple 7",
        ],
    )
    .await;

    let search = alice.search_messages();
    let first = search.set_query("apple", None).await.unwrap();
    assert_eq!(texts(&first), ["apple 7", "apple 6", "apple 5"]);
    assert!(!first.loaded_all);

    // A clone continues the same search.
    let more = search.clone().load_more(Some(2)).await.unwrap();
    assert_eq!(
        texts(&more),
        ["apple 7", "apple 6", "apple 5", "apple 4", "apple 3"]
    );
    assert!(!more.loaded_all);
    let rest = search.load_more(None).await.unwrap();
    assert_eq!(
        texts(&rest),
        [
            "apple 7", "apple 6", "apple 5", "apple 4", "apple 3", "apple 2", "apple 1"
        ]
    );
    assert!(rest.loaded_all);
    // Everything is loaded: nothing more is asked for.
    assert_eq!(search.load_more(None).await.unwrap(), rest);

    let sent = proxy.searches();
    assert_eq!(sent.len(), 3, "{sent:#?}");
    assert_eq!(
        sent[0],
        "GET /public_api/v1/app1/me/messages/search?searchString=apple&conversationFilter=%7B%7D&limit=3 HTTP/1.1"
    );
    for (line, limit) in sent[1..].iter().zip(["limit=2", "limit=10"]) {
        assert!(line.contains("?cursor="), "{line}");
        assert!(line.contains(limit), "{line}");
        assert!(!line.contains("searchString"), "{line}");
    }
    emu.stop().await;
}

#[actix_rt::test]
async fn message_results_are_hydrated_with_senders_replies_and_their_conversation() {
    let emu = emulator().await;
    let proxy = Proxy::start(&emu, None, Duration::ZERO).await;
    let alice = session(&emu, &proxy, "alice", "Alice Liddell").await;
    let bob = session(&emu, &proxy, "bob", "Bob Builder").await;
    conversation(
        &alice,
        "trip",
        CreateConversationParams::new().subject("Trip"),
        &["bob"],
    )
    .await;
    let question = bob
        .conversation("trip")
        .send("where shall we go?")
        .await
        .unwrap();
    alice
        .conversation("trip")
        .send(
            talkjs::params::SendTextMessageParams::new("to the mountains").reply_to(question.id()),
        )
        .await
        .unwrap();

    let found = bob
        .search_messages()
        .set_query("mountains", None)
        .await
        .unwrap();
    assert!(found.loaded_all);
    let [hit] = &found.results[..] else {
        panic!("one result expected: {found:#?}");
    };
    let sender = hit.message.sender.as_ref().expect("sender hydrated");
    assert_eq!(sender.name, "Alice Liddell");
    let replied = hit
        .message
        .referenced_message
        .as_ref()
        .expect("replied-to message hydrated");
    assert_eq!(replied.id, question.id());
    assert_eq!(
        replied.sender.as_ref().map(|u| u.name.as_str()),
        Some("Bob Builder")
    );
    assert_eq!(hit.conversation.id, "trip");
    assert_eq!(hit.conversation.subject.as_deref(), Some("Trip"));
    let last = hit
        .conversation
        .last_message
        .as_ref()
        .expect("last message");
    assert_eq!(last.id, hit.message.id);
    assert_eq!(
        last.sender.as_ref().map(|u| u.name.as_str()),
        Some("Alice Liddell")
    );
    emu.stop().await;
}

#[actix_rt::test]
async fn conversation_results_come_with_their_last_message_and_page_like_messages() {
    let emu = emulator().await;
    let proxy = Proxy::start(&emu, None, Duration::ZERO).await;
    let alice = session(&emu, &proxy, "alice", "Alice").await;
    let bob = session(&emu, &proxy, "bob", "Bob").await;
    for i in 1..=5 {
        let id = format!("p{i}");
        conversation(
            &alice,
            &id,
            CreateConversationParams::new().subject(format!("Project {i}")),
            &["bob"],
        )
        .await;
        send_all(&bob, &id, &[format!("news about project {i}").as_str()]).await;
    }
    conversation(
        &alice,
        "other",
        CreateConversationParams::new().subject("Lunch"),
        &[],
    )
    .await;

    let search = alice.search_conversations();
    let first = search.set_query("project", None).await.unwrap();
    assert_eq!(ids(&first), ["p5", "p4", "p3"]);
    assert!(!first.loaded_all);
    let all = search.load_more(Some(5)).await.unwrap();
    assert_eq!(ids(&all), ["p5", "p4", "p3", "p2", "p1"]);
    assert!(all.loaded_all);
    for c in &all.results {
        let last = c.last_message.as_ref().expect("last message hydrated");
        let n = c.id.trim_start_matches('p');
        assert_eq!(last.plaintext, format!("news about project {n}"));
        assert_eq!(last.sender.as_ref().map(|u| u.name.as_str()), Some("Bob"));
    }
    let sent = proxy.searches();
    assert_eq!(sent.len(), 2, "{sent:#?}");
    assert!(sent[0].contains(
        "/me/conversations/search?searchString=project&conversationFilter=%7B%7D&limit=3 "
    ));
    assert!(sent[1].contains("/me/conversations/search?cursor=") && sent[1].contains("&limit=5 "));
    emu.stop().await;
}

#[actix_rt::test]
async fn a_conversation_filter_restricts_message_and_conversation_results() {
    let emu = emulator().await;
    let proxy = Proxy::start(&emu, None, Duration::ZERO).await;
    let alice = session(&emu, &proxy, "alice", "Alice").await;
    for (id, topic) in [("w", "work"), ("h", "home")] {
        conversation(
            &alice,
            id,
            CreateConversationParams::new()
                .subject(format!("{topic} plans"))
                .custom("topic", topic),
            &[],
        )
        .await;
        send_all(&alice, id, &[format!("plans for {topic}").as_str()]).await;
    }

    let messages = alice.search_messages();
    let everywhere = messages.set_query("plans", None).await.unwrap();
    assert_eq!(texts(&everywhere), ["plans for home", "plans for work"]);
    let at_work = messages
        .set_query(
            "plans",
            Some(MessageSearchFilters::new().conversation(custom_is("topic", "work"))),
        )
        .await
        .unwrap();
    assert_eq!(texts(&at_work), ["plans for work"]);
    assert!(at_work.loaded_all);

    let conversations = alice.search_conversations();
    let everywhere = conversations.set_query("plans", None).await.unwrap();
    assert_eq!(ids(&everywhere), ["h", "w"]);
    let at_home = conversations
        .set_query(
            "plans",
            Some(ConversationSearchFilters::from(custom_is("topic", "home"))),
        )
        .await
        .unwrap();
    assert_eq!(ids(&at_home), ["h"]);

    // The filter travels as JSON in the first page's URL.
    let sent = proxy.searches();
    assert!(
        sent[1].contains(
            "conversationFilter=%7B%22custom%22%3A%7B%22topic%22%3A%5B%22%3D%3D%22%2C%22work%22%5D%7D%7D&"
        ),
        "{sent:#?}"
    );
    emu.stop().await;
}

#[actix_rt::test]
async fn a_query_with_special_characters_reaches_the_server_intact() {
    let emu = emulator().await;
    let proxy = Proxy::start(&emu, None, Duration::ZERO).await;
    let alice = session(&emu, &proxy, "alice", "Alice").await;
    conversation(&alice, "c", CreateConversationParams::new(), &[]).await;
    send_all(&alice, "c", &["it is 100% café & crème", "100 cafés"]).await;
    // A `%` survives only if the query is encoded twice, as the server decodes it twice.
    let found = alice
        .search_messages()
        .set_query("100% café & cr", None)
        .await
        .unwrap();
    assert_eq!(texts(&found), ["it is 100% café & crème"]);
    emu.stop().await;
}

#[actix_rt::test]
async fn a_user_who_is_not_a_participant_sees_nothing_of_others_conversations() {
    let emu = emulator().await;
    let proxy = Proxy::start(&emu, None, Duration::ZERO).await;
    let alice = session(&emu, &proxy, "alice", "Alice").await;
    let bob = session(&emu, &proxy, "bob", "Bob").await;
    let carol = session(&emu, &proxy, "carol", "Carol").await;
    conversation(
        &alice,
        "ab",
        CreateConversationParams::new().subject("Secret project"),
        &["bob"],
    )
    .await;
    send_all(&bob, "ab", &["the secret plans"]).await;
    conversation(
        &carol,
        "c",
        CreateConversationParams::new().subject("Carol's secret garden"),
        &[],
    )
    .await;
    send_all(&carol, "c", &["my secret recipe"]).await;

    let carols = carol
        .search_messages()
        .set_query("secret", None)
        .await
        .unwrap();
    assert_eq!(texts(&carols), ["my secret recipe"]);
    assert!(carols.results.iter().all(|r| r.conversation.id == "c"));
    let carols = carol
        .search_conversations()
        .set_query("secret", None)
        .await
        .unwrap();
    assert_eq!(ids(&carols), ["c"]);

    // Bob finds his conversation's, and nothing of Carol's.
    let bobs = bob
        .search_messages()
        .set_query("secret", None)
        .await
        .unwrap();
    assert_eq!(texts(&bobs), ["the secret plans"]);
    let bobs = bob
        .search_conversations()
        .set_query("secret", None)
        .await
        .unwrap();
    assert_eq!(ids(&bobs), ["ab"]);
    emu.stop().await;
}

#[actix_rt::test]
async fn an_empty_query_sends_nothing_and_clears_the_search() {
    let emu = emulator().await;
    let proxy = Proxy::start(&emu, None, Duration::ZERO).await;
    let alice = session(&emu, &proxy, "alice", "Alice").await;
    conversation(&alice, "c", CreateConversationParams::new(), &[]).await;
    send_all(
        &alice,
        "c",
        &["one apple", "two apples", "three apples", "four apples"],
    )
    .await;
    let search = alice.search_messages();

    // Before any query there is nothing to load.
    let none = search.load_more(None).await.unwrap();
    assert!(none.results.is_empty() && none.loaded_all);

    let found = search.set_query("apple", None).await.unwrap();
    assert_eq!(found.results.len(), 3);
    let cleared = search.set_query("", None).await.unwrap();
    assert!(cleared.results.is_empty() && cleared.loaded_all);
    let after = search.load_more(None).await.unwrap();
    assert!(after.results.is_empty() && after.loaded_all);

    let conversations = alice.search_conversations();
    let none = conversations.set_query("", None).await.unwrap();
    assert!(none.results.is_empty() && none.loaded_all);
    assert_eq!(proxy.searches().len(), 1, "{:#?}", proxy.searches());
    emu.stop().await;
}

#[actix_rt::test]
async fn load_more_limits_outside_1_to_50_are_invalid_arguments_and_send_nothing() {
    let emu = emulator().await;
    let proxy = Proxy::start(&emu, None, Duration::ZERO).await;
    let alice = session(&emu, &proxy, "alice", "Alice").await;
    conversation(&alice, "c", CreateConversationParams::new(), &[]).await;
    let many: Vec<String> = (0..60).map(|i| format!("pear {i}")).collect();
    let many: Vec<&str> = many.iter().map(String::as_str).collect();
    send_all(&alice, "c", &many).await;

    let search = alice.search_messages();
    let first = search.set_query("pear", None).await.unwrap();
    for bad in [0, 51, u32::MAX] {
        let e = search.load_more(Some(bad)).await.unwrap_err();
        assert!(matches!(e.kind(), ErrorKind::InvalidArgument(_)), "{e}");
        let e = alice
            .search_conversations()
            .load_more(Some(bad))
            .await
            .unwrap_err();
        assert!(matches!(e.kind(), ErrorKind::InvalidArgument(_)), "{e}");
    }
    assert_eq!(proxy.searches().len(), 1);
    // The search is untouched and the largest page is accepted.
    let more = search.load_more(Some(50)).await.unwrap();
    assert_eq!(more.results.len(), 53);
    assert_eq!(more.results[..3], first.results[..]);
    assert!(proxy.searches()[1].contains("&limit=50 "));
    emu.stop().await;
}

#[actix_rt::test]
async fn a_newer_set_query_wins_over_a_slower_older_one() {
    let emu = emulator().await;
    let proxy = Proxy::start(&emu, Some("searchString=alpha"), Duration::from_millis(800)).await;
    let alice = session(&emu, &proxy, "alice", "Alice").await;
    conversation(&alice, "c", CreateConversationParams::new(), &[]).await;
    send_all(&alice, "c", &["alpha one", "beta one", "beta two"]).await;
    let search = alice.search_messages();

    let older = {
        let search = search.clone();
        actix_rt::spawn(async move { search.set_query("alpha", None).await })
    };
    proxy.wait_for_search("searchString=alpha").await;
    let newer = search.set_query("beta", None).await.unwrap();
    assert_eq!(texts(&newer), ["beta two", "beta one"]);
    // The older call answers for the search as it now is.
    let older = older.await.unwrap().unwrap();
    assert_eq!(texts(&older), texts(&newer));
    // Long after the slow answer would have arrived, the search still holds the newer query.
    actix_rt::time::sleep(Duration::from_millis(1200)).await;
    let now = search.load_more(None).await.unwrap();
    assert_eq!(texts(&now), ["beta two", "beta one"]);
    assert!(now.loaded_all);
    emu.stop().await;
}

#[actix_rt::test]
async fn load_more_while_a_load_is_running_waits_for_it_and_sends_nothing() {
    let emu = emulator().await;
    let proxy = Proxy::start(&emu, Some("searchString=gamma"), Duration::from_millis(400)).await;
    let alice = session(&emu, &proxy, "alice", "Alice").await;
    conversation(&alice, "c", CreateConversationParams::new(), &[]).await;
    let many: Vec<String> = (0..20).map(|i| format!("gamma {i}")).collect();
    let many: Vec<&str> = many.iter().map(String::as_str).collect();
    send_all(&alice, "c", &many).await;
    let search = alice.search_messages();

    let first = {
        let search = search.clone();
        actix_rt::spawn(async move { search.set_query("gamma", None).await })
    };
    proxy.wait_for_search("searchString=gamma").await;
    let joined = search.load_more(Some(5)).await.unwrap();
    assert_eq!(joined.results.len(), 3, "waited for the first page only");
    assert_eq!(first.await.unwrap().unwrap(), joined);
    assert_eq!(proxy.searches().len(), 1);

    // Two load_more calls at once: the second waits for the first.
    let (a, b) =
        futures_util::future::join(search.load_more(Some(2)), search.load_more(Some(7))).await;
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(a, b);
    assert_eq!(a.results.len(), 5);
    assert_eq!(proxy.searches().len(), 2);
    emu.stop().await;
}

// ---------------------------------------------------------------------------------------------
// Faults: a refusing server (mockito) and a refused token
// ---------------------------------------------------------------------------------------------

async fn mocked_session(emu: &RunningEmulator, rest: &mockito::ServerGuard) -> TalkSession {
    let urls = ApiUrls {
        rest: rest.url(),
        ..ApiUrls::for_host(&emu.host())
    };
    talkjs::get_talk_session(APP, "alice")
        .api_urls(urls)
        .force_create_new()
        .await
        .expect("session")
}

#[actix_rt::test]
async fn a_refusal_is_a_typed_error_and_the_next_load_more_asks_again() {
    use mockito::Matcher;
    let emu = emulator().await;
    let mut rest = mockito::Server::new_async().await;
    let refused = rest
        .mock("GET", "/app1/me/messages/search")
        .match_query(Matcher::AllOf(vec![
            Matcher::UrlEncoded("searchString".into(), "anything".into()),
            Matcher::UrlEncoded("conversationFilter".into(), "{}".into()),
            Matcher::UrlEncoded("limit".into(), "3".into()),
        ]))
        .match_header("authorization", Matcher::Regex("^Bearer boken\\.".into()))
        .with_status(402)
        .with_body(r#"{"errorCode":"PLAN_LIMIT","reasons":["upgrade"]}"#)
        .expect(1)
        .create_async()
        .await;
    let s = mocked_session(&emu, &rest).await;
    let search = s.search_messages();
    let e = search.set_query("anything", None).await.unwrap_err();
    assert_eq!(
        e.to_string(),
        "Search failed, got status 402 PLAN_LIMIT, reasons: upgrade"
    );
    assert!(matches!(e.kind(), ErrorKind::Server { status: 402, .. }));
    assert_eq!(e.error_code(), Some("PLAN_LIMIT"));
    refused.assert_async().await;

    // The search is not dead: load_more asks for the first page again.
    let again = rest
        .mock("GET", "/app1/me/messages/search")
        .match_query(Matcher::AllOf(vec![
            Matcher::UrlEncoded("searchString".into(), "anything".into()),
            Matcher::UrlEncoded("limit".into(), "10".into()),
        ]))
        .with_status(200)
        .with_body("{\"data\":[\n]}")
        .expect(1)
        .create_async()
        .await;
    let state = search.load_more(None).await.unwrap();
    assert!(state.results.is_empty() && state.loaded_all);
    again.assert_async().await;
    emu.stop().await;
}

#[actix_rt::test]
async fn a_server_error_is_retried_once_then_reported() {
    let emu = emulator().await;
    let mut rest = mockito::Server::new_async().await;
    let failing = rest
        .mock("GET", "/app1/me/conversations/search")
        .match_query(mockito::Matcher::Any)
        .with_status(503)
        .with_body("upstream unavailable")
        .expect(2)
        .create_async()
        .await;
    let s = mocked_session(&emu, &rest).await;
    let e = s
        .search_conversations()
        .set_query("x", None)
        .await
        .unwrap_err();
    assert!(
        matches!(e.kind(), ErrorKind::Server { status: 503, .. }),
        "{e}"
    );
    failing.assert_async().await;
    emu.stop().await;
}

#[actix_rt::test]
async fn a_refused_token_is_replaced_and_the_search_sent_again() {
    let emu = Emulator::builder()
        .app_id(APP)
        .secret("s3cret")
        .start("127.0.0.1:0")
        .await
        .unwrap();
    let asked = Arc::new(AtomicUsize::new(0));
    let counter = asked.clone();
    let provider = TokenFn::new(move |req: TokenRequest| {
        let n = counter.fetch_add(1, Ordering::SeqCst);
        async move {
            if n == 0 {
                Ok::<_, String>("not-a-valid-token".to_owned())
            } else {
                JwtSigner::new("s3cret")
                    .sign(&req.app_id, &req.user_id)
                    .map_err(|e| e.to_string())
            }
        }
    });
    let s = talkjs::get_talk_session(APP, "alice")
        .host(emu.host())
        .token_provider(provider)
        .force_create_new()
        .await
        .unwrap();
    let found = s.search_messages().set_query("hello", None).await.unwrap();
    assert!(found.results.is_empty() && found.loaded_all);
    assert_eq!(
        asked.load(Ordering::SeqCst),
        2,
        "asked, refused, asked again"
    );
    emu.stop().await;
}

#[actix_rt::test]
async fn results_the_user_cannot_read_are_left_out() {
    let emu = emulator().await;
    let mut rest = mockito::Server::new_async().await;
    let alice = mocked_session(&emu, &rest).await;
    alice
        .current_user()
        .create_if_not_exists(CreateUserParams::new("Alice"))
        .await
        .unwrap();
    conversation(&alice, "mine", CreateConversationParams::new(), &[]).await;
    let bob = talkjs::get_talk_session(APP, "bob")
        .host(emu.host())
        .force_create_new()
        .await
        .unwrap();
    bob.current_user()
        .create_if_not_exists(CreateUserParams::new("Bob"))
        .await
        .unwrap();
    conversation(&bob, "theirs", CreateConversationParams::new(), &[]).await;

    // A server that answers more than it should: lines in a conversation Alice is not in, in
    // one that does not exist, and a line that does not parse.
    let line = |id: &str, conversation: &str| {
        format!(
            r#"{{"id":"{id}","type":"UserMessage","senderId":"alice","custom":{{}},"createdAt":1,"editedAt":null,"referencedMessageId":null,"origin":"rest","content":[{{"type":"text","children":["found {id}"]}}],"reactions":{{}},"conversationId":"{conversation}"}}"#
        )
    };
    let body = format!(
        "{{\"data\":[\n{}\n,{}\n,not json\n,{}\n]}}",
        line("m1", "mine"),
        line("m2", "theirs"),
        line("m3", "gone")
    );
    let _messages = rest
        .mock("GET", "/app1/me/messages/search")
        .match_query(mockito::Matcher::Any)
        .with_body(body)
        .create_async()
        .await;
    let found = alice
        .search_messages()
        .set_query("found", None)
        .await
        .unwrap();
    assert_eq!(texts(&found), ["found m1"]);
    assert_eq!(found.results[0].conversation.id, "mine");
    assert_eq!(
        found.results[0]
            .message
            .sender
            .as_ref()
            .map(|u| u.name.as_str()),
        Some("Alice")
    );

    let _conversations = rest
        .mock("GET", "/app1/me/conversations/search")
        .match_query(mockito::Matcher::Any)
        .with_body("{\"data\":[\n{\"id\":\"theirs\"}\n,{\"id\":\"mine\"}\n,{\"id\":\"gone\"}\n]}")
        .create_async()
        .await;
    let found = alice
        .search_conversations()
        .set_query("x", None)
        .await
        .unwrap();
    assert_eq!(ids(&found), ["mine"]);
    assert!(found.loaded_all);
    emu.stop().await;
}

/// Everything an `on_results` listener was called with: result texts and status.
type Seen = Arc<Mutex<Vec<(Vec<String>, SearchStatus)>>>;

/// Everything the listener was called with, once its last call has status `last`.
async fn seen_settles(seen: &Seen, last: SearchStatus) -> Vec<(Vec<String>, SearchStatus)> {
    common::eventually("the listener hears the search settle", || {
        let seen = seen.lock().unwrap();
        seen.last()
            .is_some_and(|(_, s)| *s == last)
            .then(|| seen.clone())
    })
    .await
}

#[actix_rt::test]
async fn on_results_sees_each_load_start_and_end_with_all_results_so_far() {
    let emu = emulator().await;
    // Slow first pages: the listener has time to see the search running.
    let proxy = Proxy::start(&emu, Some("limit="), Duration::from_millis(150)).await;
    let alice = session(&emu, &proxy, "alice", "Alice").await;
    conversation(&alice, "c", CreateConversationParams::new(), &[]).await;
    send_all(
        &alice,
        "c",
        &["kiwi 1", "kiwi 2", "kiwi 3", "kiwi 4", "fig"],
    )
    .await;

    let seen: Seen = Arc::default();
    let log = seen.clone();
    let search = alice.search_messages().on_results(move |results, status| {
        let texts = results.iter().map(|r| r.message.plaintext.clone());
        log.lock().unwrap().push((texts.collect(), status));
    });
    assert_eq!(search.status(), SearchStatus::LoadedAll, "no query yet");

    let first = search.set_query("kiwi", None).await.unwrap();
    let calls = seen_settles(&seen, SearchStatus::CanLoadMore).await;
    let newest3: Vec<String> = texts(&first).into_iter().map(String::from).collect();
    assert_eq!(
        calls,
        [
            (vec![], SearchStatus::Searching),
            (newest3.clone(), SearchStatus::CanLoadMore),
        ]
    );
    assert_eq!(search.status(), SearchStatus::CanLoadMore);

    seen.lock().unwrap().clear();
    let all = search.load_more(None).await.unwrap();
    assert!(all.loaded_all);
    let calls = seen_settles(&seen, SearchStatus::LoadedAll).await;
    assert_eq!(
        calls,
        [
            (newest3, SearchStatus::Searching),
            (
                ["kiwi 4", "kiwi 3", "kiwi 2", "kiwi 1"]
                    .map(String::from)
                    .to_vec(),
                SearchStatus::LoadedAll
            ),
        ]
    );

    // An empty query clears the results; nothing more is to be loaded.
    seen.lock().unwrap().clear();
    search.set_query("", None).await.unwrap();
    let calls = seen_settles(&seen, SearchStatus::LoadedAll).await;
    assert_eq!(calls, [(vec![], SearchStatus::LoadedAll)]);
    emu.stop().await;
}

#[actix_rt::test]
async fn on_results_of_a_conversation_search_end_idle_after_a_refusal() {
    let emu = emulator().await;
    let mut rest = mockito::Server::new_async().await;
    let refused = rest
        .mock("GET", mockito::Matcher::Regex("/search".into()))
        .with_status(402)
        .with_body(r#"{"errorCode":"PLAN_LIMIT","reasons":["upgrade"]}"#)
        .create_async()
        .await;
    let alice = mocked_session(&emu, &rest).await;
    let statuses = Arc::new(Mutex::new(Vec::new()));
    let log = statuses.clone();
    let search = alice
        .search_conversations()
        .on_results(move |results, status| log.lock().unwrap().push((results.len(), status)));
    let e = search.set_query("anything", None).await.unwrap_err();
    assert!(
        matches!(e.kind(), ErrorKind::Server { status: 402, .. }),
        "{e:?}"
    );
    refused.assert_async().await;
    common::eventually("the listener hears the load start and end", || {
        (statuses.lock().unwrap().len() >= 2).then_some(())
    })
    .await;
    // Idle again, with nothing found; load_more may ask once more.
    assert_eq!(
        *statuses.lock().unwrap(),
        [(0, SearchStatus::Searching), (0, SearchStatus::CanLoadMore)]
    );
    assert_eq!(search.status(), SearchStatus::CanLoadMore);
    emu.stop().await;
}
